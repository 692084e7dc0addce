//! `/portForward/{namespace}/{pod}`: the kubelet's port-forward endpoint,
//! reached through the API server's `pods/portforward` upgrade proxy.
//!
//! Protocols, chosen from the upgrade request:
//! - WebSocket with subprotocol `SPDY/3.1+portforward.k8s.io`: SPDY frames
//!   tunneled in binary messages (kubectl v1.31+ default);
//! - `Upgrade: SPDY/3.1` with `X-Stream-Protocol-Version:
//!   portforward.k8s.io` (older kubectl, and kubectl's fallback);
//! - WebSocket `v4.channel.k8s.io` (or no subprotocol) with `?ports=`
//!   (kube-rs).
//!
//! - `negotiate`: which protocol a request asks for (pure).
//! - `pairs`: SPDY stream pairing (pure).
//! - `target`: dialing the pod and copying.
//! - `spdy`, `channels`: the two framings.

pub mod channels;
pub mod negotiate;
pub mod pairs;
pub mod spdy;
pub mod target;

use crate::streaming::handshake::{self, Protocol};
use crate::streaming::{spdy as spdy_session, websocket_io, BoxRead, BoxWrite};
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{FromRequestParts, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use negotiate::{SPDY_SUBPROTOCOL, TUNNELED_SUBPROTOCOL};
use std::sync::Arc;
pub use target::Target;

/// Serves one port-forward request for `target`, upgrading the connection.
pub async fn handle(target: Target, req: Request) -> Response {
    let target = Arc::new(target);
    match handshake::protocol(req.headers()) {
        Protocol::WebSocket => websocket(target, req).await,
        Protocol::Spdy(versions) => match negotiate::spdy_version(&versions) {
            Ok(version) => spdy_session::upgrade::accept(req, version, "port-forward", |s| {
                spdy::serve(s, target)
            }),
            Err(message) => spdy_session::upgrade::refuse(message, &[SPDY_SUBPROTOCOL]),
        },
        Protocol::None => (
            StatusCode::BAD_REQUEST,
            "unable to upgrade: missing upgrade headers in request",
        )
            .into_response(),
    }
}

async fn websocket(target: Arc<Target>, req: Request) -> Response {
    let query = req.uri().query().unwrap_or_default().to_string();
    let (mut parts, _) = req.into_parts();
    let ws = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(ws) => ws,
        Err(rejection) => return rejection.into_response(),
    };
    let ws = ws.protocols([TUNNELED_SUBPROTOCOL, channels::V4_CHANNEL]);
    let tunneled = ws
        .selected_protocol()
        .is_some_and(|p| p.as_bytes() == TUNNELED_SUBPROTOCOL.as_bytes());
    if tunneled {
        return ws.on_upgrade(move |socket| {
            let (r, w) = websocket_io::byte_stream(socket);
            serve_spdy(r, w, target)
        });
    }
    let ports = negotiate::query_ports(&query);
    match channels::parse_ports(ports.iter().map(String::as_str)) {
        Ok(ports) => ws.on_upgrade(move |socket| channels::serve(socket, ports, target)),
        Err(message) => (StatusCode::BAD_REQUEST, message).into_response(),
    }
}

async fn serve_spdy(r: BoxRead, w: BoxWrite, target: Arc<Target>) {
    match spdy_session::session::serve(r, w) {
        Ok(session) => spdy::serve(session, target).await,
        Err(e) => tracing::warn!(error = %e, "port-forward session failed to start"),
    }
}
