//! `mkube bench ...`: benchmarks that start real clusters and measure them
//! from the outside, as a client would. Figures go to the README.

mod api;
mod cluster;
mod discovery;
mod dns;
mod endpoints;
mod exec;
mod pods;
mod portforward;
mod proxy;
mod ready_view;
mod services;
mod stats;
mod synthetic_node;
mod watched;
mod workloads;

use clap::Subcommand;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// API server: start-up, RSS, create/get/list/watch latency over HTTPS.
    Api(api::ApiBenchArgs),
    /// Discovery: what kubectl pays for discovery and OpenAPI, cold and
    /// warm cache, and the size and request time of each document.
    Discovery(discovery::DiscoveryBenchArgs),
    /// Streaming: `exec true` round trips through the API server and agent.
    Exec(exec::ExecBenchArgs),
    /// Pods: create-to-Ready latency of builtin images, N pods at once,
    /// memory per running pod.
    Pods(pods::PodsBenchArgs),
    /// Cluster DNS: queries per second on one core and latency with N Services, RSS.
    Dns(dns::DnsBenchArgs),
    /// Endpoints and EndpointSlice controllers: N Services x M pods on a
    /// synthetic node; convergence after the last pod turns Ready, and the
    /// latency of single Ready flips.
    Endpoints(endpoints::EndpointsBenchArgs),
    /// Port-forward: throughput of a transfer through `kubectl port-forward`
    /// against a direct connection to the pod, in the same run.
    Portforward(portforward::PortForwardBenchArgs),
    /// Service proxy: throughput, connect latency and connection rate through
    /// a ClusterIP against direct, programming time and RSS for N Services.
    Proxy(proxy::ProxyBenchArgs),
    /// Service allocators: allocate and release N ClusterIPs and every
    /// NodePort through the API, cycle after cycle; creates/s and RSS.
    Services(services::ServicesBenchArgs),
    /// Workload controllers: a StatefulSet, a Job and a DaemonSet rollout on
    /// three node agents (a ReplicaSet as the baseline); time and the
    /// controllers' CPU per 100 pods.
    Workloads(workloads::WorkloadsBenchArgs),
}

pub fn run(cmd: BenchCommand) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match cmd {
            BenchCommand::Api(args) => api::run(args).await,
            BenchCommand::Discovery(args) => discovery::run(args).await,
            BenchCommand::Exec(args) => exec::run(args).await,
            BenchCommand::Pods(args) => pods::run(args).await,
            BenchCommand::Dns(args) => dns::run(args).await,
            BenchCommand::Endpoints(args) => endpoints::run(args).await,
            BenchCommand::Portforward(args) => portforward::run(args).await,
            BenchCommand::Proxy(args) => proxy::run(args).await,
            BenchCommand::Services(args) => services::run(args).await,
            BenchCommand::Workloads(args) => workloads::run(args).await,
        }
    })
}
