//! The pod end of a forwarded connection: dialing the pod's port on its
//! IP, the error the kubelet reports when that fails, and the copy between
//! the pod's socket and a client stream.

use bytes::{Bytes, BytesMut};
use std::io;
use std::net::{IpAddr, SocketAddr};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Bytes read from the pod per chunk.
const READ_CHUNK: usize = 64 * 1024;

/// The pod a port-forward request reaches.
#[derive(Debug, Clone)]
pub struct Target {
    pub ip: IpAddr,
    /// `name_namespace`, the kubelet's pod full name.
    pub full_name: String,
    pub uid: String,
}

impl Target {
    /// Connects to `port` on the pod, or says why not in the kubelet's words.
    pub async fn connect(&self, port: u16) -> Result<TcpStream, String> {
        let addr = SocketAddr::new(self.ip, port);
        let tcp = TcpStream::connect(addr)
            .await
            .map_err(|e| forward_error(self, port, &addr, &e))?;
        let _ = tcp.set_nodelay(true);
        Ok(tcp)
    }
}

/// The message the kubelet writes on a pair's error stream, which kubectl
/// prints as `an error occurred forwarding L -> R: <message>`; the cause
/// is worded like Go's net.Dial errors.
pub fn forward_error(t: &Target, port: u16, addr: &SocketAddr, e: &io::Error) -> String {
    let cause = match e.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
        io::ErrorKind::TimedOut => "i/o timeout".to_string(),
        io::ErrorKind::HostUnreachable => "no route to host".to_string(),
        io::ErrorKind::NetworkUnreachable => "network is unreachable".to_string(),
        _ => e.to_string(),
    };
    format!(
        "error forwarding port {port} to pod {}, uid {}: dial tcp {addr}: connect: {cause}",
        t.full_name, t.uid
    )
}

/// Where the pod's bytes go: a client stream of some protocol.
pub trait Downstream: Send + Sync {
    /// Sends a chunk; Err when the client side is gone.
    fn send(&self, data: Bytes) -> impl std::future::Future<Output = Result<(), ()>> + Send;
    /// The pod closed its side.
    fn finish(&self) -> impl std::future::Future<Output = ()> + Send;
}

/// Copies between the pod's socket and a client stream until both
/// directions are done or `stop` is cancelled (client reset or gone).
/// The client's end of data shuts the socket's write side; the pod's
/// end of data finishes the client stream.
pub async fn pipe(
    tcp: TcpStream,
    mut upstream: mpsc::Receiver<Bytes>,
    down: &impl Downstream,
    stop: &CancellationToken,
) {
    let (mut pod_r, mut pod_w) = tcp.into_split();
    let up = async {
        while let Some(chunk) = upstream.recv().await {
            if pod_w.write_all(&chunk).await.is_err() {
                break;
            }
        }
        let _ = pod_w.shutdown().await;
    };
    let downward = async {
        let mut buf = BytesMut::with_capacity(READ_CHUNK);
        loop {
            buf.reserve(READ_CHUNK);
            match pod_r.read_buf(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if down.send(buf.split().freeze()).await.is_err() {
                        return;
                    }
                }
            }
        }
        down.finish().await;
    };
    tokio::select! {
        _ = futures::future::join(up, downward) => {}
        _ = stop.cancelled() => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_port_message_is_the_kubelets() {
        let t = Target {
            ip: "127.244.0.5".parse().unwrap(),
            full_name: "web_default".into(),
            uid: "1234".into(),
        };
        let addr: SocketAddr = "127.244.0.5:80".parse().unwrap();
        let e = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(
            forward_error(&t, 80, &addr, &e),
            "error forwarding port 80 to pod web_default, uid 1234: \
             dial tcp 127.244.0.5:80: connect: connection refused"
        );
    }
}
