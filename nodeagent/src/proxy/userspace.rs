//! The userspace proxy mode: tokio listeners on the frontend addresses
//! (inside 127.0.0.0/8 by default, so no root is needed), forwarding each TCP
//! connection or UDP flow to a backend chosen per connection.
//!
//! Applying new rules never disturbs established TCP connections (they finish
//! with the backend they have); new connections see the new backends at once.
//! UDP flows to removed backends are dropped.

use super::retry_before_reply::{first_exchange, FirstExchange};
use super::rules::{Frontend, HealthCheck, Protocol};
use rand::seq::IndexedRandom;
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::JoinHandle;

/// How long an idle UDP flow keeps its upstream socket.
const UDP_IDLE: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// What a listener forwards to; swapped in place when rules change.
#[derive(Debug, Default)]
struct Target {
    backends: Vec<SocketAddr>,
    affinity: Option<Duration>,
    source_ranges: Vec<ipnet::IpNet>,
    /// ClientIP affinity: client -> (backend, last use).
    sticky: Mutex<HashMap<IpAddr, (SocketAddr, Instant)>>,
}

impl Target {
    fn from_frontend(f: &Frontend) -> Target {
        Target {
            backends: f.backends.clone(),
            affinity: f.affinity,
            source_ranges: f.source_ranges.clone(),
            sticky: Mutex::new(HashMap::new()),
        }
    }

    fn allows(&self, client: IpAddr) -> bool {
        self.source_ranges.is_empty() || self.source_ranges.iter().any(|r| r.contains(&client))
    }

    /// A backend for `client`: random, or the sticky one under ClientIP affinity.
    fn pick(&self, client: IpAddr) -> Option<SocketAddr> {
        let Some(timeout) = self.affinity else {
            return self.backends.choose(&mut rand::rng()).copied();
        };
        let mut sticky = self.sticky.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if let Some((backend, last)) = sticky.get(&client).copied() {
            if now.duration_since(last) < timeout && self.backends.contains(&backend) {
                sticky.insert(client, (backend, now));
                return Some(backend);
            }
        }
        let backend = self.backends.choose(&mut rand::rng()).copied()?;
        sticky.insert(client, (backend, now));
        Some(backend)
    }
}

struct Listener {
    target: Arc<RwLock<Arc<Target>>>,
    task: JoinHandle<()>,
}

impl Listener {
    /// Points new connections at `target`, keeping the ClientIP affinity
    /// table (a pinned client whose backend remains keeps it, as with
    /// kube-proxy's affinity across endpoint updates).
    fn retarget(&self, mut target: Target) {
        let mut slot = self.target.write().unwrap_or_else(|p| p.into_inner());
        if target.affinity.is_some() {
            let mut old = slot.sticky.lock().unwrap_or_else(|p| p.into_inner());
            target.sticky = Mutex::new(std::mem::take(&mut *old));
        }
        *slot = Arc::new(target);
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Failures to bind are reported, not fatal: one bad Service must not stop the others.
#[derive(Debug, Default)]
pub struct ApplyReport {
    pub added: usize,
    pub removed: usize,
    pub updated: usize,
    pub failed: Vec<(SocketAddr, String)>,
}

#[derive(Default)]
pub struct UserspaceProxy {
    listeners: HashMap<(SocketAddr, Protocol), Listener>,
    health: HashMap<u16, (Arc<RwLock<HealthCheck>>, JoinHandle<()>)>,
    /// Address health-check servers bind.
    pub health_address: Option<IpAddr>,
}

impl UserspaceProxy {
    pub fn new(health_address: IpAddr) -> Self {
        UserspaceProxy {
            health_address: Some(health_address),
            ..Default::default()
        }
    }

    /// Stops the listeners of `removed`, then starts or retargets those of
    /// `upserts` (so an address that moves between Services in one update
    /// keeps its listener).
    pub async fn update(
        &mut self,
        removed: &[(SocketAddr, Protocol)],
        upserts: &[Frontend],
    ) -> ApplyReport {
        let mut report = ApplyReport::default();
        let kept: HashSet<(SocketAddr, Protocol)> = upserts.iter().map(Frontend::key).collect();
        for key in removed.iter().filter(|k| !kept.contains(k)) {
            report.removed += usize::from(self.listeners.remove(key).is_some());
        }
        for frontend in upserts {
            let target = Target::from_frontend(frontend);
            if let Some(existing) = self.listeners.get(&frontend.key()) {
                existing.retarget(target);
                report.updated += 1;
                continue;
            }
            match start_listener(frontend, Arc::new(target)).await {
                Ok(l) => {
                    self.listeners.insert(frontend.key(), l);
                    report.added += 1;
                }
                Err(e) => report.failed.push((frontend.addr, e.to_string())),
            }
        }
        report
    }

    /// Makes the health-check servers match `checks`.
    pub async fn apply_health(&mut self, checks: &[HealthCheck]) {
        let Some(ip) = self.health_address else {
            return;
        };
        let wanted: HashMap<u16, &HealthCheck> = checks.iter().map(|h| (h.port, h)).collect();
        self.health.retain(|port, (_, task)| {
            let keep = wanted.contains_key(port);
            if !keep {
                task.abort();
            }
            keep
        });
        for (port, hc) in wanted {
            if let Some((state, _)) = self.health.get(&port) {
                *state.write().unwrap_or_else(|p| p.into_inner()) = hc.clone();
                continue;
            }
            let state = Arc::new(RwLock::new(hc.clone()));
            match TcpListener::bind(SocketAddr::new(ip, port)).await {
                Ok(l) => {
                    let task = tokio::spawn(serve_health(l, state.clone()));
                    self.health.insert(port, (state, task));
                }
                Err(e) => tracing::warn!(port, error = %e, "cannot bind health check port"),
            }
        }
    }

    pub fn frontend_count(&self) -> usize {
        self.listeners.len()
    }
}

async fn start_listener(f: &Frontend, target: Arc<Target>) -> std::io::Result<Listener> {
    let target = Arc::new(RwLock::new(target));
    let task = match f.protocol {
        Protocol::Tcp => {
            let listener = TcpListener::bind(f.addr).await?;
            tokio::spawn(serve_tcp(listener, target.clone()))
        }
        Protocol::Udp => {
            let socket = UdpSocket::bind(f.addr).await?;
            tokio::spawn(serve_udp(Arc::new(socket), target.clone()))
        }
        Protocol::Sctp => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                "SCTP is not supported by the userspace proxy",
            ))
        }
    };
    Ok(Listener { target, task })
}

fn current(target: &RwLock<Arc<Target>>) -> Arc<Target> {
    target.read().unwrap_or_else(|p| p.into_inner()).clone()
}

async fn serve_tcp(listener: TcpListener, target: Arc<RwLock<Arc<Target>>>) {
    loop {
        let Ok((client, peer)) = listener.accept().await else {
            continue;
        };
        let t = current(&target);
        tokio::spawn(async move { forward_tcp(client, peer, t).await });
    }
}

/// Forwards one connection; with no usable backend the client gets a reset
/// at once. Endpoints that refuse the connect, or drop it before replying,
/// are passed over for the next one (see [`super::retry_before_reply`]).
async fn forward_tcp(client: TcpStream, peer: SocketAddr, target: Arc<Target>) {
    if !target.allows(peer.ip()) {
        reject(client);
        return;
    }
    let mut tried = Vec::new();
    let mut sent = Vec::new();
    while let Some(backend) = target
        .pick(peer.ip())
        .filter(|b| !tried.contains(b))
        .or_else(|| target.backends.iter().copied().find(|b| !tried.contains(b)))
    {
        tried.push(backend);
        let Ok(Ok(mut upstream)) =
            tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(backend)).await
        else {
            continue;
        };
        let _ = client.set_nodelay(true);
        let _ = upstream.set_nodelay(true);
        match first_exchange(&client, &mut upstream, &mut sent).await {
            FirstExchange::Relay => return relay(client, upstream).await,
            FirstExchange::Dropped => continue,
            FirstExchange::ClientGone => return,
        }
    }
    reject(client);
}

/// Relays until both directions end: zero-copy splice on Linux, a buffered
/// copy elsewhere.
async fn relay(client: TcpStream, upstream: TcpStream) {
    #[cfg(target_os = "linux")]
    let _ = super::splice::relay(&client, &upstream).await;
    #[cfg(not(target_os = "linux"))]
    {
        let (mut c, mut u) = (client, upstream);
        let _ = tokio::io::copy_bidirectional(&mut c, &mut u).await;
    }
}

/// Closes with RST (linger 0), as a rejected connection should look.
fn reject(client: TcpStream) {
    if let Ok(std) = client.into_std() {
        let sock = socket2::SockRef::from(&std);
        let _ = sock.set_linger(Some(Duration::ZERO));
    }
}

async fn serve_udp(socket: Arc<UdpSocket>, target: Arc<RwLock<Arc<Target>>>) {
    let flows: Arc<Mutex<HashMap<SocketAddr, Flow>>> = Arc::default();
    let mut buf = vec![0u8; 65536];
    loop {
        let Ok((n, client)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        let t = current(&target);
        if !t.allows(client.ip()) {
            continue;
        }
        let existing = {
            let mut map = flows.lock().unwrap_or_else(|p| p.into_inner());
            // Flows to removed backends are dropped.
            map.retain(|_, f| {
                t.backends.contains(&f.backend)
                    && f.last
                        .lock()
                        .map(|l| l.elapsed() < UDP_IDLE)
                        .unwrap_or(false)
            });
            map.get(&client)
                .map(|f| (f.upstream.clone(), f.last.clone()))
        };
        let (upstream, last) = match existing {
            Some(f) => f,
            None => {
                let Some(backend) = t.pick(client.ip()) else {
                    continue;
                };
                let Ok(up) = open_upstream(backend).await else {
                    continue;
                };
                let up = Arc::new(up);
                let last = Arc::new(Mutex::new(Instant::now()));
                tokio::spawn(relay_replies(
                    up.clone(),
                    socket.clone(),
                    client,
                    last.clone(),
                ));
                flows.lock().unwrap_or_else(|p| p.into_inner()).insert(
                    client,
                    Flow {
                        backend,
                        upstream: up.clone(),
                        last: last.clone(),
                    },
                );
                (up, last)
            }
        };
        *last.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
        let _ = upstream.send(&buf[..n]).await;
    }
}

struct Flow {
    backend: SocketAddr,
    upstream: Arc<UdpSocket>,
    last: Arc<Mutex<Instant>>,
}

async fn open_upstream(backend: SocketAddr) -> std::io::Result<UdpSocket> {
    let bind: SocketAddr = if backend.is_ipv4() {
        "127.0.0.1:0".parse().expect("static")
    } else {
        "[::1]:0".parse().expect("static")
    };
    let s = UdpSocket::bind(bind).await?;
    s.connect(backend).await?;
    Ok(s)
}

/// Sends the backend's replies back to the client until the flow idles out.
async fn relay_replies(
    up: Arc<UdpSocket>,
    front: Arc<UdpSocket>,
    client: SocketAddr,
    last: Arc<Mutex<Instant>>,
) {
    let mut buf = vec![0u8; 65536];
    loop {
        match tokio::time::timeout(UDP_IDLE, up.recv(&mut buf)).await {
            Ok(Ok(n)) => {
                *last.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
                let _ = front.send_to(&buf[..n], client).await;
            }
            _ => return,
        }
    }
}

/// kube-proxy's health check: 200 with local endpoints, 503 without.
async fn serve_health(listener: TcpListener, state: Arc<RwLock<HealthCheck>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    loop {
        let Ok((mut conn, _)) = listener.accept().await else {
            continue;
        };
        let hc = state.read().unwrap_or_else(|p| p.into_inner()).clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 1024];
            let _ = conn.read(&mut buf).await;
            let (ns, name) = hc
                .service
                .split_once('/')
                .unwrap_or(("", hc.service.as_str()));
            let body = serde_json::json!({
                "service": {"namespace": ns, "name": name},
                "localEndpoints": hc.local_endpoints,
                "serviceProxyHealthy": true,
            })
            .to_string();
            let status = if hc.local_endpoints > 0 {
                "200 OK"
            } else {
                "503 Service Unavailable"
            };
            let resp = format!(
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nX-Content-Type-Options: nosniff\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = conn.write_all(resp.as_bytes()).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::super::rules::{Frontend, FrontendKind};
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn frontend(addr: SocketAddr, backends: Vec<SocketAddr>) -> Frontend {
        Frontend {
            addr,
            protocol: Protocol::Tcp,
            kind: FrontendKind::ClusterIp,
            service_port: "default/t:".into(),
            backends,
            affinity: None,
            source_ranges: vec![],
        }
    }

    async fn echo_server(ip: &str) -> SocketAddr {
        let l = TcpListener::bind(format!("{ip}:0")).await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let (mut c, _) = l.accept().await.unwrap();
                tokio::spawn(async move {
                    let mut b = [0u8; 64];
                    let n = c.read(&mut b).await.unwrap_or(0);
                    let _ = c
                        .write_all(
                            format!("{}:{}", addr, String::from_utf8_lossy(&b[..n])).as_bytes(),
                        )
                        .await;
                });
            }
        });
        addr
    }

    fn free_addr(ip: &str) -> SocketAddr {
        std::net::TcpListener::bind(format!("{ip}:0"))
            .unwrap()
            .local_addr()
            .unwrap()
    }

    #[tokio::test]
    async fn forwards_to_backend_and_follows_updates() {
        let b1 = echo_server("127.0.0.1").await;
        let b2 = echo_server("127.0.0.1").await;
        let front = free_addr("127.0.0.1");
        let mut proxy = UserspaceProxy::default();
        let report = proxy.update(&[], &[frontend(front, vec![b1])]).await;
        assert_eq!(report.added, 1);
        let mut c = TcpStream::connect(front).await.unwrap();
        c.write_all(b"hi").await.unwrap();
        let mut out = String::new();
        c.read_to_string(&mut out).await.unwrap();
        assert_eq!(out, format!("{b1}:hi"));
        proxy.update(&[], &[frontend(front, vec![b2])]).await;
        let mut c = TcpStream::connect(front).await.unwrap();
        c.write_all(b"again").await.unwrap();
        let mut out = String::new();
        c.read_to_string(&mut out).await.unwrap();
        assert_eq!(out, format!("{b2}:again"));
    }

    /// Accepts connections and drops them unanswered, as a process that is
    /// exiting does.
    async fn dropping_server(ip: &str) -> SocketAddr {
        let l = TcpListener::bind(format!("{ip}:0")).await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let (mut c, _) = l.accept().await.unwrap();
                let mut b = [0u8; 2];
                let _ = c.read(&mut b).await; // leaves the rest unread: RST
                drop(c);
            }
        });
        addr
    }

    #[tokio::test]
    async fn a_backend_that_drops_the_connection_unanswered_is_passed_over() {
        let good = echo_server("127.0.0.1").await;
        let dropping = dropping_server("127.0.0.1").await;
        let front = free_addr("127.0.0.1");
        let mut proxy = UserspaceProxy::default();
        proxy
            .update(&[], &[frontend(front, vec![dropping, good])])
            .await;
        // Whichever backend is picked first, every request is answered by
        // the good one, with all the bytes the client sent.
        for i in 0..20 {
            let mut c = TcpStream::connect(front).await.unwrap();
            let msg = format!("request-{i}");
            c.write_all(msg.as_bytes()).await.unwrap();
            let mut out = String::new();
            c.read_to_string(&mut out).await.unwrap();
            assert_eq!(out, format!("{good}:{msg}"));
        }
    }

    #[tokio::test]
    async fn no_backend_resets_at_once() {
        let front = free_addr("127.0.0.1");
        let mut proxy = UserspaceProxy::default();
        proxy.update(&[], &[frontend(front, vec![])]).await;
        let mut c = TcpStream::connect(front).await.unwrap();
        let mut buf = [0u8; 8];
        let r = tokio::time::timeout(Duration::from_secs(2), c.read(&mut buf))
            .await
            .expect("must not hang");
        assert!(matches!(r, Ok(0) | Err(_)));
    }
}
