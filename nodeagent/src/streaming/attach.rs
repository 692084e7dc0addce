//! `attach`: a client joins a running container's console — its output from
//! now on, its stdin when it has one, and its terminal size when it has a
//! TTY. The session ends when the container instance exits: at once, with
//! the status, for an instance that exited before the client came.

use super::connection::Connection;
use super::remotecommand::{Options, STDERR, STDOUT};
use super::session::{self, SessionIo};
use crate::runtime::attach::{AttachHub, Chunk};
use crate::runtime::logs;
use bytes::Bytes;
use futures::StreamExt;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::{self, error::RecvError, error::TryRecvError};
use tokio::sync::watch;

/// How long an attach waits for the log to hold the output it replays.
const LOG_CATCH_UP: Duration = Duration::from_secs(1);
/// A plain log read this recent is taken as the client's own (`kubectl
/// run -i` reads the log, then attaches at once).
const LOG_READ_WINDOW: Duration = Duration::from_secs(10);

/// `log`: the instance's log file, from which the client gets the output
/// it missed since a plain log read just before (see
/// `AttachHub::take_log_read`), ahead of the live output.
pub async fn serve(conn: Connection, opts: Options, hub: Arc<AttachHub>, log: PathBuf) {
    let a = hub.attach();
    let replay = match hub.take_log_read(LOG_READ_WINDOW) {
        Some(seen) if (seen as u64) < a.live_from => missed(&log, seen, a.live_from).await,
        _ => Vec::new(),
    };
    let wanted = move |(channel, _): &Chunk| match *channel {
        STDOUT => opts.stdout,
        STDERR => opts.stderr || (opts.tty && opts.stdout),
        _ => false,
    };
    let output = futures::stream::iter(replay)
        .chain(until_exit(a.output, a.exited.clone()))
        .filter(move |c| futures::future::ready(wanted(c)))
        .boxed();
    let io = SessionIo {
        outputs: vec![output],
        stdin: if opts.stdin { a.stdin } else { None },
        pty: a.tty,
    };
    let mut exited = a.exited;
    let done = async move {
        let _ = exited.wait_for(|e| *e).await;
        json!({"metadata": {}, "status": "Success"})
    };
    session::run(conn, io, done).await;
}

/// The log's output from byte `seen` up to byte `live_from`, where live
/// output starts. Output reaches the log just after it is published, so
/// the log may lag a moment behind `live_from`: wait for it, briefly.
async fn missed(log: &Path, seen: usize, live_from: u64) -> Vec<Chunk> {
    let want = (live_from - seen as u64) as usize;
    let deadline = tokio::time::Instant::now() + LOG_CATCH_UP;
    loop {
        let after = logs::output_after(log, seen);
        let have: usize = after.iter().map(|(_, t)| t.len()).sum();
        if have >= want || tokio::time::Instant::now() >= deadline {
            return take_bytes(after, want);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The first `n` bytes of log output, as chunks on their channels.
fn take_bytes(entries: Vec<(String, String)>, mut n: usize) -> Vec<Chunk> {
    let mut out = Vec::new();
    for (stream, text) in entries {
        if n == 0 {
            break;
        }
        let mut bytes = Bytes::from(text);
        bytes.truncate(n);
        n -= bytes.len();
        let channel = if stream == "stderr" { STDERR } else { STDOUT };
        out.push((channel, bytes));
    }
    out
}

/// Live output until the instance has exited. The agent marks an instance
/// exited only after its output readers finished, so what is queued then is
/// the last of it: drained, then the stream ends.
fn until_exit(
    rx: broadcast::Receiver<Chunk>,
    exited: watch::Receiver<bool>,
) -> impl futures::Stream<Item = Chunk> {
    futures::stream::unfold(
        (rx, exited, false),
        |(mut rx, mut exited, ending)| async move {
            if ending {
                return drain_next(rx, exited).await;
            }
            loop {
                let next = tokio::select! {
                    biased;
                    r = rx.recv() => Some(r),
                    _ = exited.wait_for(|e| *e) => None,
                };
                match next {
                    Some(Ok(c)) => return Some((c, (rx, exited, false))),
                    Some(Err(RecvError::Lagged(_))) => continue,
                    Some(Err(RecvError::Closed)) => return None,
                    None => return drain_next(rx, exited).await,
                }
            }
        },
    )
}

async fn drain_next(
    mut rx: broadcast::Receiver<Chunk>,
    exited: watch::Receiver<bool>,
) -> Option<(
    Chunk,
    (broadcast::Receiver<Chunk>, watch::Receiver<bool>, bool),
)> {
    loop {
        match rx.try_recv() {
            Ok(c) => return Some((c, (rx, exited, true))),
            Err(TryRecvError::Lagged(_)) => continue,
            Err(_) => return None,
        }
    }
}
