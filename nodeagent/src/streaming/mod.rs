//! Streaming endpoints of the agent (the kubelet's `/portForward`, and
//! exec/attach): the protocols kubectl speaks over an upgraded connection.
//!
//! - `spdy`: SPDY/3.1 codec and server session.
//! - `websocket_io`: a WebSocket carrying a byte stream in binary messages
//!   (how client-go tunnels SPDY over WebSocket).
//! - `portforward`: `/portForward/{ns}/{pod}`.

pub mod portforward;
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
