//! `mkube up`: the dev cluster in one process.

use super::{ServerArgs, UpArgs};
use anyhow::Context;
use std::process::ExitCode;

pub fn api_config(args: &ServerArgs) -> anyhow::Result<apiserver::ApiConfig> {
    let service_cidrs = args
        .service_cidr
        .iter()
        .map(|c| {
            c.0.parse()
                .with_context(|| format!("invalid --service-cidr {}", c.0))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    apiserver::registry::service::check_service_cidrs(&service_cidrs)
        .map_err(anyhow::Error::msg)?;
    let (lo, hi) = args
        .service_node_port_range
        .split_once('-')
        .context("--service-node-port-range must look like 30000-32767")?;
    let (lo, hi): (u16, u16) = (lo.trim().parse()?, hi.trim().parse()?);
    anyhow::ensure!(lo <= hi, "--service-node-port-range is empty");
    Ok(apiserver::ApiConfig {
        service_cidrs,
        node_port_range: lo..=hi,
        cluster_cidr: args
            .cluster_cidr
            .0
            .parse()
            .context("invalid --cluster-cidr")?,
        advertise_address: args.bind_address,
        port: args.port,
        etcd: args.etcd.options(),
    })
}

pub fn run(
    mut args: UpArgs,
    whole_cluster: bool,
    explicit: super::ExplicitRanges,
) -> anyhow::Result<ExitCode> {
    init_tracing();
    // The whole cluster binds addresses on this machine: one cluster per
    // data dir, and no two clusters on the same ranges. Both are held until
    // the process ends.
    let _claims = if whole_cluster {
        let data_dir = args.server.data.resolve();
        let lock = super::data_dir_lock::acquire(&data_dir)?;
        let ranges = super::cluster_ranges::settle(&mut args, explicit, &data_dir)?;
        Some((lock, ranges))
    } else {
        None
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let config = api_config(&args.server)?;
        let data_dir = args.server.data.resolve();
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut stop_serving = stop_rx.clone();
        let server = apiserver::ApiServer::start(config, &data_dir, async move {
            let _ = stop_serving.wait_for(|s| *s).await;
        })
        .await?;
        // Handles of in-process components; dropping them stops them.
        let mut components: Vec<Box<dyn std::any::Any + Send>> = Vec::new();
        if whole_cluster {
            // In-process components reach the API through the router as a
            // tower service: the same REST API, no socket. Their caches
            // drop managedFields, so their lists and watches leave them out.
            let router = tower::Layer::layer(
                &informers::lean_requests::layer(),
                server.router.clone(),
            );
            let client = kube::Client::new(router, "default");
            check_in_process_client(&client).await?;
            let agent = start_node(&client, &args, &server, &data_dir).await?;
            components.push(Box::new(agent));
            // The proxy and the control loops list and watch at once: at
            // start-up with many objects stored, their cache syncs are most
            // of the time to ready.
            let lb_range = args.node.lb_ip_range.0.parse().context("invalid --lb-ip-range")?;
            // One cache per resource type for all of them (shared informers).
            let informers = informers::Informers::new(client.clone());
            let (proxy, control_loops) = tokio::try_join!(
                async {
                    nodeagent::proxy::start(&informers, args.node.proxy_options())
                        .await
                        .context("starting the service proxy")
                },
                // One process: no leader election needed.
                super::components::start_control_loops(
                    informers.clone(),
                    lb_range,
                    controllers::ControllerOptions {
                        root_ca: Some(server.credentials.ca_pem.clone()),
                        ..args
                            .controllers
                            .options(args.server.cluster_cidr.0.parse().ok())
                    },
                ),
            )?;
            println!(
                "service proxy: /metrics and /healthz at http://{}",
                proxy.status_address
            );
            components.push(Box::new(proxy));
            components.extend(control_loops);
            ensure_cluster_dns(&client, &args).await;
        }
        server.readiness.set_ready();
        println!(
            "mkube is ready: API server at https://{} (data in {}). Use it with: export KUBECONFIG={}",
            server.addr,
            data_dir.display(),
            server.kubeconfig.display()
        );
        wait_for_signal().await;
        tracing::info!("shutting down");
        drop(components);
        let _ = stop_tx.send(true);
        // A stuck component must not keep the process from exiting.
        match tokio::time::timeout(std::time::Duration::from_secs(10), server.close()).await {
            Ok(r) => r?,
            Err(_) => tracing::warn!("storage flush timed out at shutdown"),
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// The node agent for this process's node, on the first range of
/// `--node-cidr-mask-size` (a /24 by default) of the cluster CIDR.
async fn start_node(
    client: &kube::Client,
    args: &UpArgs,
    server: &apiserver::ApiServer,
    data_dir: &std::path::Path,
) -> anyhow::Result<nodeagent::AgentHandle> {
    let cluster_cidr: ipnet::IpNet = args
        .server
        .cluster_cidr
        .0
        .parse()
        .context("invalid --cluster-cidr")?;
    let prefix =
        controllers::nodeipam::node_mask(cluster_cidr, args.controllers.node_cidr_mask_size);
    let pod_cidr = cluster_cidr.subnets(prefix).ok().and_then(|mut s| s.next());
    nodeagent::start(
        client.clone(),
        nodeagent::AgentOptions {
            node_name: args.node.node_name(),
            node_ip: args.node.node_ip,
            data_dir: data_dir.join("node"),
            image_map: args.node.image_map.clone(),
            pod_cidr,
            api_token: server.credentials.token.clone(),
            dns: nodeagent::clusterdns::resolv::NodeDns {
                cluster_dns: cluster_dns_ip(&args.server)?.into_iter().collect(),
                cluster_domain: args.node.cluster_domain.clone(),
            },
            pod_kubeconfig: Some(server.kubeconfig.clone()),
            max_pods: args.node.max_pods,
        },
    )
    .await
    .context("starting the node agent")
}

/// The kube-dns ClusterIP: the tenth address of the first service range,
/// which the allocator keeps out of its dynamic band (as kubeadm does).
fn cluster_dns_ip(args: &ServerArgs) -> anyhow::Result<Option<std::net::IpAddr>> {
    let Some(first) = args.service_cidr.first() else {
        return Ok(None);
    };
    let cidr: ipnet::IpNet = first.0.parse().context("invalid --service-cidr")?;
    Ok(apiserver::registry::service::allocation::ClusterIpAllocator::new(cidr).nth(10))
}

/// The coredns Deployment and kube-dns Service; a failure leaves the
/// cluster running without DNS (and says so).
async fn ensure_cluster_dns(client: &kube::Client, args: &UpArgs) {
    let ip = match cluster_dns_ip(&args.server) {
        Ok(Some(ip)) => ip,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(error = %e, "no cluster DNS address");
            return;
        }
    };
    if let Err(e) =
        nodeagent::clusterdns::addon::ensure(client, ip, &args.node.cluster_domain).await
    {
        tracing::warn!(
            error = format!("{e:#}"),
            "cannot create the cluster DNS add-on"
        );
    }
}

/// Stops a spawned task when the cluster stops.
pub(super) struct AbortOnDrop(pub(super) tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A round trip through the in-process client, so readiness is only claimed
/// when the path the in-process components use works.
async fn check_in_process_client(client: &kube::Client) -> anyhow::Result<()> {
    use k8s_openapi::api::core::v1::Namespace;
    let namespaces: kube::Api<Namespace> = kube::Api::all(client.clone());
    namespaces
        .list(&Default::default())
        .await
        .context("listing namespaces through the in-process client")?;
    Ok(())
}

pub(super) async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        // Without signal handlers, run until killed.
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

pub(super) fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("MKUBE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

#[cfg(test)]
mod tests {
    /// The components ask for what the API server serves.
    #[test]
    fn one_name_for_omit_managed_fields() {
        assert_eq!(
            informers::lean_requests::OMIT_MANAGED_FIELDS,
            apiserver::rest::raw_json::OMIT_MANAGED_FIELDS
        );
    }
}
