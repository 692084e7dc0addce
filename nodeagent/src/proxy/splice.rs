//! Zero-copy TCP relaying on Linux: each direction moves bytes socket ->
//! pipe -> socket with `splice(2)`, so the payload never enters user space
//! (the kernel moves page references; `copy_bidirectional` instead copies
//! every byte in and out of a user buffer, which is what limits a userspace
//! proxy's throughput).
//!
//! Semantics match `tokio::io::copy_bidirectional`: when one side reaches
//! end of stream its peer's write half is shut down (a half-close is passed
//! on) and the other direction keeps going until it ends too; an error in
//! either direction ends both. Where splice is not supported (some
//! sandboxed kernels answer EINVAL), a direction falls back to copying
//! through a buffer over the same non-blocking sockets.

use std::io::{self, ErrorKind};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use tokio::io::Interest;
use tokio::net::TcpStream;

/// Bytes a pipe holds, so one splice pair moves up to this much. Larger
/// than the 64 KiB default to halve the system calls per byte; pages are
/// only taken while data sits in the pipe.
const PIPE_CAPACITY: libc::c_int = 256 * 1024;

/// Buffer for the fallback copy.
const COPY_BUFFER: usize = 64 * 1024;

/// Relays between `a` and `b` until both directions end; bytes a->b, b->a.
pub async fn relay(a: &TcpStream, b: &TcpStream) -> io::Result<(u64, u64)> {
    tokio::try_join!(one_way(a, b), one_way(b, a))
}

/// Moves bytes `from` -> `to` until `from` ends, then shuts `to`'s write half.
async fn one_way(from: &TcpStream, to: &TcpStream) -> io::Result<u64> {
    let moved = match Pipe::new() {
        Ok(pipe) => splice_until_eof(&pipe, from, to).await?,
        Err(_) => Moved::Unsupported(0),
    };
    let total = match moved {
        Moved::Done(n) => n,
        Moved::Unsupported(n) => n + copy_until_eof(from, to).await?,
    };
    // Like copy_bidirectional: the peer sees end of stream; a peer already
    // gone is not an error here.
    let _ = socket2::SockRef::from(to).shutdown(std::net::Shutdown::Write);
    Ok(total)
}

enum Moved {
    /// `from` reached end of stream after this many bytes.
    Done(u64),
    /// splice is not available here; this many bytes were moved before.
    Unsupported(u64),
}

async fn splice_until_eof(pipe: &Pipe, from: &TcpStream, to: &TcpStream) -> io::Result<Moved> {
    let mut total = 0u64;
    loop {
        // The pipe is empty here, so EAGAIN can only mean "no data on
        // `from`", which is what try_io needs to clear readiness.
        let n = match socket_op(from, Interest::READABLE, || {
            splice(
                from.as_raw_fd(),
                pipe.write.as_raw_fd(),
                PIPE_CAPACITY as usize,
            )
        })
        .await
        {
            Ok(n) => n,
            Err(e) if total == 0 && is_unsupported(&e) => return Ok(Moved::Unsupported(0)),
            Err(e) => return Err(e),
        };
        if n == 0 {
            return Ok(Moved::Done(total));
        }
        // The pipe holds `left` bytes, so EAGAIN can only mean `to` is full.
        let mut left = n;
        while left > 0 {
            left -= socket_op(to, Interest::WRITABLE, || {
                splice(pipe.read.as_raw_fd(), to.as_raw_fd(), left)
            })
            .await?;
        }
        total += n as u64;
    }
}

/// The fallback: a user-space copy over the same sockets.
async fn copy_until_eof(from: &TcpStream, to: &TcpStream) -> io::Result<u64> {
    let mut buf = vec![0u8; COPY_BUFFER];
    let mut total = 0u64;
    loop {
        let n = socket_op(from, Interest::READABLE, || from.try_read(&mut buf)).await?;
        if n == 0 {
            return Ok(total);
        }
        let mut sent = 0;
        while sent < n {
            sent += socket_op(to, Interest::WRITABLE, || to.try_write(&buf[sent..n])).await?;
        }
        total += n as u64;
    }
}

/// Runs `op` on `sock` when it is ready for `interest`; a WouldBlock clears
/// the readiness and waits again. Waiting on readiness first matters: a
/// fresh connection's readiness is unknown until the reactor reports it.
async fn socket_op(
    sock: &TcpStream,
    interest: Interest,
    mut op: impl FnMut() -> io::Result<usize>,
) -> io::Result<usize> {
    loop {
        sock.ready(interest).await?;
        match sock.try_io(interest, &mut op) {
            Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
            other => return other,
        }
    }
}

/// One non-blocking splice of up to `len` bytes; EAGAIN as WouldBlock.
fn splice(fd_in: RawFd, fd_out: RawFd, len: usize) -> io::Result<usize> {
    // SAFETY: both descriptors are open for the duration of the call (they
    // are borrowed from live sockets and pipes); null offsets are valid for
    // sockets and pipes.
    let n = unsafe {
        libc::splice(
            fd_in,
            std::ptr::null_mut(),
            fd_out,
            std::ptr::null_mut(),
            len,
            libc::SPLICE_F_MOVE | libc::SPLICE_F_NONBLOCK,
        )
    };
    if n < 0 {
        // EAGAIN maps to ErrorKind::WouldBlock.
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

fn is_unsupported(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EINVAL) | Some(libc::ENOSYS) | Some(libc::EOPNOTSUPP)
    )
}

/// A pipe used as the kernel-side buffer of one direction.
struct Pipe {
    read: OwnedFd,
    write: OwnedFd,
}

impl Pipe {
    fn new() -> io::Result<Pipe> {
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: `fds` has room for the two descriptors pipe2 writes.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: pipe2 succeeded, so both are open descriptors we now own.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        // A smaller pipe (when the limit forbids more) only costs calls.
        // SAFETY: F_SETPIPE_SZ on a pipe we own.
        unsafe { libc::fcntl(write.as_raw_fd(), libc::F_SETPIPE_SZ, PIPE_CAPACITY) };
        Ok(Pipe { read, write })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A connected pair of loopback sockets.
    async fn pair() -> (TcpStream, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = l.local_addr().expect("addr");
        let (c, s) = tokio::join!(TcpStream::connect(addr), l.accept());
        (c.expect("connect"), s.expect("accept").0)
    }

    /// client <-> [front | relay | back] <-> server
    async fn relayed() -> (
        TcpStream,
        TcpStream,
        tokio::task::JoinHandle<io::Result<(u64, u64)>>,
    ) {
        let (client, front) = pair().await;
        let (back, server) = pair().await;
        let task = tokio::spawn(async move { relay(&front, &back).await });
        (client, server, task)
    }

    #[tokio::test]
    async fn moves_bulk_data_both_ways_intact() {
        let (mut client, mut server, task) = relayed().await;
        let up: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let down: Vec<u8> = (0..2_000_000u32).map(|i| (i % 241) as u8).collect();
        let (up2, down2) = (up.clone(), down.clone());
        let server_side = tokio::spawn(async move {
            server.write_all(&down2).await.expect("server write");
            server.shutdown().await.expect("server shutdown");
            let mut got = Vec::new();
            server.read_to_end(&mut got).await.expect("server read");
            assert_eq!(got, up2);
        });
        client.write_all(&up).await.expect("client write");
        client.shutdown().await.expect("client shutdown");
        let mut got = Vec::new();
        client.read_to_end(&mut got).await.expect("client read");
        assert_eq!(got, down);
        server_side.await.expect("server side");
        let (a_to_b, b_to_a) = task.await.expect("join").expect("relay");
        assert_eq!((a_to_b, b_to_a), (up.len() as u64, down.len() as u64));
    }

    #[tokio::test]
    async fn half_close_passes_through_and_the_other_way_keeps_going() {
        let (mut client, mut server, task) = relayed().await;
        client.write_all(b"request").await.expect("write");
        client.shutdown().await.expect("half-close");
        // The server sees the request and then end of stream...
        let mut req = Vec::new();
        server.read_to_end(&mut req).await.expect("read");
        assert_eq!(req, b"request");
        // ...and can still answer over its open half.
        server.write_all(b"reply").await.expect("reply");
        drop(server);
        let mut reply = Vec::new();
        client.read_to_end(&mut reply).await.expect("read reply");
        assert_eq!(reply, b"reply");
        assert_eq!(task.await.expect("join").expect("relay"), (7, 5));
    }

    #[tokio::test]
    async fn this_kernel_splices_rather_than_falls_back() {
        let (mut client, front) = pair().await;
        let (back, mut server) = pair().await;
        let pipe = Pipe::new().expect("pipe");
        client.write_all(b"zero copy").await.expect("write");
        client.shutdown().await.expect("shutdown");
        let moved = splice_until_eof(&pipe, &front, &back)
            .await
            .expect("splice");
        assert!(matches!(moved, Moved::Done(9)), "splice unsupported here");
        let mut buf = [0u8; 9];
        server.read_exact(&mut buf).await.expect("read");
        assert_eq!(&buf, b"zero copy");
    }

    #[tokio::test]
    async fn fallback_copy_moves_the_same_bytes() {
        let (mut client, front) = pair().await;
        let (back, mut server) = pair().await;
        let task = tokio::spawn(async move { copy_until_eof(&front, &back).await });
        client.write_all(b"no splice here").await.expect("write");
        client.shutdown().await.expect("shutdown");
        assert_eq!(task.await.expect("join").expect("copy"), 14);
        let mut buf = [0u8; 14];
        server.read_exact(&mut buf).await.expect("read");
        assert_eq!(&buf, b"no splice here");
    }
}
