//! `pods/exec`, `pods/attach` and `pods/portforward`: upgrade-aware proxying.
//!
//! As kube-apiserver does with the kubelet, the API server only checks the
//! request and finds the agent; the streaming protocol (WebSocket channels,
//! SPDY) is spoken end to end between the client and the node agent. The
//! client's upgrade request is replayed to the agent's kubelet-style path
//! with the cluster's credentials; once the agent answers 101 Switching
//! Protocols, the two upgraded connections are spliced and bytes flow both
//! ways with back-pressure (a bounded copy), until either side closes.

use super::{agent_endpoint, pick_container};
use crate::rest::request::RequestInfo;
use crate::rest::status::{ApiError, ApiResult};
use crate::rest::ApiState;
use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use http::header::{self, HeaderMap, HeaderName};
use http::StatusCode;
use hyper_util::rt::TokioIo;
use serde_json::Value;

/// Request headers the agent needs to negotiate the protocol itself.
const FORWARDED: &[HeaderName] = &[
    header::UPGRADE,
    header::CONNECTION,
    header::SEC_WEBSOCKET_KEY,
    header::SEC_WEBSOCKET_VERSION,
    header::SEC_WEBSOCKET_PROTOCOL,
    header::USER_AGENT,
];

/// SPDY clients list the stream protocols they speak in this header.
const STREAM_PROTOCOL_VERSION: &str = "x-stream-protocol-version";

/// Largest error body relayed from the agent.
const MAX_ERROR_BODY: usize = 64 * 1024;

pub async fn stream(st: &ApiState, ri: &RequestInfo, mut req: Request) -> ApiResult<Response> {
    let pod = st
        .store
        .get(ri.def, ri.namespace.as_deref(), ri.name())
        .await?;
    let path = agent_path(ri, &pod, req.uri().query())?;
    if !is_upgrade(req.headers()) {
        return Err(ApiError::bad_request("Upgrade request required"));
    }
    let node = pod
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            ApiError::bad_request(format!("pod {} does not have a host assigned", ri.name()))
        })?;
    let (host, port) = agent_endpoint(st, node).await?;
    let upstream = upstream_request(req.method().clone(), &path, req.headers(), st)?;
    let client_side = hyper::upgrade::on(&mut req);
    let mut resp = send(&host, port, upstream).await?;
    if resp.status() != StatusCode::SWITCHING_PROTOCOLS {
        return relay_failure(resp).await;
    }
    let agent_side = hyper::upgrade::on(&mut resp);
    tokio::spawn(async move {
        let (client, agent) = match tokio::try_join!(client_side, agent_side) {
            Ok(pair) => pair,
            Err(e) => {
                tracing::debug!(error = %e, "stream upgrade did not complete");
                return;
            }
        };
        let mut client = TokioIo::new(client);
        let mut agent = TokioIo::new(agent);
        if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut agent).await {
            tracing::debug!(error = %e, "stream closed");
        }
    });
    let mut out = Response::builder().status(StatusCode::SWITCHING_PROTOCOLS);
    for (name, value) in resp.headers() {
        out = out.header(name, value);
    }
    out.body(Body::empty()).map_err(ApiError::internal)
}

/// The agent's path for the subresource, with the client's query string
/// (exec's `command` repeats, so it is passed through untouched).
fn agent_path(ri: &RequestInfo, pod: &Value, query: Option<&str>) -> ApiResult<String> {
    let ns = ri.namespace.as_deref().unwrap_or("default");
    let name = ri.name();
    let base = match ri.subresource.as_deref() {
        Some("portforward") => format!("/portForward/{ns}/{name}"),
        Some(sub @ ("exec" | "attach")) => {
            let q = crate::rest::request::Query::parse(query);
            let container = pick_container(pod, name, q.get("container"))?;
            format!("/{sub}/{ns}/{name}/{container}")
        }
        _ => return Err(ApiError::method_not_allowed()),
    };
    Ok(match query {
        Some(q) if !q.is_empty() => format!("{base}?{q}"),
        _ => base,
    })
}

fn is_upgrade(headers: &HeaderMap) -> bool {
    let connection_upgrade = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("upgrade"));
    connection_upgrade && headers.contains_key(header::UPGRADE)
}

fn upstream_request(
    method: http::Method,
    path: &str,
    headers: &HeaderMap,
    st: &ApiState,
) -> ApiResult<http::Request<Body>> {
    let mut b = http::Request::builder().method(method).uri(path);
    for name in FORWARDED {
        for value in headers.get_all(name) {
            b = b.header(name, value);
        }
    }
    for value in headers.get_all(STREAM_PROTOCOL_VERSION) {
        b = b.header(STREAM_PROTOCOL_VERSION, value);
    }
    let token = st.agent_token.as_deref().unwrap_or_default();
    b.header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .map_err(ApiError::internal)
}

/// One HTTP/1.1 connection to the agent, kept open for the upgrade.
async fn send(
    host: &str,
    port: u64,
    mut req: http::Request<Body>,
) -> ApiResult<http::Response<hyper::body::Incoming>> {
    let dial_err = |e: &dyn std::fmt::Display| {
        ApiError::internal(format!(
            "error dialing backend: dial tcp {host}:{port}: {e}"
        ))
    };
    let tcp = tokio::net::TcpStream::connect(format!("{host}:{port}"))
        .await
        .map_err(|e| dial_err(&e))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .map_err(|e| dial_err(&e))?;
    tokio::spawn(async move {
        if let Err(e) = conn.with_upgrades().await {
            tracing::debug!(error = %e, "agent stream connection ended");
        }
    });
    if let Ok(v) = http::HeaderValue::from_str(&format!("{host}:{port}")) {
        req.headers_mut().insert(header::HOST, v);
    }
    sender.send_request(req).await.map_err(|e| dial_err(&e))
}

/// The agent refused the upgrade: its answer (a Status) goes back as it is,
/// as kube-apiserver's upgrade-aware proxy passes the kubelet's through.
async fn relay_failure(resp: http::Response<hyper::body::Incoming>) -> ApiResult<Response> {
    let (parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(Body::new(body), MAX_ERROR_BODY)
        .await
        .unwrap_or_default();
    let mut out = Response::builder().status(parts.status);
    if let Some(ct) = parts.headers.get(header::CONTENT_TYPE) {
        out = out.header(header::CONTENT_TYPE, ct);
    }
    out.body(Body::from(bytes)).map_err(ApiError::internal)
}
