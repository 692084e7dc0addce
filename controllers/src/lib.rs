//! Controllers that run against the API, on kube-rs.
//!
//! [`start`] runs the controllers kube-controller-manager would run for the
//! resources mkube serves — endpoints, endpointslices, namespace,
//! serviceaccount, garbage collector, deployment, replicaset, node
//! lifecycle, node IPAM — each talking to
//! the API server only through its REST API (in-process through a tower
//! service, or over HTTPS from `mkube controllers --kubeconfig`).
//!
//! Every controller keeps its decisions in pure functions (unit-tested next to
//! them) and its effects (watches, API writes, events) in a thin layer around
//! kube-rs's runtime (`watcher`, `reflector`, `Controller`).

pub mod deployment;
pub mod endpoints;
pub mod endpointslice;
pub mod gc;
pub mod load_balancer;
pub mod namespace;
pub mod nodeipam;
pub mod nodelifecycle;
pub mod pod_services;
pub mod replicaset;
pub mod resourcequota;
pub mod rootcacertpublisher;
pub mod serviceaccount;
pub mod trigger_time;
pub mod util;

use std::time::Duration;
use tokio::task::JoinHandle;

/// Tuning of [`start`].
#[derive(Debug, Clone)]
pub struct ControllerOptions {
    /// Reconciles each controller runs at once (distinct objects; one object
    /// is never reconciled twice at the same time).
    pub concurrency: usize,
    /// Endpoints per EndpointSlice (kube-controller-manager's
    /// `--max-endpoints-per-slice`, default 100).
    pub max_endpoints_per_slice: usize,
    /// Which controllers to run, by name (`endpoints`, `endpointslice`,
    /// `namespace`, `serviceaccount`, `root-ca-cert-publisher`,
    /// `garbagecollector`, `deployment`,
    /// `replicaset`, `nodelifecycle`, `nodeipam`, `resourcequota`); empty: all of them.
    pub enabled: Vec<String>,
    /// How long a node may go without renewing its Lease before it is
    /// marked Unknown and tainted unreachable (kube-controller-manager's
    /// `--node-monitor-grace-period`, default 40 s).
    pub node_monitor_grace_period: Duration,
    /// `--cluster-cidr`: the range node pod CIDRs are allocated from; None
    /// leaves nodes to bring their own (`nodeipam` then does nothing).
    pub cluster_cidr: Option<ipnet::IpNet>,
    /// `--node-cidr-mask-size`: prefix length of each node's pod range;
    /// None: 24 for IPv4, 64 for IPv6 (see [`nodeipam::node_mask`]).
    pub node_cidr_mask_size: Option<u8>,
    /// `--root-ca-file`'s contents: the CA bundle published to every
    /// namespace as the `kube-root-ca.crt` ConfigMap (None: not published).
    pub root_ca: Option<String>,
}

impl Default for ControllerOptions {
    fn default() -> Self {
        ControllerOptions {
            concurrency: 8,
            max_endpoints_per_slice: endpointslice::reconcile::MAX_ENDPOINTS_PER_SLICE,
            enabled: Vec::new(),
            node_monitor_grace_period: nodelifecycle::DEFAULT_GRACE,
            cluster_cidr: None,
            node_cidr_mask_size: None,
            root_ca: None,
        }
    }
}

impl ControllerOptions {
    fn runs(&self, name: &str) -> bool {
        self.enabled.is_empty() || self.enabled.iter().any(|e| e == name)
    }
}

/// Every controller name [`start`] knows, in start order.
pub const CONTROLLERS: &[&str] = &[
    "garbagecollector",
    "namespace",
    "serviceaccount",
    "root-ca-cert-publisher",
    "endpoints",
    "endpointslice",
    "replicaset",
    "deployment",
    "nodelifecycle",
    "nodeipam",
    "resourcequota",
];

/// One started controller: its name and its tasks.
pub(crate) struct Started {
    name: &'static str,
    tasks: Vec<JoinHandle<()>>,
}

impl Started {
    pub(crate) fn new(name: &'static str, tasks: Vec<JoinHandle<()>>) -> Self {
        Started { name, tasks }
    }
}

/// The running controllers. Dropping it (or [`ControllerHandle::shutdown`])
/// stops them all.
pub struct ControllerHandle {
    started: Vec<Started>,
    /// Keeps the shared watches of caches the controllers only read (no
    /// event stream holds those) running as long as the controllers do.
    _informers: informers::Informers,
}

impl ControllerHandle {
    /// Names of the running controllers.
    pub fn controllers(&self) -> Vec<&'static str> {
        self.started.iter().map(|s| s.name).collect()
    }

    /// Stops every controller.
    pub fn shutdown(self) {
        drop(self)
    }

    /// Waits until any controller task ends (they run forever unless they
    /// panic), so `mkube controllers` can exit if one dies.
    pub async fn wait(mut self) {
        let tasks: Vec<JoinHandle<()>> = self
            .started
            .iter_mut()
            .flat_map(|s| std::mem::take(&mut s.tasks))
            .collect();
        if tasks.is_empty() {
            return std::future::pending().await;
        }
        let (res, _, rest) = futures::future::select_all(tasks).await;
        if let Err(e) = res {
            tracing::error!(error = %e, "a controller task ended");
        }
        for t in rest {
            t.abort();
        }
    }
}

impl Drop for ControllerHandle {
    fn drop(&mut self) {
        for s in &self.started {
            for t in &s.tasks {
                t.abort();
            }
        }
    }
}

fn controller_config(opts: &ControllerOptions) -> kube::runtime::controller::Config {
    let c = u16::try_from(opts.concurrency.max(1)).unwrap_or(u16::MAX);
    kube::runtime::controller::Config::default().concurrency(c)
}

/// Starts every controller on the process's shared informers (and their
/// client); returns once all their caches have synced (so the caller can
/// report readiness), leaving them running on spawned tasks.
pub async fn start(
    informers: &informers::Informers,
    opts: ControllerOptions,
) -> anyhow::Result<ControllerHandle> {
    use anyhow::Context;
    use futures::future::BoxFuture;
    let timeout = Duration::from_secs(60);
    if let Some(unknown) = opts
        .enabled
        .iter()
        .find(|e| !CONTROLLERS.contains(&e.as_str()))
    {
        anyhow::bail!(
            "unknown controller {unknown}; known: {}",
            CONTROLLERS.join(", ")
        );
    }
    // All controllers list and watch at once; readiness is when the slowest has synced.
    let starts: Vec<BoxFuture<'_, anyhow::Result<Started>>> = CONTROLLERS
        .iter()
        .copied()
        .filter(|n| opts.runs(n))
        .map(|name| {
            let opts = &opts;
            let fut: BoxFuture<'_, anyhow::Result<Started>> = Box::pin(async move {
                let t0 = std::time::Instant::now();
                let started = match name {
                    "garbagecollector" => gc::start(informers, opts).await,
                    "namespace" => namespace::start(informers, opts).await,
                    "serviceaccount" => serviceaccount::start(informers, opts).await,
                    "root-ca-cert-publisher" => rootcacertpublisher::start(informers, opts).await,
                    "endpoints" => endpoints::start(informers, opts).await,
                    "endpointslice" => endpointslice::start(informers, opts).await,
                    "replicaset" => replicaset::start(informers, opts).await,
                    "deployment" => deployment::start(informers, opts).await,
                    "nodelifecycle" => nodelifecycle::start(informers, opts).await,
                    "nodeipam" => nodeipam::start(informers, opts).await,
                    "resourcequota" => resourcequota::start(informers, opts).await,
                    other => Err(anyhow::anyhow!("unknown controller {other}")),
                };
                tracing::debug!(controller = name, elapsed = ?t0.elapsed(), "controller caches synced");
                started.with_context(|| format!("starting the {name} controller"))
            });
            fut
        })
        .collect();
    let mut handle = ControllerHandle {
        started: Vec::new(),
        _informers: informers.clone(),
    };
    let results = tokio::time::timeout(timeout, futures::future::join_all(starts))
        .await
        .map_err(|_| anyhow::anyhow!("controller caches did not sync within {timeout:?}"))?;
    let mut first_error = None;
    for r in results {
        match r {
            Ok(s) => {
                tracing::debug!(controller = s.name, "controller started");
                handle.started.push(s);
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    // On error, dropping `handle` stops the controllers that did start.
    match first_error {
        Some(e) => Err(e),
        None => Ok(handle),
    }
}
