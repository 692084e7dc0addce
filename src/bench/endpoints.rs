//! The endpoints benchmark (issue #4): the Endpoints and EndpointSlice
//! controllers alone, on a loaded cluster, as kwok measures them.
//!
//! Thousands of pod processes do not fit a small machine, so the pods are
//! bound to a Node the benchmark owns (no agent runs them; the benchmark
//! renews its Lease so the node lifecycle controller leaves it Ready) and
//! their status — IP, phase, Ready condition — is written by the benchmark
//! through `pods/status`, as a kubelet would. Everything else is the real
//! cluster: `mkube up`, its API server and its controllers.
//!
//! Measured, watching Endpoints and EndpointSlices (never polling): the time
//! from the last pod status write to every Service's Endpoints and slices
//! listing all its ready addresses, then the time from a single pod's Ready
//! flip (the status write's reply) to its Endpoints and its slice showing it.

use super::api::concurrent;
use super::cluster::{tempdir, BenchCluster};
use super::ready_view::ReadyView;
use super::stats::{ms, Summary};
use super::synthetic_node::SyntheticNode;
use anyhow::Context;
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct EndpointsBenchArgs {
    /// Services, each selecting its own pods.
    #[arg(long, default_value_t = 1000)]
    pub services: usize,
    /// Pods per Service.
    #[arg(long, default_value_t = 10)]
    pub pods_per_service: usize,
    /// Single-pod Ready flips to time on the loaded cluster.
    #[arg(long, default_value_t = 200)]
    pub flips: usize,
    /// Concurrent client tasks for the bulk writes.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
}

const NAMESPACE: &str = "default";
/// The benchmark's node and its pod range (inside the default cluster CIDR,
/// clear of the /24s node IPAM hands out first).
const NODE: &str = "bench-endpoints-node";
const NODE_POD_CIDR: &str = "127.244.128.0/17";

pub async fn run(args: EndpointsBenchArgs) -> anyhow::Result<()> {
    let pods_total = args.services * args.pods_per_service;
    anyhow::ensure!(
        pods_total < 1 << 15,
        "at most 32767 pods fit the node's /17"
    );
    let dir = tempdir()?;
    let mut cluster = BenchCluster::new(&dir)?;
    cluster.start().await?;
    let client = cluster.client().await?;
    let node = SyntheticNode::register(&client, NODE, NODE_POD_CIDR).await?;
    let view = ReadyView::watch(&client, NAMESPACE).await?;

    let t = Instant::now();
    let svc_api: Api<Service> = Api::namespaced(client.clone(), NAMESPACE);
    let created = concurrent(args.services, args.concurrency, move |i| {
        let api = svc_api.clone();
        async move {
            let t = Instant::now();
            api.create(&PostParams::default(), &service(i)).await?;
            Ok(t.elapsed())
        }
    })
    .await?;
    println!(
        "{} Services created in {:.2} s (create {created})",
        args.services,
        t.elapsed().as_secs_f64()
    );
    let pod_api: Api<Pod> = Api::namespaced(client.clone(), NAMESPACE);
    let per = args.pods_per_service;
    let t = Instant::now();
    let api = pod_api.clone();
    let created = concurrent(pods_total, args.concurrency, move |i| {
        let api = api.clone();
        async move {
            let t = Instant::now();
            api.create(&PostParams::default(), &pod(i, per)).await?;
            Ok(t.elapsed())
        }
    })
    .await?;
    println!(
        "{pods_total} Pods created in {:.2} s (create {created})",
        t.elapsed().as_secs_f64()
    );

    let converged = bulk_ready(&pod_api, &view, &args).await?;
    let flips = flip_latencies(&pod_api, &view, &args).await?;
    print_figures(&args, converged, &flips);
    drop(node);
    cluster.stop();
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Writes every pod's status Ready and returns the time from the last
/// write's reply to every Service's Endpoints and slices being complete.
async fn bulk_ready(
    pods: &Api<Pod>,
    view: &ReadyView,
    args: &EndpointsBenchArgs,
) -> anyhow::Result<Duration> {
    let total = args.services * args.pods_per_service;
    let t = Instant::now();
    let api = pods.clone();
    let writes = concurrent(total, args.concurrency, move |i| {
        let api = api.clone();
        async move {
            let t = Instant::now();
            write_status(&api, i, true).await?;
            Ok(t.elapsed())
        }
    })
    .await?;
    let last_write = Instant::now();
    println!(
        "{total} pod status writes in {:.2} s (write {writes})",
        t.elapsed().as_secs_f64()
    );
    let want = args.pods_per_service;
    let complete = view
        .wait_all(args.services, want, Duration::from_secs(300))
        .await
        .context("Endpoints and slices did not converge")?;
    Ok(complete.saturating_duration_since(last_write))
}

/// Latencies of single Ready flips on the loaded cluster: (Endpoints, slice).
struct Flips {
    endpoints: Summary,
    slices: Summary,
    both: Summary,
}

async fn flip_latencies(
    pods: &Api<Pod>,
    view: &ReadyView,
    args: &EndpointsBenchArgs,
) -> anyhow::Result<Flips> {
    let (mut eps, mut slices, mut both) = (Vec::new(), Vec::new(), Vec::new());
    let per = args.pods_per_service;
    let total = args.services * per;
    for n in 0..args.flips {
        // Spread over the Services; every second flip restores the pod.
        let i = (n / 2 * 7919) % total;
        let ready = n % 2 == 1;
        let svc = service_name(i / per);
        let want = if ready { per } else { per - 1 };
        write_status(pods, i, ready).await?;
        let replied = Instant::now();
        let (e, s) = view
            .wait_service(&svc, want, Duration::from_secs(30))
            .await
            .with_context(|| format!("flip {n} of pod {i} not reflected"))?;
        let (e, s) = (
            e.saturating_duration_since(replied),
            s.saturating_duration_since(replied),
        );
        eps.push(e);
        slices.push(s);
        both.push(e.max(s));
    }
    Ok(Flips {
        endpoints: Summary::of(eps),
        slices: Summary::of(slices),
        both: Summary::of(both),
    })
}

fn print_figures(args: &EndpointsBenchArgs, converged: Duration, flips: &Flips) {
    let total = args.services * args.pods_per_service;
    println!(
        "convergence: last status write to all {} Endpoints and their slices listing {total} ready addresses: {:.1} ms (target < 3000 ms)",
        args.services,
        ms(converged)
    );
    println!(
        "single Ready flip, write reply to Endpoints updated: {}",
        flips.endpoints
    );
    println!(
        "single Ready flip, write reply to EndpointSlice updated: {}",
        flips.slices
    );
    println!(
        "single Ready flip, write reply to both updated: {} (target p99 < 100 ms)",
        flips.both
    );
}

fn service_name(i: usize) -> String {
    format!("svc-{i}")
}

fn pod_name(i: usize) -> String {
    format!("pod-{i}")
}

fn service(i: usize) -> Service {
    serde_json::from_value(json!({
        "metadata": {"name": service_name(i)},
        "spec": {"selector": {"app": service_name(i)}, "ports": [{"port": 80, "targetPort": 8080}]}
    }))
    .unwrap_or_default()
}

/// Pod `i`, selected by Service `i / per`, bound to the benchmark's node.
fn pod(i: usize, per: usize) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": pod_name(i), "labels": {"app": service_name(i / per)}},
        "spec": {
            "nodeName": NODE,
            "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10", "ports": [{"containerPort": 8080}]}],
        }
    }))
    .unwrap_or_default()
}

/// Pod `i`'s address: the `i + 1`-th of the node's range.
fn pod_ip(i: usize) -> anyhow::Result<Ipv4Addr> {
    let base: ipnet::Ipv4Net = NODE_POD_CIDR.parse()?;
    let offset = u32::try_from(i + 1)?;
    Ok(Ipv4Addr::from(u32::from(base.network()) + offset))
}

/// What the kubelet writes for a running pod: its IP, phase Running, and the
/// Ready condition (with ContainersReady) at `ready`.
async fn write_status(pods: &Api<Pod>, i: usize, ready: bool) -> anyhow::Result<()> {
    let ip = pod_ip(i)?.to_string();
    let status = if ready { "True" } else { "False" };
    let now = k8s_openapi::jiff::Timestamp::now().to_string();
    let condition =
        |type_: &str| json!({"type": type_, "status": status, "lastTransitionTime": now});
    let patch = json!({"status": {
        "phase": "Running",
        "podIP": ip,
        "podIPs": [{"ip": ip}],
        "hostIP": "127.0.0.1",
        "conditions": [condition("Ready"), condition("ContainersReady")],
    }});
    pods.patch_status(&pod_name(i), &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .with_context(|| format!("writing the status of {}", pod_name(i)))?;
    Ok(())
}
