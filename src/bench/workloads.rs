//! The workloads benchmark (issue #22): the workload controllers driving
//! real pods on three real node agents.
//!
//! The control plane runs as separate processes — `mkube apiserver`,
//! `mkube controllers` (the controllers and the scheduler) and three
//! `mkube nodeagent`s on 127.0.0.2-4 — so the controllers' CPU time is
//! read from their own process. Each scenario is timed from its create to
//! the controller's own status saying it is done:
//!
//! - a ReplicaSet of N pods to all Ready: the baseline, through the
//!   controller that existed before this issue;
//! - a Parallel StatefulSet of N pods to `readyReplicas == N`;
//! - a Job of M completions at parallelism P to its Complete condition;
//! - a DaemonSet to one Ready pod per node, then an image rollout to every
//!   pod updated and available.
//!
//! Each scenario's objects are deleted, and their pods gone, before the
//! next starts, so its CPU is its own.

use super::cluster::{cpu_seconds_of, tempdir, BenchAgent, BenchCluster};
use anyhow::Context;
use k8s_openapi::api::apps::v1::{DaemonSet, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde::de::DeserializeOwned;
use serde_json::json;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct WorkloadsBenchArgs {
    /// Replicas of the StatefulSet (and of the baseline ReplicaSet).
    #[arg(long, default_value_t = 100)]
    pub replicas: i32,
    /// Completions of the Job.
    #[arg(long, default_value_t = 1000)]
    pub completions: i32,
    /// Parallelism of the Job.
    #[arg(long, default_value_t = 50)]
    pub parallelism: i32,
}

const NS: &str = "default";
const NODES: [(&str, &str); 3] = [
    ("bench-w1", "127.0.0.2"),
    ("bench-w2", "127.0.0.3"),
    ("bench-w3", "127.0.0.4"),
];
/// How long one scenario may take before the benchmark gives up on it.
const LIMIT: Duration = Duration::from_secs(300);

/// One measured scenario.
struct Row {
    name: String,
    pods: usize,
    elapsed: Duration,
    controller_cpu: f64,
    apiserver_cpu: f64,
}

/// `mkube controllers` as its own process. Killed on drop.
struct ControllersProcess(Child);

impl ControllersProcess {
    fn start(cluster: &BenchCluster) -> anyhow::Result<Self> {
        let log = std::fs::File::create(cluster.data_dir.join("bench-controllers.log"))?;
        let child = Command::new(std::env::current_exe()?)
            .args(["controllers", "--kubeconfig"])
            .arg(cluster.data_dir.join("kubeconfig"))
            .args([
                "--cluster-cidr",
                "127.244.0.0/16",
                "--node-cidr-mask-size",
                "22",
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting mkube controllers")?;
        Ok(ControllersProcess(child))
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for ControllersProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub async fn run(args: WorkloadsBenchArgs) -> anyhow::Result<()> {
    let dir = tempdir()?.join("workloads");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let mut cluster = BenchCluster::new(&dir)?;
    cluster.subcommand = "apiserver";
    cluster.start().await?;
    let controllers = ControllersProcess::start(&cluster)?;
    let mut agents = Vec::new();
    for (name, ip) in NODES {
        agents.push(BenchAgent::start(&cluster, name, ip, &[]).await?);
        println!("node {name} Ready");
    }
    let client = cluster.client().await?;
    let pids = Pids {
        controllers: controllers.pid(),
        apiserver: cluster.pid().context("apiserver not running")?,
    };
    let mut rows = Vec::new();
    rows.push(replica_set(&client, &pids, args.replicas).await?);
    rows.push(stateful_set(&client, &pids, args.replicas).await?);
    rows.push(job(&client, &pids, args.completions, args.parallelism).await?);
    rows.extend(daemon_set(&client, &pids).await?);
    for a in agents {
        a.stop();
    }
    drop(controllers);
    cluster.stop();
    let _ = std::fs::remove_dir_all(&dir);
    print_table(&rows);
    Ok(())
}

struct Pids {
    controllers: u32,
    apiserver: u32,
}

impl Pids {
    fn cpu(&self) -> (f64, f64) {
        (
            cpu_seconds_of(self.controllers).unwrap_or(f64::NAN),
            cpu_seconds_of(self.apiserver).unwrap_or(f64::NAN),
        )
    }
}

/// Times `work` (create + wait) and the CPU each control-plane process
/// spent meanwhile.
async fn measure<F>(pids: &Pids, name: &str, pods: usize, work: F) -> anyhow::Result<Row>
where
    F: std::future::Future<Output = anyhow::Result<()>>,
{
    println!("{name}: running");
    let (c0, a0) = pids.cpu();
    let started = Instant::now();
    work.await.with_context(|| name.to_string())?;
    let elapsed = started.elapsed();
    let (c1, a1) = pids.cpu();
    println!("{name}: {:.2} s", elapsed.as_secs_f64());
    Ok(Row {
        name: name.to_string(),
        pods,
        elapsed,
        controller_cpu: c1 - c0,
        apiserver_cpu: a1 - a0,
    })
}

/// Polls `done` on the object until it holds.
async fn wait_for<K>(api: &Api<K>, name: &str, done: impl Fn(&K) -> bool) -> anyhow::Result<()>
where
    K: kube::Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    let started = Instant::now();
    loop {
        if api.get_opt(name).await?.as_ref().is_some_and(&done) {
            return Ok(());
        }
        anyhow::ensure!(started.elapsed() < LIMIT, "{name} not done after {LIMIT:?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Deletes the object and waits until no pod of `label` is left.
async fn clean_up<K>(
    client: &kube::Client,
    api: &Api<K>,
    name: &str,
    label: &str,
) -> anyhow::Result<()>
where
    K: kube::Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    api.delete(name, &DeleteParams::background()).await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    let started = Instant::now();
    while !pods
        .list(&ListParams::default().labels(label))
        .await?
        .items
        .is_empty()
    {
        anyhow::ensure!(
            started.elapsed() < LIMIT,
            "pods of {name} not gone after {LIMIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

fn pod_template(app: &str, image: &str) -> serde_json::Value {
    json!({
        "metadata": {"labels": {"app": app}},
        "spec": {"terminationGracePeriodSeconds": 0,
                 "containers": [{"name": "main", "image": image}]}
    })
}

async fn create<K>(api: &Api<K>, obj: serde_json::Value) -> anyhow::Result<()>
where
    K: kube::Resource + Clone + DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let typed: K = serde_json::from_value(obj)?;
    api.create(&PostParams::default(), &typed).await?;
    Ok(())
}

async fn replica_set(client: &kube::Client, pids: &Pids, n: i32) -> anyhow::Result<Row> {
    let api: Api<ReplicaSet> = Api::namespaced(client.clone(), NS);
    let name = format!("ReplicaSet {n} to Ready (baseline)");
    let row = measure(pids, &name, n as usize, async {
        create(
            &api,
            json!({
                "metadata": {"name": "bench-rs"},
                "spec": {"replicas": n, "selector": {"matchLabels": {"app": "bench-rs"}},
                         "template": pod_template("bench-rs", "registry.k8s.io/pause:3.10")}
            }),
        )
        .await?;
        wait_for(&api, "bench-rs", |rs| {
            rs.status.as_ref().and_then(|s| s.ready_replicas) == Some(n)
        })
        .await
    })
    .await?;
    clean_up(client, &api, "bench-rs", "app=bench-rs").await?;
    Ok(row)
}

async fn stateful_set(client: &kube::Client, pids: &Pids, n: i32) -> anyhow::Result<Row> {
    let api: Api<StatefulSet> = Api::namespaced(client.clone(), NS);
    let name = format!("StatefulSet {n} (Parallel) to Ready");
    let row = measure(pids, &name, n as usize, async {
        create(&api, json!({
            "metadata": {"name": "bench-sts"},
            "spec": {"replicas": n, "podManagementPolicy": "Parallel", "serviceName": "bench-sts",
                     "selector": {"matchLabels": {"app": "bench-sts"}},
                     "template": pod_template("bench-sts", "registry.k8s.io/pause:3.10")}
        }))
        .await?;
        wait_for(&api, "bench-sts", |s| {
            s.status.as_ref().and_then(|s| s.ready_replicas) == Some(n)
        })
        .await
    })
    .await?;
    clean_up(client, &api, "bench-sts", "app=bench-sts").await?;
    Ok(row)
}

async fn job(
    client: &kube::Client,
    pids: &Pids,
    completions: i32,
    parallelism: i32,
) -> anyhow::Result<Row> {
    let api: Api<Job> = Api::namespaced(client.clone(), NS);
    let name = format!("Job {completions} completions, parallelism {parallelism}");
    let row = measure(pids, &name, completions as usize, async {
        let mut template = pod_template("bench-job", "busybox");
        template["spec"]["restartPolicy"] = json!("Never");
        create(&api, json!({
            "metadata": {"name": "bench-job"},
            "spec": {"completions": completions, "parallelism": parallelism, "template": template}
        }))
        .await?;
        wait_for(&api, "bench-job", |j| {
            j.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| {
                    c.iter()
                        .any(|c| c.type_ == "Complete" && c.status == "True")
                })
        })
        .await
    })
    .await?;
    clean_up(client, &api, "bench-job", "app=bench-job").await?;
    Ok(row)
}

async fn daemon_set(client: &kube::Client, pids: &Pids) -> anyhow::Result<Vec<Row>> {
    let api: Api<DaemonSet> = Api::namespaced(client.clone(), NS);
    let nodes = NODES.len() as i32;
    let all_ready = move |ds: &DaemonSet| {
        let Some(s) = ds.status.as_ref() else {
            return false;
        };
        ds.metadata.generation == s.observed_generation
            && s.desired_number_scheduled == nodes
            && s.updated_number_scheduled == Some(nodes)
            && s.number_available == Some(nodes)
            && s.number_ready == nodes
    };
    let create_row = measure(pids, "DaemonSet on 3 nodes to Ready", NODES.len(), async {
        create(&api, json!({
            "metadata": {"name": "bench-ds"},
            "spec": {"selector": {"matchLabels": {"app": "bench-ds"}},
                     "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
                     "template": pod_template("bench-ds", "registry.k8s.io/pause:3.10")}
        }))
        .await?;
        wait_for(&api, "bench-ds", all_ready).await
    })
    .await?;
    let rollout_row = measure(pids, "DaemonSet rollout on 3 nodes", NODES.len(), async {
        let patch = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "main", "image": "registry.k8s.io/pause:3.9"}]}}}});
        api.patch(
            "bench-ds",
            &PatchParams::default(),
            &Patch::Strategic(&patch),
        )
        .await?;
        wait_for(&api, "bench-ds", all_ready).await
    })
    .await?;
    clean_up(client, &api, "bench-ds", "app=bench-ds").await?;
    Ok(vec![create_row, rollout_row])
}

fn print_table(rows: &[Row]) {
    println!();
    println!(
        "{:<44} {:>6} {:>9} {:>16} {:>22} {:>14}",
        "scenario",
        "pods",
        "time s",
        "controllers CPU-s",
        "controllers CPU-s/100 pods",
        "apiserver CPU-s"
    );
    for r in rows {
        let per_100 = r.controller_cpu * 100.0 / r.pods.max(1) as f64;
        println!(
            "{:<44} {:>6} {:>9.2} {:>16.2} {:>22.2} {:>14.2}",
            r.name,
            r.pods,
            r.elapsed.as_secs_f64(),
            r.controller_cpu,
            per_100,
            r.apiserver_cpu
        );
    }
}
