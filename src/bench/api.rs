//! The API server benchmark: start-up to ready (empty and with N services),
//! RSS, create/get latency under concurrency, listing N services as a Table,
//! watch delivery latency — all over HTTPS from a real client (kube-rs).

use super::cluster::{descendants, tempdir, with_cpu, BenchCluster, LocalEtcd, Startup};
use super::stats::{ms, Summary};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use kube::api::{Api, PostParams, WatchEvent, WatchParams};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct ApiBenchArgs {
    /// Services to store for the loaded measurements.
    #[arg(long, default_value_t = 10_000)]
    pub services: usize,
    /// Concurrent client tasks for creates and gets.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Watch events to time.
    #[arg(long, default_value_t = 500)]
    pub watch_events: usize,
    /// What to run, one fresh cluster each: `apiserver` (`mkube apiserver`
    /// alone, what the API server's own figures are about) and `up` (the
    /// whole `mkube up`, where every Service also gets Endpoints, an
    /// EndpointSlice, proxy frontends and DNS records in the same process).
    #[arg(long, value_delimiter = ',', default_value = "apiserver,up")]
    pub components: Vec<Component>,
    /// Also run on etcd, side by side with sled: its client URLs, or `auto`
    /// to start a local single-member etcd (the `etcd` binary on the PATH).
    #[arg(long)]
    pub etcd: Option<String>,
}

/// The `mkube` subcommand a benchmark cluster runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Component {
    Apiserver,
    Up,
}

impl Component {
    pub(super) fn subcommand(self) -> &'static str {
        match self {
            Component::Apiserver => "apiserver",
            Component::Up => "up",
        }
    }
}

pub async fn run(args: ApiBenchArgs) -> anyhow::Result<()> {
    let local = match args.etcd.as_deref() {
        Some("auto") => Some(LocalEtcd::start(&tempdir()?.join("etcd")).await?),
        _ => None,
    };
    let servers = local.as_ref().map(|l| l.url.clone()).or(args.etcd.clone());
    let mut runs = Vec::new();
    for &component in &args.components {
        let name = component.subcommand();
        println!("== mkube {name}, sled (embedded store)");
        runs.push((
            format!("{name}, sled"),
            measure(&args, component, Vec::new(), None).await?,
        ));
        let Some(servers) = &servers else { continue };
        println!("== mkube {name}, etcd ({servers})");
        let backend = vec![
            "--etcd-servers".to_string(),
            servers.clone(),
            "--etcd-prefix".to_string(),
            format!("/mkube-bench-{}-{name}", std::process::id()),
        ];
        let etcd_pid = local.as_ref().map(LocalEtcd::pid);
        runs.push((
            format!("{name}, etcd"),
            measure(&args, component, backend, etcd_pid).await?,
        ));
    }
    if let Some(l) = &local {
        println!("etcd member RSS: {:.1} MiB", l.rss_kib()? as f64 / 1024.0);
    }
    println!();
    print_table(&runs);
    Ok(())
}

/// The figures of one run, for the side-by-side table.
struct Figures {
    ready_empty: Duration,
    ready_loaded: Duration,
    rss_idle_kib: u64,
    rss_loaded_kib: u64,
    create: Summary,
    create_rate: f64,
    /// CPU seconds per 1000 creates: the cluster process, its DNS pod, the
    /// local etcd member (NaN when there is none), the client.
    create_cpu: [f64; 4],
    get: Summary,
    table: Summary,
    watch: Summary,
}

/// One column per run (component and store), as a Markdown table.
fn print_table(runs: &[(String, Figures)]) {
    let header: Vec<&str> = runs.iter().map(|(name, _)| name.as_str()).collect();
    println!("| measure | {} |", header.join(" | "));
    println!("|---|{}", "---|".repeat(runs.len()));
    let row = |what: &str, cell: &dyn Fn(&Figures) -> String| {
        let cells: Vec<String> = runs.iter().map(|(_, f)| cell(f)).collect();
        println!("| {what} | {} |", cells.join(" | "));
    };
    let mib = |k: u64| format!("{:.1} MiB", k as f64 / 1024.0);
    let millis = |d: Duration| format!("{:.2} ms", ms(d));
    row("start-up to /readyz, empty", &|f| millis(f.ready_empty));
    row("start-up to /readyz, loaded", &|f| millis(f.ready_loaded));
    row("idle RSS", &|f| mib(f.rss_idle_kib));
    row("loaded RSS", &|f| mib(f.rss_loaded_kib));
    row("create p50 / p99", &|f| {
        format!("{} / {}", millis(f.create.p50), millis(f.create.p99))
    });
    row("creates/s", &|f| format!("{:.0}", f.create_rate));
    row("CPU s per 1000 creates (cluster / etcd / client)", &|f| {
        let etcd = match f.create_cpu[2] {
            cpu if cpu.is_nan() => "-".to_string(),
            cpu => format!("{cpu:.2}"),
        };
        format!(
            "{:.2} / {etcd} / {:.2}",
            f.create_cpu[0] + f.create_cpu[1].max(0.0),
            f.create_cpu[3]
        )
    });
    row("get p50 / p99", &|f| {
        format!("{} / {}", millis(f.get.p50), millis(f.get.p99))
    });
    row("list as Table p50", &|f| millis(f.table.p50));
    row("watch delivery p50 / p99", &|f| {
        format!("{} / {}", millis(f.watch.p50), millis(f.watch.p99))
    });
}

/// One full run on a fresh cluster started with `backend` flags.
async fn measure(
    args: &ApiBenchArgs,
    component: Component,
    backend: Vec<String>,
    etcd_pid: Option<u32>,
) -> anyhow::Result<Figures> {
    let label = format!("{}-{}", component.subcommand(), backend.len());
    let dir = tempdir()?.join(label);
    std::fs::create_dir_all(&dir)?;
    let mut cluster = BenchCluster::new(&dir)?;
    cluster.subcommand = component.subcommand();
    cluster.extra_args = backend.clone();
    let Startup {
        ready: ready_empty,
        rss_idle_kib: rss_idle,
    } = cluster.start_idle().await?;

    let client = cluster.client().await?;
    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    let started = Instant::now();
    // CPU per 1000 creates: the cluster process, its pods (cluster DNS
    // watches every Service), the etcd member, and this client (TLS,
    // encoding): on two cores they all compete.
    let [root, dns, client_pid] = cluster_dns_and_self(&cluster).await?;
    let pids = [root, dns, etcd_pid.unwrap_or(0), client_pid];
    let thousands = args.services as f64 / 1000.0;
    let (create, cpu) = with_cpu(
        pids,
        thousands,
        create_services(&services, args.services, args.concurrency),
    )
    .await?;
    let create_rate = args.services as f64 / started.elapsed().as_secs_f64();
    println!(
        "create {} services ({} concurrent): {create}; {create_rate:.0} creates/s",
        args.services, args.concurrency
    );
    println!(
        "  CPU per 1000 creates: cluster process {:.2} s, its cluster DNS pod {:.2} s, etcd {:.2} s, this client {:.2} s",
        cpu[0], cpu[1], cpu[2], cpu[3]
    );

    let get = concurrent(2000, args.concurrency, {
        let services = services.clone();
        let n = args.services;
        move |i| {
            let services = services.clone();
            async move {
                let t = Instant::now();
                services.get(&format!("svc-{}", i % n)).await?;
                Ok(t.elapsed())
            }
        }
    })
    .await?;
    println!("get: {get}");

    let mut table_times = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let req = http::Request::get("/api/v1/namespaces/default/services")
            .header(
                "Accept",
                "application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
            )
            .body(Vec::new())?;
        let text = client.request_text(req).await?;
        anyhow::ensure!(text.contains("\"rows\""), "not a table");
        table_times.push(t.elapsed());
    }
    let table = Summary::of(table_times);
    println!("list {} services as a Table: {table}", args.services);
    let rss_loaded = cluster.rss_kib()?;
    println!(
        "RSS with {} services: {:.1} MiB",
        args.services,
        rss_loaded as f64 / 1024.0
    );

    let watch = watch_latency(&client, args.watch_events).await?;
    println!("watch delivery (write sent to event received): {watch}");

    cluster.stop();
    let mut cluster2 = BenchCluster::new(&dir)?;
    cluster2.port = cluster.port;
    cluster2.subcommand = cluster.subcommand;
    cluster2.extra_args = backend;
    let ready_loaded = cluster2.start().await?;
    println!(
        "start-up to /readyz ({} services stored): {:.1} ms",
        args.services,
        ms(ready_loaded)
    );
    cluster2.stop();
    let _ = std::fs::remove_dir_all(&dir);
    Ok(Figures {
        ready_empty,
        ready_loaded,
        rss_idle_kib: rss_idle,
        rss_loaded_kib: rss_loaded,
        create,
        create_rate,
        create_cpu: cpu,
        get,
        table,
        watch,
    })
}

/// The cluster process, its cluster DNS pod's process (0 if it does not
/// run, as without root) and this process.
async fn cluster_dns_and_self(cluster: &BenchCluster) -> anyhow::Result<[u32; 3]> {
    use anyhow::Context;
    let root = cluster.pid().context("cluster not running")?;
    let mut dns = 0;
    // Only `mkube up` runs the cluster DNS pod.
    let tries = if cluster.subcommand == "up" { 50 } else { 0 };
    for _ in 0..tries {
        if let Some((pid, _)) = descendants(root)
            .into_iter()
            .find(|(_, cmd)| cmd.contains("coredns"))
        {
            dns = pid;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok([root, dns, std::process::id()])
}

pub(super) fn service(i: usize) -> Service {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": format!("svc-{i}"), "labels": {"app": format!("app-{}", i % 50)}},
        "spec": {"selector": {"app": format!("app-{}", i % 50)}, "ports": [{"port": 80, "targetPort": 8080}]}
    }))
    .expect("static service shape")
}

/// Creates Services `svc-0` .. `svc-{n-1}` ([`service`]) with `concurrency`
/// clients; the create latencies.
pub(super) async fn create_services(
    api: &Api<Service>,
    n: usize,
    concurrency: usize,
) -> anyhow::Result<Summary> {
    let api = api.clone();
    concurrent(n, concurrency, move |i| {
        let api = api.clone();
        async move {
            let t = Instant::now();
            api.create(&PostParams::default(), &service(i)).await?;
            Ok(t.elapsed())
        }
    })
    .await
}

/// Runs `n` operations with `concurrency` tasks; returns their latencies.
pub(super) async fn concurrent<F, Fut>(
    n: usize,
    concurrency: usize,
    op: F,
) -> anyhow::Result<Summary>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<Duration>> + Send,
{
    let op = Arc::new(op);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (op, next) = (op.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= n {
                    return anyhow::Ok(samples);
                }
                samples.push(op(i).await?);
            }
        }));
    }
    let mut all = Vec::with_capacity(n);
    for t in tasks {
        all.extend(t.await??);
    }
    Ok(Summary::of(all))
}

/// Time from sending a write to the watcher receiving its event (the write's
/// own round trip included, so this is an upper bound on delivery latency).
async fn watch_latency(client: &kube::Client, events: usize) -> anyhow::Result<Summary> {
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let list = cms.list(&Default::default()).await?;
    let rv = list.metadata.resource_version.unwrap_or_default();
    let mut stream = cms.watch(&WatchParams::default(), &rv).await?.boxed();
    let mut samples = Vec::with_capacity(events);
    for i in 0..events {
        let cm: ConfigMap = serde_json::from_value(
            serde_json::json!({"metadata": {"name": format!("watch-{i}")}}),
        )?;
        let t = Instant::now();
        cms.create(&PostParams::default(), &cm).await?;
        loop {
            match stream.next().await {
                Some(Ok(WatchEvent::Added(obj)))
                    if obj.metadata.name.as_deref() == Some(&format!("watch-{i}")) =>
                {
                    break
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => anyhow::bail!("watch failed: {e}"),
                None => anyhow::bail!("watch ended"),
            }
        }
        samples.push(t.elapsed());
    }
    Ok(Summary::of(samples))
}
