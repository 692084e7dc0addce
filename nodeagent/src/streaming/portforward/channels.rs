//! Port-forward over the WebSocket channel protocol (`v4.channel.k8s.io`,
//! what kube-rs's `Api::portforward` speaks): the ports come in the query,
//! port i owns channels 2i (data) and 2i+1 (error); every binary message
//! starts with its channel byte, and the server's first message on each
//! channel is the port as 2 bytes little-endian. One pod connection per
//! port, dialed at once; the socket closes when all of them are done.

use super::target::{pipe, Downstream, Target};
use axum::extract::ws::{Message, WebSocket};
use bytes::{BufMut, Bytes, BytesMut};
use futures::{SinkExt, StreamExt};
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// The subprotocol name (binary channels).
pub const V4_CHANNEL: &str = "v4.channel.k8s.io";

/// Parses the `ports` query values (repeated or comma-separated).
pub fn parse_ports<'a>(values: impl IntoIterator<Item = &'a str>) -> Result<Vec<u16>, String> {
    let mut ports = Vec::new();
    for v in values {
        if v.is_empty() {
            return Err("query parameter \"port\" cannot be empty".into());
        }
        for p in v.split(',') {
            match p.parse::<u16>() {
                Ok(0) => return Err(format!("port \"{v}\" must be > 0")),
                Ok(port) => ports.push(port),
                Err(e) => return Err(format!("unable to parse \"{v}\" as a port: {e}")),
            }
        }
    }
    if ports.is_empty() {
        return Err("query parameter \"port\" is required".into());
    }
    Ok(ports)
}

/// A message on `channel` carrying `data`.
pub fn channel_message(channel: u8, data: &[u8]) -> Message {
    let mut b = BytesMut::with_capacity(1 + data.len());
    b.put_u8(channel);
    b.put_slice(data);
    Message::Binary(b.freeze())
}

/// The pod's bytes for one port, on its data channel.
struct Channel {
    id: u8,
    out: mpsc::Sender<Message>,
}

impl Downstream for Channel {
    async fn send(&self, data: Bytes) -> Result<(), ()> {
        self.out
            .send(channel_message(self.id, &data))
            .await
            .map_err(|_| ())
    }

    /// The v4 protocol has no per-channel close.
    async fn finish(&self) {}
}

pub async fn serve(ws: WebSocket, ports: Vec<u16>, target: Arc<Target>) {
    let (mut sink, mut incoming) = ws.split();
    let (out, mut out_rx) = mpsc::channel::<Message>(32);
    let writer = tokio::spawn(async move {
        while let Some(m) = out_rx.recv().await {
            if sink.send(m).await.is_err() {
                return;
            }
        }
        let _ = sink.close().await;
    });
    let stop = CancellationToken::new();
    let mut forwards = JoinSet::new();
    let mut upstreams = Vec::new();
    for (i, port) in ports.iter().copied().enumerate() {
        let data_ch = (2 * i) as u8;
        for ch in [data_ch, data_ch + 1] {
            let _ = out.send(channel_message(ch, &port.to_le_bytes())).await;
        }
        let (tx, rx) = mpsc::channel::<Bytes>(8);
        upstreams.push(tx);
        let (out, target, stop) = (out.clone(), target.clone(), stop.clone());
        forwards.spawn(async move {
            match target.connect(port).await {
                Ok(tcp) => {
                    let down = Channel { id: data_ch, out };
                    pipe(tcp, rx, &down, &stop).await;
                }
                Err(message) => {
                    let _ = out
                        .send(channel_message(data_ch + 1, message.as_bytes()))
                        .await;
                }
            }
        });
    }
    drop(out);
    loop {
        tokio::select! {
            m = incoming.next() => match m {
                Some(Ok(Message::Binary(b))) => route(&upstreams, b).await,
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
            done = forwards.join_next() => if done.is_none() { break },
        }
    }
    stop.cancel();
    drop(upstreams);
    while forwards.join_next().await.is_some() {}
    let _ = writer.await;
}

/// Client data for a data channel goes to that port's pod connection;
/// anything else is ignored, as the kubelet's read-only channels do.
async fn route(upstreams: &[mpsc::Sender<Bytes>], mut b: Bytes) {
    let Some(&ch) = b.first() else { return };
    let data = b.split_off(1);
    if ch % 2 != 0 || data.is_empty() {
        return;
    }
    if let Some(tx) = upstreams.get(usize::from(ch / 2)) {
        let _ = tx.send(data).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_parse_like_the_kubelet() {
        assert_eq!(parse_ports(["80,443", "8080"]), Ok(vec![80, 443, 8080]));
        assert_eq!(
            parse_ports(Vec::<&str>::new()),
            Err("query parameter \"port\" is required".into())
        );
        assert_eq!(
            parse_ports([""]),
            Err("query parameter \"port\" cannot be empty".into())
        );
        assert_eq!(parse_ports(["0"]), Err("port \"0\" must be > 0".into()));
        assert!(parse_ports(["80,x"])
            .unwrap_err()
            .starts_with("unable to parse \"80,x\""));
    }

    #[test]
    fn messages_start_with_the_channel() {
        let Message::Binary(b) = channel_message(3, &80u16.to_le_bytes()) else {
            panic!()
        };
        assert_eq!(&b[..], &[3, 80, 0]);
    }
}
