//! Which Services a pod event concerns: those whose selector matches the pod
//! now, and those it matched at its previous event (a pod whose labels change,
//! or that is deleted, must leave the Services it no longer matches).
//!
//! kube-rs hands a watch mapper only the new object, so the previous matches
//! are remembered here, per pod.
//!
//! The same memory, inverted, answers "which pods does this Service select"
//! without scanning every pod of the cluster on each sync: with 10,000 pods a
//! scan per sync was most of both endpoint controllers' CPU under pod churn.
//! A Service's pods are scanned once (and again when its selector changes);
//! from then on every pod event keeps its set current. The scan and the
//! updates take the same lock, so a pod that arrives during a scan is counted
//! by one or the other.

use crate::util::selector;
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::runtime::reflector::{ObjectRef, Store};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Mutex;

pub struct PodServiceIndex {
    services: Store<Service>,
    pods: Store<Pod>,
    matches: Mutex<Matches>,
}

type Key = (String, String);

#[derive(Default)]
struct Matches {
    /// (namespace, pod) -> the Services it matched at its last event or sync.
    by_pod: HashMap<Key, BTreeSet<String>>,
    /// (namespace, Service) -> the pods it selects, once scanned.
    by_service: HashMap<Key, SelectedPods>,
}

/// A Service's pods, valid for the selector they were matched with.
struct SelectedPods {
    selector: selector::Labels,
    pods: HashSet<String>,
}

impl Matches {
    /// Records that pod `pod` of `ns` now matches the Services `now`
    /// (empty: deleted); returns the ones it matched before.
    fn set_pod(
        &mut self,
        ns: &str,
        pod: &str,
        now: &BTreeSet<String>,
        deleted: bool,
    ) -> BTreeSet<String> {
        let key = (ns.to_string(), pod.to_string());
        let before = if deleted {
            self.by_pod.remove(&key).unwrap_or_default()
        } else {
            self.by_pod.insert(key, now.clone()).unwrap_or_default()
        };
        for svc in before.difference(now) {
            if let Some(sel) = self.by_service.get_mut(&(ns.to_string(), svc.clone())) {
                sel.pods.remove(pod);
            }
        }
        for svc in now {
            if let Some(sel) = self.by_service.get_mut(&(ns.to_string(), svc.clone())) {
                sel.pods.insert(pod.to_string());
            }
        }
        before
    }
}

/// Whether the Service selects pods at all (a non-empty selector).
pub fn selector_of(svc: &Service) -> Option<&selector::Labels> {
    svc.spec
        .as_ref()?
        .selector
        .as_ref()
        .filter(|s| !s.is_empty())
}

impl PodServiceIndex {
    pub fn new(services: Store<Service>, pods: Store<Pod>) -> Self {
        PodServiceIndex {
            services,
            pods,
            matches: Mutex::new(Matches::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Matches> {
        match self.matches.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        }
    }

    /// Services to resync for this pod event.
    pub fn services_for(&self, pod: &Pod) -> Vec<ObjectRef<Service>> {
        let ns = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let deleted = self.pods.get(&ObjectRef::new(&name).within(&ns)).is_none();
        let now: BTreeSet<String> = if deleted {
            BTreeSet::new()
        } else {
            self.services
                .state()
                .iter()
                .filter(|s| s.metadata.namespace.as_deref() == Some(ns.as_str()))
                .filter(|s| {
                    selector_of(s)
                        .is_some_and(|sel| selector::map_matches(sel, pod.metadata.labels.as_ref()))
                })
                .filter_map(|s| s.metadata.name.clone())
                .collect()
        };
        let before = self.lock().set_pod(&ns, &name, &now, deleted);
        now.union(&before)
            .map(|s| ObjectRef::new(s).within(&ns))
            .collect()
    }

    /// Pods in the Service's namespace that its selector matches.
    pub fn pods_of(&self, svc: &Service) -> Vec<std::sync::Arc<Pod>> {
        let Some(sel) = selector_of(svc) else {
            return vec![];
        };
        let ns = svc.metadata.namespace.clone().unwrap_or_default();
        let svc_name = svc.metadata.name.clone().unwrap_or_default();
        let key = (ns.clone(), svc_name.clone());
        let mut matches = self.lock();
        if let Some(known) = matches.by_service.get(&key).filter(|k| k.selector == *sel) {
            let names: Vec<String> = known.pods.iter().cloned().collect();
            drop(matches);
            return names
                .iter()
                .filter_map(|n| self.pods.get(&ObjectRef::new(n).within(&ns)))
                .filter(|p| selector::map_matches(sel, p.metadata.labels.as_ref()))
                .collect();
        }
        let pods = self.pods.state_filter(|p| {
            p.metadata.namespace.as_deref() == Some(ns.as_str())
                && selector::map_matches(sel, p.metadata.labels.as_ref())
        });
        // Remember the match both ways: the pod's next event (relabel,
        // delete) resyncs this Service even if the pod has had no event
        // since, and the Service's next sync needs no scan.
        let names: HashSet<String> = pods
            .iter()
            .filter_map(|p| p.metadata.name.clone())
            .collect();
        for p in &names {
            matches
                .by_pod
                .entry((ns.clone(), p.clone()))
                .or_default()
                .insert(svc_name.clone());
        }
        matches.by_service.insert(
            key,
            SelectedPods {
                selector: sel.clone(),
                pods: names,
            },
        );
        pods
    }

    /// Drops what is known of a deleted Service's pods.
    pub fn forget_service(&self, namespace: &str, name: &str) {
        self.lock()
            .by_service
            .remove(&(namespace.to_string(), name.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::runtime::reflector::{self, store::Writer};
    use kube::runtime::watcher::Event;
    use serde_json::json;

    fn pod(name: &str, app: &str) -> Pod {
        serde_json::from_value(
            json!({"metadata": {"name": name, "namespace": "d", "labels": {"app": app}}}),
        )
        .unwrap()
    }

    fn service(app: &str) -> Service {
        serde_json::from_value(json!({"metadata": {"name": "s", "namespace": "d"},
            "spec": {"selector": {"app": app}}}))
        .unwrap()
    }

    fn names(pods: Vec<std::sync::Arc<Pod>>) -> BTreeSet<String> {
        pods.iter()
            .filter_map(|p| p.metadata.name.clone())
            .collect()
    }

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    /// A pod event as the controllers see it: the store first, then the mapper.
    fn event(index: &PodServiceIndex, pods: &mut Writer<Pod>, ev: Event<Pod>) {
        pods.apply_watcher_event(&ev);
        if let Event::Apply(p) | Event::Delete(p) = ev {
            index.services_for(&p);
        }
    }

    #[test]
    fn pods_of_follows_pod_events_after_the_first_scan() {
        let (svc_store, mut svcs) = reflector::store::<Service>();
        let (pod_store, mut pods) = reflector::store::<Pod>();
        let svc = service("a");
        svcs.apply_watcher_event(&Event::Apply(svc.clone()));
        let index = PodServiceIndex::new(svc_store, pod_store);
        event(&index, &mut pods, Event::Apply(pod("p1", "a")));
        event(&index, &mut pods, Event::Apply(pod("p2", "b")));
        assert_eq!(names(index.pods_of(&svc)), set(&["p1"]));

        event(&index, &mut pods, Event::Apply(pod("p3", "a")));
        assert_eq!(names(index.pods_of(&svc)), set(&["p1", "p3"]));
        event(&index, &mut pods, Event::Apply(pod("p1", "b")));
        assert_eq!(names(index.pods_of(&svc)), set(&["p3"]));
        event(&index, &mut pods, Event::Delete(pod("p3", "a")));
        assert!(index.pods_of(&svc).is_empty());

        // A new selector is scanned afresh.
        let svc = service("b");
        svcs.apply_watcher_event(&Event::Apply(svc.clone()));
        assert_eq!(names(index.pods_of(&svc)), set(&["p1", "p2"]));
    }
}
