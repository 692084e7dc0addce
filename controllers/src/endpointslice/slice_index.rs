//! The controller's EndpointSlices grouped by Service, kept from the same
//! watch events that fill the slice cache. A sync needs "this Service's
//! slices"; scanning the whole cache for them made every sync cost as much
//! as the cluster has slices, so a cluster with 10k Services spent its time
//! in that scan.

use super::managed_service_of;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::runtime::watcher;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

/// (namespace, name).
type Key = (String, String);

#[derive(Default)]
struct Groups {
    /// Service -> names of its slices.
    by_service: HashMap<Key, BTreeSet<String>>,
    /// Slice -> its Service's name (same namespace).
    service_of: HashMap<Key, String>,
}

impl Groups {
    fn insert(&mut self, slice: &EndpointSlice) {
        let (Some(ns), Some(name)) = (
            slice.metadata.namespace.clone(),
            slice.metadata.name.clone(),
        ) else {
            return;
        };
        let key = (ns.clone(), name.clone());
        self.remove(&key);
        let Some(svc) = managed_service_of(slice) else {
            return;
        };
        self.by_service
            .entry((ns, svc.name.clone()))
            .or_default()
            .insert(name);
        self.service_of.insert(key, svc.name);
    }

    fn remove(&mut self, slice: &Key) {
        let Some(svc) = self.service_of.remove(slice) else {
            return;
        };
        let svc_key = (slice.0.clone(), svc);
        if let Some(names) = self.by_service.get_mut(&svc_key) {
            names.remove(&slice.1);
            if names.is_empty() {
                self.by_service.remove(&svc_key);
            }
        }
    }
}

/// Slice names per Service; cheap to clone, shared with the watch task.
#[derive(Clone, Default)]
pub struct SlicesByService {
    current: Arc<Mutex<Groups>>,
    /// Filled during a (re-)list and swapped in when it is complete, as the
    /// reflector store does, so lookups never see a half-listed state.
    relist: Arc<Mutex<Option<Groups>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl SlicesByService {
    /// Follows one watch event.
    pub fn observe(&self, event: &watcher::Event<EndpointSlice>) {
        match event {
            watcher::Event::Init => *lock(&self.relist) = Some(Groups::default()),
            watcher::Event::InitApply(slice) => {
                if let Some(g) = lock(&self.relist).as_mut() {
                    g.insert(slice);
                }
            }
            watcher::Event::InitDone => {
                if let Some(g) = lock(&self.relist).take() {
                    *lock(&self.current) = g;
                }
            }
            watcher::Event::Apply(slice) => lock(&self.current).insert(slice),
            watcher::Event::Delete(slice) => {
                if let (Some(ns), Some(name)) = (&slice.metadata.namespace, &slice.metadata.name) {
                    lock(&self.current).remove(&(ns.clone(), name.clone()));
                }
            }
        }
    }

    /// Names of the slices of Service `ns/name`.
    pub fn slice_names(&self, ns: &str, name: &str) -> Vec<String> {
        lock(&self.current)
            .by_service
            .get(&(ns.to_string(), name.to_string()))
            .map(|names| names.iter().cloned().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::super::reconcile::{CONTROLLER_NAME, LABEL_MANAGED_BY, LABEL_SERVICE_NAME};
    use super::*;

    fn slice(ns: &str, name: &str, svc: &str) -> EndpointSlice {
        serde_json::from_value(serde_json::json!({
            "metadata": {
                "namespace": ns,
                "name": name,
                "labels": {
                    LABEL_MANAGED_BY: CONTROLLER_NAME,
                    LABEL_SERVICE_NAME: svc,
                }
            },
            "addressType": "IPv4",
            "endpoints": []
        }))
        .expect("slice")
    }

    #[test]
    fn groups_follow_events_and_relists() {
        let idx = SlicesByService::default();
        idx.observe(&watcher::Event::Init);
        idx.observe(&watcher::Event::InitApply(slice("a", "web-1", "web")));
        // A half-done list is not visible yet.
        assert!(idx.slice_names("a", "web").is_empty());
        idx.observe(&watcher::Event::InitDone);
        assert_eq!(idx.slice_names("a", "web"), vec!["web-1"]);

        idx.observe(&watcher::Event::Apply(slice("a", "web-2", "web")));
        idx.observe(&watcher::Event::Apply(slice("b", "web-3", "web")));
        assert_eq!(idx.slice_names("a", "web"), vec!["web-1", "web-2"]);
        assert_eq!(idx.slice_names("b", "web"), vec!["web-3"]);

        idx.observe(&watcher::Event::Delete(slice("a", "web-1", "web")));
        assert_eq!(idx.slice_names("a", "web"), vec!["web-2"]);

        // A slice that is no longer ours leaves its old group.
        let mut foreign = slice("a", "web-2", "web");
        foreign.metadata.labels = None;
        idx.observe(&watcher::Event::Apply(foreign));
        assert!(idx.slice_names("a", "web").is_empty());

        // A re-list replaces everything with what it found.
        idx.observe(&watcher::Event::Init);
        idx.observe(&watcher::Event::InitApply(slice("a", "db-1", "db")));
        idx.observe(&watcher::Event::InitDone);
        assert!(idx.slice_names("b", "web").is_empty());
        assert_eq!(idx.slice_names("a", "db"), vec!["db-1"]);
    }
}
