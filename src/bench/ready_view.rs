//! A client-side view of how many ready addresses each Service has, kept
//! from two watches — core/v1 Endpoints and discovery/v1 EndpointSlices —
//! with the instant each count last changed, so a benchmark can tell when a
//! change became visible without polling.

use super::watched::Watched;
use k8s_openapi::api::core::v1::Endpoints;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::Api;
use kube::runtime::watcher;
use kube::ResourceExt;
use std::collections::HashMap;
use std::time::{Duration, Instant};

const SERVICE_LABEL: &str = "kubernetes.io/service-name";
const MANAGED_BY: &str = "endpointslice.kubernetes.io/managed-by=endpointslice-controller.k8s.io";

/// A Service's ready address count and when it last changed.
#[derive(Clone, Copy)]
struct Seen {
    ready: usize,
    since: Instant,
}

#[derive(Default)]
struct State {
    /// By Service name.
    endpoints: HashMap<String, Seen>,
    /// By slice name: its Service and ready endpoints.
    slices: HashMap<String, (String, usize)>,
    /// By Service name, summed over its slices.
    slice_totals: HashMap<String, Seen>,
}

impl State {
    fn set(map: &mut HashMap<String, Seen>, svc: &str, ready: usize, at: Instant) {
        match map.get_mut(svc) {
            Some(seen) if seen.ready == ready => {}
            Some(seen) => *seen = Seen { ready, since: at },
            None => {
                map.insert(svc.to_string(), Seen { ready, since: at });
            }
        }
    }

    fn apply_slice(&mut self, slice: &EndpointSlice, deleted: bool, at: Instant) {
        let name = slice.name_any();
        let Some(svc) = slice.labels().get(SERVICE_LABEL).cloned() else {
            return;
        };
        if deleted {
            self.slices.remove(&name);
        } else {
            self.slices
                .insert(name, (svc.clone(), ready_in_slice(slice)));
        }
        let total = self
            .slices
            .values()
            .filter(|(s, _)| *s == svc)
            .map(|(_, n)| n)
            .sum();
        Self::set(&mut self.slice_totals, &svc, total, at);
    }

    fn apply_endpoints(&mut self, ep: &Endpoints, deleted: bool, at: Instant) {
        let ready = if deleted { 0 } else { ready_in_endpoints(ep) };
        Self::set(&mut self.endpoints, &ep.name_any(), ready, at);
    }

    /// When Service `svc` showed `want` ready addresses in (Endpoints, slices).
    fn both_at(&self, svc: &str, want: usize) -> Option<(Instant, Instant)> {
        let e = self.endpoints.get(svc).filter(|s| s.ready == want)?;
        let s = self.slice_totals.get(svc).filter(|s| s.ready == want)?;
        Some((e.since, s.since))
    }
}

fn ready_in_endpoints(ep: &Endpoints) -> usize {
    ep.subsets
        .iter()
        .flatten()
        .map(|s| s.addresses.as_ref().map_or(0, Vec::len))
        .sum()
}

fn ready_in_slice(slice: &EndpointSlice) -> usize {
    slice
        .endpoints
        .iter()
        .flatten()
        .filter(|e| e.conditions.as_ref().and_then(|c| c.ready) == Some(true))
        .count()
}

pub struct ReadyView(Watched<State>);

impl ReadyView {
    /// Starts both watches in `namespace`; returns once both have listed.
    pub async fn watch(client: &kube::Client, namespace: &str) -> anyhow::Result<ReadyView> {
        let mut view = Watched::new(State::default());
        let eps: Api<Endpoints> = Api::namespaced(client.clone(), namespace);
        view.feed(eps, watcher::Config::default(), State::apply_endpoints)
            .await?;
        let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), namespace);
        let managed = watcher::Config::default().labels(MANAGED_BY);
        view.feed(slices, managed, State::apply_slice).await?;
        Ok(ReadyView(view))
    }

    /// When `services` Services (`svc-0`..) all showed `want` ready
    /// addresses in both their Endpoints and their slices: the instant the
    /// last of those counts reached its value.
    pub async fn wait_all(
        &self,
        services: usize,
        want: usize,
        timeout: Duration,
    ) -> anyhow::Result<Instant> {
        self.0
            .wait_for(timeout, |st| {
                (0..services).try_fold(None::<Instant>, |latest, i| {
                    let (e, s) = st.both_at(&format!("svc-{i}"), want)?;
                    Some(Some(latest.map_or(e.max(s), |l| l.max(e).max(s))))
                })?
            })
            .await
    }

    /// When Service `svc` showed `want` ready addresses: (Endpoints, slices).
    pub async fn wait_service(
        &self,
        svc: &str,
        want: usize,
        timeout: Duration,
    ) -> anyhow::Result<(Instant, Instant)> {
        self.0.wait_for(timeout, |st| st.both_at(svc, want)).await
    }
}
