//! Subresources served by the node agent that runs a pod (`pods/log`,
//! `pods/exec`, `pods/attach`, `pods/portforward`): the API server finds the
//! pod's node and proxies to the agent's endpoint (the kubelet's port, as the
//! Node publishes it) with the cluster's credentials, streaming the reply back
//! without buffering it.

mod log;
mod upgrade;

pub use log::pod_log;
pub use upgrade::stream;

use super::status::{ApiError, ApiResult};
use super::ApiState;
use crate::registry::catalog;
use serde_json::Value;

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
