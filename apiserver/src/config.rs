//! Cluster-wide settings the API server needs.

use ipnet::IpNet;
use std::ops::RangeInclusive;

#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// `--service-cidr`: one or two (dual-stack) ranges for ClusterIPs.
    pub service_cidrs: Vec<IpNet>,
    /// `--service-node-port-range`.
    pub node_port_range: RangeInclusive<u16>,
    /// `--cluster-cidr`: the range node podCIDRs are carved from.
    pub cluster_cidr: IpNet,
    /// Address clients use to reach the API server (the `kubernetes` Service's endpoint).
    pub advertise_address: std::net::IpAddr,
    pub port: u16,
    /// `--etcd-servers` and friends: store objects in etcd instead of the
    /// embedded sled database in the data dir.
    pub etcd: Option<crate::storage::EtcdOptions>,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            service_cidrs: vec!["127.96.0.0/16".parse().expect("static CIDR")],
            node_port_range: 30000..=32767,
            cluster_cidr: "127.244.0.0/16".parse().expect("static CIDR"),
            advertise_address: std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
            port: 6443,
            etcd: None,
        }
    }
}
