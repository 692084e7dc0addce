//! The remote-command channel protocol over WebSocket as a [`Connection`]
//! (kubectl 1.30+, kube-rs, the Python client). Client messages are read
//! whether they come as binary or as text frames: the kubelet's WebSocket
//! server does not tell them apart, and the Python client sends `str` stdin
//! as text. The end of the connection is a close frame with code 1000 after
//! the status, which kubectl reads as a clean end of every stream.

use super::connection::{ClientEvent, Connection, Outbound, OUTBOUND_QUEUE};
use super::remotecommand::{self, Inbound};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use bytes::Bytes;
use futures::stream::SplitStream;
use futures::{SinkExt, StreamExt};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// WebSocket close code 1000.
const NORMAL_CLOSURE: u16 = 1000;
/// How long the reader waits for the client's answer to our close frame.
const CLOSE_LINGER: Duration = Duration::from_secs(2);

pub fn connect(socket: WebSocket) -> Connection {
    let (mut sink, stream) = socket.split();
    let (events_tx, events) = mpsc::channel(OUTBOUND_QUEUE);
    let (out, mut out_rx) = mpsc::channel::<Outbound>(OUTBOUND_QUEUE);
    let closed_by_us = CancellationToken::new();
    tokio::spawn(read_loop(stream, events_tx, closed_by_us.clone()));
    let writer = tokio::spawn(async move {
        while let Some(o) = out_rx.recv().await {
            if sink.send(Message::Binary(encode(&o).into())).await.is_err() {
                closed_by_us.cancel();
                return;
            }
        }
        let close = Message::Close(Some(CloseFrame {
            code: NORMAL_CLOSURE,
            reason: "".into(),
        }));
        let _ = sink.send(close).await;
        let _ = sink.close().await;
        closed_by_us.cancel();
    });
    Connection {
        events,
        out,
        writer,
    }
}

/// One outbound message on the wire: the channel byte, then the data.
fn encode(o: &Outbound) -> Vec<u8> {
    match o {
        Outbound::Output(channel, data) => remotecommand::frame(*channel, data),
        Outbound::Status(status) => {
            remotecommand::frame(remotecommand::ERROR, status.to_string().as_bytes())
        }
    }
}

/// What a client message asks for, if anything.
fn event(data: &[u8]) -> Option<ClientEvent> {
    match remotecommand::decode(data) {
        Inbound::Stdin(bytes) => Some(ClientEvent::Stdin(Bytes::copy_from_slice(bytes))),
        Inbound::StdinClosed => Some(ClientEvent::StdinEnd),
        Inbound::Resize(size) => Some(ClientEvent::Resize(size)),
        Inbound::Ignored => None,
    }
}

/// Reads client messages into events until the client closes or goes
/// away, then keeps reading a little so the WebSocket library answers a
/// client's close frame (it replies while reading).
async fn read_loop(
    mut stream: SplitStream<WebSocket>,
    events: mpsc::Sender<ClientEvent>,
    closed_by_us: CancellationToken,
) {
    let mut events = Some(events);
    loop {
        let msg = tokio::select! {
            m = stream.next() => m,
            _ = closed_by_us.cancelled() => break,
        };
        let data = match msg {
            Some(Ok(Message::Binary(b))) => b,
            Some(Ok(Message::Text(t))) => Bytes::from(t.as_str().to_owned()),
            Some(Ok(Message::Close(_))) => {
                // No more input: the session learns it by the events' end.
                events = None;
                continue;
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => {
                tracing::debug!(error = %e, "remote-command WebSocket read failed");
                return;
            }
            None => return,
        };
        let (Some(tx), Some(ev)) = (&events, event(&data)) else {
            continue;
        };
        if tx.send(ev).await.is_err() {
            // The session is over; keep reading for the close handshake.
            events = None;
        }
    }
    // We closed: wait briefly for the client's close frame, so the socket
    // is not torn down under it.
    let _ = tokio::time::timeout(CLOSE_LINGER, async {
        while let Some(Ok(_)) = stream.next().await {}
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::pty::WindowSize;
    use serde_json::json;

    #[test]
    fn text_and_binary_messages_mean_the_same() {
        assert_eq!(
            event(b"\x00echo hi\n"),
            Some(ClientEvent::Stdin(Bytes::from_static(b"echo hi\n")))
        );
        assert_eq!(event(&[255, 0]), Some(ClientEvent::StdinEnd));
        assert_eq!(
            event(b"\x04{\"Width\":80,\"Height\":24}"),
            Some(ClientEvent::Resize(WindowSize { cols: 80, rows: 24 }))
        );
        assert_eq!(event(&[1, b'x']), None);
    }

    #[test]
    fn outbound_messages_carry_their_channel() {
        assert_eq!(
            encode(&Outbound::Output(2, Bytes::from_static(b"err"))),
            b"\x02err"
        );
        let status = encode(&Outbound::Status(json!({"status": "Success"})));
        assert_eq!(status[0], remotecommand::ERROR);
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&status[1..]).unwrap()["status"],
            "Success"
        );
    }
}
