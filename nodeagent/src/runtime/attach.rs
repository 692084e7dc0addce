//! What `kubectl attach` (and `kubectl run -i`) connects to: a running
//! container's live output and, for `stdin: true` containers, its input.
//!
//! The container's output readers pass through a [`Tee`] on their way to the
//! log, so every attached client sees raw chunks as they are written (a
//! shell prompt has no newline). Like the kubelet's attach, a client gets
//! output from the moment it attaches (`kubectl run -i` prints the log
//! first, then attaches); one that falls behind skips ahead rather than
//! stalling the container.

use bytes::Bytes;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::{broadcast, mpsc, watch};

/// One chunk of output on a remote-command channel (1 stdout, 2 stderr).
pub type Chunk = (u8, Bytes);

/// Chunks buffered per attached client before it starts skipping.
const SUBSCRIBER_BUFFER: usize = 256;

/// Input sent to the container.
enum Input {
    Data(Bytes),
    End,
}

/// The attachable side of one container instance.
pub struct AttachHub {
    /// Made on the first attach: most containers are never attached, and
    /// the channel's ring of slots would be most of an idle pod's memory.
    output: OnceLock<broadcast::Sender<Chunk>>,
    stdin: Option<mpsc::Sender<Input>>,
    stdin_once: bool,
    tty: Option<super::pty::PtyMaster>,
    exited: watch::Receiver<bool>,
    /// How much of this instance's log (as a plain read renders it) the
    /// latest plain log read returned, and when. `kubectl run -i` reads the log and
    /// then attaches; when the instance exited in between, the attach sends
    /// what came after, so the output shows once and entirely.
    log_read: std::sync::Mutex<Option<(usize, std::time::Instant)>>,
    /// Bytes of output published so far: the offset in the instance's log
    /// (as a plain read renders it) where a new client's live output
    /// starts. Published and read under the lock, so a client's snapshot
    /// and its subscription agree.
    published: std::sync::Mutex<u64>,
}

impl std::fmt::Debug for AttachHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttachHub")
            .field("stdin", &self.stdin.is_some())
            .field("stdin_once", &self.stdin_once)
            .field("tty", &self.tty.is_some())
            .finish()
    }
}

/// What an attached client gets.
pub struct Attachment {
    pub output: broadcast::Receiver<Chunk>,
    /// How many bytes of output came before `output`'s first chunk.
    pub live_from: u64,
    /// Input into the container, if it has stdin.
    pub stdin: Option<mpsc::Sender<Bytes>>,
    pub tty: Option<super::pty::PtyMaster>,
    pub exited: watch::Receiver<bool>,
}

/// How a container's console is set up (from its spec).
pub struct HubOptions<W> {
    /// The container's stdin writer (`stdin: true`).
    pub stdin: Option<W>,
    pub stdin_once: bool,
    pub tty: Option<super::pty::PtyMaster>,
    pub exited: watch::Receiver<bool>,
}

impl AttachHub {
    pub fn new<W>(opts: HubOptions<W>) -> Arc<Self>
    where
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let stdin = opts.stdin.map(spawn_stdin);
        Arc::new(AttachHub {
            output: OnceLock::new(),
            stdin,
            stdin_once: opts.stdin_once,
            tty: opts.tty,
            exited: opts.exited,
            log_read: std::sync::Mutex::new(None),
            published: std::sync::Mutex::new(0),
        })
    }

    /// A plain read of this instance's log returned `len` bytes.
    pub fn note_log_read(&self, len: usize) {
        if let Ok(mut r) = self.log_read.lock() {
            *r = Some((len, std::time::Instant::now()));
        }
    }

    /// What the latest plain log read returned, if it happened within
    /// `window`; one attach takes it.
    pub fn take_log_read(&self, window: std::time::Duration) -> Option<usize> {
        let (len, at) = self.log_read.lock().ok()?.take()?;
        (at.elapsed() <= window).then_some(len)
    }

    /// The instance has exited (its output is all in its log).
    pub fn has_exited(&self) -> bool {
        *self.exited.borrow()
    }

    /// Wraps an output reader of the container so what it reads is also
    /// published on `channel`.
    pub fn tee<R>(self: &Arc<Self>, reader: R, channel: u8) -> Tee<R> {
        Tee {
            inner: reader,
            channel,
            hub: self.clone(),
        }
    }

    fn publish(&self, channel: u8, data: &[u8]) {
        let Ok(mut published) = self.published.lock() else {
            return;
        };
        *published += data.len() as u64;
        // Nobody ever attached, or no subscriber now: not an error.
        if let Some(output) = self.output.get().filter(|o| o.receiver_count() > 0) {
            let _ = output.send((channel, Bytes::copy_from_slice(data)));
        }
    }

    /// A new client: live output from now on, and the container's input.
    pub fn attach(self: &Arc<Self>) -> Attachment {
        let (output, live_from) = {
            // Held while subscribing: no chunk falls between the two.
            let published = self.published.lock();
            let rx = self
                .output
                .get_or_init(|| broadcast::channel(SUBSCRIBER_BUFFER).0)
                .subscribe();
            (rx, published.map(|p| *p).unwrap_or(0))
        };
        Attachment {
            output,
            live_from,
            stdin: self.stdin.as_ref().map(|s| self.client_stdin(s.clone())),
            tty: self.tty.clone(),
            exited: self.exited.clone(),
        }
    }

    /// A client's own input channel. When the client ends its input, the
    /// container's stdin is closed if it is `stdinOnce`, as the kubelet does.
    fn client_stdin(&self, container: mpsc::Sender<Input>) -> mpsc::Sender<Bytes> {
        let (tx, mut rx) = mpsc::channel::<Bytes>(16);
        let once = self.stdin_once;
        tokio::spawn(async move {
            while let Some(b) = rx.recv().await {
                if container.send(Input::Data(b)).await.is_err() {
                    return;
                }
            }
            if once {
                let _ = container.send(Input::End).await;
            }
        });
        tx
    }
}

fn spawn_stdin<W>(mut w: W) -> mpsc::Sender<Input>
where
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (tx, mut rx) = mpsc::channel::<Input>(16);
    tokio::spawn(async move {
        while let Some(input) = rx.recv().await {
            match input {
                Input::Data(b) => {
                    if w.write_all(&b).await.is_err() || w.flush().await.is_err() {
                        return;
                    }
                }
                Input::End => break,
            }
        }
        let _ = w.shutdown().await;
    });
    tx
}

/// An output reader that publishes what passes through it.
pub struct Tee<R> {
    inner: R,
    channel: u8,
    hub: Arc<AttachHub>,
}

impl<R: AsyncRead + Unpin> AsyncRead for Tee<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let res = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = res {
            let new = &buf.filled()[before..];
            if !new.is_empty() {
                self.hub.publish(self.channel, new);
            }
        }
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    fn hub(stdin: bool) -> (Arc<AttachHub>, tokio::io::DuplexStream, watch::Sender<bool>) {
        let (container_in, agent_side) = tokio::io::duplex(1024);
        let (exited_tx, exited) = watch::channel(false);
        let hub = AttachHub::new(HubOptions {
            stdin: stdin.then_some(agent_side),
            stdin_once: true,
            tty: None,
            exited,
        });
        (hub, container_in, exited_tx)
    }

    #[tokio::test]
    async fn a_client_learns_how_much_output_came_before_it() {
        let (hub, _stdin, _exited) = hub(false);
        let mut sink = Vec::new();
        hub.tee(&b"12345"[..], 1)
            .read_to_end(&mut sink)
            .await
            .unwrap();
        let first = hub.attach();
        assert_eq!(first.live_from, 5);
        hub.tee(&b"678"[..], 2)
            .read_to_end(&mut sink)
            .await
            .unwrap();
        assert_eq!(hub.attach().live_from, 8);

        assert_eq!(hub.take_log_read(std::time::Duration::from_secs(10)), None);
        hub.note_log_read(4);
        assert_eq!(
            hub.take_log_read(std::time::Duration::from_secs(10)),
            Some(4)
        );
        assert_eq!(
            hub.take_log_read(std::time::Duration::from_secs(10)),
            None,
            "one attach takes a log read"
        );
    }

    #[tokio::test]
    async fn clients_get_output_from_when_they_attach() {
        let (hub, _stdin, _exited) = hub(true);
        let mut sink = Vec::new();
        hub.tee(&b"early"[..], 1)
            .read_to_end(&mut sink)
            .await
            .expect("read");
        let mut client = hub.attach();
        hub.tee(&b"late"[..], 2)
            .read_to_end(&mut sink)
            .await
            .expect("read");
        assert_eq!(sink, b"earlylate", "the log side sees everything");
        assert_eq!(
            client.output.recv().await.expect("live"),
            (2, Bytes::from_static(b"late"))
        );
        assert!(client.output.try_recv().is_err());
    }

    #[tokio::test]
    async fn stdin_once_closes_the_container_input() {
        let (hub, mut container_in, _exited) = hub(true);
        let client = hub.attach();
        let stdin = client.stdin.expect("stdin container");
        stdin
            .send(Bytes::from_static(b"hello"))
            .await
            .expect("send");
        drop(stdin);
        let mut got = Vec::new();
        container_in.read_to_end(&mut got).await.expect("eof");
        assert_eq!(got, b"hello");
    }

    #[tokio::test]
    async fn containers_without_stdin_take_no_input() {
        let (hub, _stdin, _exited) = hub(false);
        assert!(hub.attach().stdin.is_none());
    }
}
