//! One remote-command session over a WebSocket: output streams are framed
//! onto their channels, client messages feed stdin and terminal resizes, and
//! when the command (or attached container) ends, the final status goes on
//! the error channel before a normal close — the order kubectl relies on to
//! print everything and then exit with the command's code.

use super::remotecommand::{self, Inbound};
use crate::runtime::attach::Chunk;
use crate::runtime::pty::{PtyMaster, WindowSize};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{SinkExt, StreamExt};
use serde_json::Value;
use std::future::Future;
use std::time::Duration;
use tokio::sync::mpsc;

/// Messages queued towards the client; a full queue pauses the output
/// readers, which pauses the process (back-pressure end to end).
const OUTBOUND_QUEUE: usize = 16;
/// Time output gets to drain after the command ended.
const DRAIN: Duration = Duration::from_secs(2);
/// WebSocket close code 1000.
const NORMAL_CLOSURE: u16 = 1000;

/// Output for the client: chunks tagged with their channel.
pub type Output = BoxStream<'static, Chunk>;

/// The process side of a session.
#[derive(Default)]
pub struct SessionIo {
    pub outputs: Vec<Output>,
    /// Client input; dropping it is end of input.
    pub stdin: Option<mpsc::Sender<Bytes>>,
    /// The terminal, for resizes.
    pub pty: Option<PtyMaster>,
}

/// How the session ended.
pub enum Ending {
    /// The command ended with this status (sent to the client).
    Finished,
    /// The client went away first.
    ClientGone,
}

/// Runs the session until `done` yields the final status or the client
/// disconnects.
pub async fn run(
    socket: WebSocket,
    mut io: SessionIo,
    done: impl Future<Output = Value>,
) -> Ending {
    let (mut sink, mut inbound) = socket.split();
    let (out_tx, mut out_rx) = mpsc::channel::<Message>(OUTBOUND_QUEUE);
    let writer = tokio::spawn(async move {
        while let Some(m) = out_rx.recv().await {
            if sink.send(m).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let pumps: Vec<_> = std::mem::take(&mut io.outputs)
        .into_iter()
        .map(|output| tokio::spawn(pump(output, out_tx.clone())))
        .collect();
    tokio::pin!(done);
    let status = loop {
        tokio::select! {
            status = &mut done => break status,
            msg = inbound.next() => match msg {
                Some(Ok(Message::Binary(data))) => on_inbound(&data, &mut io).await,
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                    writer.abort();
                    pumps.iter().for_each(|p| p.abort());
                    return Ending::ClientGone;
                }
                Some(Ok(_)) => {}
            },
        }
    };
    drop(io.stdin.take());
    for p in pumps {
        let _ = tokio::time::timeout(DRAIN, p).await;
    }
    let status = remotecommand::frame(remotecommand::ERROR, status.to_string().as_bytes());
    let _ = out_tx.send(Message::Binary(status.into())).await;
    let _ = out_tx
        .send(Message::Close(Some(CloseFrame {
            code: NORMAL_CLOSURE,
            reason: "".into(),
        })))
        .await;
    drop(out_tx);
    let _ = tokio::time::timeout(DRAIN, writer).await;
    Ending::Finished
}

async fn on_inbound(data: &[u8], io: &mut SessionIo) {
    match remotecommand::decode(data) {
        Inbound::Stdin(bytes) => {
            if let Some(stdin) = &io.stdin {
                if stdin.send(Bytes::copy_from_slice(bytes)).await.is_err() {
                    io.stdin = None;
                }
            }
        }
        Inbound::StdinClosed => io.stdin = None,
        Inbound::Resize(size) => resize(io.pty.as_ref(), size),
        Inbound::Ignored => {}
    }
}

fn resize(pty: Option<&PtyMaster>, size: WindowSize) {
    if let Some(pty) = pty {
        if let Err(e) = pty.resize(size) {
            tracing::debug!(error = %e, "terminal resize failed");
        }
    }
}

async fn pump(mut output: Output, out: mpsc::Sender<Message>) {
    while let Some((channel, chunk)) = output.next().await {
        if chunk.is_empty() {
            continue;
        }
        let msg = Message::Binary(remotecommand::frame(channel, &chunk).into());
        if out.send(msg).await.is_err() {
            return;
        }
    }
}

/// Feeds client input into a writer until the client ends it.
pub fn stdin_writer<W>(mut w: W) -> mpsc::Sender<Bytes>
where
    W: tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    use tokio::io::AsyncWriteExt;
    let (tx, mut rx) = mpsc::channel::<Bytes>(OUTBOUND_QUEUE);
    tokio::spawn(async move {
        while let Some(b) = rx.recv().await {
            if w.write_all(&b).await.is_err() || w.flush().await.is_err() {
                return;
            }
        }
        let _ = w.shutdown().await;
    });
    tx
}

/// A reader as the output of `channel`, until end of file or an error.
pub fn output<R>(r: R, channel: u8) -> Output
where
    R: tokio::io::AsyncRead + Send + 'static,
{
    tokio_util::io::ReaderStream::with_capacity(r, 32 * 1024)
        .take_while(|r| futures::future::ready(r.is_ok()))
        .filter_map(move |r| futures::future::ready(r.ok().map(|b| (channel, b))))
        .boxed()
}
