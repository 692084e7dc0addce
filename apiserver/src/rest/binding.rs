//! `pods/binding`: the scheduler's way to assign a pod to a node.

use super::codec::{decode_body, respond, Format};
use super::meta::now_rfc3339;
use super::object_store::{resource_version, SideEffects};
use super::request::RequestInfo;
use super::status::{ApiError, ApiResult};
use super::ApiState;
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use serde_json::{json, Value};

pub async fn bind(
    st: &ApiState,
    ri: &RequestInfo,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult<Response> {
    let binding = decode_body(headers, body, "Binding", "v1")?;
    let node = binding
        .pointer("/target/name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Invalid",
                format!(
                    "Binding.v1 \"{}\" is invalid: target.name: Required value",
                    ri.name()
                ),
            )
        })?
        .to_string();
    let def = ri.def;
    for _ in 0..8 {
        let mut pod = st
            .store
            .get(def, ri.namespace.as_deref(), ri.name())
            .await?;
        let rv = resource_version(&pod)?.unwrap_or_default();
        if pod.pointer("/metadata/deletionTimestamp").is_some() {
            return Err(ApiError::conflict_msg(
                def.target(),
                ri.name(),
                "pod is being deleted, cannot be assigned to a host",
            ));
        }
        if let Some(current) = pod
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
        {
            return Err(ApiError::conflict_msg(
                def.target(),
                ri.name(),
                &format!(
                    "pod {} is already assigned to node \"{current}\"",
                    ri.name()
                ),
            ));
        }
        pod["spec"]["nodeName"] = json!(node);
        set_scheduled(&mut pod);
        match st.store.update(def, pod, rv, SideEffects::default()).await {
            Err(e) if e.reason == "Conflict" => continue,
            Err(e) => return Err(e),
            Ok(_) => {
                let status = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201});
                return Ok(respond(StatusCode::CREATED, &status, Format::Json));
            }
        }
    }
    Err(ApiError::conflict(def.target(), ri.name()))
}

/// The PodScheduled=True condition a successful binding records.
fn set_scheduled(pod: &mut Value) {
    if !pod.get("status").is_some_and(Value::is_object) {
        pod["status"] = json!({});
    }
    let cond = json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": now_rfc3339()});
    let conds = pod["status"]
        .as_object_mut()
        .map(|s| s.entry("conditions").or_insert_with(|| json!([])));
    if let Some(Value::Array(list)) = conds {
        list.retain(|c| c.get("type").and_then(Value::as_str) != Some("PodScheduled"));
        list.push(cond);
    }
}
