//! Deployment (with ReplicaSet) controllers against a real mkube API server,
//! checked through the API and, when available, the real kubectl.

use crate::common::*;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, Patch, PatchParams};
use serde_json::json;
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

async fn live_pods(api: &Api<Pod>, app: &str) -> Vec<Pod> {
    api.list(&ListParams::default().labels(&format!("app={app}")))
        .await
        .map(|l| {
            l.items
                .into_iter()
                .filter(|p| p.metadata.deletion_timestamp.is_none())
                .collect()
        })
        .unwrap_or_default()
}

async fn settled(d: &Api<Deployment>, name: &str, replicas: i32) -> Deployment {
    wait_for(&format!("{name} settled at {replicas}"), T, || async {
        let dep = d.get(name).await.ok()?;
        let st = dep.status.clone()?;
        let ok = st.observed_generation >= dep.metadata.generation
            && st.replicas == Some(replicas)
            && st.updated_replicas == Some(replicas)
            && st.available_replicas == Some(replicas)
            && st.ready_replicas == Some(replicas);
        ok.then_some(dep)
    })
    .await
}

fn cond<'a>(d: &'a Deployment, t: &str) -> (&'a str, &'a str) {
    let c = d
        .status
        .as_ref()
        .unwrap()
        .conditions
        .as_ref()
        .unwrap()
        .iter()
        .find(|c| c.type_.as_deref() == Some(t))
        .unwrap();
    (c.status.as_deref().unwrap(), c.reason.as_deref().unwrap())
}

fn kubectl_ok(c: &Cluster, args: &[&str]) -> Option<String> {
    let k = kubectl()?;
    let out = std::process::Command::new(k)
        .env("KUBECONFIG", &c.kubeconfig)
        .args(args)
        .output()
        .ok()?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "kubectl {args:?} failed: {text}");
    Some(text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployment_scales_rolls_out_and_reports() {
    let Some(c) = Cluster::start("deployment").await else {
        return;
    };
    let _ctl = c
        .controllers_only(&["deployment", "replicaset", "garbagecollector"])
        .await;
    let _kubelet = fake_kubelet(&c.client, "default");
    let ds: Api<Deployment> = Api::namespaced(c.client.clone(), "default");
    let rss: Api<ReplicaSet> = Api::namespaced(c.client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(c.client.clone(), "default");
    create::<Deployment>(&c.client, "default", json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"replicas": 3, "revisionHistoryLimit": 1, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "c", "image": "nginx:1"}]}}}})).await;
    let d = settled(&ds, "web", 3).await;
    assert_eq!(cond(&d, "Available"), ("True", "MinimumReplicasAvailable"));
    assert_eq!(cond(&d, "Progressing"), ("True", "NewReplicaSetAvailable"));
    assert_eq!(
        d.metadata.annotations.as_ref().unwrap()["deployment.kubernetes.io/revision"],
        "1"
    );
    let rs_list = rss.list(&Default::default()).await.unwrap().items;
    assert_eq!(rs_list.len(), 1);
    let rs1 = &rs_list[0];
    let hash = rs1.metadata.labels.as_ref().unwrap()["pod-template-hash"].clone();
    assert_eq!(
        rs1.metadata.name.as_deref(),
        Some(format!("web-{hash}").as_str())
    );
    let ann = rs1.metadata.annotations.as_ref().unwrap();
    assert_eq!(
        (
            ann["deployment.kubernetes.io/revision"].as_str(),
            ann["deployment.kubernetes.io/desired-replicas"].as_str(),
            ann["deployment.kubernetes.io/max-replicas"].as_str()
        ),
        ("1", "3", "4")
    );
    let p = live_pods(&pods, "web").await;
    assert_eq!(p.len(), 3);
    assert!(p
        .iter()
        .all(|p| p.metadata.labels.as_ref().unwrap()["pod-template-hash"] == hash));
    assert!(p.iter().all(|p| p
        .metadata
        .name
        .as_deref()
        .unwrap()
        .starts_with(&format!("web-{hash}-"))));

    if kubectl().is_some() {
        kubectl_ok(
            &c,
            &["rollout", "status", "deployment/web", "--timeout=20s"],
        );
        kubectl_ok(
            &c,
            &[
                "wait",
                "--for=condition=available",
                "deployment/web",
                "--timeout=20s",
            ],
        );
    }

    // Scale 3 -> 5 -> 1.
    for n in [5, 1] {
        ds.patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": n}})),
        )
        .await
        .unwrap();
        settled(&ds, "web", n).await;
        wait_for(&format!("{n} pods"), T, || async {
            (live_pods(&pods, "web").await.len() == n as usize).then_some(())
        })
        .await;
    }

    // New template: a second ReplicaSet takes over, the first goes to 0.
    ds.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 3,
        "template": {"spec": {"containers": [{"name": "c", "image": "nginx:2"}]}}}})),
    )
    .await
    .unwrap();
    let d = wait_for("revision 2 rolled out", T, || async {
        let d = settled(&ds, "web", 3).await;
        (d.metadata
            .annotations
            .as_ref()?
            .get("deployment.kubernetes.io/revision")?
            == "2")
            .then_some(d)
    })
    .await;
    assert_eq!(cond(&d, "Progressing"), ("True", "NewReplicaSetAvailable"));
    let rs_list = rss.list(&Default::default()).await.unwrap().items;
    assert_eq!(rs_list.len(), 2);
    let old = rs_list
        .iter()
        .find(|r| r.metadata.name.as_deref() == Some(&format!("web-{hash}")))
        .unwrap();
    assert_eq!(old.spec.replicas, Some(0));
    wait_for("only new pods", T, || async {
        let p = live_pods(&pods, "web").await;
        (p.len() == 3
            && p.iter()
                .all(|p| p.metadata.labels.as_ref().unwrap()["pod-template-hash"] != hash))
        .then_some(())
    })
    .await;
    if kubectl().is_some() {
        kubectl_ok(
            &c,
            &["rollout", "status", "deployment/web", "--timeout=20s"],
        );
    }

    // A third template: history limit 1 keeps one old ReplicaSet.
    ds.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {
        "template": {"spec": {"containers": [{"name": "c", "image": "nginx:3"}]}}}})),
    )
    .await
    .unwrap();
    wait_for("history trimmed to 1 old replica set", T, || async {
        let d = ds.get("web").await.ok()?;
        let rev = d
            .metadata
            .annotations
            .as_ref()?
            .get("deployment.kubernetes.io/revision")?
            .clone();
        let n = rss
            .list(&Default::default())
            .await
            .ok()?
            .items
            .iter()
            .filter(|r| r.metadata.deletion_timestamp.is_none())
            .count();
        (rev == "3" && n == 2).then_some(())
    })
    .await;

    // Events on the Deployment.
    let events: Api<k8s_openapi::api::events::v1::Event> =
        Api::namespaced(c.client.clone(), "default");
    let notes: Vec<String> = events
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .filter(|e| e.reason.as_deref() == Some("ScalingReplicaSet"))
        .filter_map(|e| e.note.clone())
        .collect();
    assert!(
        notes
            .iter()
            .any(|n| n == &format!("Scaled up replica set web-{hash} to 3 from 0")),
        "{notes:?}"
    );
    assert!(
        notes
            .iter()
            .any(|n| n == &format!("Scaled up replica set web-{hash} to 5 from 3")),
        "{notes:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recreate_scales_old_to_zero_before_new() {
    let Some(c) = Cluster::start("deployment-recreate").await else {
        return;
    };
    let _ctl = c.controllers_only(&["deployment", "replicaset"]).await;
    let _kubelet = fake_kubelet(&c.client, "default");
    let ds: Api<Deployment> = Api::namespaced(c.client.clone(), "default");
    let rss: Api<ReplicaSet> = Api::namespaced(c.client.clone(), "default");
    create::<Deployment>(&c.client, "default", json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "db"},
        "spec": {"replicas": 2, "strategy": {"type": "Recreate"}, "selector": {"matchLabels": {"app": "db"}},
                 "template": {"metadata": {"labels": {"app": "db"}},
                              "spec": {"containers": [{"name": "c", "image": "pg:1"}]}}}})).await;
    settled(&ds, "db", 2).await;
    // Watch the ReplicaSets while rolling: the new one never has pods while the old one does.
    ds.patch(
        "db",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {
        "template": {"spec": {"containers": [{"name": "c", "image": "pg:2"}]}}}})),
    )
    .await
    .unwrap();
    let deadline = std::time::Instant::now() + T;
    loop {
        let list = rss.list(&Default::default()).await.unwrap().items;
        let with_pods = list
            .iter()
            .filter(|r| r.status.as_ref().is_some_and(|s| s.replicas > 0))
            .count();
        assert!(
            with_pods <= 1,
            "old and new replica sets had pods at the same time"
        );
        let d = ds.get("db").await.unwrap();
        let st = d.status.clone().unwrap_or_default();
        if list.len() == 2
            && st.updated_replicas == Some(2)
            && st.available_replicas == Some(2)
            && st.replicas == Some(2)
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "recreate rollout did not finish"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
