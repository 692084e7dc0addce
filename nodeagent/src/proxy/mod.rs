//! The service proxy (kube-proxy's job): watches Services and EndpointSlices
//! and programs local forwarding. Rule computation (`rules`) is separate from
//! the mechanism that applies it (`userspace`; a kernel mode can follow).

pub mod changes;
pub mod health;
pub mod metrics;
pub mod retry_before_reply;
pub mod rules;
#[cfg(target_os = "linux")]
pub mod splice;
pub mod status_server;
mod syncer;
pub mod userspace;

use anyhow::Context;
use changes::ChangeTracker;
use futures::StreamExt;
use health::ProxyHealth;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::runtime::watcher;
use metrics::ProxyMetrics;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use syncer::Syncer;
use tokio::sync::Notify;

/// Changes arriving within this window are applied together.
const COALESCE: Duration = Duration::from_millis(2);
/// The longest wait between a change and its sync.
const MAX_COALESCE: Duration = Duration::from_secs(1);
/// How soon a frontend that could not be bound is tried again.
const RETRY: Duration = Duration::from_secs(1);

/// How long to gather changes before the next sync: at least [`COALESCE`],
/// and as long as the last sync took. A sync recomputes only the Services
/// that changed, but a relist recomputes all of them; this keeps the
/// proxy's share to about half a core even then, as kube-proxy bounds its
/// own with `--iptables-min-sync-period`, while a small cluster still
/// syncs within milliseconds.
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
    /// Where `/healthz` and `/metrics` are served (port 0: the kernel picks).
    pub status_address: SocketAddr,
}

pub struct ProxyHandle {
    pub metrics: ProxyMetrics,
    pub health: ProxyHealth,
    /// Where `/healthz` and `/metrics` are served.
    pub status_address: SocketAddr,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for ProxyHandle {
    fn drop(&mut self) {
        self.tasks.iter().for_each(|t| t.abort());
    }
}

/// Starts the proxy; returns once the first rules are applied.
pub async fn start(
    informers: &informers::Informers,
    opts: ProxyOptions,
) -> anyhow::Result<ProxyHandle> {
    let metrics = ProxyMetrics::new();
    let health = ProxyHealth::default();
    let status_listener = tokio::net::TcpListener::bind(opts.status_address)
        .await
        .with_context(|| {
            format!(
                "binding the proxy status endpoint on {}",
                opts.status_address
            )
        })?;
    let status_address = status_listener.local_addr()?;
    let mut tasks = vec![tokio::spawn(status_server::serve(
        status_listener,
        health.clone(),
        metrics.clone(),
    ))];
    let tracker = Arc::new(ChangeTracker::new(metrics.clone(), health.clone()));
    let changed = Arc::new(Notify::new());
    let on_service = {
        let tracker = tracker.clone();
        move |ev: &watcher::Event<Service>| match ev {
            watcher::Event::Apply(s) | watcher::Event::Delete(s) => tracker.service_changed(s),
            _ => tracker.resync_needed(),
        }
    };
    let on_slice = {
        let tracker = tracker.clone();
        move |ev: &watcher::Event<EndpointSlice>| match ev {
            watcher::Event::Apply(s) => tracker.slice_changed(s, SystemTime::now(), false),
            watcher::Event::Delete(s) => tracker.slice_changed(s, SystemTime::now(), true),
            watcher::Event::InitApply(s) => tracker.slice_listed(s),
            _ => tracker.resync_needed(),
        }
    };
    // The process's shared caches: in `mkube up` the controllers read the
    // same Services and EndpointSlices.
    let (svc_store, svc_synced, svc_events) =
        informers.cached::<Service>(watcher::Config::default());
    let (slice_store, slice_synced, slice_events) =
        informers.cached::<EndpointSlice>(watcher::Config::default());
    tasks.push(spawn_follower(svc_events, changed.clone(), on_service));
    tasks.push(spawn_follower(slice_events, changed.clone(), on_slice));
    informers::wait_all(vec![svc_synced, slice_synced]).await?;

    let health_ip = opts
        .nodeport_addresses
        .first()
        .copied()
        .unwrap_or(IpAddr::from([127, 0, 0, 1]));
    let mut syncer = Syncer::new(
        svc_store,
        slice_store,
        rules::NodeView {
            name: opts.node_name.clone(),
            nodeport_addresses: opts.nodeport_addresses.clone(),
        },
        userspace::UserspaceProxy::new(health_ip),
        tracker,
        metrics.clone(),
        health.clone(),
    );
    let mut took = syncer.sync().await;
    tracing::info!(%status_address, "service proxy serving /healthz and /metrics");
    tasks.push(tokio::spawn(async move {
        loop {
            if syncer.needs_retry() {
                let _ = tokio::time::timeout(RETRY, changed.notified()).await;
            } else {
                changed.notified().await;
            }
            tokio::time::sleep(coalesce_window(took)).await;
            took = syncer.sync().await;
        }
    }));
    Ok(ProxyHandle {
        metrics,
        health,
        status_address,
        tasks,
    })
}

/// Follows a shared cache's events: each goes to `on_event` (the cache has
/// applied it already), then wakes the sync loop.
fn spawn_follower<K: Send + 'static>(
    events: informers::EventStream<K>,
    changed: Arc<Notify>,
    on_event: impl Fn(&watcher::Event<K>) + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        // Every event (including deletions and relists) may change the rules.
        let mut events = events;
        while let Some(ev) = events.next().await {
            if let Ok(ev) = ev {
                on_event(&ev);
            }
            changed.notify_one();
        }
    })
}
