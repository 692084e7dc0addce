//! The upgrade of an `exec` or `attach` request to a remote-command
//! connection, by the protocol the client asks for: WebSocket channels
//! (`v5.channel.k8s.io`/`v4.channel.k8s.io`, GET) or SPDY/3.1 (POST or GET
//! with `Upgrade: SPDY/3.1`). Either way the session gets a [`Connection`].

use super::connection::Connection;
use super::handshake::{self, Protocol};
use super::remotecommand::{self, Options};
use super::{channel_websocket, remotecommand_spdy, spdy};
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{FromRequestParts, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::future::Future;

/// Upgrades `req` and runs `serve` on the connection once it is set up.
pub async fn upgrade<F, Fut>(req: Request, opts: Options, serve: F) -> Response
where
    F: FnOnce(Connection) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    match handshake::protocol(req.headers()) {
        Protocol::WebSocket => {
            let (mut parts, _) = req.into_parts();
            match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
                Ok(ws) => ws
                    .protocols(remotecommand::PROTOCOLS)
                    .on_upgrade(move |socket| serve(channel_websocket::connect(socket))),
                Err(rejection) => rejection.into_response(),
            }
        }
        Protocol::Spdy(offered) => {
            let versions = &remotecommand_spdy::VERSIONS;
            match handshake::negotiate(&offered, versions) {
                Ok(version) => spdy::upgrade::accept(req, Some(version), "remote command", {
                    move |session| async move {
                        match remotecommand_spdy::connect(session, &opts).await {
                            Ok(conn) => serve(conn).await,
                            Err(reason) => {
                                tracing::warn!(%reason, "remote-command session not started")
                            }
                        }
                    }
                }),
                Err(message) => spdy::upgrade::refuse(message, versions),
            }
        }
        Protocol::None => (StatusCode::BAD_REQUEST, "Upgrade request required").into_response(),
    }
}
