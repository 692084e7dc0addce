//! The service proxy (kube-proxy's job): watches Services and EndpointSlices
//! and programs local forwarding. Rule computation (`rules`) is separate from
//! the mechanism that applies it (`userspace`; a kernel mode can follow).

pub mod rules;
pub mod userspace;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::runtime::{reflector, watcher, WatchStreamExt};
use kube::Api;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// Changes arriving within this window are applied together.
const COALESCE: Duration = Duration::from_millis(2);
/// The longest wait between a change and its sync.
const MAX_COALESCE: Duration = Duration::from_secs(1);

/// How long to gather changes before the next sync: at least [`COALESCE`],
/// and as long as the last sync took. A sync recomputes every rule, so with
/// thousands of Services under constant endpoint churn back-to-back syncs
/// would take a whole core from the API server and controllers; this keeps
/// the proxy's share to about half a core, as kube-proxy bounds its own
/// with `--iptables-min-sync-period`, while a small cluster still syncs
/// within milliseconds.
fn coalesce_window(last_sync: Duration) -> Duration {
    last_sync.clamp(COALESCE, MAX_COALESCE)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyMode {
    /// tokio listeners on the service addresses; needs no root.
    Userspace,
}

impl std::str::FromStr for ProxyMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "userspace" => Ok(ProxyMode::Userspace),
            other => Err(format!(
                "unknown proxy mode {other:?} (supported: userspace)"
            )),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ProxyOptions {
    pub node_name: String,
    /// Where NodePorts and health checks listen (`--nodeport-addresses`).
    pub nodeport_addresses: Vec<IpAddr>,
    pub mode: ProxyMode,
}

/// Sync statistics, for /metrics.
#[derive(Debug, Default)]
pub struct SyncStats {
    pub syncs: std::sync::atomic::AtomicU64,
    pub last_sync_micros: std::sync::atomic::AtomicU64,
    pub frontends: std::sync::atomic::AtomicU64,
}

pub struct ProxyHandle {
    pub stats: Arc<SyncStats>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for ProxyHandle {
    fn drop(&mut self) {
        self.tasks.iter().for_each(|t| t.abort());
    }
}

/// Starts the proxy; returns once the first rules are applied.
pub async fn start(client: kube::Client, opts: ProxyOptions) -> anyhow::Result<ProxyHandle> {
    let changed = Arc::new(Notify::new());
    let (svc_store, svc_writer) = reflector::store::<Service>();
    let (slice_store, slice_writer) = reflector::store::<EndpointSlice>();
    let mut tasks = Vec::new();
    tasks.push(spawn_reflector(
        Api::<Service>::all(client.clone()),
        svc_writer,
        changed.clone(),
    ));
    tasks.push(spawn_reflector(
        Api::<EndpointSlice>::all(client),
        slice_writer,
        changed.clone(),
    ));
    svc_store.wait_until_ready().await?;
    slice_store.wait_until_ready().await?;

    let health_ip = opts
        .nodeport_addresses
        .first()
        .copied()
        .unwrap_or(IpAddr::from([127, 0, 0, 1]));
    let mut syncer = Syncer {
        services: svc_store,
        slices: slice_store,
        node: rules::NodeView {
            name: opts.node_name.clone(),
            nodeport_addresses: opts.nodeport_addresses.clone(),
        },
        proxy: userspace::UserspaceProxy::new(health_ip),
    };
    let stats = Arc::new(SyncStats::default());
    let mut took = syncer.sync(&stats).await;
    let loop_stats = stats.clone();
    tasks.push(tokio::spawn(async move {
        loop {
            changed.notified().await;
            tokio::time::sleep(coalesce_window(took)).await;
            took = syncer.sync(&loop_stats).await;
        }
    }));
    Ok(ProxyHandle { stats, tasks })
}

/// Recomputes the rules from the caches and applies them.
struct Syncer {
    services: reflector::Store<Service>,
    slices: reflector::Store<EndpointSlice>,
    node: rules::NodeView,
    proxy: userspace::UserspaceProxy,
}

impl Syncer {
    /// Applies the rules of the current caches; returns how long it took.
    async fn sync(&mut self, stats: &SyncStats) -> Duration {
        let started = Instant::now();
        let rules = rules::compute(&self.services.state(), &self.slices.state(), &self.node);
        let report = self.proxy.apply(&rules).await;
        for (addr, err) in &report.failed {
            tracing::warn!(%addr, error = %err, "cannot serve service frontend");
        }
        let took = started.elapsed();
        record(stats, took, self.proxy.frontend_count());
        took
    }
}

fn record(stats: &SyncStats, took: Duration, frontends: usize) {
    use std::sync::atomic::Ordering::Relaxed;
    stats.syncs.fetch_add(1, Relaxed);
    stats
        .last_sync_micros
        .store(took.as_micros() as u64, Relaxed);
    stats.frontends.store(frontends as u64, Relaxed);
}

fn spawn_reflector<K>(
    api: Api<K>,
    writer: reflector::store::Writer<K>,
    changed: Arc<Notify>,
) -> tokio::task::JoinHandle<()>
where
    K: kube::Resource
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone + Send + Sync,
{
    tokio::spawn(async move {
        // Every event (including deletions and relists) may change the rules.
        let stream = reflector::reflector(
            writer,
            watcher(api, watcher::Config::default()).default_backoff(),
        );
        futures::pin_mut!(stream);
        while let Some(ev) = stream.next().await {
            if let Err(e) = ev {
                tracing::debug!(error = %e, "proxy watch error; retrying");
            }
            changed.notify_one();
        }
    })
}
