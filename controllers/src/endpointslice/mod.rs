//! The EndpointSlice controller: discovery.k8s.io/v1 EndpointSlices for every
//! Service with a selector, as kube-controller-manager's endpointslice
//! controller maintains them. Decisions are in [`reconcile`]; this file
//! watches, reads caches and writes.
//!
//! Latency and batching: every trigger for a Service (pod, slice or Service
//! event) goes through kube-rs's Controller, which runs a Service's sync as
//! soon as it is triggered and folds all triggers that arrive while a sync is
//! running into one follow-up sync. A single pod flip is therefore one sync
//! and one slice write within milliseconds, while a burst of pod churn costs
//! a handful of syncs per Service rather than one write per event.
//!
//! Deleting a Service deletes its slices through their owner reference (the
//! garbage collector), as on a real cluster.

pub mod reconcile;
mod slice_index;
pub mod tracker;

use crate::pod_services::{selector_of, PodServiceIndex};
use crate::trigger_time::TriggerTimeTracker;
use crate::util::error::{self, ReconcileError};
use crate::util::events::Events;
use crate::util::watch::{wait_all, CachesSynced, CACHE_SYNC_RETRY};
use crate::ControllerOptions;
use futures::{StreamExt, TryStreamExt};
use informers::Informers;
use k8s_openapi::api::core::v1::{Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, DeleteParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{watcher, WatchStreamExt};
use slice_index::SlicesByService;
use std::sync::Arc;
use std::time::Duration;
use tracker::SliceTracker;

struct Ctx {
    client: kube::Client,
    index: PodServiceIndex,
    slices: Store<EndpointSlice>,
    slices_by_service: SlicesByService,
    nodes: Store<Node>,
    tracker: SliceTracker,
    trigger: TriggerTimeTracker,
    max_per_slice: usize,
    events: Events,
    synced: CachesSynced,
}

fn managed_service_of(slice: &EndpointSlice) -> Option<ObjectRef<Service>> {
    let labels = slice.metadata.labels.as_ref()?;
    if labels.get(reconcile::LABEL_MANAGED_BY).map(String::as_str)
        != Some(reconcile::CONTROLLER_NAME)
    {
        return None;
    }
    let svc = labels.get(reconcile::LABEL_SERVICE_NAME)?;
    Some(ObjectRef::new(svc).within(slice.metadata.namespace.as_deref().unwrap_or_default()))
}

pub(crate) async fn start(
    informers: &Informers,
    opts: &ControllerOptions,
) -> anyhow::Result<crate::Started> {
    let client = informers.client().clone();
    let (deleted_tx, mut deleted_rx) = tokio::sync::mpsc::unbounded_channel::<Service>();
    let (svc_store, svc_synced, services) = informers.cached::<Service>(watcher::Config::default());
    let (pod_store, pod_synced, pods) = informers.cached::<Pod>(watcher::Config::default());
    // Every slice, as the proxy's shared cache holds them, rather than a
    // watch selecting this controller's label: slices of other managers
    // are skipped where they are read (`managed_service_of`), as
    // kube-controller-manager does with its shared informer.
    let (slice_store, slice_synced, slices) =
        informers.cached::<EndpointSlice>(watcher::Config::default());
    // Nodes are only read (for endpoints' zones), never a trigger.
    let (node_store, node_synced) = informers.store::<Node>(watcher::Config::default());
    let services = services
        .inspect_ok(move |ev| {
            if let watcher::Event::Delete(svc) = ev {
                let _ = deleted_tx.send(svc.clone());
            }
        })
        .touched_objects();
    let pods = pods.touched_objects();
    let slices_by_service = SlicesByService::default();
    let grouping = slices_by_service.clone();
    let slices = slices
        .inspect_ok(move |ev| grouping.observe(ev))
        .touched_objects();

    let ctx = Arc::new(Ctx {
        synced: CachesSynced::new(&[&svc_synced, &pod_synced, &slice_synced, &node_synced]),
        client: client.clone(),
        index: PodServiceIndex::new(svc_store.clone(), pod_store.clone()),
        slices: slice_store.clone(),
        slices_by_service,
        nodes: node_store.clone(),
        tracker: SliceTracker::default(),
        trigger: TriggerTimeTracker::default(),
        max_per_slice: opts.max_endpoints_per_slice,
        events: Events::new(client.clone(), "endpointslice-controller"),
    });
    let map_ctx = ctx.clone();
    let controller = Controller::for_stream(services, svc_store.clone())
        .with_config(crate::controller_config(opts))
        .watches_stream(pods, move |pod| map_ctx.index.services_for(&pod))
        .watches_stream(slices, |s: EndpointSlice| managed_service_of(&s))
        .run(reconcile_service, error_policy, ctx.clone())
        .for_each(|res| async move {
            if let Err(e) = res {
                tracing::debug!(error = %e, "endpointslice reconcile failed");
            }
        });
    let forget_ctx = ctx.clone();
    let tasks = vec![
        tokio::spawn(controller),
        tokio::spawn(async move {
            while let Some(svc) = deleted_rx.recv().await {
                let ns = svc.metadata.namespace.clone().unwrap_or_default();
                let name = svc.metadata.name.clone().unwrap_or_default();
                forget_ctx.trigger.forget(&ns, &name);
                forget_ctx.tracker.forget(&ns, &name);
                forget_ctx.index.forget_service(&ns, &name);
            }
        }),
    ];
    wait_all(vec![svc_synced, pod_synced, slice_synced, node_synced]).await?;
    Ok(crate::Started::new("endpointslice", tasks))
}

/// This Service's slices in the cache.
fn service_slices(ctx: &Ctx, ns: &str, name: &str) -> Vec<EndpointSlice> {
    ctx.slices_by_service
        .slice_names(ns, name)
        .iter()
        .filter_map(|slice| ctx.slices.get(&ObjectRef::new(slice).within(ns)))
        .filter(|s| {
            managed_service_of(s)
                .is_some_and(|r| r.name == name && r.namespace.as_deref() == Some(ns))
        })
        .map(|s| (*s).clone())
        .collect()
}

fn error_policy(_svc: Arc<Service>, err: &ReconcileError, _ctx: Arc<Ctx>) -> Action {
    tracing::debug!(error = %err, "endpointslice sync failed; retrying");
    error::retry_after(err)
}

async fn reconcile_service(svc: Arc<Service>, ctx: Arc<Ctx>) -> Result<Action, ReconcileError> {
    if ctx.synced.wait().await.is_err() {
        return Ok(Action::requeue(CACHE_SYNC_RETRY));
    }
    let ns = svc.metadata.namespace.clone().unwrap_or_default();
    let name = svc.metadata.name.clone().unwrap_or_default();
    let spec_type = svc.spec.as_ref().and_then(|s| s.type_.as_deref());
    if spec_type == Some("ExternalName") || selector_of(&svc).is_none() {
        return Ok(Action::await_change());
    }
    // Our previous write's watch event is usually a millisecond away: wait
    // for it here rather than requeueing, so the next change lands at once.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    let existing = loop {
        let existing = service_slices(&ctx, &ns, &name);
        if !ctx.tracker.is_stale(&ns, &name, &existing) {
            break existing;
        }
        if tokio::time::Instant::now() > deadline {
            return Ok(Action::requeue(Duration::from_millis(100)));
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    let pods = ctx.index.pods_of(&svc);
    let pod_refs: Vec<&Pod> = pods.iter().map(|p| p.as_ref()).collect();
    let trigger = ctx.trigger.compute(&svc, &pod_refs);
    let zone_of = |node: &str| -> Option<String> {
        ctx.nodes
            .get(&ObjectRef::new(node))?
            .metadata
            .labels
            .as_ref()?
            .get(reconcile::ZONE_LABEL)
            .filter(|z| !z.is_empty())
            .cloned()
    };
    let plan = reconcile::reconcile(&svc, &pod_refs, &existing, &zone_of, ctx.max_per_slice);
    if plan.is_empty() {
        return Ok(Action::await_change());
    }
    let api: Api<EndpointSlice> = Api::namespaced(ctx.client.clone(), &ns);
    let annotate = |s: &mut EndpointSlice| {
        let ann = s.metadata.annotations.get_or_insert_with(Default::default);
        match trigger {
            Some(t) => {
                ann.insert(
                    crate::trigger_time::ANNOTATION.into(),
                    crate::util::rfc3339_nano(t),
                );
            }
            None => {
                ann.remove(crate::trigger_time::ANNOTATION);
            }
        }
        if ann.is_empty() {
            s.metadata.annotations = None;
        }
    };
    // No new slices for a Service being deleted: the garbage collector is removing them.
    if svc.metadata.deletion_timestamp.is_none() {
        for mut s in plan.create {
            annotate(&mut s);
            match api.create(&PostParams::default(), &s).await {
                Ok(created) => ctx.tracker.written(&ns, &name, &created),
                Err(e) if error::is_namespace_terminating(&e) => return Ok(Action::await_change()),
                Err(e) => {
                    ctx.events
                        .warning(svc.as_ref(), "FailedToUpdateEndpointSlices", "Update",
                            format!("Error updating Endpoint Slices for Service {ns}/{name}: failed to create EndpointSlice for Service {ns}/{name}: {e}"))
                        .await;
                    return Err(e.into());
                }
            }
        }
    }
    for mut s in plan.update {
        annotate(&mut s);
        let slice_name = s.metadata.name.clone().unwrap_or_default();
        match api.replace(&slice_name, &PostParams::default(), &s).await {
            Ok(updated) => ctx.tracker.written(&ns, &name, &updated),
            Err(e) => return Err(e.into()),
        }
    }
    for s in plan.delete {
        let slice_name = s.metadata.name.clone().unwrap_or_default();
        match api.delete(&slice_name, &DeleteParams::default()).await {
            Ok(_) => ctx.tracker.deleted(&ns, &name, &s),
            Err(e) if error::is_not_found(&e) => {}
            Err(e) => return Err(e.into()),
        }
    }
    tracing::debug!(service = %format!("{ns}/{name}"), "endpointslices synced");
    Ok(Action::await_change())
}
