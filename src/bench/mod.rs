//! `mkube bench ...`: benchmarks that start real clusters and measure them
//! from the outside, as a client would. Figures go to the README.

mod api;
mod cluster;
mod dns;
mod exec;
mod portforward;
mod proxy;
mod stats;

use clap::Subcommand;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// API server: start-up, RSS, create/get/list/watch latency over HTTPS.
    Api(api::ApiBenchArgs),
    /// Streaming: `exec true` round trips through the API server and agent.
    Exec(exec::ExecBenchArgs),
    /// Cluster DNS: queries per second on one core and latency with N Services, RSS.
    Dns(dns::DnsBenchArgs),
    /// Port-forward: throughput of a transfer through `kubectl port-forward`
    /// against a direct connection to the pod, in the same run.
    Portforward(portforward::PortForwardBenchArgs),
    /// Service proxy: throughput, connect latency and connection rate through
    /// a ClusterIP against direct, programming time and RSS for N Services.
    Proxy(proxy::ProxyBenchArgs),
}

pub fn run(cmd: BenchCommand) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match cmd {
            BenchCommand::Api(args) => api::run(args).await,
            BenchCommand::Exec(args) => exec::run(args).await,
            BenchCommand::Dns(args) => dns::run(args).await,
            BenchCommand::Portforward(args) => portforward::run(args).await,
            BenchCommand::Proxy(args) => proxy::run(args).await,
        }
    })
}
