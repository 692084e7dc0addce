//! The resolv.conf and hosts file of a pod, as the kubelet writes them
//! (pkg/kubelet/network/dns): dnsPolicy ClusterFirst (the default) points
//! at the cluster DNS with the namespace search list and `ndots:5`;
//! Default copies the host's; None starts empty; ClusterFirstWithHostNet
//! is ClusterFirst also for hostNetwork pods (for which plain ClusterFirst
//! means Default). `spec.dnsConfig` is merged last. Without a cluster DNS
//! address the kubelet falls back to Default, and so does this.

use crate::builtin::dns::parse_resolv_conf;
use k8s_openapi::api::core::v1::Pod;
use std::net::IpAddr;

/// The kubelet's limits (validation.MaxDNSNameservers / MaxDNSSearchPaths).
const MAX_NAMESERVERS: usize = 3;
const MAX_SEARCHES: usize = 32;

/// The node's DNS settings (the kubelet's --cluster-dns / --cluster-domain).
#[derive(Debug, Clone, PartialEq)]
pub struct NodeDns {
    pub cluster_dns: Vec<IpAddr>,
    pub cluster_domain: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct DnsSettings {
    pub nameservers: Vec<String>,
    pub searches: Vec<String>,
    /// `name` or `name:value`.
    pub options: Vec<String>,
}

impl DnsSettings {
    pub fn render(&self) -> String {
        let mut out = String::new();
        if !self.searches.is_empty() {
            out.push_str(&format!("search {}\n", self.searches.join(" ")));
        }
        for ns in &self.nameservers {
            out.push_str(&format!("nameserver {ns}\n"));
        }
        if !self.options.is_empty() {
            out.push_str(&format!("options {}\n", self.options.join(" ")));
        }
        out
    }
}

fn host_settings(host_resolv_conf: &str) -> DnsSettings {
    let rc = parse_resolv_conf(host_resolv_conf);
    let options = host_resolv_conf
        .lines()
        .filter_map(|l| l.trim().strip_prefix("options"))
        .flat_map(|o| o.split_whitespace().map(str::to_string))
        .collect();
    DnsSettings {
        nameservers: rc.nameservers.iter().map(ToString::to_string).collect(),
        searches: rc.search,
        options,
    }
}

fn push_unique(list: &mut Vec<String>, items: impl IntoIterator<Item = String>) {
    for i in items {
        if !list.contains(&i) {
            list.push(i);
        }
    }
}

/// The effective policy: "ClusterFirst", "Default" or "None".
pub fn effective_policy(pod: &Pod, node: &NodeDns) -> &'static str {
    let spec = pod.spec.clone().unwrap_or_default();
    let host_network = spec.host_network.unwrap_or(false);
    let policy = match spec.dns_policy.as_deref() {
        Some("None") => "None",
        Some("Default") => "Default",
        Some("ClusterFirstWithHostNet") => "ClusterFirst",
        _ if host_network => "Default",
        _ => "ClusterFirst",
    };
    if policy == "ClusterFirst" && node.cluster_dns.is_empty() {
        return "Default";
    }
    policy
}

/// The pod's DNS settings from its spec, the node's settings and the host's
/// resolv.conf text.
pub fn pod_dns(pod: &Pod, node: &NodeDns, host_resolv_conf: &str) -> DnsSettings {
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let host = host_settings(host_resolv_conf);
    let mut s = match effective_policy(pod, node) {
        "None" => DnsSettings::default(),
        "Default" => host,
        _ => {
            let d = &node.cluster_domain;
            let mut searches = vec![format!("{ns}.svc.{d}"), format!("svc.{d}"), d.clone()];
            push_unique(&mut searches, host.searches);
            DnsSettings {
                nameservers: node.cluster_dns.iter().map(ToString::to_string).collect(),
                searches,
                options: vec!["ndots:5".to_string()],
            }
        }
    };
    if let Some(cfg) = pod.spec.as_ref().and_then(|s| s.dns_config.as_ref()) {
        push_unique(
            &mut s.nameservers,
            cfg.nameservers.clone().unwrap_or_default(),
        );
        push_unique(&mut s.searches, cfg.searches.clone().unwrap_or_default());
        for o in cfg.options.iter().flatten() {
            let Some(name) = o.name.clone() else {
                continue;
            };
            let rendered = match &o.value {
                Some(v) => format!("{name}:{v}"),
                None => name.clone(),
            };
            // A pod option replaces the option of the same name.
            s.options
                .retain(|x| x.split(':').next() != Some(name.as_str()));
            s.options.push(rendered);
        }
    }
    s.nameservers.truncate(MAX_NAMESERVERS);
    s.searches.truncate(MAX_SEARCHES);
    s
}

/// The kubelet-managed hosts file: localhost entries, the pod's own name
/// (`<hostname>.<subdomain>.<ns>.svc.<domain>` when it has a subdomain),
/// then `spec.hostAliases`.
pub fn pod_hosts(pod: &Pod, pod_ip: Option<IpAddr>, cluster_domain: &str) -> String {
    let spec = pod.spec.clone().unwrap_or_default();
    let mut out = String::from(
        "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n",
    );
    let name = pod.metadata.name.clone().unwrap_or_default();
    let hostname = spec
        .hostname
        .clone()
        .filter(|h| !h.is_empty())
        .unwrap_or(name);
    if let Some(ip) = pod_ip {
        match spec.subdomain.as_deref().filter(|s| !s.is_empty()) {
            Some(sub) => {
                let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
                out.push_str(&format!(
                    "{ip}\t{hostname}.{sub}.{ns}.svc.{cluster_domain}\t{hostname}\n"
                ));
            }
            None => out.push_str(&format!("{ip}\t{hostname}\n")),
        }
    }
    let aliases = spec.host_aliases.unwrap_or_default();
    if !aliases.is_empty() {
        out.push_str("\n# Entries added by HostAliases.\n");
        for a in aliases {
            out.push_str(&format!(
                "{}\t{}\n",
                a.ip,
                a.hostnames.unwrap_or_default().join("\t")
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(spec: serde_json::Value) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "shop"},
            "spec": spec,
        }))
        .unwrap()
    }

    fn node() -> NodeDns {
        NodeDns {
            cluster_dns: vec!["127.96.0.10".parse().unwrap()],
            cluster_domain: "cluster.local".into(),
        }
    }

    const HOST: &str = "nameserver 127.0.0.53\nsearch corp.example\noptions edns0 trust-ad\n";

    #[test]
    fn cluster_first_is_the_default() {
        let s = pod_dns(&pod(serde_json::json!({"containers": []})), &node(), HOST);
        assert_eq!(
            s.render(),
            "search shop.svc.cluster.local svc.cluster.local cluster.local corp.example\nnameserver 127.96.0.10\noptions ndots:5\n"
        );
    }

    #[test]
    fn default_and_host_network() {
        let s = pod_dns(
            &pod(serde_json::json!({"containers": [], "dnsPolicy": "Default"})),
            &node(),
            HOST,
        );
        assert_eq!(s.nameservers, vec!["127.0.0.53"]);
        assert_eq!(s.options, vec!["edns0", "trust-ad"]);
        let host_net = pod(serde_json::json!({"containers": [], "hostNetwork": true}));
        assert_eq!(effective_policy(&host_net, &node()), "Default");
        let with_host_net = pod(
            serde_json::json!({"containers": [], "hostNetwork": true, "dnsPolicy": "ClusterFirstWithHostNet"}),
        );
        assert_eq!(effective_policy(&with_host_net, &node()), "ClusterFirst");
        // No cluster DNS configured: the kubelet falls back to Default.
        let no_dns = NodeDns {
            cluster_dns: vec![],
            ..node()
        };
        assert_eq!(
            pod_dns(&pod(serde_json::json!({"containers": []})), &no_dns, HOST).nameservers,
            vec!["127.0.0.53"]
        );
    }

    #[test]
    fn none_with_dns_config_and_merging() {
        let p = pod(
            serde_json::json!({"containers": [], "dnsPolicy": "None", "dnsConfig": {
            "nameservers": ["127.0.0.9"], "searches": ["a.example"],
            "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]}}),
        );
        assert_eq!(
            pod_dns(&p, &node(), HOST).render(),
            "search a.example\nnameserver 127.0.0.9\noptions ndots:2 edns0\n"
        );
        let p = pod(
            serde_json::json!({"containers": [], "dnsConfig": {"options": [{"name": "ndots", "value": "1"}]}}),
        );
        assert_eq!(pod_dns(&p, &node(), HOST).options, vec!["ndots:1"]);
    }

    #[test]
    fn hosts_file() {
        let p = pod(
            serde_json::json!({"containers": [], "hostname": "web-0", "subdomain": "db",
            "hostAliases": [{"ip": "127.0.0.7", "hostnames": ["foo.local", "bar.local"]}]}),
        );
        let h = pod_hosts(&p, Some("127.244.0.5".parse().unwrap()), "cluster.local");
        assert!(
            h.contains("127.244.0.5\tweb-0.db.shop.svc.cluster.local\tweb-0\n"),
            "{h}"
        );
        assert!(h.ends_with("127.0.0.7\tfoo.local\tbar.local\n"), "{h}");
        let h = pod_hosts(
            &pod(serde_json::json!({"containers": []})),
            Some("127.244.0.6".parse().unwrap()),
            "cluster.local",
        );
        assert!(h.contains("127.244.0.6\tp\n"));
    }
}
