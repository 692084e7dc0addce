//! The discovery benchmark: what the real kubectl pays for API discovery
//! and OpenAPI against `mkube apiserver`, cold (an empty `--cache-dir`, so
//! every discovery document is fetched) and warm (a populated one), and the
//! size and request time of each document it may fetch.

use super::cluster::{tempdir, BenchCluster, Startup};
use super::stats::{ms, Summary};
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct DiscoveryBenchArgs {
    /// Runs of each kubectl command and requests of each document.
    #[arg(long, default_value_t = 20)]
    pub runs: usize,
    /// kubectl to drive (default: `target/e2e-tools/kubectl` under the
    /// workspace, where the e2e harness puts it, else `kubectl` on PATH).
    #[arg(long)]
    pub kubectl: Option<PathBuf>,
}

/// The aggregated discovery type kubectl asks `/api` and `/apis` for.
const AGGREGATED: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";
/// The protobuf OpenAPI v2 document kubectl's older code paths ask for.
const OPENAPI_V2_PROTO: &str = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";

/// The documents timed directly, with the Accept header a client sends.
const DOCUMENTS: [(&str, &str); 5] = [
    ("/api", AGGREGATED),
    ("/apis", AGGREGATED),
    ("/openapi/v2", OPENAPI_V2_PROTO),
    ("/openapi/v3", "application/json"),
    ("/openapi/v3/apis/apps/v1", "application/json"),
];

pub async fn run(args: DiscoveryBenchArgs) -> anyhow::Result<()> {
    let kubectl = kubectl_path(args.kubectl.clone());
    println!("kubectl: {}", kubectl.display());
    let dir = tempdir()?.join("discovery");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let mut cluster = BenchCluster::new(&dir)?;
    cluster.subcommand = "apiserver";
    let startup = cluster.start_idle().await?;
    let kube = Kubectl {
        bin: kubectl,
        kubeconfig: dir.join("kubeconfig"),
        caches: dir.join("kubectl-cache"),
    };
    let runs = args.runs.max(1);
    let commands = measure_commands(&kube, runs).await?;
    let documents = measure_documents(&cluster, runs).await?;
    cluster.stop();
    let _ = std::fs::remove_dir_all(&dir);
    println!();
    print_table(runs, &startup, &commands, &documents);
    Ok(())
}

/// `--kubectl`, else the e2e harness's download, else the PATH.
fn kubectl_path(flag: Option<PathBuf>) -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/e2e-tools/kubectl");
    flag.or_else(|| workspace.exists().then_some(workspace))
        .unwrap_or_else(|| PathBuf::from("kubectl"))
}

/// kubectl against the cluster under test, with cache dirs of our own.
struct Kubectl {
    bin: PathBuf,
    kubeconfig: PathBuf,
    caches: PathBuf,
}

impl Kubectl {
    /// Wall time of one kubectl invocation with `cache` as its cache dir;
    /// fails if kubectl does.
    async fn time(&self, cache: &Path, args: &[&str]) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let out = tokio::process::Command::new(&self.bin)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(cache)
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .with_context(|| format!("running {}", self.bin.display()))?;
        let elapsed = started.elapsed();
        anyhow::ensure!(
            out.status.success(),
            "kubectl {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(elapsed)
    }

    /// `runs` invocations, each on a fresh empty cache dir.
    async fn cold(&self, label: &str, runs: usize, args: &[&str]) -> anyhow::Result<Summary> {
        let mut samples = Vec::with_capacity(runs);
        for i in 0..runs {
            let cache = self.caches.join(format!("{label}-cold-{i}"));
            samples.push(self.time(&cache, args).await?);
        }
        Ok(Summary::of(samples))
    }

    /// One invocation to fill a cache dir, then `runs` timed on it.
    async fn warm(&self, label: &str, runs: usize, args: &[&str]) -> anyhow::Result<Summary> {
        let cache = self.caches.join(format!("{label}-warm"));
        self.time(&cache, args).await?;
        let mut samples = Vec::with_capacity(runs);
        for _ in 0..runs {
            samples.push(self.time(&cache, args).await?);
        }
        Ok(Summary::of(samples))
    }
}

/// Cold and warm timings of the kubectl commands.
struct Commands {
    get_cold: Summary,
    get_warm: Summary,
    explain_cold: Summary,
    explain_warm: Summary,
}

async fn measure_commands(kube: &Kubectl, runs: usize) -> anyhow::Result<Commands> {
    const GET: [&str; 4] = ["get", "pods", "-n", "default"];
    const EXPLAIN: [&str; 2] = ["explain", "pods.spec"];
    // Cold and warm interleave per command so a drift of the machine over
    // the run does not land on one side only.
    let get_cold = kube.cold("get", runs, &GET).await?;
    println!("kubectl get pods, cold cache: {get_cold}");
    let get_warm = kube.warm("get", runs, &GET).await?;
    println!("kubectl get pods, warm cache: {get_warm}");
    let explain_cold = kube.cold("explain", runs, &EXPLAIN).await?;
    println!("kubectl explain pods.spec, cold cache: {explain_cold}");
    let explain_warm = kube.warm("explain", runs, &EXPLAIN).await?;
    println!("kubectl explain pods.spec, warm cache: {explain_warm}");
    Ok(Commands {
        get_cold,
        get_warm,
        explain_cold,
        explain_warm,
    })
}

/// One document as served: its size and the time to fetch it.
struct Document {
    path: &'static str,
    content_type: String,
    bytes: usize,
    time: Summary,
}

/// Each of [`DOCUMENTS`] `runs` times over one kept-alive HTTPS connection
/// pool (kube-rs with the cluster's kubeconfig), so the time is the
/// server's answer and the transfer, not a TLS handshake.
async fn measure_documents(cluster: &BenchCluster, runs: usize) -> anyhow::Result<Vec<Document>> {
    let client = cluster.client().await?;
    let mut documents = Vec::new();
    for (path, accept) in DOCUMENTS {
        let (content_type, bytes, _) = fetch(&client, path, accept).await?;
        let mut samples = Vec::with_capacity(runs);
        for _ in 0..runs {
            samples.push(fetch(&client, path, accept).await?.2);
        }
        let time = Summary::of(samples);
        println!("GET {path} ({content_type}): {bytes} bytes, {time}");
        documents.push(Document {
            path,
            content_type,
            bytes,
            time,
        });
    }
    Ok(documents)
}

/// GET `path`: the Content-Type answered, the body's size and the time
/// from sending to the last byte.
async fn fetch(
    client: &kube::Client,
    path: &str,
    accept: &str,
) -> anyhow::Result<(String, usize, Duration)> {
    let req = http::Request::get(path)
        .header("Accept", accept)
        .body(kube::client::Body::empty())?;
    let started = Instant::now();
    let res = client
        .send(req)
        .await
        .with_context(|| format!("GET {path}"))?;
    let status = res.status();
    let content_type = res
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_string();
    let body = res.into_body().collect_bytes().await?;
    let elapsed = started.elapsed();
    anyhow::ensure!(status.is_success(), "GET {path}: {status}");
    Ok((content_type, body.len(), elapsed))
}

fn print_table(runs: usize, startup: &Startup, commands: &Commands, documents: &[Document]) {
    let millis = |d: Duration| format!("{:.1} ms", ms(d));
    let both = |s: &Summary| format!("{} / {}", millis(s.p50), millis(s.p90));
    let diff = |a: &Summary, b: &Summary| format!("{:.1} ms", ms(a.p50) - ms(b.p50));
    println!("| measure ({runs} runs each) | median / p90 |");
    println!("|---|---|");
    println!(
        "| `mkube apiserver` start-up to `/readyz` | {} |",
        millis(startup.ready)
    );
    println!(
        "| `mkube apiserver` idle RSS | {:.1} MiB |",
        startup.rss_idle_kib as f64 / 1024.0
    );
    let c = commands;
    println!("| `kubectl get pods`, cold cache | {} |", both(&c.get_cold));
    println!("| `kubectl get pods`, warm cache | {} |", both(&c.get_warm));
    println!(
        "| discovery cost (cold - warm, medians) | {} |",
        diff(&c.get_cold, &c.get_warm)
    );
    println!(
        "| `kubectl explain pods.spec`, cold cache | {} |",
        both(&c.explain_cold)
    );
    println!(
        "| `kubectl explain pods.spec`, warm cache | {} |",
        both(&c.explain_warm)
    );
    println!(
        "| OpenAPI cost (cold - warm, medians) | {} |",
        diff(&c.explain_cold, &c.explain_warm)
    );
    println!();
    println!("| GET | Content-Type | bytes | median / p90 |");
    println!("|---|---|---|---|");
    for d in documents {
        println!(
            "| `{}` | `{}` | {} | {} |",
            d.path,
            d.content_type,
            d.bytes,
            both(&d.time)
        );
    }
}
