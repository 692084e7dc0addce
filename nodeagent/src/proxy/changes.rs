//! What the proxy has seen change since its last sync: kube-proxy's change
//! trackers reduced to what the metrics and the health check need (how many
//! Service and EndpointSlice changes are pending, and when each EndpointSlice
//! change was triggered, for the network programming latency).

use super::health::ProxyHealth;
use super::metrics::{AppliedChanges, ProxyMetrics};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use std::sync::Mutex;
use std::time::SystemTime;

/// Set by the EndpointSlice controller to the time of the Service or Pod
/// change that caused the slice's last update.
pub const TRIGGER_TIME_ANNOTATION: &str = "endpoints.kubernetes.io/last-change-trigger-time";

pub struct ChangeTracker {
    /// Trigger times before this are not ours to report (as kube-proxy: a
    /// restarted proxy would otherwise report the age of every slice).
    started: SystemTime,
    pending: Mutex<Vec<SystemTime>>,
    metrics: ProxyMetrics,
    health: ProxyHealth,
}

impl ChangeTracker {
    pub fn new(metrics: ProxyMetrics, health: ProxyHealth) -> Self {
        ChangeTracker {
            started: SystemTime::now(),
            pending: Mutex::new(Vec::new()),
            metrics,
            health,
        }
    }

    /// A Service was added, changed or deleted.
    pub fn service_changed(&self) {
        self.metrics.service_changes_total.inc();
        self.metrics.service_changes_pending.inc();
        self.health.queued(SystemTime::now());
    }

    /// An EndpointSlice was added, changed or deleted; `arrived` is when
    /// its event reached us, the trigger time when the slice has none.
    pub fn slice_changed(&self, slice: &EndpointSlice, arrived: SystemTime) {
        self.metrics.endpoint_changes_total.inc();
        self.metrics.endpoint_changes_pending.inc();
        self.health.queued(arrived);
        let trigger = trigger_time(slice).unwrap_or(arrived);
        if trigger >= self.started {
            self.lock().push(trigger);
        }
    }

    /// Something needs a resync that is not a change (a relist).
    pub fn resync_needed(&self) {
        self.health.queued(SystemTime::now());
    }

    /// Takes the pending changes, for a sync about to read the caches.
    pub fn take(&self) -> AppliedChanges {
        self.metrics.endpoint_changes_pending.set(0);
        self.metrics.service_changes_pending.set(0);
        AppliedChanges {
            triggers: std::mem::take(&mut *self.lock()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<SystemTime>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The slice's trigger time annotation, if present and well-formed.
pub fn trigger_time(slice: &EndpointSlice) -> Option<SystemTime> {
    let value = slice
        .metadata
        .annotations
        .as_ref()?
        .get(TRIGGER_TIME_ANNOTATION)?;
    let ts: k8s_openapi::jiff::Timestamp = value.parse().ok()?;
    Some(SystemTime::from(ts))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn slice(annotation: Option<&str>) -> EndpointSlice {
        let mut s = EndpointSlice::default();
        if let Some(v) = annotation {
            s.metadata.annotations =
                Some([(TRIGGER_TIME_ANNOTATION.to_string(), v.to_string())].into());
        }
        s
    }

    #[test]
    fn parses_the_controllers_annotation() {
        let t = trigger_time(&slice(Some("2026-11-23T15:00:01.5Z"))).expect("parsed");
        let unix = t
            .duration_since(SystemTime::UNIX_EPOCH)
            .expect("after epoch");
        assert_eq!(unix, Duration::from_millis(1_795_446_001_500));
        assert_eq!(trigger_time(&slice(Some("yesterday"))), None);
        assert_eq!(trigger_time(&slice(None)), None);
    }

    #[test]
    fn pending_changes_are_taken_once_and_old_triggers_ignored() {
        let metrics = ProxyMetrics::new();
        let health = ProxyHealth::default();
        let tracker = ChangeTracker::new(metrics.clone(), health);
        let arrived = SystemTime::now();
        tracker.slice_changed(&slice(None), arrived);
        // Triggered long before the proxy started: not reported.
        tracker.slice_changed(&slice(Some("2001-01-01T00:00:00Z")), arrived);
        tracker.service_changed();
        assert_eq!(metrics.endpoint_changes_pending.get(), 2);
        assert_eq!(metrics.service_changes_pending.get(), 1);
        assert_eq!(tracker.take().triggers, vec![arrived]);
        assert!(tracker.take().triggers.is_empty());
        assert_eq!(metrics.endpoint_changes_pending.get(), 0);
        assert_eq!(metrics.endpoint_changes_total.get(), 2);
        assert_eq!(metrics.service_changes_total.get(), 1);
    }
}
