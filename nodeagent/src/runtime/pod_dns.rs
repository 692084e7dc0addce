//! The files the kubelet gives every pod for names: resolv.conf for its
//! dnsPolicy and the managed hosts file, written into the pod directory
//! (decided by `clusterdns::resolv`). Builtin images read resolv.conf
//! through `MKUBE_RESOLV_CONF`; host processes get both bind-mounted over
//! /etc/resolv.conf and /etc/hosts where a mount namespace is allowed.
//! Builtin system images that talk to the API (coredns) get a kubeconfig in
//! the pod directory through `KUBECONFIG`.

use super::Ctx;
use crate::clusterdns::resolv::{pod_dns, pod_hosts};
use k8s_openapi::api::core::v1::Pod;
use std::net::IpAddr;
use std::path::PathBuf;

/// The host's resolver configuration (the kubelet's --resolv-conf).
const HOST_RESOLV_CONF: &str = "/etc/resolv.conf";

#[derive(Debug, Clone)]
pub struct PodDnsFiles {
    pub resolv_conf: PathBuf,
    pub hosts: Option<PathBuf>,
}

impl PodDnsFiles {
    /// What to mount over the process's /etc.
    pub fn bind_mounts(&self) -> Vec<(PathBuf, PathBuf)> {
        let mut m = vec![(self.resolv_conf.clone(), PathBuf::from("/etc/resolv.conf"))];
        if let Some(h) = &self.hosts {
            m.push((h.clone(), PathBuf::from("/etc/hosts")));
        }
        m
    }
}

/// Writes `resolv.conf` (and `hosts`, except for hostNetwork pods, which
/// see the node's) into the pod directory.
pub fn write(
    ctx: &Ctx,
    pod: &Pod,
    uid: &str,
    pod_ip: Option<IpAddr>,
) -> std::io::Result<PodDnsFiles> {
    let dir = ctx.pod_dir(uid);
    std::fs::create_dir_all(&dir)?;
    let host = std::fs::read_to_string(HOST_RESOLV_CONF).unwrap_or_default();
    let resolv_conf = dir.join("resolv.conf");
    std::fs::write(&resolv_conf, pod_dns(pod, &ctx.dns, &host).render())?;
    let host_network = pod
        .spec
        .as_ref()
        .and_then(|s| s.host_network)
        .unwrap_or(false);
    let hosts = if host_network {
        None
    } else {
        let path = dir.join("hosts");
        std::fs::write(&path, pod_hosts(pod, pod_ip, &ctx.dns.cluster_domain))?;
        Some(path)
    };
    Ok(PodDnsFiles { resolv_conf, hosts })
}

/// A copy of the agent's pod kubeconfig in the pod directory, for builtin
/// images that need the API (what the in-cluster service account files are
/// to a real pod).
pub fn kubeconfig(ctx: &Ctx, uid: &str) -> Option<PathBuf> {
    let src = ctx.pod_kubeconfig.as_ref()?;
    let dst = ctx.pod_dir(uid).join("kubeconfig");
    match std::fs::copy(src, &dst) {
        Ok(_) => Some(dst),
        Err(e) => {
            tracing::warn!(error = %e, src = %src.display(), "cannot hand the pod a kubeconfig");
            None
        }
    }
}
