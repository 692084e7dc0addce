//! Garbage collector against a real mkube API server.

use crate::common::*;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, DeleteParams, ListParams, PropagationPolicy};
use serde_json::json;
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

async fn cm(c: &Cluster, name: &str, owner: Option<&ConfigMap>, block: bool) -> ConfigMap {
    let mut meta = json!({"name": name});
    if let Some(o) = owner {
        meta["ownerReferences"] = json!([{"apiVersion": "v1", "kind": "ConfigMap",
            "name": o.metadata.name, "uid": o.metadata.uid, "blockOwnerDeletion": block}]);
    }
    create(
        &c.client,
        "default",
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta}),
    )
    .await
}

async fn gone(api: &Api<ConfigMap>, name: &str) {
    wait_for(&format!("{name} deleted"), T, || async {
        api.get_opt(name)
            .await
            .ok()
            .and_then(|o| o.is_none().then_some(()))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owners_dependents_foreground_and_orphan() {
    let Some(c) = Cluster::start("gc").await else {
        return;
    };
    let _ctl = c
        .controllers_only(&["garbagecollector", "endpointslice"])
        .await;
    let api: Api<ConfigMap> = Api::namespaced(c.client.clone(), "default");

    // Background: the owner goes, then its dependent.
    let owner = cm(&c, "owner-bg", None, false).await;
    cm(&c, "dep-bg", Some(&owner), false).await;
    api.delete("owner-bg", &DeleteParams::background())
        .await
        .unwrap();
    gone(&api, "dep-bg").await;

    // A dependent whose owner never existed is garbage.
    let mut ghost = owner.clone();
    ghost.metadata.uid = Some("00000000-0000-0000-0000-000000000000".into());
    ghost.metadata.name = Some("no-such-owner".into());
    cm(&c, "dep-ghost", Some(&ghost), false).await;
    gone(&api, "dep-ghost").await;

    // Foreground: the owner waits (foregroundDeletion) until its blocking dependent is gone.
    let owner = cm(&c, "owner-fg", None, false).await;
    let mid = cm(&c, "dep-fg", Some(&owner), true).await;
    cm(&c, "dep-fg-child", Some(&mid), true).await;
    api.delete("owner-fg", &DeleteParams::foreground())
        .await
        .unwrap();
    gone(&api, "dep-fg-child").await;
    gone(&api, "dep-fg").await;
    gone(&api, "owner-fg").await;

    // Orphan: the dependent stays, without its owner reference.
    let owner = cm(&c, "owner-or", None, false).await;
    cm(&c, "dep-or", Some(&owner), true).await;
    api.delete(
        "owner-or",
        &DeleteParams {
            propagation_policy: Some(PropagationPolicy::Orphan),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    gone(&api, "owner-or").await;
    let dep = api.get("dep-or").await.unwrap();
    assert!(dep.metadata.owner_references.unwrap_or_default().is_empty());

    // A Service's EndpointSlices go with it.
    create::<Service>(&c.client, "default", json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web"}, "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}})).await;
    let slices: Api<EndpointSlice> = Api::namespaced(c.client.clone(), "default");
    let lp = ListParams::default().labels("kubernetes.io/service-name=web");
    wait_for("slice", T, || async {
        slices.list(&lp).await.ok().filter(|l| !l.items.is_empty())
    })
    .await;
    let svcs: Api<Service> = Api::namespaced(c.client.clone(), "default");
    svcs.delete("web", &DeleteParams::default()).await.unwrap();
    wait_for("slices collected", T, || async {
        slices.list(&lp).await.ok().filter(|l| l.items.is_empty())
    })
    .await;
}
