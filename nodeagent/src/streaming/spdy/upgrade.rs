//! The HTTP side of a SPDY/3.1 upgrade (`Upgrade: SPDY/3.1`): the 101
//! answer naming the negotiated stream protocol, then a [`Session`] over
//! the upgraded connection; or the refusal when no version matched.

use super::session::{self, Session};
use crate::streaming::handshake::{ACCEPTED_STREAM_PROTOCOL_VERSIONS, STREAM_PROTOCOL_VERSION};
use crate::streaming::split_upgraded;
use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::future::Future;

/// Answers 101 and, once the connection is handed over, runs `serve` on
/// its session. `what` names the endpoint in logs.
pub fn accept<F, Fut>(
    mut req: Request,
    version: Option<&'static str>,
    what: &'static str,
    serve: F,
) -> Response
where
    F: FnOnce(Session) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let up = match on_upgrade.await {
            Ok(up) => up,
            Err(e) => return tracing::warn!(error = %e, what, "SPDY upgrade failed"),
        };
        let (r, w) = split_upgraded(up);
        match session::serve(r, w) {
            Ok(s) => serve(s).await,
            Err(e) => tracing::warn!(error = %e, what, "SPDY session failed to start"),
        }
    });
    let mut resp = Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(http::header::CONNECTION, "Upgrade")
        .header(http::header::UPGRADE, "SPDY/3.1");
    if let Some(v) = version {
        resp = resp.header(STREAM_PROTOCOL_VERSION, v);
    }
    resp.body(Body::empty())
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// No stream protocol version in common: 403 with the versions served, as
/// httpstream.Handshake answers.
pub fn refuse(message: String, supported: &[&str]) -> Response {
    let mut resp = Response::builder().status(StatusCode::FORBIDDEN);
    for v in supported {
        resp = resp.header(ACCEPTED_STREAM_PROTOCOL_VERSIONS, *v);
    }
    resp.body(Body::from(message))
        .unwrap_or_else(|_| StatusCode::FORBIDDEN.into_response())
}
