//! The Service allocator benchmark: allocate and release N ClusterIPs and
//! every NodePort of the range through the API, cycle after cycle, on one
//! API server; creates/s, deletes/s, the server's RSS and its allocators'
//! gauges (`/metrics`) after each cycle.
//!
//! Each cycle checks what it measures: every ClusterIP and NodePort handed
//! out is distinct, the NodePort range is used to its last port, one more
//! NodePort Service is refused, and after the deletes the next cycle again
//! gets the whole range (a leak would make it run out early).

use super::api::{concurrent, service, Component};
use super::cluster::{tempdir, BenchCluster};
use super::stats::{ms, Summary};
use anyhow::Context;
use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, DeleteParams, PostParams};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct ServicesBenchArgs {
    /// ClusterIP Services created (and deleted) per cycle.
    #[arg(long, default_value_t = 10_000)]
    pub services: usize,
    /// Allocate-and-release cycles, on one API server.
    #[arg(long, default_value_t = 3)]
    pub cycles: usize,
    /// Concurrent client tasks.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// NodePort range of the cluster; the benchmark uses all of it.
    #[arg(long, default_value = "30000-32767")]
    pub node_port_range: String,
    /// What runs: `mkube apiserver` (the allocators alone) or `mkube up`.
    #[arg(long, value_enum, default_value = "apiserver")]
    pub component: Component,
}

/// What one cycle measured.
struct Cycle {
    cluster_ip: Rate,
    node_port: Rate,
    delete: Rate,
    rss_full_kib: u64,
    rss_released_kib: u64,
    /// The API server's allocator gauges with the range full and after the
    /// deletes.
    held_full: Held,
    held_released: Held,
}

/// ClusterIPs (all Service CIDRs) and NodePorts the API server's allocators
/// count as handed out, from its `/metrics` (kube-apiserver's gauges).
#[derive(Clone, Copy, PartialEq, Debug)]
struct Held {
    ips: f64,
    ports: f64,
}

impl Held {
    async fn read(client: &kube::Client) -> anyhow::Result<Held> {
        let req = http::Request::get("/metrics").body(Vec::new())?;
        let text = client.request_text(req).await.context("reading /metrics")?;
        let gauge = |name: &str| {
            apiserver::metrics::total(&text, name)
                .with_context(|| format!("/metrics has no {name}"))
        };
        let ips = gauge("kube_apiserver_clusterip_allocator_allocated_ips")?;
        let ports = gauge("kube_apiserver_nodeport_allocator_allocated_ports")?;
        Ok(Held { ips, ports })
    }
}

impl std::fmt::Display for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} IPs / {} ports", self.ips, self.ports)
    }
}

/// Latencies and throughput of one batch of operations.
struct Rate {
    latency: Summary,
    per_second: f64,
}

pub async fn run(args: ServicesBenchArgs) -> anyhow::Result<()> {
    let ports = node_port_count(&args.node_port_range)?;
    let dir = tempdir()?.join("services");
    std::fs::create_dir_all(&dir)?;
    let mut cluster = BenchCluster::new(&dir)?;
    cluster.subcommand = args.component.subcommand();
    cluster.extra_args = vec![
        "--service-node-port-range".into(),
        args.node_port_range.clone(),
    ];
    cluster.start().await?;
    let client = cluster.client().await?;
    let api: Api<Service> = Api::namespaced(client.clone(), "default");
    let rss_start = cluster.rss_kib()?;
    let held_start = Held::read(&client).await?;
    println!(
        "mkube {}: {} ClusterIP Services and {ports} NodePort Services per cycle, {} concurrent; RSS at start {:.1} MiB, allocators hold {held_start}",
        cluster.subcommand,
        args.services,
        args.concurrency,
        mib(rss_start)
    );
    let mut cycles = Vec::new();
    for n in 1..=args.cycles {
        let cycle = run_cycle(&args, &api, &cluster, ports).await?;
        println!(
            "cycle {n}: ClusterIP creates {:.0}/s ({}), NodePort creates {:.0}/s, deletes {:.0}/s; RSS full {:.1} MiB, released {:.1} MiB; allocators hold {} full, {} released",
            cycle.cluster_ip.per_second,
            cycle.cluster_ip.latency,
            cycle.node_port.per_second,
            cycle.delete.per_second,
            mib(cycle.rss_full_kib),
            mib(cycle.rss_released_kib),
            cycle.held_full,
            cycle.held_released,
        );
        let expected_full = Held {
            ips: held_start.ips + (args.services + ports) as f64,
            ports: held_start.ports + ports as f64,
        };
        anyhow::ensure!(
            cycle.held_full == expected_full,
            "cycle {n}: the allocators hold {} with the range full, expected {expected_full}",
            cycle.held_full
        );
        anyhow::ensure!(
            cycle.held_released == held_start,
            "cycle {n}: the allocators still hold {} after the deletes, {held_start} at start: a leak",
            cycle.held_released
        );
        cycles.push(cycle);
    }
    cluster.stop();
    let _ = std::fs::remove_dir_all(&dir);
    println!();
    print_table(&cycles);
    Ok(())
}

/// Creates the ClusterIP Services, then NodePort Services until the range
/// is full, checks the refusal of one more, deletes everything.
async fn run_cycle(
    args: &ServicesBenchArgs,
    api: &Api<Service>,
    cluster: &BenchCluster,
    ports: usize,
) -> anyhow::Result<Cycle> {
    let seen = Arc::new(Allocated::default());
    let cluster_ip = create_all(api, args.services, args.concurrency, &seen, service).await?;
    let node_port = create_all(api, ports, args.concurrency, &seen, node_port_service).await?;
    seen.check(args.services + ports, ports)?;
    refused_when_full(api, ports).await?;
    let rss_full_kib = cluster.rss_kib()?;
    let held_full = Held::read(&api.clone().into_client()).await?;

    let mut names: Vec<String> = (0..args.services).map(|i| format!("svc-{i}")).collect();
    names.extend((0..ports).map(|i| format!("np-{i}")));
    let delete = delete_all(api, names, args.concurrency).await?;
    // Let the allocator follow its storage watch before measuring.
    tokio::time::sleep(Duration::from_millis(500)).await;
    Ok(Cycle {
        cluster_ip,
        node_port,
        delete,
        rss_full_kib,
        rss_released_kib: cluster.rss_kib()?,
        held_full,
        held_released: Held::read(&api.clone().into_client()).await?,
    })
}

/// What the creates of one cycle were given.
#[derive(Default)]
struct Allocated {
    cluster_ips: Mutex<HashSet<String>>,
    node_ports: Mutex<HashSet<i32>>,
    services: std::sync::atomic::AtomicUsize,
}

impl Allocated {
    fn record(&self, svc: &Service) {
        self.services
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let Some(spec) = &svc.spec else { return };
        if let Ok(mut ips) = self.cluster_ips.lock() {
            ips.extend(spec.cluster_ips.iter().flatten().cloned());
        }
        if let Ok(mut ports) = self.node_ports.lock() {
            ports.extend(spec.ports.iter().flatten().filter_map(|p| p.node_port));
        }
    }

    /// Every Service got its own ClusterIP, every NodePort Service its own port.
    fn check(&self, services: usize, node_ports: usize) -> anyhow::Result<()> {
        let created = self.services.load(std::sync::atomic::Ordering::Relaxed);
        let ips = self.cluster_ips.lock().map(|s| s.len()).unwrap_or(0);
        let ports = self.node_ports.lock().map(|s| s.len()).unwrap_or(0);
        anyhow::ensure!(
            created == services && ips == services && ports == node_ports,
            "{created} Services created, {ips} distinct ClusterIPs, {ports} distinct NodePorts; expected {services}, {services}, {node_ports}"
        );
        Ok(())
    }
}

fn node_port_service(i: usize) -> Service {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": format!("np-{i}")},
        "spec": {"type": "NodePort", "selector": {"app": "np"}, "ports": [{"port": 80}]}
    }))
    .expect("static service shape")
}

async fn create_all(
    api: &Api<Service>,
    n: usize,
    concurrency: usize,
    seen: &Arc<Allocated>,
    make: fn(usize) -> Service,
) -> anyhow::Result<Rate> {
    let started = Instant::now();
    let (api, seen) = (api.clone(), seen.clone());
    let latency = concurrent(n, concurrency, move |i| {
        let (api, seen) = (api.clone(), seen.clone());
        async move {
            let t = Instant::now();
            let svc = api.create(&PostParams::default(), &make(i)).await?;
            let took = t.elapsed();
            seen.record(&svc);
            Ok(took)
        }
    })
    .await?;
    Ok(Rate {
        latency,
        per_second: n as f64 / started.elapsed().as_secs_f64(),
    })
}

/// One NodePort Service more than the range holds gets kube-apiserver's
/// "range is full" error.
async fn refused_when_full(api: &Api<Service>, ports: usize) -> anyhow::Result<()> {
    let err = match api
        .create(&PostParams::default(), &node_port_service(ports))
        .await
    {
        Ok(_) => anyhow::bail!("a NodePort Service was created with the range full"),
        Err(kube::Error::Api(status)) => status,
        Err(e) => return Err(e).context("creating a NodePort Service with the range full"),
    };
    anyhow::ensure!(
        err.message.contains("range is full"),
        "unexpected refusal with the range full: {} ({})",
        err.message,
        err.code
    );
    Ok(())
}

async fn delete_all(
    api: &Api<Service>,
    names: Vec<String>,
    concurrency: usize,
) -> anyhow::Result<Rate> {
    let started = Instant::now();
    let n = names.len();
    let names = Arc::new(names);
    let api = api.clone();
    let latency = concurrent(n, concurrency, move |i| {
        let (api, names) = (api.clone(), names.clone());
        async move {
            let t = Instant::now();
            api.delete(&names[i], &DeleteParams::default()).await?;
            Ok(t.elapsed())
        }
    })
    .await?;
    Ok(Rate {
        latency,
        per_second: n as f64 / started.elapsed().as_secs_f64(),
    })
}

fn node_port_count(range: &str) -> anyhow::Result<usize> {
    let (lo, hi) = range
        .split_once('-')
        .and_then(|(lo, hi)| Some((lo.parse::<usize>().ok()?, hi.parse::<usize>().ok()?)))
        .context("--node-port-range must look like 30000-32767")?;
    anyhow::ensure!(lo <= hi, "--node-port-range is empty");
    Ok(hi - lo + 1)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// One row per cycle, as a Markdown table.
fn print_table(cycles: &[Cycle]) {
    println!("| cycle | ClusterIP creates/s | create p50 / p99 | NodePort creates/s | deletes/s | RSS full | RSS released | IPs / ports held: full → released |");
    println!("|---|---|---|---|---|---|---|---|");
    for (n, c) in cycles.iter().enumerate() {
        println!(
            "| {} | {:.0} | {:.2} / {:.2} ms | {:.0} | {:.0} | {:.1} MiB | {:.1} MiB | {} / {} → {} / {} |",
            n + 1,
            c.cluster_ip.per_second,
            ms(c.cluster_ip.latency.p50),
            ms(c.cluster_ip.latency.p99),
            c.node_port.per_second,
            c.delete.per_second,
            mib(c.rss_full_kib),
            mib(c.rss_released_kib),
            c.held_full.ips,
            c.held_full.ports,
            c.held_released.ips,
            c.held_released.ports,
        );
    }
}
