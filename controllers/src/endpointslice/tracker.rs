//! Guards against acting on a cache older than our own writes (the role of
//! kube-controller-manager's EndpointSliceTracker).
//!
//! Why: slices are created with generateName, so a reconcile that reads a
//! cache which does not yet show the slice it just created would create a
//! second one. After every write the expected state is remembered; a
//! reconcile whose cache is behind it waits for the watch to catch up.

use k8s_openapi::api::discovery::v1::EndpointSlice;
use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Default)]
struct Expected {
    /// slice name -> lowest resourceVersion the cache must show
    written: HashMap<String, u64>,
    /// slice name -> uid that must be gone from the cache
    deleted: HashMap<String, String>,
}

#[derive(Default)]
pub struct SliceTracker {
    by_service: Mutex<HashMap<(String, String), Expected>>,
}

fn rv(s: &EndpointSlice) -> Option<u64> {
    s.metadata.resource_version.as_deref()?.parse().ok()
}

impl SliceTracker {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Expected>> {
        match self.by_service.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    pub fn written(&self, ns: &str, svc: &str, slice: &EndpointSlice) {
        if let (Some(name), Some(v)) = (slice.metadata.name.clone(), rv(slice)) {
            let mut g = self.lock();
            let e = g.entry((ns.into(), svc.into())).or_default();
            e.deleted.remove(&name);
            e.written.insert(name, v);
        }
    }

    pub fn deleted(&self, ns: &str, svc: &str, slice: &EndpointSlice) {
        if let Some(name) = slice.metadata.name.clone() {
            let mut g = self.lock();
            let e = g.entry((ns.into(), svc.into())).or_default();
            e.written.remove(&name);
            e.deleted
                .insert(name, slice.metadata.uid.clone().unwrap_or_default());
        }
    }

    /// Whether `cached` (this Service's slices in the cache) is behind our
    /// writes. Expectations the cache has met are dropped.
    pub fn is_stale(&self, ns: &str, svc: &str, cached: &[EndpointSlice]) -> bool {
        let mut g = self.lock();
        let key = (ns.to_string(), svc.to_string());
        let Some(e) = g.get_mut(&key) else {
            return false;
        };
        let by_name: HashMap<&str, &EndpointSlice> = cached
            .iter()
            .filter_map(|s| Some((s.metadata.name.as_deref()?, s)))
            .collect();
        e.written.retain(|name, want| {
            by_name
                .get(name.as_str())
                .and_then(|s| rv(s))
                .is_none_or(|have| have < *want)
        });
        e.deleted.retain(|name, uid| {
            by_name
                .get(name.as_str())
                .is_some_and(|s| s.metadata.uid.as_deref().unwrap_or_default() == uid)
        });
        let stale = !e.written.is_empty() || !e.deleted.is_empty();
        if !stale {
            g.remove(&key);
        }
        stale
    }

    pub fn forget(&self, ns: &str, svc: &str) {
        self.lock().remove(&(ns.to_string(), svc.to_string()));
    }
}
