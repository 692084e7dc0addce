//! core/v1 ComponentStatuses: computed on read from the health of the
//! parts of the control plane (deprecated in kube-apiserver since v1.19,
//! still served, and still what `kubectl get cs` shows).
//!
//! In mkube the scheduler and controller manager run in the API server's
//! process or talk to it; the store is sled or etcd. Each is reported
//! Healthy when the server can read its storage.

use super::object_store::Page;
use super::read::{render_one, render_page};
use super::request::RequestInfo;
use super::status::{ApiError, ApiResult};
use super::ApiState;
use crate::storage::RangeRequest;
use axum::response::Response;
use serde_json::{json, Value};

const COMPONENTS: &[&str] = &["scheduler", "controller-manager", "etcd-0"];

pub async fn get(
    st: &ApiState,
    ri: &RequestInfo,
    format: super::codec::Format,
) -> ApiResult<Response> {
    let name = ri.name();
    if !COMPONENTS.contains(&name) {
        return Err(ApiError::not_found(ri.def.target(), name));
    }
    let healthy = storage_healthy(st).await;
    Ok(render_one(ri, component(name, &healthy), format))
}

pub async fn list(
    st: &ApiState,
    ri: &RequestInfo,
    format: super::codec::Format,
) -> ApiResult<Response> {
    let healthy = storage_healthy(st).await;
    let page = Page {
        items: COMPONENTS.iter().map(|c| component(c, &healthy)).collect(),
        revision: st.store.storage.current_revision(),
        continue_after: None,
    };
    Ok(render_page(ri, &page, format))
}

/// `Ok` when a read of storage succeeds, else the error.
async fn storage_healthy(st: &ApiState) -> Result<(), String> {
    let probe = RangeRequest {
        prefix: "/registry/namespaces/".into(),
        start_after: None,
        limit: 1,
        revision: 0,
    };
    st.store
        .storage
        .range(probe)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn component(name: &str, healthy: &Result<(), String>) -> Value {
    let condition = match healthy {
        Ok(()) => json!({"type": "Healthy", "status": "True", "message": "ok"}),
        Err(e) => json!({"type": "Healthy", "status": "False", "message": "", "error": e}),
    };
    json!({
        "kind": "ComponentStatus",
        "apiVersion": "v1",
        "metadata": {"name": name},
        "conditions": [condition],
    })
}
