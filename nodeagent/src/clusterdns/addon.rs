//! The cluster DNS add-on as kubeadm installs it: the `coredns` Deployment
//! in kube-system (label `k8s-app=kube-dns`, dnsPolicy Default, ports 53
//! UDP/TCP) and the `kube-dns` Service on the tenth address of the service
//! range. Applied with server-side apply on every start, so it is created
//! once and repaired (not duplicated) afterwards.

use anyhow::Context;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};
use serde_json::{json, Value};
use std::net::IpAddr;

pub const NAMESPACE: &str = "kube-system";
pub const IMAGE: &str = "registry.k8s.io/coredns/coredns:v1.12.0";
const FIELD_MANAGER: &str = "mkube";

/// The `coredns` Deployment.
pub fn deployment(cluster_domain: &str) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "coredns", "namespace": NAMESPACE, "labels": {"k8s-app": "kube-dns"}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"k8s-app": "kube-dns"}},
            "template": {
                "metadata": {"labels": {"k8s-app": "kube-dns"}},
                "spec": {
                    "dnsPolicy": "Default",
                    "priorityClassName": "system-cluster-critical",
                    "containers": [{
                        "name": "coredns",
                        "image": IMAGE,
                        "args": [format!("--cluster-domain={cluster_domain}")],
                        "ports": [
                            {"name": "dns", "containerPort": 53, "protocol": "UDP"},
                            {"name": "dns-tcp", "containerPort": 53, "protocol": "TCP"}
                        ],
                        // TCP 53 listens only once the index is filled.
                        "readinessProbe": {"tcpSocket": {"port": 53}, "periodSeconds": 1}
                    }]
                }
            }
        }
    })
}

/// The `kube-dns` Service on `cluster_ip`.
pub fn service(cluster_ip: IpAddr) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "kube-dns", "namespace": NAMESPACE, "labels": {
            "k8s-app": "kube-dns",
            "kubernetes.io/cluster-service": "true",
            "kubernetes.io/name": "CoreDNS"
        }},
        "spec": {
            "selector": {"k8s-app": "kube-dns"},
            "clusterIP": cluster_ip.to_string(),
            "ports": [
                {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53}
            ]
        }
    })
}

/// Creates or repairs the add-on.
pub async fn ensure(
    client: &Client,
    cluster_ip: IpAddr,
    cluster_domain: &str,
) -> anyhow::Result<()> {
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let services: Api<Service> = Api::namespaced(client.clone(), NAMESPACE);
    services
        .patch("kube-dns", &params, &Patch::Apply(service(cluster_ip)))
        .await
        .context("applying the kube-dns Service")?;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NAMESPACE);
    deployments
        .patch(
            "coredns",
            &params,
            &Patch::Apply(deployment(cluster_domain)),
        )
        .await
        .context("applying the coredns Deployment")?;
    Ok(())
}
