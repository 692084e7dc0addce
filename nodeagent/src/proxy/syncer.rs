//! Brings the forwarding state up to date with the caches, recomputing only
//! the Services that changed since the last sync (as kube-proxy's change
//! trackers do): with thousands of Services, a full recompute per change
//! would cost a core under churn.

use super::changes::{ChangeTracker, Dirty};
use super::health::ProxyHealth;
use super::metrics::ProxyMetrics;
use super::rules::{self, Frontend, NodeView, Protocol, ServiceKey, ServiceRules};
use super::userspace::UserspaceProxy;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::runtime::reflector::{ObjectRef, Store};
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

pub(super) struct Syncer {
    services: Store<Service>,
    slices: Store<EndpointSlice>,
    node: NodeView,
    proxy: UserspaceProxy,
    tracker: Arc<ChangeTracker>,
    metrics: ProxyMetrics,
    health: ProxyHealth,
    /// Each Service's rules as applied.
    applied: HashMap<ServiceKey, ServiceRules>,
    /// Services with a frontend that could not be served; retried next sync.
    retry: HashSet<ServiceKey>,
    /// Frontends whose failure was logged: a retry that fails again (a
    /// second agent on the machine holds the address) is not a new warning.
    unbindable: HashSet<SocketAddr>,
}

impl Syncer {
    pub fn new(
        services: Store<Service>,
        slices: Store<EndpointSlice>,
        node: NodeView,
        proxy: UserspaceProxy,
        tracker: Arc<ChangeTracker>,
        metrics: ProxyMetrics,
        health: ProxyHealth,
    ) -> Self {
        Syncer {
            services,
            slices,
            node,
            proxy,
            tracker,
            metrics,
            health,
            applied: HashMap::new(),
            retry: HashSet::new(),
            unbindable: HashSet::new(),
        }
    }

    /// Applies what changed in the caches; returns how long it took.
    pub async fn sync(&mut self) -> Duration {
        let started = Instant::now();
        // Taken before reading the caches: a change arriving later is
        // applied by the next sync and reported with it.
        let pending = self.tracker.take();
        let keys = self.keys_to_recompute(pending.dirty);
        if !keys.is_empty() {
            self.recompute(keys).await;
        }
        let took = started.elapsed();
        let now = SystemTime::now();
        self.metrics.record_sync(took, now, &pending.changes);
        self.metrics
            .frontends
            .set(self.proxy.frontend_count() as i64);
        self.health.updated(now);
        took
    }

    /// Some frontend could not be served and should be tried again.
    pub fn needs_retry(&self) -> bool {
        !self.retry.is_empty()
    }

    fn keys_to_recompute(&mut self, dirty: Dirty) -> HashSet<ServiceKey> {
        let mut keys = dirty.services;
        keys.extend(self.retry.drain());
        if dirty.all {
            keys.extend(self.applied.keys().cloned());
            keys.extend(self.services.state().iter().map(|s| rules::service_key(s)));
        }
        keys
    }

    /// Recomputes the rules of `keys` and applies the difference.
    async fn recompute(&mut self, keys: HashSet<ServiceKey>) {
        let mut removed: Vec<(SocketAddr, Protocol)> = Vec::new();
        let mut upserts: Vec<Frontend> = Vec::new();
        let mut health_changed = false;
        for key in keys {
            let new = self.rules_of(&key);
            let old = self.applied.remove(&key).unwrap_or_default();
            health_changed |= old.health_check != new.health_check;
            removed.extend(
                old.frontends
                    .iter()
                    .filter(|f| !new.frontends.iter().any(|n| n.key() == f.key()))
                    .map(Frontend::key),
            );
            upserts.extend(
                new.frontends
                    .iter()
                    .filter(|f| !old.frontends.contains(f))
                    .cloned(),
            );
            if new != ServiceRules::default() {
                self.applied.insert(key, new);
            }
        }
        let report = self.proxy.update(&removed, &upserts).await;
        let failed = |addr: &SocketAddr| report.failed.iter().any(|(a, _)| a == addr);
        // Served now: a later failure is news again.
        self.unbindable
            .retain(|a| failed(a) || !upserts.iter().any(|u| u.addr == *a));
        for (addr, err) in &report.failed {
            if self.unbindable.insert(*addr) {
                tracing::warn!(%addr, error = %err, "cannot serve service frontend; retrying every second");
            } else {
                tracing::debug!(%addr, error = %err, "cannot serve service frontend");
            }
            self.forget_failed(*addr);
        }
        if health_changed {
            let checks: Vec<_> = self
                .applied
                .values()
                .filter_map(|r| r.health_check.clone())
                .collect();
            self.proxy.apply_health(&checks).await;
        }
    }

    /// The current rules of one Service (none once it is gone).
    fn rules_of(&self, key: &ServiceKey) -> ServiceRules {
        let (ns, name) = key;
        let Some(svc) = self.services.get(&ObjectRef::new(name).within(ns)) else {
            return ServiceRules::default();
        };
        let slices: Vec<Arc<EndpointSlice>> = self
            .tracker
            .slices_of(key)
            .iter()
            .filter_map(|slice| self.slices.get(&ObjectRef::new(slice).within(ns)))
            // The cache may be newer than the index: trust the slice's label.
            .filter(|slice| rules::slice_service(slice).as_ref() == Some(key))
            .collect();
        let own: Vec<&EndpointSlice> = slices.iter().map(|s| s.as_ref()).collect();
        rules::for_service(&svc, &own, &self.node)
    }

    /// A frontend that failed to bind is not applied: its Service is
    /// retried on the next sync.
    fn forget_failed(&mut self, addr: SocketAddr) {
        for (key, rules) in self.applied.iter_mut() {
            let before = rules.frontends.len();
            rules.frontends.retain(|f| f.addr != addr);
            if rules.frontends.len() != before {
                self.retry.insert(key.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::runtime::{reflector, watcher};
    use serde_json::json;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    /// A backend that greets every connection with `word`.
    async fn backend(word: &'static str) -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut c, _)) = l.accept().await {
                let _ = c.write_all(word.as_bytes()).await;
            }
        });
        addr
    }

    fn free_port() -> u16 {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    }

    fn service(name: &str, port: u16) -> Service {
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"clusterIP": "127.0.0.1", "clusterIPs": ["127.0.0.1"],
                     "ports": [{"port": port, "protocol": "TCP"}]}
        }))
        .unwrap()
    }

    fn slice(service: &str, backend: SocketAddr) -> EndpointSlice {
        serde_json::from_value(json!({
            "metadata": {"name": format!("{service}-x"), "namespace": "default",
                         "labels": {"kubernetes.io/service-name": service}},
            "addressType": "IPv4",
            "ports": [{"name": "", "port": backend.port(), "protocol": "TCP"}],
            "endpoints": [{"addresses": [backend.ip().to_string()], "conditions": {"ready": true}}]
        }))
        .unwrap()
    }

    async fn greeting(addr: SocketAddr) -> String {
        let mut c = TcpStream::connect(addr)
            .await
            .unwrap_or_else(|e| panic!("{addr}: {e}"));
        let mut out = String::new();
        let _ = c.read_to_string(&mut out).await;
        out
    }

    struct Fixture {
        syncer: Syncer,
        services: reflector::store::Writer<Service>,
        slices: reflector::store::Writer<EndpointSlice>,
        tracker: Arc<ChangeTracker>,
    }

    impl Fixture {
        fn new() -> Fixture {
            let (svc_store, services) = reflector::store();
            let (slice_store, slices) = reflector::store();
            let metrics = ProxyMetrics::new();
            let health = ProxyHealth::default();
            let tracker = Arc::new(ChangeTracker::new(metrics.clone(), health.clone()));
            let node = NodeView {
                name: "n1".into(),
                nodeport_addresses: vec![],
            };
            let proxy = UserspaceProxy::new("127.0.0.1".parse().unwrap());
            let syncer = Syncer::new(
                svc_store,
                slice_store,
                node,
                proxy,
                tracker.clone(),
                metrics,
                health,
            );
            Fixture {
                syncer,
                services,
                slices,
                tracker,
            }
        }

        fn service(&mut self, ev: watcher::Event<Service>) {
            self.services.apply_watcher_event(&ev);
            if let watcher::Event::Apply(s) | watcher::Event::Delete(s) = &ev {
                self.tracker.service_changed(s);
            }
        }

        fn slice(&mut self, s: EndpointSlice) {
            self.slices
                .apply_watcher_event(&watcher::Event::Apply(s.clone()));
            self.tracker.slice_changed(&s, SystemTime::now(), false);
        }
    }

    #[tokio::test]
    async fn applies_only_what_changed_and_keeps_addresses_that_change_hands() {
        let mut f = Fixture::new();
        let (pa, pb) = (free_port(), free_port());
        let a = service("a", pa);
        f.service(watcher::Event::Apply(a.clone()));
        f.slice(slice("a", backend("from-a").await));
        f.service(watcher::Event::Apply(service("b", pb)));
        f.syncer.sync().await;
        let front_a = SocketAddr::from(([127, 0, 0, 1], pa));
        let front_b = SocketAddr::from(([127, 0, 0, 1], pb));
        assert_eq!(greeting(front_a).await, "from-a");
        assert_eq!(f.syncer.proxy.frontend_count(), 2);

        // Only b's slice changes: only b is recomputed.
        f.slice(slice("b", backend("from-b").await));
        let dirty = f.tracker.take().dirty;
        assert_eq!(dirty.services, [("default".into(), "b".into())].into());
        f.tracker.slice_changed(
            &slice("b", backend("from-b").await),
            SystemTime::now(),
            false,
        );
        f.syncer.sync().await;
        assert_eq!(greeting(front_b).await, "from-b");

        // a goes and c takes its address in the same sync: the listener stays.
        f.service(watcher::Event::Delete(a));
        f.service(watcher::Event::Apply(service("c", pa)));
        f.slice(slice("c", backend("from-c").await));
        f.syncer.sync().await;
        assert_eq!(greeting(front_a).await, "from-c");
        assert_eq!(f.syncer.proxy.frontend_count(), 2);

        // A relist recomputes everything and changes nothing.
        f.tracker.resync_needed();
        f.syncer.sync().await;
        assert_eq!(greeting(front_a).await, "from-c");
        assert_eq!(f.syncer.proxy.frontend_count(), 2);
    }
}
