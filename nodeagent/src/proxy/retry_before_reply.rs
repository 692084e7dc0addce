//! Moving a new connection to another endpoint when the chosen one drops it
//! before answering.
//!
//! A connect to an endpoint whose process has just exited is refused, and
//! the proxy tries the next endpoint at once. But an endpoint whose process
//! is exiting can also accept the connection (the kernel completes the
//! handshake on its listening socket) and then reset or close it unanswered.
//! Until the endpoint update reaches the proxy, that would fail client
//! requests during every scale-down. So the proxy keeps what the client sent
//! (up to [`REPLAY_LIMIT`]) until the endpoint's first byte arrives; if the
//! endpoint ends the connection before that, the same bytes go to another
//! endpoint, and the client never sees the difference. Once the endpoint has
//! answered, the connection is relayed as is.

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// The most a client may send before the first reply and still be moved.
pub const REPLAY_LIMIT: usize = 64 * 1024;

/// How the first exchange with an endpoint ended.
#[derive(Debug, PartialEq, Eq)]
pub enum FirstExchange {
    /// The endpoint sent its first bytes (still unread), or the client ended
    /// its side or sent more than can be replayed: relay from here.
    Relay,
    /// The endpoint ended the connection before any reply: try another with
    /// the bytes sent so far.
    Dropped,
    /// The client is gone.
    ClientGone,
}

/// Sends `sent` (what the client sent to an endpoint that dropped it) to
/// `upstream`, then forwards client bytes, keeping them in `sent`, until
/// the endpoint answers or ends the connection.
pub async fn first_exchange(
    client: &TcpStream,
    upstream: &mut TcpStream,
    sent: &mut Vec<u8>,
) -> FirstExchange {
    if !sent.is_empty() && upstream.write_all(sent).await.is_err() {
        return FirstExchange::Dropped;
    }
    let mut buf = vec![0u8; 16 * 1024];
    let mut one = [0u8; 1];
    loop {
        tokio::select! {
            peeked = upstream.peek(&mut one) => {
                return match peeked {
                    Ok(n) if n > 0 => FirstExchange::Relay,
                    _ => FirstExchange::Dropped,
                };
            }
            ready = client.readable() => {
                if ready.is_err() {
                    return FirstExchange::ClientGone;
                }
                let n = match client.try_read(&mut buf) {
                    Ok(0) => return FirstExchange::Relay,
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                    Err(_) => return FirstExchange::ClientGone,
                };
                if upstream.write_all(&buf[..n]).await.is_err() {
                    sent.extend_from_slice(&buf[..n]);
                    return FirstExchange::Dropped;
                }
                if sent.len() + n > REPLAY_LIMIT {
                    return FirstExchange::Relay;
                }
                sent.extend_from_slice(&buf[..n]);
            }
        }
    }
}
