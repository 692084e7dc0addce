//! Namespace controller against a real mkube API server.

use crate::common::*;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Service};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use serde_json::json;
use std::time::Duration;

const T: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_namespace_empties_and_removes_it() {
    let Some(c) = Cluster::start("namespace").await else {
        return;
    };
    let _ctl = c.controllers_only(&["namespace"]).await;
    create_namespace(&c.client, "doomed").await;
    make_pod(&c.client, "doomed", "p1", json!({"app": "x"}), &[]).await;
    create::<ConfigMap>(
        &c.client,
        "doomed",
        json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "cm", "finalizers": ["example.com/hold"]}, "data": {"a": "b"}}),
    )
    .await;
    create::<Service>(
        &c.client,
        "doomed",
        json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "svc"}, "spec": {"ports": [{"port": 80}]}}),
    )
    .await;
    let nss: Api<Namespace> = Api::all(c.client.clone());
    nss.delete("doomed", &DeleteParams::default())
        .await
        .unwrap();

    // The pod and the service go; the configmap waits for its finalizer.
    let pods: Api<Pod> = Api::namespaced(c.client.clone(), "doomed");
    wait_for("pods deleted", T, || async {
        pods.list(&ListParams::default())
            .await
            .ok()
            .filter(|l| l.items.is_empty())
    })
    .await;
    let ns = wait_for("finalizers-remaining condition", T, || async {
        let ns = nss.get("doomed").await.ok()?;
        let conds = ns.status.as_ref()?.conditions.clone()?;
        conds
            .iter()
            .any(|c| c.type_ == "NamespaceFinalizersRemaining" && c.status == "True")
            .then_some(ns)
    })
    .await;
    assert_eq!(ns.status.unwrap().phase.as_deref(), Some("Terminating"));

    // Release the finalizer: the namespace is finalized and disappears.
    let cms: Api<ConfigMap> = Api::namespaced(c.client.clone(), "doomed");
    cms.patch(
        "cm",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    wait_for("namespace gone", T, || async {
        nss.get_opt("doomed")
            .await
            .ok()
            .and_then(|n| n.is_none().then_some(()))
    })
    .await;
}
