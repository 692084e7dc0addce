//! The proxy's Prometheus metrics, named and bucketed as kube-proxy's
//! (`kubeproxy_*`), so dashboards and alerts written for kube-proxy read
//! them unchanged. Rendered in the OpenMetrics text format for `/metrics`.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, linear_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, SystemTime};

/// The `Content-Type` of [`ProxyMetrics::render`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Handles to every metric the proxy reports; cheap to clone (shared state).
#[derive(Clone)]
pub struct ProxyMetrics {
    registry: std::sync::Arc<Registry>,
    pub sync_duration: Histogram,
    pub network_programming: Histogram,
    pub last_sync_timestamp: Gauge<f64, AtomicU64>,
    pub endpoint_changes_total: Counter,
    pub endpoint_changes_pending: Gauge,
    pub service_changes_total: Counter,
    pub service_changes_pending: Gauge,
    pub frontends: Gauge,
}

/// kube-proxy's sync duration buckets: 1 ms doubling 15 times (to ~16 s).
fn sync_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(0.001, 2.0, 15)
}

/// kube-proxy's network programming buckets: 0, 0.25 s, 0.5 s, then every
/// second to 59 s, every 5 s to 115 s, every 30 s to 5 min.
fn programming_buckets() -> impl Iterator<Item = f64> {
    std::iter::once(0.0)
        .chain(linear_buckets(0.25, 0.25, 2))
        .chain(linear_buckets(1.0, 1.0, 59))
        .chain(linear_buckets(60.0, 5.0, 12))
        .chain(linear_buckets(120.0, 30.0, 7))
}

impl Default for ProxyMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl ProxyMetrics {
    pub fn new() -> Self {
        let sync_duration = Histogram::new(sync_buckets());
        let network_programming = Histogram::new(programming_buckets());
        let last_sync_timestamp = Gauge::<f64, AtomicU64>::default();
        let endpoint_changes_total = Counter::default();
        let endpoint_changes_pending = Gauge::default();
        let service_changes_total = Counter::default();
        let service_changes_pending = Gauge::default();
        let frontends = Gauge::default();
        let mut r = Registry::with_prefix("kubeproxy");
        r.register(
            "sync_proxy_rules_duration_seconds",
            "SyncProxyRules latency in seconds",
            sync_duration.clone(),
        );
        r.register(
            "network_programming_duration_seconds",
            "In Cluster Network Programming Latency in seconds",
            network_programming.clone(),
        );
        r.register(
            "sync_proxy_rules_last_timestamp_seconds",
            "The last time proxy rules were successfully synced",
            last_sync_timestamp.clone(),
        );
        // The encoder appends `_total` to counters.
        r.register(
            "sync_proxy_rules_endpoint_changes",
            "Cumulative proxy rules Endpoint changes",
            endpoint_changes_total.clone(),
        );
        r.register(
            "sync_proxy_rules_endpoint_changes_pending",
            "Pending proxy rules Endpoint changes",
            endpoint_changes_pending.clone(),
        );
        r.register(
            "sync_proxy_rules_service_changes",
            "Cumulative proxy rules Service changes",
            service_changes_total.clone(),
        );
        r.register(
            "sync_proxy_rules_service_changes_pending",
            "Pending proxy rules Service changes",
            service_changes_pending.clone(),
        );
        // mkube's own: what the userspace mode listens on after the last sync.
        r.register(
            "userspace_frontends",
            "Service frontends (address, port, protocol) the userspace proxy serves",
            frontends.clone(),
        );
        ProxyMetrics {
            registry: std::sync::Arc::new(r),
            sync_duration,
            network_programming,
            last_sync_timestamp,
            endpoint_changes_total,
            endpoint_changes_pending,
            service_changes_total,
            service_changes_pending,
            frontends,
        }
    }

    /// Records one applied sync that took `took` and finished at `now`, for
    /// the changes in `applied`.
    pub fn record_sync(&self, took: Duration, now: SystemTime, applied: &AppliedChanges) {
        self.sync_duration.observe(took.as_secs_f64());
        let unix = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        self.last_sync_timestamp.set(unix.as_secs_f64());
        for trigger in &applied.triggers {
            // A trigger stamped by a clock ahead of ours counts as instant.
            let latency = now.duration_since(*trigger).unwrap_or_default();
            self.network_programming.observe(latency.as_secs_f64());
        }
    }

    /// The OpenMetrics text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

/// What one sync applied: the change trigger times it programs.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct AppliedChanges {
    pub triggers: Vec<SystemTime>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The count of histogram `name` in `text`.
    fn count(text: &str, name: &str) -> u64 {
        let prefix = format!("{name}_count ");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name}_count in\n{text}"))
    }

    #[test]
    fn names_and_buckets_are_kube_proxys() {
        let m = ProxyMetrics::new();
        let text = m.render();
        for name in [
            "# TYPE kubeproxy_sync_proxy_rules_duration_seconds histogram",
            "# TYPE kubeproxy_network_programming_duration_seconds histogram",
            "# TYPE kubeproxy_sync_proxy_rules_last_timestamp_seconds gauge",
            "kubeproxy_sync_proxy_rules_endpoint_changes_total 0",
            "kubeproxy_sync_proxy_rules_service_changes_total 0",
            "kubeproxy_sync_proxy_rules_endpoint_changes_pending 0",
            "kubeproxy_sync_proxy_rules_duration_seconds_bucket{le=\"0.001\"} 0",
            "kubeproxy_sync_proxy_rules_duration_seconds_bucket{le=\"16.384\"} 0",
            "kubeproxy_network_programming_duration_seconds_bucket{le=\"0.25\"} 0",
            "kubeproxy_network_programming_duration_seconds_bucket{le=\"59.0\"} 0",
            "kubeproxy_network_programming_duration_seconds_bucket{le=\"300.0\"} 0",
        ] {
            assert!(text.contains(name), "missing {name:?} in\n{text}");
        }
        assert_eq!(sync_buckets().count(), 15);
        // 0 + 2 + 59 + 12 + 7 bounds, as kube-proxy's merge() gives.
        assert_eq!(programming_buckets().count(), 81);
    }

    #[test]
    fn a_sync_observes_duration_timestamp_and_each_trigger() {
        let m = ProxyMetrics::new();
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let applied = AppliedChanges {
            triggers: vec![
                now - Duration::from_millis(300),
                now - Duration::from_secs(2),
            ],
        };
        m.record_sync(Duration::from_millis(3), now, &applied);
        let text = m.render();
        assert_eq!(
            count(&text, "kubeproxy_sync_proxy_rules_duration_seconds"),
            1
        );
        assert_eq!(
            count(&text, "kubeproxy_network_programming_duration_seconds"),
            2
        );
        assert!(
            text.contains("kubeproxy_network_programming_duration_seconds_bucket{le=\"0.5\"} 1")
        );
        assert!(
            text.contains("kubeproxy_network_programming_duration_seconds_bucket{le=\"2.0\"} 2")
        );
        assert!(text.contains("kubeproxy_sync_proxy_rules_duration_seconds_bucket{le=\"0.004\"} 1"));
        assert!(text.contains("kubeproxy_sync_proxy_rules_last_timestamp_seconds 1700000000"));
    }
}
