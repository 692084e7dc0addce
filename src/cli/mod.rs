//! Command-line interface: `up`, `down`, and the separate components.

mod cluster_ranges;
mod components;
mod data_dir_lock;
mod detach;
mod etcd;
mod leader;
mod range_claims;
mod up;

use clap::parser::ValueSource;
use clap::{ArgMatches, Args, Parser, Subcommand};
pub use cluster_ranges::ExplicitRanges;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "mkube",
    version,
    about = "A Kubernetes-compatible mini control plane in one binary"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the whole dev cluster in one process.
    Up(UpArgs),
    /// Stop a cluster started with `up --detach`.
    Down(DataDirArgs),
    /// Run only the API server.
    Apiserver(ServerArgs),
    /// Run the controllers and the scheduler against an API server.
    Controllers(components::ControllersArgs),
    /// Run a node agent (pods and the service proxy) against an API server.
    Nodeagent(components::NodeAgentArgs),
    /// Copy every object between a data dir and etcd, keeping their order.
    Migrate(etcd::MigrateArgs),
    /// Benchmarks against real clusters started for the purpose.
    #[command(subcommand)]
    Bench(crate::bench::BenchCommand),
}

#[derive(Args, Clone)]
pub struct DataDirArgs {
    /// Where the cluster keeps its state, certificates and kubeconfig.
    #[arg(long, env = "MKUBE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
}

impl DataDirArgs {
    pub fn resolve(&self) -> PathBuf {
        self.data_dir.clone().unwrap_or_else(|| {
            let home = std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("."));
            home.join(".mkube")
        })
    }
}

#[derive(Args, Clone)]
pub struct ServerArgs {
    #[command(flatten)]
    pub data: DataDirArgs,
    /// HTTPS port of the API server.
    #[arg(long, default_value_t = 6443)]
    pub port: u16,
    /// Address the API server listens on and advertises.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind_address: std::net::IpAddr,
    /// Range(s) for Service ClusterIPs (comma-separated for dual-stack).
    #[arg(long, default_value = "127.96.0.0/16", value_delimiter = ',')]
    pub service_cidr: Vec<ipnet_arg::Cidr>,
    /// Range for NodePorts.
    #[arg(long, default_value = "30000-32767")]
    pub service_node_port_range: String,
    /// Range node pod CIDRs are carved from.
    #[arg(long, default_value = "127.244.0.0/16")]
    pub cluster_cidr: ipnet_arg::Cidr,
    #[command(flatten)]
    pub etcd: etcd::EtcdArgs,
}

#[derive(Args, Clone)]
pub struct UpArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub node: NodeArgs,
    #[command(flatten)]
    pub controllers: ControllerArgs,
    /// Return once the cluster is ready, leaving it running in the background.
    #[arg(long)]
    pub detach: bool,
}

/// Tuning of the controllers, shared by `mkube up` and `mkube controllers`.
#[derive(Args, Clone)]
pub struct ControllerArgs {
    /// How long a node may go without renewing its Lease before the node
    /// lifecycle controller marks it Unknown and taints it unreachable
    /// (kube-controller-manager's flag; `40s`, `2.5s`, `1m`).
    #[arg(long, default_value = "40s", value_parser = parse_duration_arg)]
    pub node_monitor_grace_period: std::time::Duration,
    /// Prefix length of the pod range each node gets from the cluster CIDR
    /// (kube-controller-manager's flag; default 24 for IPv4, 64 for IPv6).
    /// 22 gives a node 1,022 pod addresses.
    #[arg(long)]
    pub node_cidr_mask_size: Option<u8>,
}

impl ControllerArgs {
    /// Options for the controllers; `cluster_cidr` is the range node pod
    /// CIDRs are allocated from (None: nodes bring their own).
    pub fn options(&self, cluster_cidr: Option<ipnet::IpNet>) -> controllers::ControllerOptions {
        controllers::ControllerOptions {
            node_monitor_grace_period: self.node_monitor_grace_period,
            cluster_cidr,
            node_cidr_mask_size: self.node_cidr_mask_size,
            ..Default::default()
        }
    }
}

fn parse_duration_arg(s: &str) -> Result<std::time::Duration, String> {
    nodeagent::builtin::busybox::parse_duration(s)
        .and_then(|secs| std::time::Duration::try_from_secs_f64(secs).ok())
        .ok_or_else(|| format!("invalid duration {s:?} (expected e.g. 40s, 2.5s, 1m)"))
}

/// The node part of the cluster (agent and service proxy).
#[derive(Args, Clone)]
pub struct NodeArgs {
    /// Name of the node this process runs (default: the host name).
    #[arg(long)]
    pub node_name: Option<String>,
    /// The node's address (InternalIP); NodePorts listen here by default.
    #[arg(long, default_value = "127.0.0.1")]
    pub node_ip: std::net::IpAddr,
    /// Addresses NodePorts listen on (default: the node IP).
    #[arg(long, value_delimiter = ',')]
    pub nodeport_addresses: Vec<std::net::IpAddr>,
    /// How Service traffic is forwarded.
    #[arg(long, default_value = "userspace")]
    pub proxy_mode: nodeagent::proxy::ProxyMode,
    /// Where the service proxy serves `/metrics` and `/healthz` (kube-proxy's
    /// --metrics-bind-address and --healthz-bind-address in one; default: the
    /// node IP with a port the kernel picks, so agents sharing a host never
    /// collide; the address is logged at start).
    #[arg(long)]
    pub proxy_metrics_bind_address: Option<std::net::SocketAddr>,
    /// YAML/JSON map from image names to host commands, for images that are not builtin.
    #[arg(long)]
    pub image_map: Option<std::path::PathBuf>,
    /// Addresses LoadBalancer Services get (inside 127.0.0.0/8: reachable without root).
    #[arg(long, default_value = "127.240.0.0/16")]
    pub lb_ip_range: ipnet_arg::Cidr,
    /// The cluster's DNS domain (Service names end in `.svc.<domain>`).
    #[arg(long, default_value = nodeagent::clusterdns::DEFAULT_CLUSTER_DOMAIN)]
    pub cluster_domain: String,
    /// Pods this node runs at most, its `pods` capacity (the kubelet's flag).
    #[arg(long, default_value_t = nodeagent::node::DEFAULT_MAX_PODS)]
    pub max_pods: u32,
}

impl NodeArgs {
    pub fn node_name(&self) -> String {
        self.node_name.clone().unwrap_or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|h| h.trim().to_lowercase())
                .ok()
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| "mkube".to_string())
        })
    }

    /// The service proxy of this node: NodePorts on `--nodeport-addresses`
    /// (default the node IP), `/metrics` and `/healthz` on
    /// `--proxy-metrics-bind-address` (default the node IP, a kernel-picked port).
    pub fn proxy_options(&self) -> nodeagent::proxy::ProxyOptions {
        let nodeport_addresses = if self.nodeport_addresses.is_empty() {
            vec![self.node_ip]
        } else {
            self.nodeport_addresses.clone()
        };
        nodeagent::proxy::ProxyOptions {
            node_name: self.node_name(),
            nodeport_addresses,
            mode: self.proxy_mode,
            status_address: self
                .proxy_metrics_bind_address
                .unwrap_or(std::net::SocketAddr::new(self.node_ip, 0)),
        }
    }
}

pub mod ipnet_arg {
    /// A CIDR argument (kept as text for the API config to parse).
    #[derive(Clone, Debug)]
    pub struct Cidr(pub String);
    impl std::str::FromStr for Cidr {
        type Err = String;
        fn from_str(s: &str) -> Result<Self, String> {
            s.parse::<std::net::IpAddr>()
                .map(|_| ())
                .or_else(|_| s.split_once('/').map(|_| ()).ok_or(()))
                .map_err(|_| format!("invalid CIDR address: {s}"))?;
            Ok(Cidr(s.to_string()))
        }
    }
}

/// Which of `mkube up`'s range flags the user gave (from the command line
/// or the environment), as opposed to their defaults.
pub fn explicit_ranges(matches: &ArgMatches) -> ExplicitRanges {
    let Some(up) = matches.subcommand_matches("up") else {
        return ExplicitRanges::default();
    };
    let given = |id: &str| {
        matches!(
            up.value_source(id),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        )
    };
    ExplicitRanges {
        service_cidr: given("service_cidr"),
        cluster_cidr: given("cluster_cidr"),
        lb_ip_range: given("lb_ip_range"),
        node_ip: given("node_ip"),
    }
}

pub fn run(cli: Cli, explicit: ExplicitRanges) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Up(args) if args.detach => detach::up_detached(&args),
        Command::Up(args) => up::run(args, true, explicit),
        Command::Apiserver(args) => up::run(
            UpArgs {
                server: args,
                node: NodeArgs {
                    node_name: None,
                    node_ip: std::net::IpAddr::from([127, 0, 0, 1]),
                    nodeport_addresses: Vec::new(),
                    proxy_mode: nodeagent::proxy::ProxyMode::Userspace,
                    proxy_metrics_bind_address: None,
                    lb_ip_range: ipnet_arg::Cidr("127.240.0.0/16".into()),
                    image_map: None,
                    cluster_domain: nodeagent::clusterdns::DEFAULT_CLUSTER_DOMAIN.to_string(),
                    max_pods: nodeagent::node::DEFAULT_MAX_PODS,
                },
                controllers: ControllerArgs {
                    node_monitor_grace_period: controllers::nodelifecycle::DEFAULT_GRACE,
                    node_cidr_mask_size: None,
                },
                detach: false,
            },
            false,
            ExplicitRanges::default(),
        ),
        Command::Down(args) => detach::down(&args),
        Command::Controllers(args) => components::run_controllers(args),
        Command::Nodeagent(args) => components::run_nodeagent(args),
        Command::Migrate(args) => etcd::run_migrate(args),
        Command::Bench(cmd) => crate::bench::run(cmd).map(|_| ExitCode::SUCCESS),
    }
}
