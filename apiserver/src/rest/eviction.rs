//! `pods/eviction`: a delete that asks first (policy/v1 Eviction), as
//! `kubectl drain` and cluster autoscalers send it.
//!
//! kube-apiserver checks the PodDisruptionBudgets that select the pod
//! before deleting; mkube serves no PodDisruptionBudgets yet, so no budget
//! can forbid an eviction and it is the delete its `deleteOptions` describe.
//! Pods that are already terminal are deleted whatever the budgets say, as in
//! kube-apiserver.

use super::codec::{decode_body, respond};
use super::delete::{delete_one, DeleteOptions};
use super::request::{Query, RequestInfo};
use super::status::{ApiError, ApiResult};
use super::ApiState;
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use serde_json::{json, Value};

pub async fn evict(
    st: &ApiState,
    ri: &RequestInfo,
    q: &Query,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult<Response> {
    let eviction = decode_body(headers, body, "Eviction", "policy/v1")?;
    let named = eviction
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if named != ri.name() {
        return Err(ApiError::bad_request(
            "name in URL does not match name in Eviction object",
        ));
    }
    let opts = DeleteOptions::from_value(q, eviction.get("deleteOptions"))?;
    let dry_run = q.dry_run()? || opts.dry_run;
    delete_one(st, ri, ri.name(), &opts, dry_run).await?;
    let status = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "code": 201,
    });
    Ok(respond(
        StatusCode::CREATED,
        &status,
        super::codec::Format::Json,
    ))
}
