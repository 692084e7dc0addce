//! ReplicaSet controller against a real mkube API server.

use crate::common::*;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use serde_json::json;
use std::time::Duration;

const T: Duration = Duration::from_secs(15);

async fn owned_pods(api: &Api<Pod>) -> Vec<Pod> {
    api.list(&ListParams::default().labels("app=cache"))
        .await
        .map(|l| {
            l.items
                .into_iter()
                .filter(|p| p.metadata.deletion_timestamp.is_none())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicaset_keeps_replicas_and_reports_status() {
    let Some(c) = Cluster::start("replicaset").await else {
        return;
    };
    let _ctl = c.controllers_only(&["replicaset"]).await;
    let _kubelet = fake_kubelet(&c.client, "default");
    let rs: ReplicaSet = create(
        &c.client,
        "default",
        json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": "cache"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "cache"}},
                 "template": {"metadata": {"labels": {"app": "cache", "tier": "db"}},
                              "spec": {"containers": [{"name": "c", "image": "redis"}]}}}}),
    )
    .await;
    let pods: Api<Pod> = Api::namespaced(c.client.clone(), "default");
    let rss: Api<ReplicaSet> = Api::namespaced(c.client.clone(), "default");
    let list = wait_for("3 pods", T, || async {
        Some(owned_pods(&pods).await).filter(|p| p.len() == 3)
    })
    .await;
    for p in &list {
        assert!(p.metadata.name.as_deref().unwrap().starts_with("cache-"));
        let o = &p.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (o.kind.as_str(), o.uid.as_str(), o.controller),
            (
                "ReplicaSet",
                rs.metadata.uid.as_deref().unwrap(),
                Some(true)
            )
        );
        assert_eq!(p.metadata.labels.as_ref().unwrap()["tier"], "db");
    }
    let st = wait_for("status 3/3 ready", T, || async {
        let st = rss.get("cache").await.ok()?.status?;
        (st.ready_replicas == Some(3) && st.available_replicas == Some(3)).then_some(st)
    })
    .await;
    assert_eq!(
        (
            st.replicas,
            st.fully_labeled_replicas,
            st.observed_generation
        ),
        (3, Some(3), Some(1))
    );

    // A deleted pod is replaced.
    let victim = list[0].metadata.name.clone().unwrap();
    pods.delete(&victim, &DeleteParams::default())
        .await
        .unwrap();
    wait_for("replacement", T, || async {
        let l = owned_pods(&pods).await;
        (l.len() == 3
            && l.iter()
                .all(|p| p.metadata.name.as_deref() != Some(victim.as_str())))
        .then_some(())
    })
    .await;

    // Scale down to 1, then an orphan matching the selector is adopted (and removed as surplus).
    rss.patch(
        "cache",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 1}})),
    )
    .await
    .unwrap();
    wait_for("1 pod", T, || async {
        Some(owned_pods(&pods).await).filter(|p| p.len() == 1)
    })
    .await;
    make_pod(&c.client, "default", "stray", json!({"app": "cache"}), &[]).await;
    wait_for("orphan adopted and surplus removed", T, || async {
        let l = owned_pods(&pods).await;
        let st = rss.get("cache").await.ok()?.status?;
        (l.len() == 1 && st.replicas == 1 && st.observed_generation == Some(2)).then_some(())
    })
    .await;

    // Events: SuccessfulCreate on the ReplicaSet.
    let events: Api<k8s_openapi::api::events::v1::Event> =
        Api::namespaced(c.client.clone(), "default");
    let evs = events.list(&ListParams::default()).await.unwrap();
    assert!(evs
        .items
        .iter()
        .any(|e| e.reason.as_deref() == Some("SuccessfulCreate")
            && e.note
                .as_deref()
                .is_some_and(|n| n.starts_with("Created pod: cache-"))));
}
