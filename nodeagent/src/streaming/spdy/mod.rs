//! SPDY/3.1, the framing kubectl and client-go speak for port-forward (and
//! exec/attach) over an upgraded HTTP connection or tunneled in WebSocket
//! binary messages. No maintained Rust crate implements it, so this is a
//! small codec (`frame`, `headers`, `dictionary`: pure, unit-tested) and a
//! server-side session (`session`) that turns a connection into streams.
//!
//! Flow control: like the kubelet's spdystream, which neither sends nor
//! honours WINDOW_UPDATE, back-pressure comes from the transport: the
//! session stops reading while a stream's consumer is full.

pub mod dictionary;
pub mod frame;
pub mod headers;
pub mod session;
pub mod upgrade;

pub use frame::{Frame, SpdyCodec};
pub use headers::Headers;

#[derive(Debug, thiserror::Error)]
pub enum SpdyError {
    #[error("SPDY protocol error: {0}")]
    Protocol(&'static str),
    #[error("SPDY header compression: {0}")]
    Zlib(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}
