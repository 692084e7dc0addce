//! `attach`: a client joins a running container's console — its output from
//! now on, its stdin when it has one, and its terminal size when it has a
//! TTY. The session ends when the container instance exits.

use super::remotecommand::{Options, STDERR, STDOUT};
use super::session::{self, SessionIo};
use crate::runtime::attach::{AttachHub, Chunk};
use axum::extract::ws::WebSocket;
use futures::StreamExt;
use serde_json::json;
use std::sync::Arc;
use tokio::sync::broadcast::{self, error::RecvError, error::TryRecvError};
use tokio::sync::watch;

pub async fn serve(socket: WebSocket, opts: Options, hub: Arc<AttachHub>) {
    let a = hub.attach();
    let wanted = move |(channel, _): &Chunk| match *channel {
        STDOUT => opts.stdout,
        STDERR => opts.stderr || (opts.tty && opts.stdout),
        _ => false,
    };
    let output = until_exit(a.output, a.exited.clone())
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
    session::run(socket, io, done).await;
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
