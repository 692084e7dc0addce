//! ServiceAccount controller against a real mkube API server.

use crate::common::*;
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::{Api, DeleteParams};
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_namespace_gets_a_default_serviceaccount() {
    let Some(c) = Cluster::start("serviceaccount").await else {
        return;
    };
    let _ctl = c.controllers_only(&["serviceaccount"]).await;
    let existing: Api<ServiceAccount> = Api::namespaced(c.client.clone(), "default");
    wait_for("default/default", T, || async {
        existing.get_opt("default").await.ok().flatten()
    })
    .await;
    create_namespace(&c.client, "team-a").await;
    let sas: Api<ServiceAccount> = Api::namespaced(c.client.clone(), "team-a");
    wait_for("team-a/default", T, || async {
        sas.get_opt("default").await.ok().flatten()
    })
    .await;
    // Deleted: it comes back.
    sas.delete("default", &DeleteParams::default())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    wait_for("team-a/default recreated", T, || async {
        sas.get_opt("default").await.ok().flatten()
    })
    .await;
}
