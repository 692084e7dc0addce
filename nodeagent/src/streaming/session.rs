//! One remote-command session, whatever protocol carries it: output
//! streams go to their channels, client events feed stdin and terminal
//! resizes, and when the command (or attached container) ends, every byte
//! of output is sent, then the final status, then the connection closes in
//! order — what kubectl needs to print everything exactly once and exit
//! with the command's code instead of taking the end for a failure.

use super::connection::{ClientEvent, Connection, Outbound};
use crate::runtime::attach::Chunk;
use crate::runtime::pty::{PtyMaster, WindowSize};
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::StreamExt;
use serde_json::Value;
use std::future::Future;
use std::time::Duration;
use tokio::sync::mpsc;

/// Time output gets to drain after the command ended.
const DRAIN: Duration = Duration::from_secs(2);

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
pub async fn run(conn: Connection, mut io: SessionIo, done: impl Future<Output = Value>) -> Ending {
    let Connection {
        mut events,
        out,
        writer,
    } = conn;
    let pumps: Vec<_> = std::mem::take(&mut io.outputs)
        .into_iter()
        .map(|output| tokio::spawn(pump(output, out.clone())))
        .collect();
    tokio::pin!(done);
    let status = loop {
        tokio::select! {
            status = &mut done => break status,
            ev = events.recv() => match ev {
                Some(ev) => on_event(ev, &mut io).await,
                None => {
                    writer.abort();
                    pumps.iter().for_each(|p| p.abort());
                    return Ending::ClientGone;
                }
            },
        }
    };
    drop(io.stdin.take());
    for p in pumps {
        let _ = tokio::time::timeout(DRAIN, p).await;
    }
    let _ = out.send(Outbound::Status(status)).await;
    drop(out);
    let _ = tokio::time::timeout(DRAIN, writer).await;
    Ending::Finished
}

async fn on_event(ev: ClientEvent, io: &mut SessionIo) {
    match ev {
        ClientEvent::Stdin(bytes) => {
            if let Some(stdin) = &io.stdin {
                if stdin.send(bytes).await.is_err() {
                    io.stdin = None;
                }
            }
        }
        ClientEvent::StdinEnd => io.stdin = None,
        ClientEvent::Resize(size) => resize(io.pty.as_ref(), size),
    }
}

fn resize(pty: Option<&PtyMaster>, size: WindowSize) {
    if let Some(pty) = pty {
        if let Err(e) = pty.resize(size) {
            tracing::debug!(error = %e, "terminal resize failed");
        }
    }
}

async fn pump(mut output: Output, out: mpsc::Sender<Outbound>) {
    while let Some((channel, chunk)) = output.next().await {
        if chunk.is_empty() {
            continue;
        }
        if out.send(Outbound::Output(channel, chunk)).await.is_err() {
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
    let (tx, mut rx) = mpsc::channel::<Bytes>(super::connection::OUTBOUND_QUEUE);
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
