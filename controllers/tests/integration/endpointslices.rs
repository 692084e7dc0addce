//! EndpointSlice controller against a real mkube API server: content,
//! latency of a single readiness flip, and batching under churn.

use crate::common::*;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, ListParams};
use kube::runtime::{watcher, WatchStreamExt};
use serde_json::json;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(10);
const SVC_LABEL: &str = "kubernetes.io/service-name";

async fn slices(api: &Api<EndpointSlice>, svc: &str) -> Vec<EndpointSlice> {
    api.list(&ListParams::default().labels(&format!("{SVC_LABEL}={svc}")))
        .await
        .map(|l| l.items)
        .unwrap_or_default()
}

fn ready_count(slices: &[EndpointSlice]) -> (usize, usize) {
    let eps: Vec<_> = slices
        .iter()
        .flat_map(|s| s.endpoints.clone().unwrap_or_default())
        .collect();
    let ready = eps
        .iter()
        .filter(|e| e.conditions.as_ref().and_then(|c| c.ready) == Some(true))
        .count();
    (ready, eps.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slices_content_latency_and_batching() {
    let Some(c) = Cluster::start("endpointslices").await else {
        return;
    };
    let _ctl = c.controllers_only(&["endpointslice"]).await;
    let ns = "default";
    create::<Service>(&c.client, ns, json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web", "labels": {"team": "a"}},
        "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}})).await;
    let api: Api<EndpointSlice> = Api::namespaced(c.client.clone(), ns);
    // No pods yet: one empty placeholder slice.
    let placeholder = wait_for("placeholder slice", T, || async {
        let s = slices(&api, "web").await;
        (s.len() == 1).then(|| s[0].clone())
    })
    .await;
    assert!(placeholder.endpoints.clone().unwrap_or_default().is_empty());
    for i in 0..10 {
        let name = format!("web-{i}");
        make_pod(
            &c.client,
            ns,
            &name,
            json!({"app": "web"}),
            &[("http", 8080)],
        )
        .await;
        set_pod_status(&c.client, ns, &name, &format!("10.8.0.{}", i + 1), true).await;
    }
    let s = wait_for("10 ready endpoints", T, || async {
        let s = slices(&api, "web").await;
        (ready_count(&s) == (10, 10)).then_some(s)
    })
    .await;
    assert_eq!(s.len(), 1, "placeholder reused, one slice");
    let slice = &s[0];
    let labels = slice.metadata.labels.clone().unwrap();
    assert_eq!(
        labels["endpointslice.kubernetes.io/managed-by"],
        "endpointslice-controller.k8s.io"
    );
    assert_eq!(labels["team"], "a");
    assert!(slice.metadata.name.as_deref().unwrap().starts_with("web-"));
    let owner = &slice.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (
            owner.kind.as_str(),
            owner.name.as_str(),
            owner.controller,
            owner.block_owner_deletion
        ),
        ("Service", "web", Some(true), Some(true))
    );
    assert_eq!(slice.address_type, "IPv4");
    let port = &slice.ports.as_ref().unwrap()[0];
    assert_eq!(
        (port.name.as_deref(), port.port, port.protocol.as_deref()),
        (Some("http"), Some(8080), Some("TCP"))
    );

    // Latency of a single readiness flip, observed through a watch.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<EndpointSlice>();
    let watch_api = api.clone();
    let watch = tokio::spawn(async move {
        let mut s = watcher(
            watch_api,
            watcher::Config::default().labels(&format!("{SVC_LABEL}=web")),
        )
        .applied_objects()
        .boxed();
        while let Some(Ok(o)) = s.next().await {
            let _ = tx.send(o);
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    while rx.try_recv().is_ok() {}
    let mut lat = Vec::new();
    for round in 0..40 {
        let ready = round % 2 == 1;
        let t0 = Instant::now();
        set_pod_status(&c.client, ns, "web-3", "10.8.0.4", ready).await;
        let want = if ready { 10 } else { 9 };
        loop {
            let o = tokio::time::timeout(T, rx.recv())
                .await
                .expect("slice update")
                .expect("watch");
            if ready_count(std::slice::from_ref(&o)).0 == want {
                break;
            }
        }
        lat.push(t0.elapsed());
    }
    lat.sort();
    let p99 = lat[(lat.len() * 99 / 100).min(lat.len() - 1)];
    eprintln!(
        "single flip latency: p50 {:?} p99 {:?} max {:?}",
        lat[lat.len() / 2],
        p99,
        lat[lat.len() - 1]
    );
    // Every flip was seen (the loop above waits for each); how fast is a
    // figure for `mkube bench endpoints`, not a pass/fail on a shared machine.

    // Churn: 60 pod changes in a burst are batched into far fewer slice writes.
    while rx.try_recv().is_ok() {}
    let pods: Api<Pod> = Api::namespaced(c.client.clone(), ns);
    let mut changes = 0;
    for i in 10..40 {
        let name = format!("web-{i}");
        make_pod(
            &c.client,
            ns,
            &name,
            json!({"app": "web"}),
            &[("http", 8080)],
        )
        .await;
        set_pod_status(&c.client, ns, &name, &format!("10.8.1.{}", i), true).await;
        changes += 2;
    }
    let s = wait_for("40 ready endpoints", T, || async {
        let s = slices(&api, "web").await;
        (ready_count(&s) == (40, 40)).then_some(s)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut writes = 0;
    while rx.try_recv().is_ok() {
        writes += 1;
    }
    eprintln!("churn: {changes} pod changes -> {writes} slice writes");
    assert!(
        writes < changes,
        "{writes} writes for {changes} pod changes"
    );
    assert_eq!(s.len(), 1);

    // Over 100 endpoints: more slices, none above 100.
    let _ = pods;
    for i in 40..130 {
        let name = format!("web-{i}");
        make_pod(
            &c.client,
            ns,
            &name,
            json!({"app": "web"}),
            &[("http", 8080)],
        )
        .await;
        set_pod_status(&c.client, ns, &name, &format!("10.8.2.{}", i), true).await;
    }
    let s = wait_for("130 ready endpoints", Duration::from_secs(20), || async {
        let s = slices(&api, "web").await;
        (ready_count(&s) == (130, 130)).then_some(s)
    })
    .await;
    assert!(s.len() >= 2);
    assert!(s.iter().all(|s| s.endpoints.as_ref().unwrap().len() <= 100));
    watch.abort();
}
