//! The pods benchmark (issue #5): real pods of builtin images, run as
//! processes by the node agent of a real `mkube up`.
//!
//! The pods run on a second node whose agent is its own `mkube nodeagent`
//! process, so that the agent's memory is measured apart from the API
//! server and controllers (the "agent overhead per pod").
//!
//! Measured: create-to-Ready latency, one pod at a time (the create request
//! sent to the watch event showing the pod Ready), per image; then N pods at
//! once through a Deployment, the time until all are Ready, and the memory
//! of the agent and of the `mkube up` process before and with them, next to
//! the pod processes' own. Everything is deleted and the cluster stopped at
//! the end; a pod process left behind is an error.

use super::cluster::{cmdline_of, descendants, rss_kib_of, tempdir, BenchAgent, BenchCluster};
use super::stats::Summary;
use super::watched::Watched;
use anyhow::Context;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::runtime::watcher;
use kube::ResourceExt;
use serde_json::json;
use std::collections::HashMap;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct PodsBenchArgs {
    /// Pods created one after the other, per image.
    #[arg(long, default_value_t = 100)]
    pub sequential: usize,
    /// Builtin images timed one pod at a time.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "registry.k8s.io/pause:3.10,nginx:1.27"
    )]
    pub images: Vec<String>,
    /// Replicas of the Deployment started at once.
    #[arg(long, default_value_t = 500)]
    pub pods: usize,
}

const NAMESPACE: &str = "default";
const LABEL: &str = "mkube-bench";
/// The node the benchmark's own agent registers; every pod is pinned to it.
const NODE: &str = "bench-pods";
/// Its address: on loopback, apart from `mkube up`'s own node (127.0.0.1).
const NODE_IP: &str = "127.0.0.2";

pub async fn run(args: PodsBenchArgs) -> anyhow::Result<()> {
    let dir = tempdir()?;
    let mut cluster = BenchCluster::new(&dir)?;
    // The node's pod range must hold every pod (and the DNS add-on).
    let mask = 32 - (args.pods + 16).next_power_of_two().trailing_zeros();
    let max_pods = vec!["--max-pods".to_string(), (args.pods + 16).to_string()];
    cluster.extra_args = vec!["--node-cidr-mask-size".into(), mask.to_string()];
    cluster.extra_args.extend(max_pods.clone());
    cluster.start().await?;
    let agent = BenchAgent::start(&cluster, NODE, NODE_IP, &max_pods).await?;
    let client = cluster.client().await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), NAMESPACE);
    let ready = ReadyPods::watch(&pods).await?;
    let pid = cluster.pid().context("cluster not running")?;

    for image in &args.images {
        let latency = sequential(&pods, &ready, image, args.sequential).await?;
        println!("create to Ready, one at a time, {image}: {latency} (target p99 < 200 ms)");
        delete_all(&pods, &ready, "seq").await?;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = Memory::of(pid, agent.pid())?;
    let bulk = bulk(&client, &ready, args.pods).await?;
    println!(
        "{} pods (Deployment): create to all Ready {:.2} s (target < 10 s)",
        args.pods,
        bulk.as_secs_f64()
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let with = Memory::of(pid, agent.pid())?;
    let procs = processes_under(agent.pid());
    report_memory(&before, &with, args.pods, &procs);

    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NAMESPACE);
    deployments
        .delete("bulk", &DeleteParams::background())
        .await?;
    ready.wait_gone("bulk", Duration::from_secs(120)).await?;
    agent.stop();
    cluster.stop();
    let _ = std::fs::remove_dir_all(&dir);
    ensure_exited(&procs)
}

/// Pods of the benchmark by name: whether they exist and when they were
/// first seen Ready.
#[derive(Default)]
struct PodTimes {
    ready_at: HashMap<String, Option<Instant>>,
}

struct ReadyPods(Watched<PodTimes>);

impl ReadyPods {
    async fn watch(pods: &Api<Pod>) -> anyhow::Result<ReadyPods> {
        let mut view = Watched::new(PodTimes::default());
        view.feed(
            pods.clone(),
            watcher::Config::default().labels(LABEL),
            |st, pod, deleted, at| {
                let name = pod.name_any();
                if deleted {
                    st.ready_at.remove(&name);
                    return;
                }
                let seen = st.ready_at.entry(name).or_default();
                if seen.is_none() && is_ready(pod) {
                    *seen = Some(at);
                }
            },
        )
        .await?;
        Ok(ReadyPods(view))
    }

    async fn ready_at(&self, name: &str) -> anyhow::Result<Instant> {
        self.0
            .wait_for(Duration::from_secs(60), |st| {
                st.ready_at.get(name).copied().flatten()
            })
            .await
            .with_context(|| format!("pod {name} not Ready"))
    }

    /// When `n` pods named `prefix-...` were all Ready.
    async fn all_ready(&self, prefix: &str, n: usize) -> anyhow::Result<Instant> {
        self.0
            .wait_for(Duration::from_secs(300), |st| {
                let times: Vec<Instant> = st
                    .ready_at
                    .iter()
                    .filter(|(k, _)| k.starts_with(prefix))
                    .filter_map(|(_, t)| *t)
                    .collect();
                (times.len() >= n)
                    .then(|| times.into_iter().max())
                    .flatten()
            })
            .await
            .with_context(|| format!("{n} {prefix} pods not Ready"))
    }

    async fn wait_gone(&self, prefix: &str, timeout: Duration) -> anyhow::Result<()> {
        self.0
            .wait_for(timeout, |st| {
                (!st.ready_at.keys().any(|k| k.starts_with(prefix))).then_some(())
            })
            .await
            .with_context(|| format!("{prefix} pods not deleted"))
    }
}

fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Create-to-Ready of `n` pods of `image`, one after the other.
async fn sequential(
    pods: &Api<Pod>,
    ready: &ReadyPods,
    image: &str,
    n: usize,
) -> anyhow::Result<Summary> {
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let name = format!("seq-{i}");
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": name, "labels": {LABEL: "seq"}},
            "spec": {"nodeSelector": node_selector(), "containers": [{"name": "c", "image": image}]},
        }))?;
        let sent = Instant::now();
        pods.create(&PostParams::default(), &pod).await?;
        samples.push(ready.ready_at(&name).await?.saturating_duration_since(sent));
    }
    Ok(Summary::of(samples))
}

async fn delete_all(pods: &Api<Pod>, ready: &ReadyPods, prefix: &str) -> anyhow::Result<()> {
    let selector = ListParams::default().labels(&format!("{LABEL}={prefix}"));
    pods.delete_collection(&DeleteParams::default(), &selector)
        .await?;
    ready.wait_gone(prefix, Duration::from_secs(120)).await
}

/// A Deployment of `n` pause pods: the time from its create to all Ready.
async fn bulk(client: &kube::Client, ready: &ReadyPods, n: usize) -> anyhow::Result<Duration> {
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NAMESPACE);
    let d: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "bulk"},
        "spec": {
            "replicas": n,
            "selector": {"matchLabels": {LABEL: "bulk"}},
            "template": {
                "metadata": {"labels": {LABEL: "bulk"}},
                "spec": {
                    "nodeSelector": node_selector(),
                    "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}],
                },
            },
        },
    }))?;
    let sent = Instant::now();
    deployments.create(&PostParams::default(), &d).await?;
    Ok(ready
        .all_ready("bulk", n)
        .await?
        .saturating_duration_since(sent))
}

/// A process under the cluster: pid, RSS in KiB, command line.
struct Proc {
    pid: u32,
    rss_kib: u64,
    /// Resident and not shared with another process, in KiB.
    private_kib: u64,
    cmdline: String,
}

/// Every process descended from `root`, with its memory.
fn processes_under(root: u32) -> Vec<Proc> {
    descendants(root)
        .into_iter()
        .map(|(pid, cmdline)| Proc {
            pid,
            rss_kib: rss_kib_of(pid).unwrap_or(0),
            private_kib: private_kib_of(pid),
            cmdline,
        })
        .collect()
}

fn node_selector() -> serde_json::Value {
    json!({"kubernetes.io/hostname": NODE})
}

/// RSS in KiB of the agent process and of `mkube up`.
struct Memory {
    agent: u64,
    cluster: u64,
}

impl Memory {
    fn of(cluster: u32, agent: u32) -> anyhow::Result<Memory> {
        Ok(Memory {
            agent: rss_kib_of(agent)?,
            cluster: rss_kib_of(cluster)?,
        })
    }
}

fn report_memory(before: &Memory, with: &Memory, n: usize, procs: &[Proc]) {
    let mib = |k: u64| k as f64 / 1024.0;
    let per_pod = |b: u64, w: u64| w.saturating_sub(b) as f64 / n as f64;
    println!(
        "agent RSS (mkube nodeagent): {:.1} MiB before, {:.1} MiB with {n} pods: {:.1} KiB per pod (target < 100 KiB)",
        mib(before.agent),
        mib(with.agent),
        per_pod(before.agent, with.agent)
    );
    println!(
        "mkube up RSS (API server, controllers, its own idle node): {:.1} MiB before, {:.1} MiB with {n} pods: {:.1} KiB per pod (reported)",
        mib(before.cluster),
        mib(with.cluster),
        per_pod(before.cluster, with.cluster)
    );
    let pause: Vec<&Proc> = procs
        .iter()
        .filter(|p| p.cmdline.contains("pause"))
        .collect();
    let total: u64 = pause.iter().map(|p| p.rss_kib).sum();
    let private: u64 = pause.iter().map(|p| p.private_kib).sum();
    let count = pause.len().max(1) as f64;
    println!(
        "pod processes: {} pause processes, {:.1} KiB RSS on average ({:.1} KiB private, the rest shared pages of the mkube binary); {} other processes under the agent",
        pause.len(),
        total as f64 / count,
        private as f64 / count,
        procs.len() - pause.len()
    );
}

/// Private (not shared) resident memory of a process, in KiB, from
/// `/proc/PID/smaps_rollup`.
fn private_kib_of(pid: u32) -> u64 {
    let Ok(rollup) = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")) else {
        return 0;
    };
    rollup
        .lines()
        .filter(|l| l.starts_with("Private_Clean:") || l.starts_with("Private_Dirty:"))
        .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        .sum()
}

/// After the cluster stopped, none of its pod processes may remain; any
/// that did (same pid, same command line) is killed and reported.
fn ensure_exited(procs: &[Proc]) -> anyhow::Result<()> {
    std::thread::sleep(Duration::from_millis(500));
    let left: Vec<u32> = procs
        .iter()
        .filter(|p| cmdline_of(p.pid).as_ref() == Some(&p.cmdline))
        .map(|p| p.pid)
        .collect();
    for pid in &left {
        // SAFETY: signalling a process the benchmark's cluster started.
        unsafe { libc::kill(*pid as i32, libc::SIGKILL) };
    }
    anyhow::ensure!(left.is_empty(), "processes left behind (killed): {left:?}");
    Ok(())
}
