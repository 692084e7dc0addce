//! A cluster under test: `mkube up` as a child process on a free port and a
//! temporary data dir, so its memory is measured on its own.

use anyhow::Context;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A fresh data dir for one benchmark run.
pub fn tempdir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("mkube-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Start-up to `/readyz` on an empty store and RSS once idle.
pub struct Startup {
    pub ready: Duration,
    pub rss_idle_kib: u64,
}

pub struct BenchCluster {
    pub data_dir: PathBuf,
    pub port: u16,
    /// What runs: `up` (the default) or `apiserver`.
    pub subcommand: &'static str,
    /// Extra flags for it (the storage backend).
    pub extra_args: Vec<String>,
    child: Option<Child>,
}

impl BenchCluster {
    pub fn new(data_dir: &Path) -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        Ok(BenchCluster {
            data_dir: data_dir.to_path_buf(),
            port,
            subcommand: "up",
            extra_args: Vec::new(),
            child: None,
        })
    }

    /// Starts the cluster and returns the time until `/readyz` answers 200.
    pub async fn start(&mut self) -> anyhow::Result<Duration> {
        let exe = std::env::current_exe()?;
        let log = std::fs::File::create(self.data_dir.join("bench-mkube.log"))?;
        let started = Instant::now();
        let child = Command::new(exe)
            .args([self.subcommand, "--data-dir"])
            .arg(&self.data_dir)
            .args(["--port", &self.port.to_string()])
            .args(&self.extra_args)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting mkube up")?;
        self.child = Some(child);
        let addr = format!("127.0.0.1:{}", self.port);
        loop {
            if readyz(&addr).await {
                return Ok(started.elapsed());
            }
            if started.elapsed() > Duration::from_secs(60) {
                anyhow::bail!("cluster not ready after 60 s");
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Starts the cluster, then lets it settle for 500 ms before reading
    /// its RSS: the figures a fresh cluster costs before any client load,
    /// measured the same way by every benchmark that reports them.
    pub async fn start_idle(&mut self) -> anyhow::Result<Startup> {
        let ready = self.start().await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let rss_idle_kib = self.rss_kib()?;
        println!(
            "start-up to /readyz (empty store): {:.1} ms",
            ready.as_secs_f64() * 1000.0
        );
        println!("idle RSS: {:.1} MiB", rss_idle_kib as f64 / 1024.0);
        Ok(Startup {
            ready,
            rss_idle_kib,
        })
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Resident set size of the cluster process, in KiB.
    pub fn rss_kib(&self) -> anyhow::Result<u64> {
        rss_kib_of(self.pid().context("cluster not running")?)
    }

    pub async fn client(&self) -> anyhow::Result<kube::Client> {
        let kubeconfig = kube::config::Kubeconfig::read_from(self.data_dir.join("kubeconfig"))?;
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
        Ok(kube::Client::try_from(config)?)
    }

    /// SIGTERM and wait.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: signalling our own child by pid.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let _ = child.wait();
        }
    }
}

/// A second node: `mkube nodeagent` as its own process against a
/// [`BenchCluster`], so the agent's memory is measured apart from the API
/// server and controllers. Killed on drop (its pods die with it).
pub struct BenchAgent {
    child: Child,
}

impl BenchAgent {
    /// Starts the agent and waits until its Node is Ready.
    pub async fn start(
        cluster: &BenchCluster,
        node_name: &str,
        node_ip: &str,
        extra_args: &[String],
    ) -> anyhow::Result<BenchAgent> {
        let token = std::fs::read_to_string(cluster.data_dir.join("pki/token"))
            .context("reading the cluster token")?;
        let dir = cluster.data_dir.join(node_name);
        std::fs::create_dir_all(&dir)?;
        let log = std::fs::File::create(dir.join("bench-agent.log"))?;
        let child = Command::new(std::env::current_exe()?)
            .args(["nodeagent", "--kubeconfig"])
            .arg(cluster.data_dir.join("kubeconfig"))
            .args(["--node-name", node_name, "--node-ip", node_ip, "--data-dir"])
            .arg(&dir)
            .args(["--agent-token", token.trim()])
            .args(extra_args)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting mkube nodeagent")?;
        let agent = BenchAgent { child };
        let nodes: kube::Api<k8s_openapi::api::core::v1::Node> =
            kube::Api::all(cluster.client().await?);
        let started = Instant::now();
        while !node_ready(nodes.get_opt(node_name).await?) {
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(60),
                "node {node_name} not Ready after 60 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(agent)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM and wait: the agent stops its pods on the way out.
    pub fn stop(mut self) {
        // SAFETY: signalling our own child by pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

impl Drop for BenchAgent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn node_ready(node: Option<k8s_openapi::api::core::v1::Node>) -> bool {
    node.and_then(|n| n.status?.conditions)
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// The fields of `/proc/PID/stat` from the state on (field 3 of the line):
/// the command before them may hold spaces or parentheses, so they are
/// taken after the last ')'.
fn stat_fields(pid: u32) -> anyhow::Result<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let (_, rest) = stat.rsplit_once(')').context("malformed /proc stat")?;
    Ok(rest.split_whitespace().map(str::to_string).collect())
}

/// CPU time (user + system) a process has used so far, in seconds, from
/// `/proc/PID/stat` (fields 14 and 15, in clock ticks).
pub fn cpu_seconds_of(pid: u32) -> anyhow::Result<f64> {
    let fields = stat_fields(pid)?;
    let ticks = |field: usize| -> anyhow::Result<u64> {
        Ok(fields.get(field - 3).context("short /proc stat")?.parse()?)
    };
    // SAFETY: sysconf has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    Ok((ticks(14)? + ticks(15)?) as f64 / per_second)
}

/// A process's command line, its NULs as spaces.
pub fn cmdline_of(pid: u32) -> Option<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(String::from_utf8_lossy(&raw).replace('\0', " "))
}

/// Every process descended from `root` (a cluster's pod processes), with
/// its command line.
pub fn descendants(root: u32) -> Vec<(u32, String)> {
    let parent_of = |pid: u32| -> Option<u32> { stat_fields(pid).ok()?.get(1)?.parse().ok() };
    let under = |mut pid: u32| {
        while let Some(p) = parent_of(pid) {
            if p == root {
                return true;
            }
            if p <= 1 {
                return false;
            }
            pid = p;
        }
        false
    };
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter(|&pid| under(pid))
        .filter_map(|pid| Some((pid, cmdline_of(pid)?)))
        .collect()
}

/// Runs `work` and returns its result with the CPU seconds each of `pids`
/// spent meanwhile, per GiB of `gib` moved (NaN where a process could not
/// be read).
pub async fn with_cpu<T, const N: usize>(
    pids: [u32; N],
    gib: f64,
    work: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<(T, [f64; N])> {
    let before = pids.map(cpu_seconds_of);
    let out = work.await?;
    let after = pids.map(cpu_seconds_of);
    let mut per_gib = [f64::NAN; N];
    for (i, v) in per_gib.iter_mut().enumerate() {
        if let (Ok(b), Ok(a)) = (&before[i], &after[i]) {
            *v = (a - b) / gib;
        }
    }
    Ok((out, per_gib))
}

/// Resident set size of a process, in KiB.
pub fn rss_kib_of(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS")
}

impl Drop for BenchCluster {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `/readyz` needs no credentials; it is probed over TLS without verifying
/// the certificate, which the cluster generates on its first start.
async fn readyz(addr: &str) -> bool {
    tls_get(addr, "/readyz")
        .await
        .map(|(code, _)| code == 200)
        .unwrap_or(false)
}

async fn tls_get(addr: &str, path: &str) -> anyhow::Result<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(insecure_client_config()));
    let name = rustls::pki_types::ServerName::try_from("localhost")?;
    let mut tls = connector.connect(name, tcp).await?;
    tls.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await?;
    let mut buf = Vec::new();
    tls.read_to_end(&mut buf).await.ok();
    let text = String::from_utf8_lossy(&buf).to_string();
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Ok((code, text))
}

fn insecure_client_config() -> rustls::ClientConfig {
    #[derive(Debug)]
    struct AcceptAny;
    impl rustls::client::danger::ServerCertVerifier for AcceptAny {
        fn verify_server_cert(
            &self,
            _: &rustls::pki_types::CertificateDer<'_>,
            _: &[rustls::pki_types::CertificateDer<'_>],
            _: &rustls::pki_types::ServerName<'_>,
            _: &[u8],
            _: rustls::pki_types::UnixTime,
        ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        }
        fn verify_tls12_signature(
            &self,
            _: &[u8],
            _: &rustls::pki_types::CertificateDer<'_>,
            _: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
        }
        fn verify_tls13_signature(
            &self,
            _: &[u8],
            _: &rustls::pki_types::CertificateDer<'_>,
            _: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
        }
        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            rustls::crypto::ring::default_provider()
                .signature_verification_algorithms
                .supported_schemes()
        }
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(std::sync::Arc::new(AcceptAny))
        .with_no_client_auth()
}

/// A single-member etcd on loopback ports for `bench api --etcd auto`; killed on drop.
pub struct LocalEtcd {
    pub url: String,
    child: Child,
}

impl LocalEtcd {
    pub async fn start(data_dir: &Path) -> anyhow::Result<LocalEtcd> {
        let free = || -> anyhow::Result<u16> {
            Ok(std::net::TcpListener::bind("127.0.0.1:0")?
                .local_addr()?
                .port())
        };
        let (client, peer) = (free()?, free()?);
        let url = format!("http://127.0.0.1:{client}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        std::fs::create_dir_all(data_dir)?;
        let log = std::fs::File::create(data_dir.join("etcd.log"))?;
        let child = Command::new("etcd")
            .args(["--name", "bench", "--data-dir"])
            .arg(data_dir.join("data"))
            .args([
                "--listen-client-urls",
                &url,
                "--advertise-client-urls",
                &url,
            ])
            .args([
                "--listen-peer-urls",
                &peer_url,
                "--initial-advertise-peer-urls",
                &peer_url,
            ])
            .args(["--initial-cluster", &format!("bench={peer_url}")])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting etcd (install Debian's etcd-server)")?;
        let etcd = LocalEtcd { url, child };
        let started = Instant::now();
        let opts = apiserver::storage::EtcdOptions::new(vec![etcd.url.clone()]);
        while apiserver::storage::EtcdStore::connect(&opts).await.is_err() {
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(30),
                "etcd not ready after 30 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(etcd)
    }

    pub fn rss_kib(&self) -> anyhow::Result<u64> {
        rss_kib_of(self.child.id())
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for LocalEtcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
