//! Every controller at once, as `mkube up` runs them: a Deployment behind a
//! Service gets Endpoints and EndpointSlices for its pods, and deleting the
//! namespace removes it all.

use crate::common::*;
use controllers::endpoints::compute::addresses;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Endpoints, Namespace, Service, ServiceAccount};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, DeleteParams, ListParams};
use serde_json::json;
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployment_service_and_namespace_lifecycle() {
    let Some(c) = Cluster::start("all").await else {
        return;
    };
    let ctl = c.controllers().await;
    assert_eq!(ctl.controllers().len(), controllers::CONTROLLERS.len());
    create_namespace(&c.client, "shop").await;
    let _kubelet = fake_kubelet(&c.client, "shop");
    let sas: Api<ServiceAccount> = Api::namespaced(c.client.clone(), "shop");
    wait_for("default serviceaccount", T, || async {
        sas.get_opt("default").await.ok().flatten()
    })
    .await;
    create::<Deployment>(&c.client, "shop", json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "c", "image": "nginx", "ports": [{"name": "http", "containerPort": 80}]}]}}}})).await;
    create::<Service>(&c.client, "shop", json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web"}, "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": "http"}]}})).await;
    let eps: Api<Endpoints> = Api::namespaced(c.client.clone(), "shop");
    wait_for("3 ready endpoints", T, || async {
        let e = eps.get_opt("web").await.ok()??;
        (addresses(&e).0.len() == 3).then_some(())
    })
    .await;
    let slices: Api<EndpointSlice> = Api::namespaced(c.client.clone(), "shop");
    wait_for("3 ready slice endpoints", T, || async {
        let l = slices
            .list(&ListParams::default().labels("kubernetes.io/service-name=web"))
            .await
            .ok()?;
        let n = l
            .items
            .iter()
            .flat_map(|s| s.endpoints.clone().unwrap_or_default())
            .filter(|e| e.conditions.as_ref().and_then(|c| c.ready) == Some(true))
            .count();
        (n == 3).then_some(())
    })
    .await;
    let nss: Api<Namespace> = Api::all(c.client.clone());
    nss.delete("shop", &DeleteParams::default()).await.unwrap();
    wait_for("namespace removed", T, || async {
        nss.get_opt("shop")
            .await
            .ok()
            .and_then(|n| n.is_none().then_some(()))
    })
    .await;
}
