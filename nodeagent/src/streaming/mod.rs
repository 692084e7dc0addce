//! Streaming subresources served by the agent, as the kubelet serves them
//! behind the API server's upgrade-aware proxy: `exec` and `attach` over the
//! WebSocket remote-command protocol or SPDY/3.1, and `portForward` over
//! SPDY/3.1 (plain or tunneled in WebSocket) and the WebSocket channel
//! protocol.
//!
//! - `handshake`: which protocol an upgrade asks for (pure).
//! - `console`: the exec/attach upgrade; `connection`: a remote-command
//!   connection whatever carries it (`channel_websocket`,
//!   `remotecommand_spdy`); `session`: what a session does on it.
//! - `spdy`: SPDY/3.1 codec, server session and upgrade.
//! - `websocket_io`: a WebSocket carrying a byte stream in binary messages
//!   (how client-go tunnels SPDY over WebSocket).
//! - `portforward`: `/portForward/{ns}/{pod}`.

pub mod attach;
pub mod channel_websocket;
pub mod connection;
pub mod console;
pub mod exec;
pub mod handshake;
pub mod portforward;
pub mod remotecommand;
pub mod remotecommand_spdy;
pub mod session;
pub mod spdy;
pub mod websocket_io;

use std::pin::Pin;
use tokio::io::{AsyncRead, AsyncWrite};

/// The read half of an upgraded connection, whatever carries it.
pub type BoxRead = Pin<Box<dyn AsyncRead + Send>>;
/// The write half of an upgraded connection.
pub type BoxWrite = Pin<Box<dyn AsyncWrite + Send>>;

/// Splits an upgraded HTTP/1 connection (hyper's `Upgraded`).
pub fn split_upgraded(up: hyper::upgrade::Upgraded) -> (BoxRead, BoxWrite) {
    let (r, w) = tokio::io::split(hyper_util::rt::TokioIo::new(up));
    (Box::pin(r), Box::pin(w))
}
