//! A WebSocket as a byte stream: what client-go's TunnelingConnection does
//! on its side. Each write becomes one binary message; reads run across
//! message boundaries. A close message or the end of the socket is EOF;
//! a text message is an error (the tunnel carries binary only).

use super::{BoxRead, BoxWrite};
use axum::extract::ws::{Message, WebSocket};
use bytes::Bytes;
use futures::{future, SinkExt, StreamExt};
use std::io;
use tokio_util::io::{CopyToBytes, SinkWriter, StreamReader};

/// The two halves of the byte stream carried by `ws`.
pub fn byte_stream(ws: WebSocket) -> (BoxRead, BoxWrite) {
    let (sink, stream) = ws.split();
    let bytes = stream
        .take_while(|m| future::ready(!matches!(m, Ok(Message::Close(_)))))
        .filter_map(|m| future::ready(binary_payload(m)));
    let sink = sink
        .sink_map_err(io::Error::other)
        .with(|b: Bytes| future::ready(Ok::<_, io::Error>(Message::Binary(b))));
    (
        Box::pin(StreamReader::new(bytes)),
        Box::pin(SinkWriter::new(CopyToBytes::new(sink))),
    )
}

/// The bytes a received message contributes: binary payloads; pings and
/// pongs none; text is a protocol error.
fn binary_payload(m: Result<Message, axum::Error>) -> Option<io::Result<Bytes>> {
    match m {
        Ok(Message::Binary(b)) => Some(Ok(b)),
        Ok(Message::Text(_)) => Some(Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "text message in a binary tunnel",
        ))),
        Ok(_) => None,
        Err(e) => Some(Err(io::Error::other(e))),
    }
}
