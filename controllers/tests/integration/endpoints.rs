//! Endpoints controller against a real mkube API server.

use crate::common::*;
use controllers::endpoints::compute::addresses;
use k8s_openapi::api::core::v1::{Endpoints, Pod, Service};
use kube::api::{Api, DeleteParams};
use serde_json::json;
use std::collections::BTreeSet;
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

fn set(v: &[&str]) -> BTreeSet<String> {
    v.iter().map(|s| s.to_string()).collect()
}

async fn ready_ips(
    api: &Api<Endpoints>,
    name: &str,
) -> Option<(BTreeSet<String>, BTreeSet<String>)> {
    api.get_opt(name)
        .await
        .ok()
        .flatten()
        .map(|e| addresses(&e))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_follow_selectors_readiness_and_deletion() {
    let Some(c) = Cluster::start("endpoints").await else {
        return;
    };
    let _ctl = c.controllers_only(&["endpoints"]).await;
    let ns = "default";
    for (i, v) in ["v1", "v2", "v3"].iter().enumerate() {
        let name = format!("web-{v}");
        make_pod(
            &c.client,
            ns,
            &name,
            json!({"app": "webserver", "version": v}),
            &[("http", 8080)],
        )
        .await;
        set_pod_status(&c.client, ns, &name, &format!("10.9.0.{}", i + 1), true).await;
    }
    create::<Service>(&c.client, ns, json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "all", "labels": {"tier": "front"}},
        "spec": {"selector": {"app": "webserver"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}})).await;
    create::<Service>(&c.client, ns, json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "v2only"},
        "spec": {"selector": {"app": "webserver", "version": "v2"}, "ports": [{"port": 80, "targetPort": 8080}]}})).await;
    let eps: Api<Endpoints> = Api::namespaced(c.client.clone(), ns);
    wait_for("three ready addresses", T, || async {
        ready_ips(&eps, "all")
            .await
            .filter(|(r, _)| *r == set(&["10.9.0.1", "10.9.0.2", "10.9.0.3"]))
    })
    .await;
    wait_for("one address for version=v2", T, || async {
        ready_ips(&eps, "v2only")
            .await
            .filter(|(r, _)| *r == set(&["10.9.0.2"]))
    })
    .await;
    let all = eps.get("all").await.unwrap();
    assert_eq!(
        all.metadata.labels.as_ref().unwrap()["tier"],
        "front",
        "labels copied from the Service"
    );
    assert!(all
        .metadata
        .annotations
        .as_ref()
        .unwrap()
        .contains_key("endpoints.kubernetes.io/last-change-trigger-time"));
    let ss = &all.subsets.as_ref().unwrap()[0];
    assert_eq!(
        ss.ports.as_ref().unwrap()[0].port,
        8080,
        "named targetPort resolved"
    );
    let tr = ss.addresses.as_ref().unwrap()[0]
        .target_ref
        .clone()
        .unwrap();
    assert_eq!(tr.kind.as_deref(), Some("Pod"));
    assert!(tr.uid.is_some());

    // Readiness flip moves the address to notReadyAddresses.
    set_pod_status(&c.client, ns, "web-v1", "10.9.0.1", false).await;
    wait_for("v1 not ready", T, || async {
        ready_ips(&eps, "all")
            .await
            .filter(|(r, n)| *r == set(&["10.9.0.2", "10.9.0.3"]) && *n == set(&["10.9.0.1"]))
    })
    .await;

    // Relabelled pod leaves the Service.
    let pods: Api<Pod> = Api::namespaced(c.client.clone(), ns);
    pods.patch(
        "web-v3",
        &Default::default(),
        &kube::api::Patch::Merge(json!({"metadata": {"labels": {"app": "other"}}})),
    )
    .await
    .unwrap();
    wait_for("v3 gone", T, || async {
        ready_ips(&eps, "all")
            .await
            .filter(|(r, _)| *r == set(&["10.9.0.2"]))
    })
    .await;

    // Selector-less Service: user Endpoints are left alone.
    create::<Service>(
        &c.client,
        ns,
        json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "manual"}, "spec": {"ports": [{"port": 80}]}}),
    )
    .await;
    create::<Endpoints>(&c.client, ns, json!({"apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": "manual"}, "subsets": [{"addresses": [{"ip": "192.0.2.1"}], "ports": [{"port": 80}]}]})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        ready_ips(&eps, "manual").await.unwrap().0,
        set(&["192.0.2.1"])
    );

    // ExternalName: no Endpoints.
    create::<Service>(&c.client, ns, json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "ext"}, "spec": {"type": "ExternalName", "externalName": "example.com", "selector": {"app": "webserver"}}})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(eps.get_opt("ext").await.unwrap().is_none());

    // Deleting the Service deletes its Endpoints.
    let svcs: Api<Service> = Api::namespaced(c.client.clone(), ns);
    svcs.delete("all", &DeleteParams::default()).await.unwrap();
    wait_for("endpoints deleted with the service", T, || async {
        eps.get_opt("all")
            .await
            .ok()
            .and_then(|e| e.is_none().then_some(()))
    })
    .await;
}
