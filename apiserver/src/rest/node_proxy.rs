//! Subresources served by the node agent that runs a pod (`pods/log` now;
//! exec, attach and port-forward later): the API server finds the pod's node
//! and proxies to the agent's endpoint with the cluster's credentials, streaming
//! the reply back without buffering it.

use super::request::{Query, RequestInfo};
use super::status::{ApiError, ApiResult};
use super::ApiState;
use crate::registry::catalog;
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

/// The container to use: the one asked for, or the only one.
fn pick_container(pod: &Value, pod_name: &str, asked: Option<&str>) -> ApiResult<String> {
    let names = |list: &str| -> Vec<String> {
        pod.pointer(&format!("/spec/{list}"))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|c| c.get("name").and_then(Value::as_str))
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let containers = names("containers");
    let init = names("initContainers");
    match asked {
        Some(c) if containers.iter().chain(init.iter()).any(|n| n == c) => Ok(c.to_string()),
        Some(c) => Err(ApiError::bad_request(format!(
            "container {c} is not valid for pod {pod_name}"
        ))),
        None if containers.len() == 1 => Ok(containers[0].clone()),
        None => Err(ApiError::bad_request(format!(
            "a container name must be specified for pod {pod_name}, choose one of: [{}]",
            containers.join(" ")
        ))),
    }
}

fn waiting(pod: &str, container: &str, reason: &str) -> ApiError {
    ApiError::bad_request(format!(
        "container \"{container}\" in pod \"{pod}\" is waiting to start: {reason}"
    ))
}

/// The node agent's address and port, from the Node object (as the kubelet
/// publishes them: InternalIP and daemonEndpoints.kubeletEndpoint.Port).
async fn agent_endpoint(st: &ApiState, node: &str) -> ApiResult<(String, u64)> {
    let def = catalog()
        .lookup("", "v1", "nodes")
        .ok_or_else(|| ApiError::internal("nodes not served"))?;
    let node_obj = st.store.get(def, None, node).await?;
    let ip = node_obj
        .pointer("/status/addresses")
        .and_then(Value::as_array)
        .and_then(|a| {
            a.iter()
                .find(|x| x.get("type").and_then(Value::as_str) == Some("InternalIP"))
                .and_then(|x| x.get("address").and_then(Value::as_str))
        })
        .ok_or_else(|| ApiError::internal(format!("node {node} has no InternalIP")))?;
    let port = node_obj
        .pointer("/status/daemonEndpoints/kubeletEndpoint/Port")
        .and_then(Value::as_u64)
        .ok_or_else(|| ApiError::internal(format!("node {node} publishes no agent endpoint")))?;
    let host = if ip.contains(':') {
        format!("[{ip}]")
    } else {
        ip.to_string()
    };
    Ok((host, port))
}
