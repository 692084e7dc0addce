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

/// `POST .../pods/{name}/binding`.
pub async fn bind(
    st: &ApiState,
    ri: &RequestInfo,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult<Response> {
    let binding = decode_body(headers, body, "Binding", "v1")?;
    bind_pod(st, ri.def, ri.namespace.as_deref(), ri.name(), &binding).await
}

/// `POST /api/v1/namespaces/{ns}/bindings`: the older form, naming the pod
/// in the Binding's metadata.
pub async fn bind_from_body(
    st: &ApiState,
    ri: &RequestInfo,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult<Response> {
    let binding = decode_body(headers, body, "Binding", "v1")?;
    let name = binding
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if name.is_empty() {
        return Err(ApiError::bad_request("name is required"));
    }
    let pods = crate::registry::catalog()
        .lookup("", "v1", "pods")
        .ok_or_else(|| ApiError::internal("pods not served"))?;
    bind_pod(st, pods, ri.namespace.as_deref(), &name, &binding).await
}

async fn bind_pod(
    st: &ApiState,
    def: &'static crate::registry::ResourceDef,
    namespace: Option<&str>,
    name: &str,
    binding: &Value,
) -> ApiResult<Response> {
    let node = binding
        .pointer("/target/name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Invalid",
                format!("Binding.v1 \"{name}\" is invalid: target.name: Required value"),
            )
        })?
        .to_string();
    for _ in 0..8 {
        let mut pod = st.store.get(def, namespace, name).await?;
        let rv = resource_version(&pod)?.unwrap_or_default();
        if pod.pointer("/metadata/deletionTimestamp").is_some() {
            return Err(ApiError::conflict_msg(
                def.target(),
                name,
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
                name,
                &format!("pod {} is already assigned to node \"{current}\"", name),
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
    Err(ApiError::conflict(def.target(), name))
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
