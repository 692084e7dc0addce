//! Which Services a pod event concerns: those whose selector matches the pod
//! now, and those it matched at its previous event (a pod whose labels change,
//! or that is deleted, must leave the Services it no longer matches).
//!
//! kube-rs hands a watch mapper only the new object, so the previous matches
//! are remembered here, per pod.

use crate::util::selector;
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::runtime::reflector::{ObjectRef, Store};
use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

pub struct PodServiceIndex {
    services: Store<Service>,
    pods: Store<Pod>,
    last: Mutex<HashMap<(String, String), BTreeSet<String>>>,
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
            last: Mutex::new(HashMap::new()),
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
        let mut last = match self.last.lock() {
            Ok(l) => l,
            Err(p) => p.into_inner(),
        };
        let key = (ns.clone(), name);
        let before = if deleted {
            last.remove(&key).unwrap_or_default()
        } else {
            last.insert(key, now.clone()).unwrap_or_default()
        };
        now.union(&before)
            .map(|s| ObjectRef::new(s).within(&ns))
            .collect()
    }

    /// Pods in the Service's namespace that its selector matches.
    pub fn pods_of(&self, svc: &Service) -> Vec<std::sync::Arc<Pod>> {
        let Some(sel) = selector_of(svc) else {
            return vec![];
        };
        let ns = svc.metadata.namespace.as_deref();
        let pods = self.pods.state_filter(|p| {
            p.metadata.namespace.as_deref() == ns
                && selector::map_matches(sel, p.metadata.labels.as_ref())
        });
        // Remember the match, so the pod's next event (relabel, delete)
        // resyncs this Service even if the pod has had no event since.
        if let Some(svc_name) = svc.metadata.name.as_ref() {
            let mut last = match self.last.lock() {
                Ok(l) => l,
                Err(p) => p.into_inner(),
            };
            for p in &pods {
                let key = (
                    p.metadata.namespace.clone().unwrap_or_default(),
                    p.metadata.name.clone().unwrap_or_default(),
                );
                last.entry(key).or_default().insert(svc_name.clone());
            }
        }
        pods
    }
}
