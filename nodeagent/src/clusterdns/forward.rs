//! Names outside the cluster domain go to the host's resolvers (the
//! nameservers of /etc/resolv.conf, as CoreDNS's `forward . /etc/resolv.conf`):
//! the client's query is relayed over UDP and the reply decoded with
//! hickory. An upstream that refuses or stays silent is skipped; when none
//! answers within the budget the server answers SERVFAIL.

use hickory_proto::op::Message;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::net::UdpSocket;

/// The host's resolvers.
#[derive(Debug, Clone)]
pub struct Forwarder {
    pub upstreams: Vec<SocketAddr>,
    /// How long one upstream gets before the next is tried.
    pub timeout: Duration,
}

impl Forwarder {
    /// The nameservers of a resolv.conf text, without `own` (a server
    /// must not forward to itself).
    pub fn from_resolv_conf(text: &str, own: &[IpAddr]) -> Self {
        let rc = crate::builtin::dns::parse_resolv_conf(text);
        Forwarder {
            upstreams: rc
                .nameservers
                .into_iter()
                .filter(|ip| !own.contains(ip))
                .map(|ip| SocketAddr::new(ip, 53))
                .collect(),
            timeout: Duration::from_secs(2),
        }
    }

    /// Relays `query` (a whole DNS message) to the upstreams in turn;
    /// None when none answered.
    pub async fn forward(&self, query: &[u8]) -> Option<Message> {
        for upstream in &self.upstreams {
            match tokio::time::timeout(self.timeout, exchange(*upstream, query)).await {
                Ok(Ok(reply)) => return Some(reply),
                Ok(Err(e)) => tracing::debug!(%upstream, error = %e, "upstream failed"),
                Err(_) => tracing::debug!(%upstream, "upstream timed out"),
            }
        }
        None
    }
}

async fn exchange(upstream: SocketAddr, query: &[u8]) -> anyhow::Result<Message> {
    let bind: SocketAddr = if upstream.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let sock = UdpSocket::bind(bind).await?;
    // Connected: an unreachable port is reported at once (ECONNREFUSED).
    sock.connect(upstream).await?;
    sock.send(query).await?;
    let id = query.get(..2).map(|b| u16::from_be_bytes([b[0], b[1]]));
    let mut buf = vec![0u8; 65535];
    loop {
        let n = sock.recv(&mut buf).await?;
        let reply = Message::from_vec(&buf[..n])?;
        if Some(reply.metadata.id) == id {
            return Ok(reply);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstreams_from_resolv_conf() {
        let f = Forwarder::from_resolv_conf(
            "nameserver 127.0.0.53\nnameserver 127.96.0.10\nsearch x\n",
            &["127.96.0.10".parse().unwrap()],
        );
        assert_eq!(f.upstreams, vec!["127.0.0.53:53".parse().unwrap()]);
    }

    #[tokio::test]
    async fn unreachable_upstream_is_refused_not_waited_for() {
        // A loopback port nobody listens on: the connected socket reports
        // ECONNREFUSED, so the forwarder moves on without its timeout.
        let free = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = free.local_addr().unwrap();
        drop(free);
        let mut q = Message::query();
        q.metadata.id = 7;
        let err = exchange(addr, &q.to_vec().unwrap()).await.unwrap_err();
        let io = err.downcast_ref::<std::io::Error>().expect("an I/O error");
        assert_eq!(io.kind(), std::io::ErrorKind::ConnectionRefused);
        let f = Forwarder {
            upstreams: vec![addr],
            timeout: Duration::from_secs(2),
        };
        assert!(f.forward(&q.to_vec().unwrap()).await.is_none());
    }
}
