//! Exec and attach over SPDY/3.1 (`Upgrade: SPDY/3.1`), what kubectl older
//! than 1.30 speaks and what newer kubectl falls back to when a WebSocket
//! upgrade fails. Stream protocol `v4.channel.k8s.io`, as the kubelet
//! serves it: the client opens a stream per standard stream, the server
//! answers each, copies output onto stdout/stderr and, at the end, half-
//! closes them, writes the status as JSON on the error stream, and ends the
//! session with GOAWAY.
//!
//! - `streams`: which streams make a session (pure).
//! - `resize`: the terminal-size stream's decoder (pure).

pub mod resize;
pub mod streams;

use super::connection::{ClientEvent, Connection, Outbound, OUTBOUND_QUEUE};
use super::remotecommand::{Options, STDERR, STDOUT};
use super::spdy::frame::RST_PROTOCOL_ERROR;
use super::spdy::session::{Session, SessionEnder, Stream, StreamWriter};
use bytes::Bytes;
use resize::ResizeDecoder;
use std::time::Duration;
use streams::{StreamSet, StreamType};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// The stream protocol versions served over SPDY, most preferred first.
pub const VERSIONS: [&str; 1] = ["v4.channel.k8s.io"];

/// How long the client gets to open its streams (the kubelet's
/// `streamCreationTimeout` default).
const STREAM_CREATION_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the session waits, after its GOAWAY, for the client to close.
const CLOSE_LINGER: Duration = Duration::from_secs(2);

/// Waits for the client's streams, then carries the session over them.
pub async fn connect(mut session: Session, opts: &Options) -> Result<Connection, String> {
    let set = match gather(&mut session, opts).await {
        Ok(set) => set,
        Err(e) => {
            session.closed.cancel();
            return Err(e);
        }
    };
    let Session {
        streams: mut extra,
        closed,
        ender,
    } = session;
    // Streams opened after the session started are refused; the receiver
    // has to stay alive for the session to keep reading.
    tokio::spawn(async move {
        while let Some(s) = extra.recv().await {
            let _ = s.writer.reset(RST_PROTOCOL_ERROR).await;
        }
    });
    let Some(error) = set.error else {
        return Err("no error stream".into());
    };
    let (events_tx, events) = mpsc::channel(OUTBOUND_QUEUE);
    tokio::spawn(read_loop(set.stdin, set.resize, events_tx, closed.clone()));
    let (out, out_rx) = mpsc::channel(OUTBOUND_QUEUE);
    let writers = Writers {
        error: error.writer,
        stdout: set.stdout.map(|s| s.writer),
        stderr: set.stderr.map(|s| s.writer),
    };
    let writer = tokio::spawn(write_loop(out_rx, writers, ender, closed));
    Ok(Connection {
        events,
        out,
        writer,
    })
}

/// Receives and answers streams until the options' set is complete.
async fn gather(session: &mut Session, opts: &Options) -> Result<StreamSet<Stream>, String> {
    let mut set = StreamSet::default();
    let deadline = tokio::time::sleep(STREAM_CREATION_TIMEOUT);
    tokio::pin!(deadline);
    while !set.complete(opts) {
        let stream = tokio::select! {
            s = session.streams.recv() => s.ok_or("connection closed before the streams were created")?,
            _ = &mut deadline => return Err("timed out waiting for client to create streams".into()),
        };
        let kind = match StreamType::of(&stream.headers) {
            Ok(k) => k,
            Err(reason) => {
                tracing::warn!(stream = stream.id, %reason, "remote-command stream rejected");
                let _ = stream.writer.reset(RST_PROTOCOL_ERROR).await;
                continue;
            }
        };
        // The client waits for the reply before it opens the next stream.
        if stream.writer.reply().await.is_err() {
            return Err("connection closed before the streams were created".into());
        }
        if let Err(dup) = set.add(kind, stream) {
            tracing::warn!(stream = dup.id, ?kind, "duplicate remote-command stream");
            let _ = dup.writer.reset(RST_PROTOCOL_ERROR).await;
        }
    }
    Ok(set)
}

/// Client input: stdin data and its end (the client's FIN), terminal sizes.
/// Ends, and with it the events, when the session does.
async fn read_loop(
    stdin: Option<Stream>,
    resize: Option<Stream>,
    events: mpsc::Sender<ClientEvent>,
    closed: CancellationToken,
) {
    let mut stdin = stdin.map(|s| s.incoming);
    let mut resize = resize.map(|s| s.incoming);
    let mut sizes = ResizeDecoder::default();
    loop {
        let evs = tokio::select! {
            d = recv(&mut stdin), if stdin.is_some() => match d {
                Some(b) => vec![ClientEvent::Stdin(b)],
                None => {
                    stdin = None;
                    vec![ClientEvent::StdinEnd]
                }
            },
            d = recv(&mut resize), if resize.is_some() => match d {
                Some(b) => sizes.push(&b).into_iter().map(ClientEvent::Resize).collect(),
                None => {
                    resize = None;
                    Vec::new()
                }
            },
            _ = closed.cancelled() => return,
        };
        for ev in evs {
            if events.send(ev).await.is_err() {
                return;
            }
        }
    }
}

async fn recv(rx: &mut Option<mpsc::Receiver<Bytes>>) -> Option<Bytes> {
    match rx {
        Some(rx) => rx.recv().await,
        None => None,
    }
}

/// The server's side of the streams.
struct Writers {
    error: StreamWriter,
    stdout: Option<StreamWriter>,
    stderr: Option<StreamWriter>,
}

impl Writers {
    async fn finish_output(&self) {
        for w in [&self.stdout, &self.stderr].into_iter().flatten() {
            let _ = w.finish().await;
        }
    }
}

/// Output onto its stream; at the status, the output streams end, the
/// status goes on the error stream, and the session ends with GOAWAY once
/// everything is written.
async fn write_loop(
    mut out: mpsc::Receiver<Outbound>,
    writers: Writers,
    ender: SessionEnder,
    closed: CancellationToken,
) {
    let mut finished = false;
    while let Some(o) = out.recv().await {
        match o {
            Outbound::Output(channel, data) => {
                let w = match channel {
                    STDOUT => writers.stdout.as_ref(),
                    STDERR => writers.stderr.as_ref(),
                    _ => None,
                };
                if let Some(w) = w {
                    // A reset stream or a closed session: the output has
                    // nowhere to go, and the session learns it from the events.
                    let _ = w.write(data).await;
                }
            }
            Outbound::Status(status) => {
                writers.finish_output().await;
                let _ = writers.error.write(Bytes::from(status.to_string())).await;
                let _ = writers.error.finish().await;
                finished = true;
            }
        }
    }
    if !finished {
        writers.finish_output().await;
    }
    ender.go_away().await;
    let _ = tokio::time::timeout(CLOSE_LINGER, closed.cancelled()).await;
    closed.cancel();
}
