//! Node lifecycle controller against a real mkube API server: a node whose
//! Lease stops being renewed turns Unknown, is tainted unreachable, and its
//! pods leave the Service's ready addresses; reporting Ready again removes
//! the taints.

use crate::common::*;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Endpoints, Node, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use std::time::Duration;

const T: Duration = Duration::from_secs(20);
const GRACE: Duration = Duration::from_secs(2);

async fn renew(leases: &Api<Lease>) {
    let now = k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(Timestamp::now());
    let patch =
        json!({"spec": {"holderIdentity": "n1", "leaseDurationSeconds": 40, "renewTime": now}});
    leases
        .patch("n1", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("renew lease");
}

/// What the node agent posts: every condition fine, Ready True.
async fn post_ready(nodes: &Api<Node>) -> Node {
    let now = Timestamp::now().to_string();
    let cond = |t: &str, s: &str, r: &str| {
        json!({"type": t, "status": s, "reason": r, "message": "",
               "lastHeartbeatTime": now, "lastTransitionTime": now})
    };
    let patch = json!({"status": {"conditions": [
        cond("MemoryPressure", "False", "KubeletHasSufficientMemory"),
        cond("DiskPressure", "False", "KubeletHasNoDiskPressure"),
        cond("PIDPressure", "False", "KubeletHasSufficientPID"),
        cond("Ready", "True", "KubeletReady")]}});
    nodes
        .patch_status("n1", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("node status")
}

fn ready(node: &Node) -> (String, String, String) {
    let c = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
        .cloned()
        .unwrap_or_default();
    (
        c.status,
        c.reason.unwrap_or_default(),
        c.message.unwrap_or_default(),
    )
}

fn taint_keys(node: &Node) -> Vec<String> {
    let mut keys: Vec<String> = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .map(|t| {
            t.iter()
                .map(|t| format!("{}:{}", t.key, t.effect))
                .collect()
        })
        .unwrap_or_default();
    keys.sort();
    keys
}

fn addresses(ep: &Endpoints) -> (usize, usize) {
    let subsets = ep.subsets.clone().unwrap_or_default();
    let count =
        |f: fn(&k8s_openapi::api::core::v1::EndpointSubset) -> usize| subsets.iter().map(f).sum();
    (
        count(|s| s.addresses.as_ref().map_or(0, Vec::len)),
        count(|s| s.not_ready_addresses.as_ref().map_or(0, Vec::len)),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_lease_marks_node_unknown_taints_it_and_unreadies_its_pods() {
    let Some(c) = Cluster::start("nodelifecycle").await else {
        return;
    };
    let nodes: Api<Node> = Api::all(c.client.clone());
    let leases: Api<Lease> = Api::namespaced(c.client.clone(), "kube-node-lease");
    let pods: Api<Pod> = Api::namespaced(c.client.clone(), "default");
    let eps: Api<Endpoints> = Api::namespaced(c.client.clone(), "default");

    let node: Node = serde_json::from_value(json!({"metadata": {"name": "n1"},
        "spec": {"taints": [{"key": "dedicated", "value": "web", "effect": "PreferNoSchedule"}]}}))
    .unwrap();
    nodes
        .create(&PostParams::default(), &node)
        .await
        .expect("node");
    post_ready(&nodes).await;
    let lease: Lease = serde_json::from_value(json!({"metadata": {"name": "n1"},
        "spec": {"holderIdentity": "n1", "leaseDurationSeconds": 40,
                 "renewTime": k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(Timestamp::now())}}))
    .unwrap();
    leases
        .create(&PostParams::default(), &lease)
        .await
        .expect("lease");
    let _: Pod = create(
        &c.client,
        "default",
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "web-1", "labels": {"app": "web"}},
               "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "nginx"}]}}),
    )
    .await;
    set_pod_status(&c.client, "default", "web-1", "10.7.0.5", true).await;
    let _: k8s_openapi::api::core::v1::Service = create(
        &c.client,
        "default",
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
               "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}),
    )
    .await;

    let opts = controllers::ControllerOptions {
        node_monitor_grace_period: GRACE,
        ..Default::default()
    };
    let _ctl = c
        .controllers_with(&["nodelifecycle", "endpoints"], opts)
        .await;
    wait_for("the pod as a ready address", T, || async {
        let ep = eps.get_opt("web").await.ok().flatten()?;
        (addresses(&ep) == (1, 0)).then_some(())
    })
    .await;

    // A lease renewed more often than the grace period keeps the node Ready.
    for _ in 0..6 {
        renew(&leases).await;
        tokio::time::sleep(GRACE / 4).await;
    }
    let n = nodes.get("n1").await.unwrap();
    assert_eq!(ready(&n).0, "True", "{n:?}");
    assert_eq!(taint_keys(&n), vec!["dedicated:PreferNoSchedule"]);

    // The agent goes silent.
    let n = wait_for("node Unknown and tainted", T, || async {
        let n = nodes.get("n1").await.ok()?;
        (ready(&n).0 == "Unknown" && taint_keys(&n).len() == 3).then_some(n)
    })
    .await;
    assert_eq!(
        ready(&n),
        (
            "Unknown".to_string(),
            "NodeStatusUnknown".to_string(),
            "Kubelet stopped posting node status.".to_string()
        )
    );
    assert_eq!(
        taint_keys(&n),
        vec![
            "dedicated:PreferNoSchedule",
            "node.kubernetes.io/unreachable:NoExecute",
            "node.kubernetes.io/unreachable:NoSchedule"
        ]
    );
    let conds = n.status.unwrap().conditions.unwrap();
    assert!(
        conds.iter().all(|c| c.status == "Unknown"),
        "every kubelet condition turns Unknown: {conds:?}"
    );
    let pod = wait_for("pod not Ready", T, || async {
        let p = pods.get("web-1").await.ok()?;
        let ready = p
            .status
            .as_ref()?
            .conditions
            .as_ref()?
            .iter()
            .find(|c| c.type_ == "Ready")?
            .status
            .clone();
        (ready == "False").then_some(p)
    })
    .await;
    assert_eq!(
        pod.status.unwrap().phase.as_deref(),
        Some("Running"),
        "only readiness changes"
    );
    wait_for("the pod under notReadyAddresses", T, || async {
        let ep = eps.get_opt("web").await.ok().flatten()?;
        (addresses(&ep) == (0, 1)).then_some(())
    })
    .await;

    // The agent is back: lease renewed, Ready posted; the taints go.
    renew(&leases).await;
    post_ready(&nodes).await;
    let n = wait_for("taints removed", T, || async {
        let n = nodes.get("n1").await.ok()?;
        (taint_keys(&n).len() == 1).then_some(n)
    })
    .await;
    assert_eq!(taint_keys(&n), vec!["dedicated:PreferNoSchedule"]);
    assert_eq!(ready(&n).0, "True");
}
