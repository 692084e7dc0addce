//! delete and deletecollection: preconditions, graceful deletion, finalizers
//! and propagation policy (orphan/foreground leave work for the garbage collector).

use super::codec::{content_type, json_error, respond, respond_object, Format};
use super::meta::{meta_mut, meta_str, now_rfc3339};
use super::object_store::{resource_version, SideEffects};
use super::read::select_all;
use super::request::{Query, RequestInfo};
use super::selection::Selection;
use super::status::{ApiError, ApiResult};
use super::{ApiState, StoreWrite};
use crate::registry::WriteOp;
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use serde_json::{json, Value};

/// DeleteOptions from the body and the query.
#[derive(Debug, Default, Clone)]
pub struct DeleteOptions {
    pub grace_period: Option<i64>,
    pub propagation: Option<String>,
    pub uid: Option<String>,
    pub resource_version: Option<String>,
    /// `dryRun: ["All"]` in the body (client-go sends it there, not in the query).
    pub dry_run: bool,
}

impl DeleteOptions {
    /// The options of a delete or deletecollection: the query, overridden
    /// by a body in JSON or, from client-go's typed clients, protobuf.
    pub fn parse(q: &Query, headers: &HeaderMap, body: &[u8]) -> ApiResult<Self> {
        let v = decode_options(headers, body)?;
        Self::from_value(q, v.as_ref())
    }

    /// The options from the query and a decoded DeleteOptions object (also
    /// the `deleteOptions` of an Eviction).
    pub fn from_value(q: &Query, body: Option<&Value>) -> ApiResult<Self> {
        let mut opts = DeleteOptions {
            grace_period: q.get("gracePeriodSeconds").and_then(|g| g.parse().ok()),
            propagation: q.get("propagationPolicy").map(str::to_string),
            ..Default::default()
        };
        if let Some(v) = body {
            if let Some(g) = v.get("gracePeriodSeconds").and_then(Value::as_i64) {
                opts.grace_period = Some(g);
            }
            if let Some(p) = v.get("propagationPolicy").and_then(Value::as_str) {
                opts.propagation = Some(p.to_string());
            }
            if v.get("orphanDependents").and_then(Value::as_bool) == Some(true)
                && opts.propagation.is_none()
            {
                opts.propagation = Some("Orphan".into());
            }
            match v
                .get("dryRun")
                .and_then(Value::as_array)
                .map(|a| a.as_slice())
            {
                None => {}
                Some([]) => {}
                Some([d]) if d.as_str() == Some("All") => opts.dry_run = true,
                Some(other) => {
                    return Err(ApiError::bad_request(format!(
                        "Invalid dryRun value: {}: supported values: \"All\"",
                        Value::Array(other.to_vec())
                    )))
                }
            }
            opts.uid = v
                .pointer("/preconditions/uid")
                .and_then(Value::as_str)
                .map(str::to_string);
            opts.resource_version = v
                .pointer("/preconditions/resourceVersion")
                .and_then(Value::as_str)
                .map(str::to_string);
        }
        if let Some(p) = &opts.propagation {
            if !matches!(p.as_str(), "Orphan" | "Background" | "Foreground") {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Invalid",
                    format!("DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported value: \"{p}\": supported values: \"Foreground\", \"Background\", \"Orphan\""),
                ));
            }
        }
        Ok(opts)
    }
}

/// A DeleteOptions body, if there is one, in its content type.
fn decode_options(headers: &HeaderMap, body: &[u8]) -> ApiResult<Option<Value>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let decoded = match content_type(headers).as_str() {
        "application/vnd.kubernetes.protobuf" => super::protobuf::decode(body),
        "application/yaml" => serde_yaml::from_slice(body).map_err(|e| e.to_string()),
        _ => serde_json::from_slice(body).map_err(|e| json_error(&e)),
    };
    decoded
        .map(Some)
        .map_err(|e| ApiError::bad_request(format!("error decoding DeleteOptions: {e}")))
}

pub async fn delete(
    st: &ApiState,
    ri: &RequestInfo,
    q: &Query,
    headers: &HeaderMap,
    body: &[u8],
    format: Format,
) -> ApiResult<Response> {
    let opts = DeleteOptions::parse(q, headers, body)?;
    let dry_run = q.dry_run()? || opts.dry_run;
    let out = delete_one(st, ri, ri.name(), &opts, dry_run).await?;
    Ok(respond_object(StatusCode::OK, &out, format))
}

/// Deletes (or starts deleting) one object; returns what kube-apiserver returns.
pub async fn delete_one(
    st: &ApiState,
    ri: &RequestInfo,
    name: &str,
    opts: &DeleteOptions,
    dry_run: bool,
) -> ApiResult<Value> {
    let def = ri.def;
    let target = def.target();
    for _ in 0..8 {
        let current = st.store.get(def, ri.namespace.as_deref(), name).await?;
        let rv = resource_version(&current)?.unwrap_or_default();
        if let Some(uid) = &opts.uid {
            let have = meta_str(&current, "uid").unwrap_or_default();
            if uid != have {
                return Err(ApiError::conflict_msg(
                    target,
                    name,
                    &format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {have}"
                ),
                ));
            }
        }
        if let Some(want) = &opts.resource_version {
            if *want != rv.to_string() {
                return Err(ApiError::conflict_msg(target, name, &format!(
                    "Precondition failed: ResourceVersion in precondition: {want}, ResourceVersion in object meta: {rv}"
                )));
            }
        }
        def.strategy.check_delete(&current)?;
        let next = plan_deletion(def.kind, &current, opts);
        if dry_run {
            return Ok(next.unwrap_or(current));
        }
        let ctx = st.ctx();
        let result = match next {
            // Still finalizing (or graceful): record deletionTimestamp and keep the object.
            Some(marked) => {
                st.store
                    .update(def, marked, rv, SideEffects::default())
                    .await
            }
            None => {
                let pending = def.strategy.begin_write(WriteOp::Delete(&current), &ctx)?;
                st.store_write(def, pending, StoreWrite::Delete(current, rv))
                    .await
            }
        };
        match result {
            Err(e) if e.reason == "Conflict" && opts.resource_version.is_none() => continue,
            other => return other,
        }
    }
    Err(ApiError::conflict(target, name))
}

/// Decides whether the object goes now (None) or is marked for deletion (Some):
/// it stays while finalizers remain, for foreground/orphan propagation, for
/// namespaces (the namespace controller empties them) and for pods bound to a
/// node with a grace period (the node agent stops them, then deletes).
fn plan_deletion(kind: &str, current: &Value, opts: &DeleteOptions) -> Option<Value> {
    let mut obj = current.clone();
    let mut finalizers: Vec<String> = obj
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let already = obj.pointer("/metadata/deletionTimestamp").is_some();
    match opts.propagation.as_deref() {
        Some("Orphan") if !finalizers.iter().any(|f| f == "orphan") => {
            finalizers.push("orphan".into())
        }
        Some("Foreground") if !finalizers.iter().any(|f| f == "foregroundDeletion") => {
            finalizers.push("foregroundDeletion".into())
        }
        _ => {}
    }
    let mut grace = 0;
    if kind == "Pod" {
        let bound = obj
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .is_some_and(|n| !n.is_empty());
        let phase = obj
            .pointer("/status/phase")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let terminal = phase == "Succeeded" || phase == "Failed";
        let default_grace = obj
            .pointer("/spec/terminationGracePeriodSeconds")
            .and_then(Value::as_i64)
            .unwrap_or(30);
        grace = opts.grace_period.unwrap_or(default_grace).max(0);
        if !bound || terminal {
            grace = 0;
        }
        // A pod already being deleted goes on a second delete with grace 0 (kubelet's final delete).
        if already && opts.grace_period == Some(0) {
            grace = 0;
        }
    }
    let namespace_pending = kind == "Namespace"
        && obj
            .pointer("/spec/finalizers")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty());
    if finalizers.is_empty() && grace == 0 && !namespace_pending {
        return None;
    }
    let meta = meta_mut(&mut obj);
    if !already {
        let when = chrono::Utc::now() + chrono::Duration::seconds(grace);
        meta.insert(
            "deletionTimestamp".into(),
            json!(when.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        );
        meta.insert("deletionGracePeriodSeconds".into(), json!(grace));
    } else if kind == "Pod" {
        meta.insert("deletionGracePeriodSeconds".into(), json!(grace));
    }
    if !finalizers.is_empty() {
        meta.insert("finalizers".into(), json!(finalizers));
    }
    if kind == "Namespace" {
        obj["status"]["phase"] = json!("Terminating");
    }
    let _ = now_rfc3339;
    Some(obj)
}

/// True for an object marked for deletion with nothing left holding it.
pub fn ready_to_go(obj: &Value) -> bool {
    let deleting = obj.pointer("/metadata/deletionTimestamp").is_some();
    let empty = |p: &str| {
        obj.pointer(p)
            .and_then(Value::as_array)
            .is_none_or(|a| a.is_empty())
    };
    let is_ns = obj.get("kind").and_then(Value::as_str) == Some("Namespace");
    let is_pod = obj.get("kind").and_then(Value::as_str) == Some("Pod");
    let pod_released = obj
        .pointer("/metadata/deletionGracePeriodSeconds")
        .and_then(Value::as_i64)
        == Some(0);
    deleting
        && empty("/metadata/finalizers")
        && (!is_ns || empty("/spec/finalizers"))
        && (!is_pod || pod_released)
}

pub async fn delete_collection(
    st: &ApiState,
    ri: &RequestInfo,
    q: &Query,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult<Response> {
    let opts = DeleteOptions::parse(q, headers, body)?;
    let sel = Selection::from_query(ri.def, q)?;
    let dry_run = q.dry_run()? || opts.dry_run;
    let items = select_all(&st.store, ri, &sel).await?;
    let mut deleted = Vec::new();
    for obj in items {
        let name = meta_str(&obj, "name").unwrap_or_default().to_string();
        let mut one = ri.clone();
        one.namespace = meta_str(&obj, "namespace").map(str::to_string);
        match delete_one(st, &one, &name, &opts, dry_run).await {
            Ok(o) => deleted.push(o),
            Err(e) if e.reason == "NotFound" => {}
            Err(e) => return Err(e),
        }
    }
    let list = json!({
        "kind": format!("{}List", ri.def.kind),
        "apiVersion": ri.def.api_version(),
        "metadata": {"resourceVersion": st.store.storage.current_revision().to_string()},
        "items": deleted,
    });
    Ok(respond(StatusCode::OK, &list, Format::Json))
}
