//! A Node the benchmark owns and no agent runs (kwok's approach): registered
//! Ready with a pod range, its Lease renewed by the benchmark every 10 s so
//! the node lifecycle controller never marks it Unknown nor its pods not
//! Ready while the benchmark writes their status itself.

use anyhow::Context;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use std::time::Duration;

pub struct SyntheticNode {
    renew: tokio::task::JoinHandle<()>,
}

impl SyntheticNode {
    pub async fn register(
        client: &kube::Client,
        name: &str,
        pod_cidr: &str,
    ) -> anyhow::Result<SyntheticNode> {
        let nodes: Api<Node> = Api::all(client.clone());
        let node: Node = serde_json::from_value(json!({
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
            "spec": {"podCIDR": pod_cidr, "podCIDRs": [pod_cidr]},
        }))?;
        let node = nodes
            .create(&PostParams::default(), &node)
            .await
            .with_context(|| format!("registering node {name}"))?;
        let now = k8s_openapi::jiff::Timestamp::now().to_string();
        let status = json!({"status": {
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                "lastHeartbeatTime": now, "lastTransitionTime": now}],
            "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
        }});
        nodes
            .patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
            .await
            .with_context(|| format!("reporting node {name} Ready"))?;
        nodeagent::node::renew_lease(client, &node).await?;
        let client = client.clone();
        let renew = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(10)).await;
                if let Err(e) = nodeagent::node::renew_lease(&client, &node).await {
                    tracing::warn!(error = %e, "cannot renew the benchmark node's lease");
                }
            }
        });
        Ok(SyntheticNode { renew })
    }
}

impl Drop for SyntheticNode {
    fn drop(&mut self) {
        self.renew.abort();
    }
}
