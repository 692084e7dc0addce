//! What the proxy has seen change since its last sync (kube-proxy's change
//! trackers): which Services need their rules recomputed, how many Service
//! and EndpointSlice changes are pending, and when each EndpointSlice change
//! was triggered, for the network programming latency.

use super::health::ProxyHealth;
use super::metrics::{AppliedChanges, ProxyMetrics};
use super::rules::{service_key, slice_service, ServiceKey};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::SystemTime;

/// The Services whose rules may have changed.
#[derive(Debug, Default, PartialEq)]
pub struct Dirty {
    /// Everything (after a relist): recompute every Service.
    pub all: bool,
    pub services: HashSet<ServiceKey>,
}

/// What a sync takes from the tracker.
#[derive(Debug, Default)]
pub struct Pending {
    pub changes: AppliedChanges,
    pub dirty: Dirty,
}

#[derive(Default)]
struct State {
    triggers: Vec<SystemTime>,
    dirty: Dirty,
    owners: SliceOwners,
}

/// Which Service each EndpointSlice belongs to, both ways, so a sync finds a
/// Service's slices without scanning them all, and a slice that moves or
/// goes away also refreshes its old Service.
#[derive(Default)]
struct SliceOwners {
    /// (namespace, slice name) -> its Service.
    owner: HashMap<(String, String), ServiceKey>,
    /// Service -> names of its slices.
    slices: HashMap<ServiceKey, HashSet<String>>,
}

impl SliceOwners {
    /// Records the slice's current owner (None: gone or unlabeled); returns the previous one.
    fn set(&mut self, slice: &EndpointSlice, owner: Option<ServiceKey>) -> Option<ServiceKey> {
        let ns = slice.metadata.namespace.clone().unwrap_or_default();
        let name = slice.metadata.name.clone().unwrap_or_default();
        let id = (ns, name.clone());
        let previous = match &owner {
            Some(owner) => self.owner.insert(id, owner.clone()),
            None => self.owner.remove(&id),
        };
        if let Some(prev) = previous.as_ref().filter(|p| Some(*p) != owner.as_ref()) {
            if let Some(names) = self.slices.get_mut(prev) {
                names.remove(&name);
                if names.is_empty() {
                    self.slices.remove(prev);
                }
            }
        }
        if let Some(owner) = owner {
            self.slices.entry(owner).or_default().insert(name);
        }
        previous
    }
}

/// Set by the EndpointSlice controller to the time of the Service or Pod
/// change that caused the slice's last update.
pub const TRIGGER_TIME_ANNOTATION: &str = "endpoints.kubernetes.io/last-change-trigger-time";

pub struct ChangeTracker {
    /// Trigger times before this are not ours to report (as kube-proxy: a
    /// restarted proxy would otherwise report the age of every slice).
    started: SystemTime,
    state: Mutex<State>,
    metrics: ProxyMetrics,
    health: ProxyHealth,
}

impl ChangeTracker {
    pub fn new(metrics: ProxyMetrics, health: ProxyHealth) -> Self {
        ChangeTracker {
            started: SystemTime::now(),
            state: Mutex::new(State::default()),
            metrics,
            health,
        }
    }

    /// A Service was added, changed or deleted.
    pub fn service_changed(&self, svc: &Service) {
        self.lock().dirty.services.insert(service_key(svc));
        self.metrics.service_changes_total.inc();
        self.metrics.service_changes_pending.inc();
        self.health.queued(SystemTime::now());
    }

    /// An EndpointSlice was added, changed or deleted; `arrived` is when
    /// its event reached us, the trigger time when the slice has none.
    pub fn slice_changed(&self, slice: &EndpointSlice, arrived: SystemTime, deleted: bool) {
        self.metrics.endpoint_changes_total.inc();
        self.metrics.endpoint_changes_pending.inc();
        self.health.queued(arrived);
        let trigger = trigger_time(slice).unwrap_or(arrived);
        let mut state = self.lock();
        if trigger >= self.started {
            state.triggers.push(trigger);
        }
        let owner = slice_service(slice).filter(|_| !deleted);
        let previous = state.owners.set(slice, owner.clone());
        state
            .dirty
            .services
            .extend(previous.into_iter().chain(owner));
    }

    /// A slice listed by a relist (not a change: the relist recomputes all).
    pub fn slice_listed(&self, slice: &EndpointSlice) {
        self.lock().owners.set(slice, slice_service(slice));
    }

    /// Names of the slices that belong to `service`, as last seen. A slice
    /// deleted while the watch was down may linger until the next relist;
    /// the caller looks each one up in its cache.
    pub fn slices_of(&self, service: &ServiceKey) -> Vec<String> {
        self.lock()
            .owners
            .slices
            .get(service)
            .map(|names| names.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The caches were relisted: every Service's rules must be recomputed.
    pub fn resync_needed(&self) {
        self.lock().dirty.all = true;
        self.health.queued(SystemTime::now());
    }

    /// Takes the pending changes, for a sync about to read the caches.
    pub fn take(&self) -> Pending {
        self.metrics.endpoint_changes_pending.set(0);
        self.metrics.service_changes_pending.set(0);
        let mut state = self.lock();
        Pending {
            changes: AppliedChanges {
                triggers: std::mem::take(&mut state.triggers),
            },
            dirty: std::mem::take(&mut state.dirty),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
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
        s.metadata.namespace = Some("default".into());
        s.metadata.name = Some("web-abc".into());
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
        tracker.slice_changed(&slice(None), arrived, false);
        // Triggered long before the proxy started: not reported.
        tracker.slice_changed(&slice(Some("2001-01-01T00:00:00Z")), arrived, false);
        tracker.service_changed(&Service::default());
        assert_eq!(metrics.endpoint_changes_pending.get(), 2);
        assert_eq!(metrics.service_changes_pending.get(), 1);
        assert_eq!(tracker.take().changes.triggers, vec![arrived]);
        assert!(tracker.take().changes.triggers.is_empty());
        assert_eq!(metrics.endpoint_changes_pending.get(), 0);
        assert_eq!(metrics.endpoint_changes_total.get(), 2);
        assert_eq!(metrics.service_changes_total.get(), 1);
    }

    fn key(ns: &str, name: &str) -> ServiceKey {
        (ns.to_string(), name.to_string())
    }

    #[test]
    fn dirty_services_follow_slices_that_move_or_go() {
        let tracker = ChangeTracker::new(ProxyMetrics::new(), ProxyHealth::default());
        let mut s = slice(None);
        s.metadata.labels =
            Some([("kubernetes.io/service-name".to_string(), "web".to_string())].into());
        let now = SystemTime::now();
        tracker.slice_changed(&s, now, false);
        assert_eq!(
            tracker.take().dirty.services,
            [key("default", "web")].into()
        );
        assert_eq!(tracker.slices_of(&key("default", "web")), vec!["web-abc"]);
        // Relabeled to another Service: both need their rules recomputed.
        s.metadata.labels =
            Some([("kubernetes.io/service-name".to_string(), "api".to_string())].into());
        tracker.slice_changed(&s, now, false);
        assert_eq!(
            tracker.take().dirty.services,
            [key("default", "web"), key("default", "api")].into()
        );
        assert!(tracker.slices_of(&key("default", "web")).is_empty());
        assert_eq!(tracker.slices_of(&key("default", "api")), vec!["web-abc"]);
        // Deleted: its Service is refreshed, and the slice is forgotten.
        tracker.slice_changed(&s, now, true);
        assert_eq!(
            tracker.take().dirty.services,
            [key("default", "api")].into()
        );
        assert!(tracker.slices_of(&key("default", "api")).is_empty());
        tracker.resync_needed();
        let after_relist = tracker.take().dirty;
        assert!(after_relist.all);
        assert_eq!(tracker.take().dirty, Dirty::default());
    }
}
