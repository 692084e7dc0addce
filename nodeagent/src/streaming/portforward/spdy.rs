//! Port-forward over a SPDY session (kubectl's `SPDY/3.1` upgrade and its
//! WebSocket tunnel): each local connection kubectl accepts is a pair of
//! streams; the agent replies to both, dials the pod when the pair is
//! complete and copies bytes, or writes the dial error on the error stream.
//! A failed connection leaves the session usable for the next ones.

use super::pairs::{classify, Added, Pairs, STREAM_CREATION_TIMEOUT};
use super::target::{pipe, Downstream, Target};
use crate::streaming::spdy::frame::{RST_CANCEL, RST_PROTOCOL_ERROR};
use crate::streaming::spdy::session::{Session, Stream, StreamWriter};
use bytes::Bytes;
use std::sync::Arc;
use std::time::{Duration, Instant};

impl Downstream for StreamWriter {
    async fn send(&self, data: Bytes) -> Result<(), ()> {
        self.write(data).await.map_err(|_| ())
    }

    async fn finish(&self) {
        let _ = StreamWriter::finish(self).await;
    }
}

/// Serves port-forward streams until the session ends.
pub async fn serve(mut session: Session, target: Arc<Target>) {
    let mut pairs: Pairs<Stream> = Pairs::default();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            s = session.streams.recv() => match s {
                Some(s) => accept(&mut pairs, s, &target).await,
                None => break,
            },
            _ = tick.tick() => expire(&mut pairs).await,
        }
    }
    session.closed.cancel();
}

async fn accept(pairs: &mut Pairs<Stream>, stream: Stream, target: &Arc<Target>) {
    let req = match classify(&stream.headers, stream.id) {
        Ok(r) => r,
        Err(reason) => {
            tracing::warn!(stream = stream.id, %reason, "port-forward stream rejected");
            let _ = stream.writer.reset(RST_CANCEL).await;
            return;
        }
    };
    if stream.writer.reply().await.is_err() {
        return;
    }
    match pairs.add(&req, stream, Instant::now()) {
        Added::Waiting => {}
        Added::Complete { error, data } => {
            tokio::spawn(forward(target.clone(), req.port, error, data));
        }
        Added::Duplicate { refused, message } => {
            tracing::warn!(%message, "port-forward stream rejected");
            let _ = refused.writer.reset(RST_PROTOCOL_ERROR).await;
        }
    }
}

/// One forwarded connection; ends by closing both streams, as the kubelet's
/// handler does.
async fn forward(target: Arc<Target>, port: u16, error: Stream, data: Stream) {
    match target.connect(port).await {
        Ok(tcp) => {
            let stop = data.writer.gone().clone();
            pipe(tcp, data.incoming, &data.writer, &stop).await;
        }
        Err(message) => {
            tracing::info!(%message, "port-forward dial failed");
            let _ = error.writer.write(Bytes::from(message)).await;
            let _ = data.writer.finish().await;
        }
    }
    let _ = error.writer.finish().await;
}

async fn expire(pairs: &mut Pairs<Stream>) {
    for (request, error, data) in pairs.expire(Instant::now(), STREAM_CREATION_TIMEOUT) {
        let message = format!("(request={request}) timed out waiting for streams");
        tracing::warn!(%message, "port-forward");
        if let Some(e) = error {
            let _ = e.writer.write(Bytes::from(message)).await;
            let _ = e.writer.finish().await;
        }
        if let Some(d) = data {
            let _ = d.writer.reset(RST_CANCEL).await;
        }
    }
}
