//! The node agent: what the kubelet and kube-proxy do on a node, with host
//! processes instead of containers; plus a small scheduler.
//!
//! - `node`: registration, node status, the node Lease.
//! - `scheduler`: binds pending pods to nodes (moves to the controllers
//!   crate later).
//! - `state`: the pure pod/container state machine (back-off, phase,
//!   conditions, container statuses).
//! - `runtime`: pod workers, processes, logs, probes, env, images.
//! - `server`: the agent's HTTP endpoint (container logs, port-forward).
//! - `streaming`: the upgraded-connection protocols (SPDY, WebSocket
//!   tunnels) and port-forward.
//! - `builtin`: the builtin images and busybox applets.
//! - `proxy`: the service proxy.

pub mod builtin;
pub mod clusterdns;
pub mod events;
pub mod node;
pub mod proxy;
pub mod quantity;
pub mod runtime;
pub mod scheduler;
pub mod server;
pub mod state;
pub mod streaming;

use anyhow::Context;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone)]
pub struct AgentOptions {
    pub node_name: String,
    /// The node's InternalIP; the agent's endpoint listens here.
    pub node_ip: IpAddr,
    /// Pod directories, pidfiles and container logs.
    pub data_dir: PathBuf,
    /// YAML/JSON map image -> host command, for images not built in.
    pub image_map: Option<PathBuf>,
    /// Set as the Node's spec.podCIDR at registration when the Node has
    /// none; with None the agent waits for the control plane to assign one.
    pub pod_cidr: Option<ipnet::IpNet>,
    /// The bearer token the agent's endpoint requires.
    pub api_token: String,
    /// Cluster DNS address(es) and domain for pods' resolv.conf (the
    /// kubelet's --cluster-dns / --cluster-domain).
    pub dns: clusterdns::resolv::NodeDns,
    /// A kubeconfig handed to builtin images that need the API (coredns).
    pub pod_kubeconfig: Option<PathBuf>,
    /// The node's `pods` capacity (the kubelet's `--max-pods`).
    pub max_pods: u32,
}

/// The running agent; dropping it stops the agent and kills its pods'
/// processes (the pods stay in the API).
pub struct AgentHandle {
    /// Where the agent's endpoint listens.
    pub endpoint: std::net::SocketAddr,
    ctx: Arc<runtime::Ctx>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl AgentHandle {
    /// Stops the agent now (same as dropping it).
    pub fn stop(self) {}
}

impl Drop for AgentHandle {
    fn drop(&mut self) {
        self.tasks.iter().for_each(|t| t.abort());
        self.ctx.watchdog.kill_all();
    }
}

/// The binary builtin images and applets run from: `MKUBE_BIN`, else this
/// executable.
pub fn mkube_bin() -> anyhow::Result<PathBuf> {
    if let Some(p) = std::env::var_os("MKUBE_BIN").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    std::env::current_exe().context("cannot find the mkube executable")
}

/// Registers the node, starts the pod workers; returns once synced, leaving
/// tasks running.
pub async fn start(client: kube::Client, opts: AgentOptions) -> anyhow::Result<AgentHandle> {
    let data_dir = opts.data_dir.clone();
    std::fs::create_dir_all(data_dir.join("pods"))
        .with_context(|| format!("creating {}", data_dir.display()))?;
    std::fs::create_dir_all(data_dir.join("logs"))?;
    let killed = runtime::process::kill_leftovers(&data_dir.join("pods"));
    if killed > 0 {
        tracing::info!(
            killed,
            "killed container processes left by a previous agent"
        );
    }
    let bin = mkube_bin()?;
    let watchdog = match runtime::process::Watchdog::start(&bin) {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!(error = %e, bin = %bin.display(), "cannot start the watchdog; pods may outlive a killed agent");
            runtime::process::Watchdog::disabled()
        }
    };
    let listener = tokio::net::TcpListener::bind((opts.node_ip, 0))
        .await
        .with_context(|| format!("binding the agent endpoint on {}", opts.node_ip))?;
    let endpoint = listener.local_addr()?;
    let node_cfg = node::NodeConfig {
        name: opts.node_name.clone(),
        ip: opts.node_ip,
        agent_port: endpoint.port(),
        pod_cidr: opts.pod_cidr,
        max_pods: opts.max_pods,
    };
    let node = node::register(&client, &node_cfg)
        .await
        .context("registering the node")?;
    node::renew_lease(&client, &node)
        .await
        .context("creating the node lease")?;
    let cidr = node
        .spec
        .as_ref()
        .and_then(|s| s.pod_cidr.as_deref())
        .and_then(|c| c.parse::<ipnet::IpNet>().ok());
    let (cidr_tx, cidr_rx) = tokio::sync::watch::channel(cidr);
    let ipam = runtime::pod_ip_allocator::PodIpAllocator::persistent(
        data_dir.join("ipam").join("last_reserved_ip"),
    );
    let ctx = Arc::new(runtime::Ctx {
        client: client.clone(),
        node_name: opts.node_name.clone(),
        node_ip: opts.node_ip,
        data_dir,
        image_map: opts.image_map.clone(),
        mkube_bin: bin,
        recorder: events::Recorder::new(client.clone(), "kubelet", Some(opts.node_name.clone())),
        watchdog: Arc::new(watchdog),
        ipam: Mutex::new(ipam),
        pod_cidr: cidr_rx,
        dns: opts.dns.clone(),
        pod_kubeconfig: opts.pod_kubeconfig.clone(),
        live: Mutex::default(),
        index: Mutex::default(),
    });
    // The node events the kubelet records at start.
    let node_ref = k8s_openapi::api::core::v1::ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("Node".into()),
        name: Some(opts.node_name.clone()),
        uid: node.metadata.uid.clone(),
        ..Default::default()
    };
    for (reason, message) in [
        ("Starting", "Starting kubelet.".to_string()),
        (
            "NodeReady",
            format!("Node {} status is now: NodeReady", opts.node_name),
        ),
    ] {
        ctx.recorder
            .record("default".into(), node_ref.clone(), false, reason, message);
    }
    let mut tasks = Vec::new();
    tasks.push(tokio::spawn(server::serve(
        ctx.clone(),
        opts.api_token.clone(),
        listener,
    )));
    tasks.push(tokio::spawn(node::heartbeat_loop(
        client.clone(),
        node_cfg,
        node,
    )));
    if cidr.is_none() {
        // Wait for the control plane to assign the range.
        let client = client.clone();
        let name = opts.node_name.clone();
        tasks.push(tokio::spawn(async move {
            let nodes: kube::Api<k8s_openapi::api::core::v1::Node> = kube::Api::all(client);
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                let c = nodes
                    .get_opt(&name)
                    .await
                    .ok()
                    .flatten()
                    .and_then(|n| n.spec)
                    .and_then(|s| s.pod_cidr)
                    .and_then(|c| c.parse::<ipnet::IpNet>().ok());
                if c.is_some() {
                    let _ = cidr_tx.send(c);
                    return;
                }
            }
        }));
        tracing::info!(node = %opts.node_name, "the node has no podCIDR yet; pods wait for one");
    }
    let (synced_tx, synced_rx) = tokio::sync::oneshot::channel();
    tasks.push(tokio::spawn(runtime::run(ctx.clone(), synced_tx)));
    let handle = AgentHandle {
        endpoint,
        ctx,
        tasks,
    };
    synced_rx
        .await
        .context("the pod watch ended before syncing")?;
    Ok(handle)
}

/// Binds pending pods to Ready nodes (the scheduler; will move to the
/// controllers crate). Runs until the returned future is dropped.
pub async fn start_scheduler(client: kube::Client) -> anyhow::Result<()> {
    scheduler::run(client).await
}

/// Entry for builtin images and busybox applets: the `mkube` binary calls
/// this when invoked as `mkube builtin <image-or-applet> [args...]` or when
/// argv[0]'s file name is an applet name. Returns the process exit code.
pub fn builtin_main(name: &str, args: Vec<String>) -> std::process::ExitCode {
    builtin::main(name, args)
}

/// The dispatch `main` can do first: `Some(exit code)` when the process was
/// started as an applet (argv[0] is `wget`, `nc`, ...) or as
/// `<bin> builtin NAME ARGS...`; None otherwise.
pub fn dispatch_builtin_argv() -> Option<std::process::ExitCode> {
    let mut args: Vec<String> = std::env::args().collect();
    let argv0 = args.first().cloned().unwrap_or_default();
    let base = argv0.rsplit('/').next().unwrap_or("").to_string();
    if runtime::image::APPLETS.contains(&base.as_str()) {
        return Some(builtin_main(&base, args.split_off(1)));
    }
    if args.get(1).map(String::as_str) == Some("builtin") {
        let name = args.get(2).cloned().unwrap_or_default();
        let rest = if args.len() > 3 {
            args.split_off(3)
        } else {
            Vec::new()
        };
        return Some(builtin_main(&name, rest));
    }
    None
}
