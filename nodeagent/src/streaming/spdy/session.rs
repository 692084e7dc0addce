//! The server side of a SPDY/3.1 session: reads frames, answers PINGs,
//! hands each stream the peer opens (SYN_STREAM) to the caller with the
//! data the peer sends on it, and writes what the caller sends back.
//!
//! Tasks: one reader (this module's `read_loop`) and one writer
//! (`write_loop`, the only owner of the write half and its zlib context).
//! Everything a session started ends with it: when the peer goes away,
//! `closed` is cancelled, and with it every stream's token.

use super::frame::{Frame, SpdyCodec, FLAG_FIN, RST_PROTOCOL_ERROR};
use super::headers::Headers;
use super::SpdyError;
use crate::streaming::{BoxRead, BoxWrite};
use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use tokio_util::codec::{FramedRead, FramedWrite};
use tokio_util::sync::CancellationToken;

/// Frames in flight to the writer; with `DATA_CHUNK` this bounds what one
/// session buffers on its way out.
const OUT_QUEUE: usize = 32;
/// Chunks of peer data buffered per stream before the session stops
/// reading (back-pressure).
const IN_QUEUE: usize = 8;
/// The largest DATA frame this side writes (what Go's io.Copy uses).
pub const DATA_CHUNK: usize = 32 * 1024;
/// GOAWAY status: a normal end of the session.
const GOAWAY_OK: u32 = 0;

/// The stream was reset or the session ended.
#[derive(Debug, thiserror::Error)]
#[error("stream closed")]
pub struct StreamClosed;

/// A stream the peer opened.
pub struct Stream {
    pub id: u32,
    pub headers: Headers,
    /// The peer's data; ends at its FIN, its RST_STREAM or the session end.
    pub incoming: mpsc::Receiver<Bytes>,
    pub writer: StreamWriter,
}

/// The sending half of a stream.
#[derive(Clone)]
pub struct StreamWriter {
    id: u32,
    out: mpsc::Sender<Frame>,
    gone: CancellationToken,
}

impl StreamWriter {
    /// Cancelled when the peer resets the stream or the session ends.
    pub fn gone(&self) -> &CancellationToken {
        &self.gone
    }

    async fn send(&self, frame: Frame) -> Result<(), StreamClosed> {
        if self.gone.is_cancelled() {
            return Err(StreamClosed);
        }
        tokio::select! {
            r = self.out.send(frame) => r.map_err(|_| StreamClosed),
            _ = self.gone.cancelled() => Err(StreamClosed),
        }
    }

    /// Accepts the stream (SYN_REPLY with no headers, as the kubelet does).
    pub async fn reply(&self) -> Result<(), StreamClosed> {
        self.send(Frame::SynReply {
            stream_id: self.id,
            flags: 0,
            headers: Headers::default(),
        })
        .await
    }

    /// Sends `data` in DATA frames of at most `DATA_CHUNK` bytes.
    pub async fn write(&self, mut data: Bytes) -> Result<(), StreamClosed> {
        while !data.is_empty() {
            let chunk = data.split_to(data.len().min(DATA_CHUNK));
            self.send(Frame::Data {
                stream_id: self.id,
                flags: 0,
                data: chunk,
            })
            .await?;
        }
        Ok(())
    }

    /// Half-closes this side (an empty DATA frame with FIN).
    pub async fn finish(&self) -> Result<(), StreamClosed> {
        self.send(Frame::Data {
            stream_id: self.id,
            flags: FLAG_FIN,
            data: Bytes::new(),
        })
        .await
    }

    /// Refuses or aborts the stream.
    pub async fn reset(&self, status: u32) -> Result<(), StreamClosed> {
        self.send(Frame::RstStream {
            stream_id: self.id,
            status,
        })
        .await
    }
}

/// A running session: the streams the peer opens, in order.
pub struct Session {
    pub streams: mpsc::Receiver<Stream>,
    /// Cancelled when the connection ends; cancel it to end the session.
    pub closed: CancellationToken,
    /// Ends the session in order, after what was already sent.
    pub ender: SessionEnder,
}

/// Ends a session the way spdystream's `Close` does: a GOAWAY naming the
/// last stream the peer opened, queued behind every frame already sent, so
/// the peer reads all of it first; then this side stops writing.
#[derive(Clone)]
pub struct SessionEnder {
    out: mpsc::Sender<Frame>,
    last_peer_id: Arc<AtomicU32>,
}

impl SessionEnder {
    pub async fn go_away(&self) {
        let frame = Frame::GoAway {
            last_good_stream_id: self.last_peer_id.load(Ordering::Relaxed),
            status: GOAWAY_OK,
        };
        // The writer is gone only if the session already ended.
        let _ = self.out.send(frame).await;
    }
}

/// What the reader knows of an open stream.
struct Entry {
    /// Where the peer's data goes; None after its FIN.
    tx: Option<mpsc::Sender<Bytes>>,
    gone: CancellationToken,
    /// This side sent FIN or RST.
    local_done: bool,
}

type Table = Arc<Mutex<HashMap<u32, Entry>>>;

/// Starts serving a session over an upgraded connection.
pub fn serve(read: BoxRead, write: BoxWrite) -> Result<Session, SpdyError> {
    let closed = CancellationToken::new();
    let table: Table = Arc::default();
    let (out_tx, out_rx) = mpsc::channel(OUT_QUEUE);
    let (streams_tx, streams_rx) = mpsc::channel(16);
    let last_peer_id = Arc::new(AtomicU32::new(0));
    let reader = FramedRead::new(read, SpdyCodec::new()?);
    let writer = FramedWrite::new(write, SpdyCodec::new()?);
    let ender = SessionEnder {
        out: out_tx.clone(),
        last_peer_id: last_peer_id.clone(),
    };
    tokio::spawn(write_loop(writer, out_rx, table.clone(), closed.clone()));
    let peer = Peer {
        out: out_tx,
        streams: streams_tx,
        table,
        closed: closed.clone(),
        last_id: last_peer_id,
    };
    tokio::spawn(read_loop(reader, peer));
    Ok(Session {
        streams: streams_rx,
        closed,
        ender,
    })
}

/// What the reader shares with the rest of the session.
struct Peer {
    out: mpsc::Sender<Frame>,
    streams: mpsc::Sender<Stream>,
    table: Table,
    closed: CancellationToken,
    /// The newest stream the peer opened (for GOAWAY).
    last_id: Arc<AtomicU32>,
}

async fn read_loop(mut frames: FramedRead<BoxRead, SpdyCodec>, peer: Peer) {
    let Peer {
        out,
        streams,
        table,
        closed,
        last_id,
    } = peer;
    let mut last_peer_id = 0u32;
    loop {
        let frame = tokio::select! {
            f = frames.next() => f,
            _ = closed.cancelled() => break,
        };
        let frame = match frame {
            Some(Ok(f)) => f,
            Some(Err(e)) => {
                tracing::debug!(error = %e, "SPDY session read error");
                break;
            }
            None => break,
        };
        match frame {
            Frame::SynStream {
                stream_id,
                flags,
                headers,
                ..
            } => {
                // Client streams are odd and increasing (SPDY/3 2.3.2).
                if stream_id % 2 == 0 || stream_id <= last_peer_id {
                    let reset = Frame::RstStream {
                        stream_id,
                        status: RST_PROTOCOL_ERROR,
                    };
                    if out.send(reset).await.is_err() {
                        break;
                    }
                    continue;
                }
                last_peer_id = stream_id;
                last_id.store(stream_id, Ordering::Relaxed);
                let stream = open_stream(&table, &out, &closed, stream_id, flags, headers);
                if streams.send(stream).await.is_err() {
                    break;
                }
            }
            Frame::Data {
                stream_id,
                flags,
                data,
            } => deliver(&table, stream_id, flags, data).await,
            Frame::RstStream { stream_id, .. } => {
                if let Some(e) = table.lock().ok().and_then(|mut t| t.remove(&stream_id)) {
                    e.gone.cancel();
                }
            }
            // Peer pings have odd ids (client side): echo them.
            Frame::Ping { id } if id % 2 == 1 && out.send(Frame::Ping { id }).await.is_err() => {
                break
            }
            // GOAWAY: the peer opens no more streams; the open ones finish
            // and the peer closes the connection.
            _ => {}
        }
    }
    closed.cancel();
}

fn open_stream(
    table: &Table,
    out: &mpsc::Sender<Frame>,
    closed: &CancellationToken,
    id: u32,
    flags: u8,
    headers: Headers,
) -> Stream {
    let (tx, rx) = mpsc::channel(IN_QUEUE);
    let gone = closed.child_token();
    if let Ok(mut t) = table.lock() {
        t.insert(
            id,
            Entry {
                tx: (flags & FLAG_FIN == 0).then_some(tx),
                gone: gone.clone(),
                local_done: false,
            },
        );
    }
    Stream {
        id,
        headers,
        incoming: rx,
        writer: StreamWriter {
            id,
            out: out.clone(),
            gone,
        },
    }
}

/// Hands peer data to its stream, waiting while the stream's queue is full.
async fn deliver(table: &Table, id: u32, flags: u8, data: Bytes) {
    let fin = flags & FLAG_FIN != 0;
    let tx = table.lock().ok().and_then(|mut t| {
        let e = t.get_mut(&id)?;
        let tx = if fin { e.tx.take() } else { e.tx.clone() };
        if fin && e.local_done {
            t.remove(&id);
        }
        tx
    });
    if let (Some(tx), false) = (tx, data.is_empty()) {
        // A consumer that went away just drops the data.
        let _ = tx.send(data).await;
    }
}

/// Marks this side of a stream done; forgets the stream once both are.
fn local_done(table: &Table, id: u32) {
    if let Ok(mut t) = table.lock() {
        if let Some(e) = t.get_mut(&id) {
            e.local_done = true;
            if e.tx.is_none() {
                t.remove(&id);
            }
        }
    }
}

fn ends_local_side(frame: &Frame) -> Option<u32> {
    match frame {
        Frame::Data {
            stream_id, flags, ..
        } if flags & FLAG_FIN != 0 => Some(*stream_id),
        Frame::RstStream { stream_id, .. } => Some(*stream_id),
        _ => None,
    }
}

async fn write_loop(
    mut sink: FramedWrite<BoxWrite, SpdyCodec>,
    mut frames: mpsc::Receiver<Frame>,
    table: Table,
    closed: CancellationToken,
) {
    loop {
        let first = tokio::select! {
            f = frames.recv() => f,
            _ = closed.cancelled() => None,
        };
        let Some(first) = first else { break };
        // Batch what is queued into one flush.
        let mut next = Some(first);
        let mut ok = true;
        let mut going_away = false;
        while let Some(frame) = next.take() {
            if let Some(id) = ends_local_side(&frame) {
                local_done(&table, id);
            }
            going_away = matches!(frame, Frame::GoAway { .. });
            if let Err(e) = sink.feed(frame).await {
                tracing::debug!(error = %e, "SPDY session write error");
                ok = false;
                break;
            }
            if going_away || sink.write_buffer().len() >= FLUSH_AT {
                break;
            }
            next = frames.try_recv().ok();
        }
        if !ok || sink.flush().await.is_err() {
            break;
        }
        if going_away {
            // This side is done writing; the reader runs on until the peer
            // closes, so nothing the peer still sends meets a reset socket.
            let _ = sink.close().await;
            return;
        }
    }
    closed.cancel();
    let _ = sink.close().await;
}

/// Bytes buffered before a flush is forced while batching.
const FLUSH_AT: usize = 4 * DATA_CHUNK;

#[cfg(test)]
mod tests {
    //! The session against a scripted client over an in-memory pipe.
    use super::*;
    use crate::streaming::spdy::frame::RST_CANCEL;
    use bytes::BytesMut;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_util::codec::{Decoder, Encoder};

    struct Client {
        io: tokio::io::DuplexStream,
        codec: SpdyCodec,
        buf: BytesMut,
    }

    impl Client {
        async fn send(&mut self, f: Frame) {
            let mut b = BytesMut::new();
            self.codec.encode(f, &mut b).unwrap();
            self.io.write_all(&b).await.unwrap();
        }
        async fn recv(&mut self) -> Option<Frame> {
            loop {
                if let Some(f) = self.codec.decode(&mut self.buf).unwrap() {
                    return Some(f);
                }
                if self.io.read_buf(&mut self.buf).await.unwrap() == 0 {
                    return None;
                }
            }
        }
    }

    fn start() -> (Session, Client) {
        let (a, b) = tokio::io::duplex(1 << 20);
        let (r, w) = tokio::io::split(a);
        let s = serve(Box::pin(r), Box::pin(w)).unwrap();
        let c = Client {
            io: b,
            codec: SpdyCodec::new().unwrap(),
            buf: BytesMut::new(),
        };
        (s, c)
    }

    fn syn(id: u32) -> Frame {
        Frame::SynStream {
            stream_id: id,
            associated_to: 0,
            priority: 0,
            flags: 0,
            headers: Headers::default().with("port", "80"),
        }
    }

    #[tokio::test]
    async fn streams_data_pings_and_resets() {
        let (mut s, mut c) = start();
        c.send(syn(1)).await;
        let mut st = s.streams.recv().await.unwrap();
        assert_eq!((st.id, st.headers.get("port")), (1, Some("80")));
        st.writer.reply().await.unwrap();
        assert!(matches!(
            c.recv().await,
            Some(Frame::SynReply { stream_id: 1, .. })
        ));

        c.send(Frame::Data {
            stream_id: 1,
            flags: 0,
            data: Bytes::from_static(b"ping?"),
        })
        .await;
        assert_eq!(
            st.incoming.recv().await.unwrap(),
            Bytes::from_static(b"ping?")
        );

        c.send(Frame::Ping { id: 1 }).await;
        assert_eq!(c.recv().await, Some(Frame::Ping { id: 1 }));

        let big = Bytes::from(vec![7u8; DATA_CHUNK * 2 + 5]);
        st.writer.write(big.clone()).await.unwrap();
        let mut got = Vec::new();
        while got.len() < big.len() {
            match c.recv().await {
                Some(Frame::Data {
                    stream_id: 1, data, ..
                }) => {
                    assert!(data.len() <= DATA_CHUNK);
                    got.extend_from_slice(&data);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(got, big);

        // FIN from the peer ends the incoming data.
        c.send(Frame::Data {
            stream_id: 1,
            flags: FLAG_FIN,
            data: Bytes::new(),
        })
        .await;
        assert!(st.incoming.recv().await.is_none());

        // RST from the peer cancels the stream's token.
        c.send(syn(3)).await;
        let st3 = s.streams.recv().await.unwrap();
        c.send(Frame::RstStream {
            stream_id: 3,
            status: RST_CANCEL,
        })
        .await;
        st3.writer.gone().cancelled().await;
        assert!(st3.writer.write(Bytes::from_static(b"x")).await.is_err());
        assert!(!s.closed.is_cancelled());
    }

    #[tokio::test]
    async fn even_or_reused_stream_ids_are_refused() {
        let (mut s, mut c) = start();
        c.send(syn(2)).await;
        assert_eq!(
            c.recv().await,
            Some(Frame::RstStream {
                stream_id: 2,
                status: RST_PROTOCOL_ERROR
            })
        );
        c.send(syn(5)).await;
        assert_eq!(s.streams.recv().await.unwrap().id, 5);
        c.send(syn(3)).await;
        assert!(matches!(
            c.recv().await,
            Some(Frame::RstStream { stream_id: 3, .. })
        ));
    }

    #[tokio::test]
    async fn peer_disconnect_ends_session_and_streams() {
        let (mut s, mut c) = start();
        c.send(syn(1)).await;
        let st = s.streams.recv().await.unwrap();
        drop(c);
        s.closed.cancelled().await;
        st.writer.gone().cancelled().await;
        assert!(s.streams.recv().await.is_none());
    }

    #[tokio::test]
    async fn go_away_follows_what_was_sent_and_waits_for_the_peer() {
        let (mut s, mut c) = start();
        c.send(syn(1)).await;
        let st = s.streams.recv().await.unwrap();
        st.writer.write(Bytes::from_static(b"last")).await.unwrap();
        s.ender.go_away().await;
        assert!(matches!(c.recv().await, Some(Frame::Data { .. })));
        assert_eq!(
            c.recv().await,
            Some(Frame::GoAway {
                last_good_stream_id: 1,
                status: 0
            })
        );
        // This side stopped writing, but the session lasts until the peer
        // closes.
        assert_eq!(c.recv().await, None);
        assert!(!s.closed.is_cancelled());
        drop(c);
        s.closed.cancelled().await;
    }

    #[tokio::test]
    async fn garbage_ends_the_session() {
        let (s, mut c) = start();
        c.io.write_all(&[0x80, 9, 0, 1, 0, 0, 0, 0]).await.unwrap();
        s.closed.cancelled().await;
    }
}
