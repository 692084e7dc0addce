//! The endpoints controller: keeps the core/v1 Endpoints object of every
//! Service with a selector equal to what kube-controller-manager would write.
//!
//! Decisions live in [`compute`]; this file only watches, reads caches and
//! writes. Like the real controller it deletes a Service's Endpoints
//! explicitly when the Service goes (no owner references), leaves Endpoints of
//! selector-less Services to their users, and at start removes Endpoints whose
//! Service no longer exists.

pub mod compute;

use crate::pod_services::{selector_of, PodServiceIndex};
use crate::trigger_time::TriggerTimeTracker;
use crate::util::error::{self, ReconcileError};
use crate::util::events::Events;
use crate::util::watch::{wait_all, CachesSynced, CACHE_SYNC_RETRY};
use crate::ControllerOptions;
use compute::Decision;
use futures::{StreamExt, TryStreamExt};
use informers::Informers;
use k8s_openapi::api::core::v1::{Endpoints, Pod, Service};
use kube::api::{Api, DeleteParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{watcher, WatchStreamExt};
use std::sync::Arc;

/// Endpoints carrying this annotation belong to leader election, never to a Service.
const LEADER_ANNOTATION: &str = "control-plane.alpha.kubernetes.io/leader";

struct Ctx {
    client: kube::Client,
    index: PodServiceIndex,
    endpoints: Store<Endpoints>,
    trigger: TriggerTimeTracker,
    events: Events,
    synced: CachesSynced,
}

pub(crate) async fn start(
    informers: &Informers,
    opts: &ControllerOptions,
) -> anyhow::Result<crate::Started> {
    let client = informers.client().clone();
    let (deleted_tx, mut deleted_rx) = tokio::sync::mpsc::unbounded_channel::<Service>();
    let (svc_store, svc_synced, services) = informers.cached::<Service>(watcher::Config::default());
    let (pod_store, pod_synced, pods) = informers.cached::<Pod>(watcher::Config::default());
    let (ep_store, ep_synced, endpoints) =
        informers.cached::<Endpoints>(watcher::Config::default());
    let services = services
        .inspect_ok(move |ev| {
            if let watcher::Event::Delete(svc) = ev {
                let _ = deleted_tx.send(svc.clone());
            }
        })
        .touched_objects();
    let pods = pods.touched_objects();
    let endpoints = endpoints.touched_objects();

    let ctx = Arc::new(Ctx {
        synced: CachesSynced::new(&[&svc_synced, &pod_synced, &ep_synced]),
        client: client.clone(),
        index: PodServiceIndex::new(svc_store.clone(), pod_store.clone()),
        endpoints: ep_store.clone(),
        trigger: TriggerTimeTracker::default(),
        events: Events::new(client.clone(), "endpoint-controller"),
    });
    let map_ctx = ctx.clone();
    let controller = Controller::for_stream(services, svc_store.clone())
        .with_config(crate::controller_config(opts))
        .watches_stream(pods, move |pod| map_ctx.index.services_for(&pod))
        .watches_stream(endpoints, |ep: Endpoints| {
            let ns = ep.metadata.namespace.clone().unwrap_or_default();
            ep.metadata
                .name
                .map(|n| ObjectRef::<Service>::new(&n).within(&ns))
        })
        .run(reconcile, error_policy, ctx.clone())
        .for_each(|res| async move {
            if let Err(e) = res {
                tracing::debug!(error = %e, "endpoints reconcile failed");
            }
        });
    let mut tasks = vec![tokio::spawn(controller)];

    // Service deletions: remove the Endpoints of the same name.
    let del_ctx = ctx.clone();
    tasks.push(tokio::spawn(async move {
        while let Some(svc) = deleted_rx.recv().await {
            let ns = svc.metadata.namespace.clone().unwrap_or_default();
            let name = svc.metadata.name.clone().unwrap_or_default();
            del_ctx.trigger.forget(&ns, &name);
            del_ctx.index.forget_service(&ns, &name);
            delete_endpoints(&del_ctx.client, &ns, &name).await;
        }
    }));

    wait_all(vec![svc_synced, pod_synced, ep_synced]).await?;

    // Leftovers: Endpoints whose Service was deleted while we were not watching.
    for ep in ep_store.state() {
        let ns = ep.metadata.namespace.clone().unwrap_or_default();
        let name = ep.metadata.name.clone().unwrap_or_default();
        let leader = ep
            .metadata
            .annotations
            .as_ref()
            .is_some_and(|a| a.contains_key(LEADER_ANNOTATION));
        if !leader && svc_store.get(&ObjectRef::new(&name).within(&ns)).is_none() {
            delete_endpoints(&client, &ns, &name).await;
        }
    }
    Ok(crate::Started::new("endpoints", tasks))
}

async fn delete_endpoints(client: &kube::Client, ns: &str, name: &str) {
    let api: Api<Endpoints> = Api::namespaced(client.clone(), ns);
    match api.delete(name, &DeleteParams::default()).await {
        Ok(_) => {
            tracing::debug!(endpoints = %format!("{ns}/{name}"), "deleted endpoints of deleted service")
        }
        Err(e) if error::is_not_found(&e) => {}
        Err(e) => {
            tracing::warn!(endpoints = %format!("{ns}/{name}"), error = %e, "deleting endpoints failed")
        }
    }
}

fn error_policy(_svc: Arc<Service>, err: &ReconcileError, _ctx: Arc<Ctx>) -> Action {
    tracing::debug!(error = %err, "endpoints sync failed; retrying");
    error::retry_after(err)
}

async fn reconcile(svc: Arc<Service>, ctx: Arc<Ctx>) -> Result<Action, ReconcileError> {
    if ctx.synced.wait().await.is_err() {
        return Ok(Action::requeue(CACHE_SYNC_RETRY));
    }
    let ns = svc.metadata.namespace.clone().unwrap_or_default();
    let name = svc.metadata.name.clone().unwrap_or_default();
    let spec_type = svc.spec.as_ref().and_then(|s| s.type_.as_deref());
    // ExternalName Services get no endpoints; selector-less ones get them from users.
    if spec_type == Some("ExternalName") || selector_of(&svc).is_none() {
        return Ok(Action::await_change());
    }
    let pods = ctx.index.pods_of(&svc);
    let pod_refs: Vec<&Pod> = pods.iter().map(|p| p.as_ref()).collect();
    let trigger = ctx.trigger.compute(&svc, &pod_refs);
    let current = ctx.endpoints.get(&ObjectRef::new(&name).within(&ns));
    let api: Api<Endpoints> = Api::namespaced(ctx.client.clone(), &ns);
    match compute::decide(&svc, current.as_deref(), &pod_refs, trigger) {
        Decision::Unchanged => {}
        Decision::Create(ep) => {
            if let Err(e) = api.create(&PostParams::default(), &ep).await {
                if error::is_namespace_terminating(&e) {
                    return Ok(Action::await_change());
                }
                ctx.events
                    .warning(
                        &ep,
                        "FailedToCreateEndpoint",
                        "Create",
                        format!("Failed to create endpoint for service {ns}/{name}: {e}"),
                    )
                    .await;
                return Err(e.into());
            }
            tracing::debug!(service = %format!("{ns}/{name}"), "created endpoints");
        }
        Decision::Update(ep) => {
            if let Err(e) = api.replace(&name, &PostParams::default(), &ep).await {
                if !error::is_conflict(&e) {
                    ctx.events
                        .warning(
                            &ep,
                            "FailedToUpdateEndpoint",
                            "Update",
                            format!("Failed to update endpoint {ns}/{name}: {e}"),
                        )
                        .await;
                }
                return Err(e.into());
            }
            tracing::debug!(service = %format!("{ns}/{name}"), "updated endpoints");
        }
    }
    Ok(Action::await_change())
}
