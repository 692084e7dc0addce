//! The port-forward benchmark: a pod sends N MiB on every connection; the
//! same transfer is timed directly to the pod IP (the baseline) and through
//! `kubectl port-forward` (the API server's upgrade proxy and the node
//! agent), over the WebSocket tunnel kubectl uses by default and over the
//! SPDY/3.1 upgrade. Reported as throughput and as a ratio to the baseline,
//! with the CPU time kubectl and `mkube up` spent per GiB: on a small
//! machine the ceiling of this path is the CPU its processes need, and
//! kubectl's share is outside mkube's control.

use super::cluster::{tempdir, with_cpu, BenchCluster};
use anyhow::Context;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};
use std::io::BufRead;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(clap::Args)]
pub struct PortForwardBenchArgs {
    /// MiB per transfer.
    #[arg(long, default_value_t = 256)]
    pub mib: u64,
    /// Transfers per path; the median is reported.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// kubectl to drive (default: $KUBECTL, else `kubectl` on PATH).
    #[arg(long)]
    pub kubectl: Option<PathBuf>,
}

const SOURCE_PORT: u16 = 9000;

/// A host-command pod serving `bytes` zero bytes per connection on its IP
/// (python3 is what the CI machine has; no builtin image sends bulk data).
pub(super) fn source_pod(bytes: u64) -> anyhow::Result<Pod> {
    let script = format!(
        "import os, socket\n\
         s = socket.socket()\n\
         s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
         s.bind((os.environ['POD_IP'], {SOURCE_PORT}))\n\
         s.listen(16)\n\
         chunk = bytes(1 << 20)\n\
         while True:\n\
         \x20   c, _ = s.accept()\n\
         \x20   left = {bytes}\n\
         \x20   try:\n\
         \x20       while left > 0:\n\
         \x20           n = min(left, len(chunk))\n\
         \x20           c.sendall(chunk[:n])\n\
         \x20           left -= n\n\
         \x20   except OSError:\n\
         \x20       pass\n\
         \x20   c.close()\n"
    );
    Ok(serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "bench-source"},
        "spec": {"containers": [{
            "name": "source", "image": "python",
            "command": ["python3", "-c", script],
            "ports": [{"containerPort": SOURCE_PORT}],
        }]}
    }))?)
}

/// Reads one whole transfer from `addr`; bytes received and time taken.
async fn transfer(addr: SocketAddr) -> anyhow::Result<(u64, Duration)> {
    let started = Instant::now();
    let mut conn = tokio::net::TcpStream::connect(addr)
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    conn.shutdown().await.ok();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = conn.read(&mut buf).await?;
        if n == 0 {
            return Ok((total, started.elapsed()));
        }
        total += n as u64;
    }
}

/// Median MiB/s over `runs` complete transfers of `bytes` to `addr`.
pub(super) async fn throughput(addr: SocketAddr, bytes: u64, runs: usize) -> anyhow::Result<f64> {
    let mut rates = Vec::new();
    for _ in 0..runs {
        let (got, took) = transfer(addr).await?;
        anyhow::ensure!(
            got == bytes,
            "transfer via {addr} got {got} of {bytes} bytes"
        );
        rates.push(got as f64 / (1 << 20) as f64 / took.as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    Ok(rates[rates.len() / 2])
}

/// `kubectl port-forward` running until dropped.
struct Forward(Child);

impl Drop for Forward {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Starts kubectl port-forward to the source pod and waits until it listens.
fn forward(kubectl: &Path, kubeconfig: &Path, websockets: bool) -> anyhow::Result<(Forward, u16)> {
    let local = free_port()?;
    let mut child = Command::new(kubectl)
        .env("KUBECONFIG", kubeconfig)
        .env("KUBECTL_PORT_FORWARD_WEBSOCKETS", websockets.to_string())
        .args(["port-forward", "pod/bench-source"])
        .arg(format!("{local}:{SOURCE_PORT}"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("running {}", kubectl.display()))?;
    let stdout = child.stdout.take().context("kubectl stdout")?;
    let fwd = Forward(child);
    let mut lines = std::io::BufReader::new(stdout).lines();
    let ready = lines.any(|l| l.is_ok_and(|l| l.starts_with("Forwarding from 127.0.0.1:")));
    anyhow::ensure!(ready, "kubectl port-forward did not start listening");
    // Keep draining "Handling connection" lines so kubectl never blocks.
    std::thread::spawn(move || for _ in lines {});
    Ok((fwd, local))
}

pub(super) async fn wait_source(pods: &Api<Pod>) -> anyhow::Result<SocketAddr> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let ip = pods
            .get("bench-source")
            .await?
            .status
            .and_then(|s| s.pod_ip)
            .and_then(|ip| ip.parse().ok());
        if let Some(ip) = ip {
            let addr = SocketAddr::new(ip, SOURCE_PORT);
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                return Ok(addr);
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    anyhow::bail!("the source pod did not start serving in 60 s")
}

pub async fn run(args: PortForwardBenchArgs) -> anyhow::Result<()> {
    let kubectl = args
        .kubectl
        .clone()
        .or_else(|| std::env::var_os("KUBECTL").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("kubectl"));
    let bytes = args.mib << 20;
    let runs = args.runs.max(1);
    let dir = tempdir()?;
    let mut cluster = BenchCluster::new(&dir)?;
    cluster.start().await?;
    let client = cluster.client().await?;
    let pods: Api<Pod> = Api::namespaced(client, "default");
    pods.create(&PostParams::default(), &source_pod(bytes)?)
        .await
        .context("creating the source pod")?;
    let direct_addr = wait_source(&pods).await?;
    let kubeconfig = dir.join("kubeconfig");

    let direct = throughput(direct_addr, bytes, runs).await?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "{} MiB direct to the pod ({direct_addr}): {direct:.0} MiB/s",
        args.mib
    );
    for (label, websockets) in [
        ("WebSocket tunnel (kubectl default)", true),
        ("SPDY/3.1 upgrade", false),
    ] {
        let (fwd, local) = forward(&kubectl, &kubeconfig, websockets)?;
        let addr = SocketAddr::from(([127, 0, 0, 1], local));
        let pids = [fwd.0.id(), cluster.pid().context("cluster not running")?];
        let gib = (bytes * runs as u64) as f64 / (1u64 << 30) as f64;
        let (rate, [kubectl_cpu, cluster_cpu]) =
            with_cpu(pids, gib, throughput(addr, bytes, runs)).await?;
        println!(
            "{} MiB through kubectl port-forward, {label}: {rate:.0} MiB/s ({:.0}% of direct)",
            args.mib,
            100.0 * rate / direct
        );
        let ceiling = cores as f64 * 1024.0 / kubectl_cpu;
        println!(
            "  CPU per GiB: kubectl {kubectl_cpu:.2} s, mkube up {cluster_cpu:.2} s; kubectl alone, given all {cores} cores, tops out at {ceiling:.0} MiB/s ({:.0}% of direct)",
            100.0 * ceiling / direct
        );
    }
    cluster.stop();
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
