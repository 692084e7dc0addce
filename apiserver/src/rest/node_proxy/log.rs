//! `pods/log`: the agent's containerLogs endpoint, streamed back as it comes.

use super::{agent_endpoint, pick_container, waiting};
use crate::rest::request::{Query, RequestInfo};
use crate::rest::status::{ApiError, ApiResult};
use crate::rest::ApiState;
use axum::body::Body;
use axum::response::Response;
use http::StatusCode;
use serde_json::Value;

pub async fn pod_log(st: &ApiState, ri: &RequestInfo, q: &Query) -> ApiResult<Response> {
    let pod = st
        .store
        .get(ri.def, ri.namespace.as_deref(), ri.name())
        .await?;
    let container = pick_container(&pod, ri.name(), q.get("container"))?;
    let node_name = pod
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if node_name.is_empty() {
        return Err(waiting(ri.name(), &container, "ContainerCreating"));
    }
    let (host, port) = agent_endpoint(st, node_name).await?;
    let mut url = format!(
        "http://{host}:{port}/containerLogs/{}/{}/{}",
        ri.namespace.as_deref().unwrap_or("default"),
        ri.name(),
        container
    );
    let forwarded: Vec<String> = [
        "follow",
        "previous",
        "tailLines",
        "sinceSeconds",
        "sinceTime",
        "timestamps",
        "limitBytes",
    ]
    .iter()
    .filter_map(|k| {
        q.get(k).map(|v| {
            format!(
                "{k}={}",
                form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()
            )
        })
    })
    .collect();
    if !forwarded.is_empty() {
        url.push('?');
        url.push_str(&forwarded.join("&"));
    }
    let token = st.agent_token.clone().unwrap_or_default();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Body>();
    let req = http::Request::get(&url)
        .header(http::header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .map_err(ApiError::internal)?;
    let resp = client
        .request(req)
        .await
        .map_err(|e| ApiError::internal(format!("error dialing backend: {e}")))?;
    let (parts, body) = resp.into_parts();
    if !parts.status.is_success() {
        let bytes = axum::body::to_bytes(Body::new(body), 64 * 1024)
            .await
            .unwrap_or_default();
        let msg = String::from_utf8_lossy(&bytes).trim().to_string();
        return Err(ApiError::bad_request(msg));
    }
    Response::builder()
        .status(StatusCode::OK)
        .header(http::header::CONTENT_TYPE, "text/plain")
        .body(Body::new(body))
        .map_err(ApiError::internal)
}
