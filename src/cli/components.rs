//! `mkube controllers` and `mkube nodeagent`: the in-cluster components as
//! separate processes against any mkube API server, through a kubeconfig
//! (HTTPS), exactly as they run inside `mkube up` over the in-process service.

use super::up::{init_tracing, wait_for_signal, AbortOnDrop};
use super::NodeArgs;
use anyhow::Context;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args, Clone)]
pub struct ControllersArgs {
    /// Kubeconfig of the API server to work against.
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: PathBuf,
    /// Addresses LoadBalancer Services get.
    #[arg(long, default_value = "127.240.0.0/16")]
    pub lb_ip_range: super::ipnet_arg::Cidr,
    #[command(flatten)]
    pub controllers: super::ControllerArgs,
    /// Range node pod CIDRs are allocated from (a /24 per node without one);
    /// unset: nodes bring their own (`mkube nodeagent --pod-cidr`).
    #[arg(long)]
    pub cluster_cidr: Option<super::ipnet_arg::Cidr>,
    #[command(flatten)]
    pub election: super::leader::LeaderElectionArgs,
}

#[derive(Args, Clone)]
pub struct NodeAgentArgs {
    /// Kubeconfig of the API server to work against.
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: PathBuf,
    #[command(flatten)]
    pub node: NodeArgs,
    /// Pod directories, pidfiles and logs.
    #[arg(long)]
    pub data_dir: PathBuf,
    /// This node's pod range (a /24 of the cluster CIDR); assigned on registration if the Node has none.
    #[arg(long)]
    pub pod_cidr: Option<super::ipnet_arg::Cidr>,
    /// Bearer token the agent's endpoint requires (the API server presents the cluster token).
    #[arg(long, env = "MKUBE_AGENT_TOKEN")]
    pub agent_token: String,
    /// Cluster DNS address(es) written into pods' resolv.conf (the kube-dns ClusterIP);
    /// without it ClusterFirst pods get the host's resolvers, as the kubelet does.
    #[arg(long, value_delimiter = ',')]
    pub cluster_dns: Vec<std::net::IpAddr>,
}

async fn client(kubeconfig: &PathBuf) -> anyhow::Result<kube::Client> {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig)
        .with_context(|| format!("reading {}", kubeconfig.display()))?;
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await?;
    // The components' caches drop managedFields: their lists and watches
    // leave them out.
    Ok(kube::client::ClientBuilder::try_from(config)?
        .with_layer(&informers::lean_requests::layer())
        .build())
}

/// An optional CIDR flag, parsed.
fn optional_cidr(
    arg: &Option<super::ipnet_arg::Cidr>,
    flag: &str,
) -> anyhow::Result<Option<ipnet::IpNet>> {
    arg.as_ref()
        .map(|c| c.0.parse())
        .transpose()
        .with_context(|| format!("invalid {flag}"))
}

/// The CA bundle of the kubeconfig's current cluster, which the root CA
/// publisher hands to pods.
fn kubeconfig_ca(path: &std::path::Path) -> Option<String> {
    use base64::Engine;
    let config = kube::config::Kubeconfig::read_from(path).ok()?;
    let context = config.current_context.as_deref()?;
    let cluster_name = config
        .contexts
        .iter()
        .find(|c| c.name == context)?
        .context
        .as_ref()?
        .cluster
        .clone();
    let cluster = config
        .clusters
        .iter()
        .find(|c| c.name == cluster_name)?
        .cluster
        .as_ref()?;
    if let Some(data) = &cluster.certificate_authority_data {
        let pem = base64::engine::general_purpose::STANDARD
            .decode(data)
            .ok()?;
        return String::from_utf8(pem).ok();
    }
    std::fs::read_to_string(cluster.certificate_authority.as_ref()?).ok()
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

pub fn run_controllers(args: ControllersArgs) -> anyhow::Result<ExitCode> {
    init_tracing();
    runtime()?.block_on(async move {
        let client = client(&args.kubeconfig).await?;
        let range: ipnet::IpNet = args
            .lb_ip_range
            .0
            .parse()
            .context("invalid --lb-ip-range")?;
        let cluster_cidr = optional_cidr(&args.cluster_cidr, "--cluster-cidr")?;
        let options = controllers::ControllerOptions {
            root_ca: kubeconfig_ca(&args.kubeconfig),
            ..args.controllers.options(cluster_cidr)
        };
        println!(
            "mkube controllers are running against {}",
            args.kubeconfig.display()
        );
        // Fresh caches for each term as leader: a standby keeps none.
        let start = || {
            let informers = informers::Informers::new(client.clone());
            start_control_loops(informers, range, options.clone())
        };
        if args.election.leader_elect {
            super::leader::run_while_leader(
                client.clone(),
                &args.election,
                start,
                wait_for_signal(),
            )
            .await?;
        } else {
            let running = start().await?;
            wait_for_signal().await;
            drop(running);
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// The cluster-wide control loops: the controllers, the load-balancer
/// controller and the scheduler. Dropping the result stops them.
pub(super) async fn start_control_loops(
    informers: informers::Informers,
    lb_range: ipnet::IpNet,
    options: controllers::ControllerOptions,
) -> anyhow::Result<Vec<Box<dyn std::any::Any + Send>>> {
    let scheduler_client = informers.client().clone();
    let scheduler = AbortOnDrop(tokio::spawn(async move {
        if let Err(e) = nodeagent::start_scheduler(scheduler_client).await {
            tracing::error!(error = %e, "scheduler stopped");
        }
    }));
    let (lb, controllers) = tokio::try_join!(
        async {
            controllers::load_balancer::start(&informers, lb_range)
                .await
                .context("starting the load-balancer controller")
        },
        async {
            controllers::start(&informers, options)
                .await
                .context("starting the controllers")
        },
    )?;
    Ok(vec![
        Box::new(scheduler),
        Box::new(AbortOnDrop(lb)),
        Box::new(controllers),
    ])
}

pub fn run_nodeagent(args: NodeAgentArgs) -> anyhow::Result<ExitCode> {
    init_tracing();
    runtime()?.block_on(async move {
        let client = client(&args.kubeconfig).await?;
        let pod_cidr = optional_cidr(&args.pod_cidr, "--pod-cidr")?;
        let agent = nodeagent::start(
            client.clone(),
            nodeagent::AgentOptions {
                node_name: args.node.node_name(),
                node_ip: args.node.node_ip,
                data_dir: args.data_dir.clone(),
                image_map: args.node.image_map.clone(),
                pod_cidr,
                api_token: args.agent_token.clone(),
                dns: nodeagent::clusterdns::resolv::NodeDns {
                    cluster_dns: args.cluster_dns.clone(),
                    cluster_domain: args.node.cluster_domain.clone(),
                },
                pod_kubeconfig: Some(args.kubeconfig.clone()),
                max_pods: args.node.max_pods,
            },
        )
        .await
        .context("starting the node agent")?;
        let informers = informers::Informers::new(client);
        let proxy = nodeagent::proxy::start(&informers, args.node.proxy_options())
            .await
            .context("starting the service proxy")?;
        println!(
            "mkube node agent {} is running (endpoint {}, service proxy /metrics and /healthz at http://{})",
            args.node.node_name(),
            agent.endpoint,
            proxy.status_address
        );
        wait_for_signal().await;
        drop(proxy);
        drop(agent);
        Ok(ExitCode::SUCCESS)
    })
}
