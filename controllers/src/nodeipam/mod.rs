//! Node IPAM (kube-controller-manager's `nodeipam` controller with
//! `--allocate-node-cidrs`): every Node without a `podCIDR` gets the lowest
//! free range of `--node-cidr-mask-size` (24 for IPv4 by default) of
//! `--cluster-cidr`, so a
//! second `mkube nodeagent` on the same machine never shares pod IPs with
//! the first. A podCIDR once set is never changed.

use crate::util::watch::wait_all;
use crate::ControllerOptions;
use futures::StreamExt;
use informers::Informers;
use ipnet::IpNet;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::watcher;
use kube::ResourceExt;
use serde_json::json;
use std::collections::HashSet;
use std::sync::Arc;
use tokio::sync::Notify;

/// kube-controller-manager's default `--node-cidr-mask-size` for IPv4.
pub const NODE_MASK_V4: u8 = 24;
/// ... and for IPv6.
pub const NODE_MASK_V6: u8 = 64;

fn pod_cidr(node: &Node) -> Option<IpNet> {
    node.spec.as_ref()?.pod_cidr.as_deref()?.parse().ok()
}

/// Prefix length of a node's range in `cluster`: `requested`
/// (`--node-cidr-mask-size`) or the default of the address family, never
/// wider than the cluster range itself nor longer than an address.
pub fn node_mask(cluster: IpNet, requested: Option<u8>) -> u8 {
    let default = match cluster {
        IpNet::V4(_) => NODE_MASK_V4,
        IpNet::V6(_) => NODE_MASK_V6,
    };
    requested
        .unwrap_or(default)
        .clamp(cluster.prefix_len(), cluster.max_prefix_len())
}

/// Which nodes get which range: nodes without one, in name order, each the
/// lowest range of `mask` bits in `cluster` no node holds. Nodes left over
/// when the range is exhausted get nothing.
pub fn plan(nodes: &[Node], cluster: IpNet, mask: u8) -> Vec<(String, IpNet)> {
    let used: HashSet<IpNet> = nodes.iter().filter_map(pod_cidr).collect();
    let mut free = cluster
        .subnets(mask)
        .into_iter()
        .flatten()
        .filter(|c| !used.contains(c));
    let mut pending: Vec<String> = nodes
        .iter()
        .filter(|n| pod_cidr(n).is_none())
        .map(|n| n.name_any())
        .collect();
    pending.sort();
    pending
        .into_iter()
        .map_while(|name| free.next().map(|c| (name, c)))
        .collect()
}

pub(crate) async fn start(
    informers: &Informers,
    opts: &ControllerOptions,
) -> anyhow::Result<crate::Started> {
    let client = informers.client().clone();
    let Some(cluster) = opts.cluster_cidr else {
        // Without a cluster CIDR there is nothing to allocate from.
        return Ok(crate::Started::new("nodeipam", Vec::new()));
    };
    let (nodes, synced, events) = informers.cached::<Node>(watcher::Config::default());
    let changed = Arc::new(Notify::new());
    let notify = changed.clone();
    let mut tasks = vec![tokio::spawn(events.for_each(move |_| {
        notify.notify_one();
        async {}
    }))];
    wait_all(vec![synced]).await?;
    let api: Api<Node> = Api::all(client);
    let mask = node_mask(cluster, opts.node_cidr_mask_size);
    tasks.push(tokio::spawn(async move {
        loop {
            let current: Vec<Node> = nodes.state().iter().map(|n| (**n).clone()).collect();
            for (name, cidr) in plan(&current, cluster, mask) {
                let patch =
                    json!({"spec": {"podCIDR": cidr.to_string(), "podCIDRs": [cidr.to_string()]}});
                match api
                    .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                {
                    Ok(_) => tracing::info!(node = %name, %cidr, "allocated the node's pod CIDR"),
                    Err(e) => tracing::warn!(node = %name, error = %e, "cannot set the pod CIDR"),
                }
            }
            changed.notified().await;
        }
    }));
    Ok(crate::Started::new("nodeipam", tasks))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, cidr: Option<&str>) -> Node {
        serde_json::from_value(json!({"metadata": {"name": name}, "spec": {"podCIDR": cidr}}))
            .unwrap()
    }

    #[test]
    fn lowest_free_range_per_node_without_one() {
        let cluster: IpNet = "127.244.0.0/16".parse().unwrap();
        let nodes = [
            node("a", Some("127.244.0.0/24")),
            node("c", None),
            node("b", None),
            node("d", Some("127.244.2.0/24")),
        ];
        let got = plan(&nodes, cluster, node_mask(cluster, None));
        assert_eq!(
            got,
            vec![
                ("b".to_string(), "127.244.1.0/24".parse().unwrap()),
                ("c".to_string(), "127.244.3.0/24".parse().unwrap()),
            ]
        );
        assert!(plan(&nodes[..1], cluster, 24).is_empty());
    }

    #[test]
    fn exhausted_range_leaves_nodes_waiting() {
        let cluster: IpNet = "127.244.0.0/23".parse().unwrap();
        let nodes = [node("a", None), node("b", None), node("c", None)];
        assert_eq!(plan(&nodes, cluster, 24).len(), 2);
        // A cluster range smaller than a /24 is handed out whole.
        let tiny: IpNet = "127.9.0.0/25".parse().unwrap();
        let mask = node_mask(tiny, None);
        assert_eq!(plan(&nodes, tiny, mask), vec![("a".to_string(), tiny)]);
    }

    #[test]
    fn mask_size_flag_sets_the_node_range() {
        let cluster: IpNet = "127.244.0.0/16".parse().unwrap();
        let mask = node_mask(cluster, Some(22));
        let nodes = [node("a", None), node("b", None)];
        assert_eq!(
            plan(&nodes, cluster, mask),
            vec![
                ("a".to_string(), "127.244.0.0/22".parse().unwrap()),
                ("b".to_string(), "127.244.4.0/22".parse().unwrap()),
            ]
        );
        // Out-of-range sizes are clamped to what the cluster range allows.
        assert_eq!(node_mask(cluster, Some(8)), 16);
        assert_eq!(node_mask(cluster, Some(40)), 32);
    }
}
