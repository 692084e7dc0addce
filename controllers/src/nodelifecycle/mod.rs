//! The node lifecycle controller (kube-controller-manager's `nodelifecycle`):
//! a node whose Lease in `kube-node-lease` (and status heartbeat) has not been
//! renewed for `--node-monitor-grace-period` (40 s by default) gets its
//! conditions set Unknown ("Kubelet stopped posting node status."), the
//! `node.kubernetes.io/unreachable` NoSchedule and NoExecute taints, and its
//! pods' Ready condition set False so the endpoint controllers drop them.
//! When the node agent reports Ready again the taints go; the agent itself
//! reports its pods Ready again, as the kubelet does.
//!
//! Decisions are in [`decide`]; this module watches Nodes, Leases and Pods
//! and checks every node on a short period, since staleness is a matter of
//! time passing rather than of a change to watch.

pub mod decide;

use crate::util::events::Events;
use crate::util::watch::wait_all;
use crate::ControllerOptions;
use informers::Informers;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::ResourceExt;
use serde_json::json;
use std::time::Duration;

/// kube-controller-manager's default `--node-monitor-grace-period`.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(40);
const LEASE_NAMESPACE: &str = "kube-node-lease";
const COMPONENT: &str = "node-controller";

struct Ctx {
    client: kube::Client,
    nodes: Store<Node>,
    leases: Store<Lease>,
    pods: Store<Pod>,
    events: Events,
    grace: Duration,
}

/// How often nodes are checked: a fraction of the grace period (kube's
/// `--node-monitor-period` is 5 s against 40 s), so a stale node is noticed
/// soon after the grace period ends.
fn monitor_period(grace: Duration) -> Duration {
    (grace / 8).clamp(Duration::from_millis(200), Duration::from_secs(5))
}

pub(crate) async fn start(
    informers: &Informers,
    opts: &ControllerOptions,
) -> anyhow::Result<crate::Started> {
    let client = informers.client().clone();
    // This controller reads the caches on a timer and needs no events.
    let (nodes, nodes_synced) = informers.store::<Node>(watcher::Config::default());
    // Cluster-wide with a namespace field selector rather than a namespaced
    // watch: the factory shares cluster-wide watches only.
    let (leases, leases_synced) = informers.store::<Lease>(
        watcher::Config::default().fields(&format!("metadata.namespace={LEASE_NAMESPACE}")),
    );
    let (pods, pods_synced) = informers.store::<Pod>(watcher::Config::default());
    wait_all(vec![nodes_synced, leases_synced, pods_synced]).await?;
    let ctx = Ctx {
        events: Events::new(client.clone(), COMPONENT),
        client,
        nodes,
        leases,
        pods,
        grace: opts.node_monitor_grace_period,
    };
    let monitor_loop = tokio::spawn(async move {
        let mut tick = tokio::time::interval(monitor_period(ctx.grace));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            for node in ctx.nodes.state() {
                if let Err(e) = monitor(&ctx, &node).await {
                    tracing::debug!(node = %node.name_any(), error = %e, "node health update failed");
                }
            }
        }
    });
    Ok(crate::Started::new("nodelifecycle", vec![monitor_loop]))
}

/// One node's health pass: Unknown conditions when silent, taints for its
/// Ready status, pods not Ready while it is not Ready.
async fn monitor(ctx: &Ctx, node: &Node) -> Result<(), kube::Error> {
    let name = node.name_any();
    let api: Api<Node> = Api::all(ctx.client.clone());
    let now = Timestamp::now();
    let lease = ctx
        .leases
        .get(&ObjectRef::new(&name).within(LEASE_NAMESPACE));
    let mut node = node.clone();
    if decide::is_stale(&node, lease.as_deref(), now, ctx.grace) {
        if let Some(conditions) = decide::unknown_conditions(&node, now) {
            let was_ready = decide::ready_status(&node) == "True";
            let patch = json!({"status": {"conditions": conditions}});
            node = api
                .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await?;
            tracing::info!(node = %name, "node stopped posting status; marked Unknown");
            if was_ready {
                let note = format!("Node {name} status is now: NodeNotReady");
                ctx.events
                    .normal(&node, "NodeNotReady", "NodeNotReady", note)
                    .await;
            }
        }
    }
    if let Some(taints) = decide::taints(&node, now) {
        // An empty list is dropped, as the API omits empty taints.
        let taints = (!taints.is_empty()).then_some(taints);
        let patch = json!({"spec": {"taints": taints}});
        api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
    }
    if decide::ready_status(&node) != "True" {
        mark_pods_not_ready(ctx, &name, now).await?;
    }
    Ok(())
}

/// `MarkPodsNotReady`: every pod of the node that is still Ready becomes not
/// Ready, with a `NodeNotReady` warning.
async fn mark_pods_not_ready(ctx: &Ctx, node: &str, now: Timestamp) -> Result<(), kube::Error> {
    let on_node = ctx
        .pods
        .state()
        .into_iter()
        .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node));
    for pod in on_node {
        let Some(conditions) = decide::not_ready_conditions(&pod, now) else {
            continue;
        };
        let api: Api<Pod> =
            Api::namespaced(ctx.client.clone(), &pod.namespace().unwrap_or_default());
        let patch = json!({"status": {"conditions": conditions}});
        match api
            .patch_status(
                &pod.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
        {
            Ok(p) => {
                ctx.events
                    .warning(
                        &p,
                        "NodeNotReady",
                        "NodeNotReady",
                        "Node is not ready".into(),
                    )
                    .await
            }
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn period_is_a_fraction_of_the_grace() {
        assert_eq!(monitor_period(DEFAULT_GRACE), Duration::from_secs(5));
        assert_eq!(
            monitor_period(Duration::from_secs(4)),
            Duration::from_millis(500)
        );
        assert_eq!(
            monitor_period(Duration::from_millis(100)),
            Duration::from_millis(200)
        );
    }
}
