//! The service proxy benchmark, each figure against a direct connection in
//! the same run:
//! - bulk throughput from a pod through its ClusterIP vs to the pod IP;
//! - connect + first byte latency and new connections per second through a
//!   ClusterIP vs to the backend directly (the difference is what the proxy
//!   adds);
//! - programming time for N selector-less Services with M endpoints each:
//!   from the last create reply until every ClusterIP forwards; and the
//!   cluster process's RSS before and after.
//!
//! Backends other than the bulk source pod are listeners this process runs
//! on addresses of the cluster's pod range that no pod of the node uses
//! (127.244.255.x), each answering every connection with one byte.

use super::api::concurrent;
use super::cluster::{descendants, tempdir, with_cpu, BenchCluster};
use super::portforward::{source_pod, throughput, wait_source};
use super::stats::Summary;
use anyhow::Context;
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, PostParams};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(clap::Args)]
pub struct ProxyBenchArgs {
    /// MiB per bulk transfer.
    #[arg(long, default_value_t = 1024)]
    pub mib: u64,
    /// Bulk transfers per path; the median is reported.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Connections timed one at a time for the latency figures, per path.
    #[arg(long, default_value_t = 2000)]
    pub latency_connections: usize,
    /// Connections for the rate figure, per path.
    #[arg(long, default_value_t = 5000)]
    pub rate_connections: usize,
    /// Concurrent clients for the rate figure.
    #[arg(long, default_value_t = 16)]
    pub rate_concurrency: usize,
    /// Services for the programming figure.
    #[arg(long, default_value_t = 1000)]
    pub services: usize,
    /// Endpoints per Service for the programming figure.
    #[arg(long, default_value_t = 10)]
    pub endpoints: usize,
}

/// The port every bench backend listener uses (on its own address).
const BACKEND_PORT: u16 = 9100;
const SERVICE_PORT: u16 = 80;

/// The i-th backend address: in the pod range, outside the node's first /24.
fn backend_ip(i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 244, 255, 1 + (i % 250) as u8))
}

/// Listens on `addr` and answers each connection with one byte.
async fn first_byte_listener(addr: SocketAddr) -> anyhow::Result<()> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding the bench backend {addr}"))?;
    tokio::spawn(async move {
        loop {
            let Ok((mut conn, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let _ = conn.write_all(b"!").await;
            });
        }
    });
    Ok(())
}

/// Connects to `addr` and reads the first byte; the time it took.
async fn first_byte(addr: SocketAddr) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let mut conn = TcpStream::connect(addr).await?;
    let mut b = [0u8; 1];
    anyhow::ensure!(conn.read(&mut b).await? == 1, "no byte from {addr}");
    Ok(started.elapsed())
}

/// A selector-less Service `name` (port 80) and its EndpointSlice with
/// `backends`, as an external controller would create them; the ClusterIP.
async fn create_service(
    client: &kube::Client,
    name: &str,
    backends: &[SocketAddr],
) -> anyhow::Result<IpAddr> {
    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), "default");
    let target = backends.first().map_or(BACKEND_PORT, |b| b.port());
    let svc: Service = serde_json::from_value(serde_json::json!({
        "metadata": {"name": name},
        "spec": {"ports": [{"port": SERVICE_PORT, "targetPort": target}]}
    }))?;
    let created = services
        .create(&PostParams::default(), &svc)
        .await
        .with_context(|| format!("creating Service {name}"))?;
    let endpoints: Vec<serde_json::Value> = backends
        .iter()
        .map(|b| serde_json::json!({"addresses": [b.ip().to_string()], "conditions": {"ready": true}}))
        .collect();
    let slice: EndpointSlice = serde_json::from_value(serde_json::json!({
        "metadata": {"name": format!("{name}-bench"), "labels": {
            "kubernetes.io/service-name": name,
            "endpointslice.kubernetes.io/managed-by": "mkube-bench",
        }},
        "addressType": "IPv4",
        "endpoints": endpoints,
        "ports": [{"port": target, "protocol": "TCP"}],
    }))?;
    slices
        .create(&PostParams::default(), &slice)
        .await
        .with_context(|| format!("creating EndpointSlice for {name}"))?;
    created
        .spec
        .and_then(|s| s.cluster_ip)
        .and_then(|ip| ip.parse().ok())
        .with_context(|| format!("Service {name} got no ClusterIP"))
}

/// Retries `first_byte` until the frontend forwards (or 60 s pass).
async fn wait_forwarding(addr: SocketAddr) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while first_byte(addr).await.is_err() {
        anyhow::ensure!(Instant::now() < deadline, "{addr} never forwarded");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Ok(())
}

/// Connect + first byte, `n` times one at a time.
async fn latency(addr: SocketAddr, n: usize) -> anyhow::Result<Summary> {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        samples.push(first_byte(addr).await?);
    }
    Ok(Summary::of(samples))
}

/// New connections per second (each to its first byte) from `concurrency` clients.
async fn connection_rate(addr: SocketAddr, n: usize, concurrency: usize) -> anyhow::Result<f64> {
    let started = Instant::now();
    concurrent(n, concurrency, move |_| first_byte(addr)).await?;
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

async fn bench_throughput(
    client: &kube::Client,
    cluster_pid: u32,
    args: &ProxyBenchArgs,
) -> anyhow::Result<()> {
    let bytes = args.mib << 20;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.create(&PostParams::default(), &source_pod(bytes)?)
        .await
        .context("creating the source pod")?;
    let direct_addr = wait_source(&pods).await?;
    let ip = create_service(client, "bench-source", &[direct_addr]).await?;
    let via = SocketAddr::new(ip, SERVICE_PORT);
    wait_connectable(via).await?;
    // The source pod's process, among this cluster's own.
    let (sender, _) = descendants(cluster_pid)
        .into_iter()
        .find(|(_, cmd)| cmd.contains("python3") && cmd.contains("POD_IP"))
        .context("the source pod's process")?;
    let pids = [sender, cluster_pid, std::process::id()];
    let runs = args.runs.max(1);
    let gib = (bytes * runs as u64) as f64 / (1u64 << 30) as f64;
    let (direct, direct_cpu) = with_cpu(pids, gib, throughput(direct_addr, bytes, runs)).await?;
    let (proxied, proxied_cpu) = with_cpu(pids, gib, throughput(via, bytes, runs)).await?;
    println!(
        "bulk {} MiB: direct to the pod {direct:.0} MiB/s, through the ClusterIP {proxied:.0} MiB/s ({:.0}% of direct; target >= 80%)",
        args.mib,
        100.0 * proxied / direct
    );
    let [s, _, r] = direct_cpu;
    let [ps, pp, pr] = proxied_cpu;
    println!(
        "  CPU per GiB: direct: sender {s:.2} s, receiver {r:.2} s; through the ClusterIP: sender {ps:.2} s, proxy (mkube up) {pp:.2} s, receiver {pr:.2} s"
    );
    Ok(())
}

/// Waits until `addr` accepts and the proxy does not reset at once.
async fn wait_connectable(addr: SocketAddr) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(mut c) = TcpStream::connect(addr).await {
            let mut b = [0u8; 1];
            if matches!(c.read(&mut b).await, Ok(1)) {
                return Ok(());
            }
        }
        anyhow::ensure!(Instant::now() < deadline, "{addr} never forwarded");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn bench_latency(client: &kube::Client, args: &ProxyBenchArgs) -> anyhow::Result<()> {
    let direct = SocketAddr::new(backend_ip(0), BACKEND_PORT);
    let ip = create_service(client, "bench-first-byte", &[direct]).await?;
    let via = SocketAddr::new(ip, SERVICE_PORT);
    wait_forwarding(via).await?;
    // Warm both paths (connection tracking, allocator) before timing.
    latency(direct, 200).await?;
    latency(via, 200).await?;
    let d = latency(direct, args.latency_connections).await?;
    let p = latency(via, args.latency_connections).await?;
    println!(
        "connect + first byte, direct: p50 {:.0} us, p99 {:.0} us; through the ClusterIP: p50 {:.0} us, p99 {:.0} us",
        us(d.p50),
        us(d.p99),
        us(p.p50),
        us(p.p99)
    );
    println!(
        "added by the proxy: p50 {:.0} us, p99 {:.0} us (target p99 < 200 us)",
        us(p.p50.saturating_sub(d.p50)),
        us(p.p99.saturating_sub(d.p99))
    );
    let (n, conc) = (args.rate_connections, args.rate_concurrency);
    let rd = connection_rate(direct, n, conc).await?;
    let rp = connection_rate(via, n, conc).await?;
    println!(
        "new connections ({conc} clients): direct {rd:.0}/s, through the ClusterIP {rp:.0}/s ({:.0}%)",
        100.0 * rp / rd
    );
    Ok(())
}

async fn bench_programming(
    cluster: &BenchCluster,
    client: &kube::Client,
    args: &ProxyBenchArgs,
) -> anyhow::Result<()> {
    let backends: Arc<Vec<SocketAddr>> = Arc::new(
        (0..args.endpoints)
            .map(|i| SocketAddr::new(backend_ip(i), BACKEND_PORT))
            .collect(),
    );
    let rss_before = cluster.rss_kib()?;
    let ips = Arc::new(std::sync::Mutex::new(Vec::with_capacity(args.services)));
    let (c, b, out) = (client.clone(), backends.clone(), ips.clone());
    concurrent(args.services, 16, move |i| {
        let (c, b, out) = (c.clone(), b.clone(), out.clone());
        async move {
            let started = Instant::now();
            let ip = create_service(&c, &format!("bench-{i}"), &b).await?;
            out.lock().unwrap_or_else(|p| p.into_inner()).push(ip);
            Ok(started.elapsed())
        }
    })
    .await?;
    let last_reply = Instant::now();
    let ips: Vec<IpAddr> = std::mem::take(&mut *ips.lock().unwrap_or_else(|p| p.into_inner()));
    let n = ips.len();
    let ips = Arc::new(ips);
    concurrent(n, 32, move |i| {
        let addr = SocketAddr::new(ips[i], SERVICE_PORT);
        async move {
            wait_forwarding(addr).await?;
            Ok(Duration::ZERO)
        }
    })
    .await?;
    let programmed = last_reply.elapsed();
    let rss_after = cluster.rss_kib()?;
    println!(
        "{} Services x {} endpoints: every ClusterIP forwards {:.0} ms after the last create reply (target < 1000 ms)",
        args.services,
        args.endpoints,
        programmed.as_secs_f64() * 1000.0
    );
    println!(
        "cluster RSS: {:.1} MiB before, {:.1} MiB with them (+{:.1} MiB)",
        rss_before as f64 / 1024.0,
        rss_after as f64 / 1024.0,
        rss_after.saturating_sub(rss_before) as f64 / 1024.0
    );
    Ok(())
}

/// The proxy's own figures from its `/metrics`.
async fn print_proxy_metrics(status: SocketAddr) -> anyhow::Result<()> {
    let mut conn = TcpStream::connect(status).await?;
    conn.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").await?;
    let mut text = String::new();
    conn.read_to_string(&mut text).await?;
    let value = |name: &str| -> f64 {
        let prefix = format!("{name} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(f64::NAN)
    };
    let syncs = value("kubeproxy_sync_proxy_rules_duration_seconds_count");
    let sync_sum = value("kubeproxy_sync_proxy_rules_duration_seconds_sum");
    let progs = value("kubeproxy_network_programming_duration_seconds_count");
    let prog_sum = value("kubeproxy_network_programming_duration_seconds_sum");
    println!(
        "proxy /metrics: {syncs:.0} syncs, mean {:.1} ms; network programming mean {:.0} ms over {progs:.0} slice changes",
        1000.0 * sync_sum / syncs,
        1000.0 * prog_sum / progs
    );
    Ok(())
}

pub async fn run(args: ProxyBenchArgs) -> anyhow::Result<()> {
    let dir = tempdir()?;
    let mut cluster = BenchCluster::new(&dir)?;
    let status_port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let status = SocketAddr::from(([127, 0, 0, 1], status_port));
    cluster.extra_args = vec!["--proxy-metrics-bind-address".into(), status.to_string()];
    cluster.start().await?;
    let client = cluster.client().await?;
    for i in 0..args.endpoints.max(1) {
        first_byte_listener(SocketAddr::new(backend_ip(i), BACKEND_PORT)).await?;
    }
    let outcome = async {
        let pid = cluster.pid().context("cluster not running")?;
        bench_throughput(&client, pid, &args).await?;
        bench_latency(&client, &args).await?;
        bench_programming(&cluster, &client, &args).await?;
        print_proxy_metrics(status).await
    }
    .await;
    cluster.stop();
    let _ = std::fs::remove_dir_all(&dir);
    outcome
}
