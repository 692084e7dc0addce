//! `mkube bench ...`: benchmarks that start real clusters and measure them
//! from the outside, as a client would. Figures go to the README.

mod api;
mod cluster;
mod portforward;
mod stats;

use clap::Subcommand;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// API server: start-up, RSS, create/get/list/watch latency over HTTPS.
    Api(api::ApiBenchArgs),
    /// Port-forward: throughput of a transfer through `kubectl port-forward`
    /// against a direct connection to the pod, in the same run.
    Portforward(portforward::PortForwardBenchArgs),
}

pub fn run(cmd: BenchCommand) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match cmd {
            BenchCommand::Api(args) => api::run(args).await,
            BenchCommand::Portforward(args) => portforward::run(args).await,
        }
    })
}
