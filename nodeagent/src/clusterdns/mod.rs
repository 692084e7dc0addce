//! Cluster DNS: the Kubernetes DNS-Based Service Discovery specification
//! served the way CoreDNS's kubernetes plugin serves it, as the builtin
//! image `registry.k8s.io/coredns/coredns`.
//!
//! - `index`: Services and EndpointSlices reduced to what DNS needs.
//! - `answer`: the pure question -> answer function (unit-tested).
//! - `watch`: kube-rs watchers keeping the index current.
//! - `forward`: other names go to the host's resolvers.
//! - `serve`: hickory's UDP/TCP server around `answer`.
//! - `addon`: the `coredns` Deployment and `kube-dns` Service `mkube up`
//!   keeps in kube-system.
//! - `resolv`: the resolv.conf a pod gets for its dnsPolicy.

pub mod addon;
pub mod answer;
pub mod forward;
pub mod index;
pub mod resolv;
pub mod serve;
pub mod watch;

use anyhow::Context;
use forward::Forwarder;
use index::Index;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// The cluster domain when none is given.
pub const DEFAULT_CLUSTER_DOMAIN: &str = "cluster.local";

/// How the server runs.
#[derive(Debug, Clone)]
pub struct DnsOptions {
    /// Where to listen (UDP and TCP on the same address).
    pub listen: SocketAddr,
    pub cluster_domain: String,
    pub forwarder: Forwarder,
}

/// A running server: its address and the index it answers from.
pub struct RunningDns {
    pub addr: SocketAddr,
    pub index: Arc<RwLock<Index>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for RunningDns {
    fn drop(&mut self) {
        self.tasks.iter().for_each(|t| t.abort());
    }
}

/// Fills the index from the API, then listens: nothing is answered from a
/// half-listed cluster.
pub async fn start(client: kube::Client, opts: DnsOptions) -> anyhow::Result<RunningDns> {
    use k8s_openapi::api::core::v1::Service;
    use k8s_openapi::api::discovery::v1::EndpointSlice;
    let index = Arc::new(RwLock::new(Index::default()));
    let (svc_tx, svc_rx) = tokio::sync::oneshot::channel();
    let (eps_tx, eps_rx) = tokio::sync::oneshot::channel();
    let mut tasks = vec![
        tokio::spawn(watch::run::<Service>(client.clone(), index.clone(), svc_tx)),
        tokio::spawn(watch::run::<EndpointSlice>(client, index.clone(), eps_tx)),
    ];
    svc_rx
        .await
        .context("the Service watch ended before listing")?;
    eps_rx
        .await
        .context("the EndpointSlice watch ended before listing")?;
    let (addr, server) = serve_on(opts, index.clone()).await?;
    tasks.push(server);
    Ok(RunningDns { addr, index, tasks })
}

/// Binds UDP and TCP on `opts.listen` and serves `index`.
pub async fn serve_on(
    opts: DnsOptions,
    index: Arc<RwLock<Index>>,
) -> anyhow::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let udp = tokio::net::UdpSocket::bind(opts.listen)
        .await
        .with_context(|| format!("binding udp {}", opts.listen))?;
    let addr = udp.local_addr()?;
    let tcp = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding tcp {addr}"))?;
    let handler = serve::Handler {
        index,
        zone: answer::Zone::new(&opts.cluster_domain),
        forwarder: opts.forwarder,
    };
    let mut server = hickory_server::Server::new(handler);
    server.register_socket(udp);
    server.register_listener(tcp, Duration::from_secs(5), 65535);
    let task = tokio::spawn(async move {
        if let Err(e) = server.block_until_done().await {
            tracing::error!(error = %e, "DNS server stopped");
        }
    });
    Ok((addr, task))
}

/// Flags of the builtin image.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageArgs {
    pub cluster_domain: String,
    pub listen: Option<IpAddr>,
    pub port: u16,
}

/// `--cluster-domain=D`, `--listen=IP` (default: `POD_IP`), `--port=N`
/// (default 53); CoreDNS's own `-conf FILE` is accepted and ignored.
pub fn parse_image_args(args: &[String]) -> Result<ImageArgs, String> {
    let mut out = ImageArgs {
        cluster_domain: DEFAULT_CLUSTER_DOMAIN.to_string(),
        listen: None,
        port: 53,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) => (f, Some(v.to_string())),
            None => (a.as_str(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or(format!("{flag} needs a value"))
        };
        match flag.trim_start_matches('-') {
            "cluster-domain" => out.cluster_domain = value()?,
            "listen" => out.listen = Some(value()?.parse().map_err(|e| format!("--listen: {e}"))?),
            "port" => out.port = value()?.parse().map_err(|e| format!("--port: {e}"))?,
            "conf" => {
                value()?;
            }
            other => return Err(format!("unknown flag {other:?}")),
        }
    }
    Ok(out)
}

/// `mkube builtin registry.k8s.io/coredns/coredns [flags]`: the API client
/// from `KUBECONFIG` (the node agent hands builtin system pods one), the
/// upstreams from the host's /etc/resolv.conf.
pub fn main(args: Vec<String>) -> ExitCode {
    crate::builtin::exit_on_term();
    let parsed = match parse_image_args(&args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("coredns: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("coredns: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run_image(parsed)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            println!("[FATAL] {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run_image(args: ImageArgs) -> anyhow::Result<()> {
    let listen_ip = match args.listen {
        Some(ip) => ip,
        None => std::env::var("POD_IP")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(IpAddr::from([127, 0, 0, 1])),
    };
    let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let forwarder = Forwarder::from_resolv_conf(&host_resolv, &[listen_ip]);
    let config = kube::Config::infer()
        .await
        .context("no API access (KUBECONFIG or in-cluster config)")?;
    // Its caches drop managedFields: its lists and watches leave them out.
    let client = kube::client::ClientBuilder::try_from(config)?
        .with_layer(&informers::lean_requests::layer())
        .build();
    let running = start(
        client,
        DnsOptions {
            listen: SocketAddr::new(listen_ip, args.port),
            cluster_domain: args.cluster_domain.clone(),
            forwarder: forwarder.clone(),
        },
    )
    .await?;
    let services = running.index.read().map(|i| i.service_count()).unwrap_or(0);
    println!(".:{}", running.addr.port());
    println!(
        "[INFO] mkube cluster DNS (CoreDNS-compatible) for {} on {} udp+tcp; {services} Services indexed; forwarding other names to {:?}",
        args.cluster_domain, running.addr, forwarder.upstreams
    );
    std::future::pending::<()>().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::{Message, Query, ResponseCode};
    use hickory_proto::rr::{Name, RecordType};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A headless Service with 100 ready endpoints: too many A records for
    /// 512 bytes.
    fn big_index() -> Index {
        let mut i = Index::default();
        let svc = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "big", "namespace": "default"}, "spec": {"clusterIP": "None"}
        }))
        .unwrap();
        i.apply_service(&svc);
        let endpoints: Vec<_> = (0..100)
            .map(|n| serde_json::json!({"addresses": [format!("127.244.1.{n}")], "conditions": {"ready": true}}))
            .collect();
        let slice = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "big-1", "namespace": "default", "labels": {"kubernetes.io/service-name": "big"}},
            "addressType": "IPv4", "endpoints": endpoints
        }))
        .unwrap();
        i.apply_slice(&slice);
        i
    }

    fn query(name: &str) -> Vec<u8> {
        let mut q = Message::query();
        q.metadata.id = 42;
        q.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::A));
        q.to_vec().unwrap()
    }

    #[tokio::test]
    async fn udp_truncates_and_tcp_carries_the_whole_answer() {
        let opts = DnsOptions {
            listen: "127.0.0.1:0".parse().unwrap(),
            cluster_domain: DEFAULT_CLUSTER_DOMAIN.into(),
            forwarder: Forwarder {
                upstreams: Vec::new(),
                timeout: Duration::from_secs(1),
            },
        };
        let (addr, task) = serve_on(opts, Arc::new(RwLock::new(big_index())))
            .await
            .unwrap();
        let q = query("big.default.svc.cluster.local.");

        let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        udp.send_to(&q, addr).await.unwrap();
        let mut buf = vec![0u8; 4096];
        let n = udp.recv(&mut buf).await.unwrap();
        assert!(
            n <= 512,
            "a UDP answer without EDNS fits 512 bytes, got {n}"
        );
        let m = Message::from_vec(&buf[..n]).unwrap();
        assert!(m.metadata.truncation, "TC must be set");
        assert!(m.answers.len() < 100);

        let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        tcp.write_all(&(q.len() as u16).to_be_bytes())
            .await
            .unwrap();
        tcp.write_all(&q).await.unwrap();
        let len = tcp.read_u16().await.unwrap() as usize;
        let mut body = vec![0u8; len];
        tcp.read_exact(&mut body).await.unwrap();
        let m = Message::from_vec(&body).unwrap();
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert!(!m.metadata.truncation);
        assert!(m.metadata.authoritative);
        assert_eq!(m.answers.len(), 100);

        // Outside the zone with no reachable upstream: SERVFAIL.
        udp.send_to(&query("example.invalid."), addr).await.unwrap();
        let n = udp.recv(&mut buf).await.unwrap();
        let m = Message::from_vec(&buf[..n]).unwrap();
        assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
        task.abort();
    }

    #[test]
    fn image_flags() {
        let a = parse_image_args(&[
            "--cluster-domain=example.org".into(),
            "--port".into(),
            "5353".into(),
        ])
        .unwrap();
        assert_eq!(a.cluster_domain, "example.org");
        assert_eq!(a.port, 5353);
        let a = parse_image_args(&["-conf".into(), "/etc/coredns/Corefile".into()]).unwrap();
        assert_eq!(a.cluster_domain, DEFAULT_CLUSTER_DOMAIN);
        assert!(parse_image_args(&["--bogus".into()]).is_err());
    }
}
