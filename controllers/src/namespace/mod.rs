//! The namespace controller: empties a namespace that is being deleted, then
//! finalizes it.
//!
//! When a namespace is deleted the API server only marks it (deletionTimestamp,
//! phase Terminating, `spec.finalizers: [kubernetes]`). This controller finds
//! every namespaced resource type through discovery, deletes all objects of
//! each type in the namespace, reports progress in the namespace's status
//! conditions as kube-controller-manager does, and once nothing is left
//! removes `kubernetes` from `spec.finalizers` through the `finalize`
//! subresource, which lets the API server remove the namespace.

pub mod content;

use crate::util::error::{self, ReconcileError};
use crate::util::watch::wait_all;
use crate::ControllerOptions;
use content::{ContentReport, FINALIZER};
use futures::StreamExt;
use informers::Informers;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::discovery::{verbs, ApiCapabilities, ApiResource, Discovery, Scope};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::{watcher, WatchStreamExt};
use std::sync::Arc;
use std::time::Duration;

struct Ctx {
    client: kube::Client,
}

pub(crate) async fn start(
    informers: &Informers,
    opts: &ControllerOptions,
) -> anyhow::Result<crate::Started> {
    let client = informers.client().clone();
    let (ns_store, ns_synced, namespaces) =
        informers.cached::<Namespace>(watcher::Config::default());
    let ctx = Arc::new(Ctx { client });
    let controller = Controller::for_stream(namespaces.touched_objects(), ns_store)
        .with_config(crate::controller_config(opts))
        .run(
            reconcile,
            |_, e: &ReconcileError, _| error::retry_after(e),
            ctx,
        )
        .for_each(|res| async move {
            if let Err(e) = res {
                tracing::debug!(error = %e, "namespace reconcile failed");
            }
        });
    let tasks = vec![tokio::spawn(controller)];
    wait_all(vec![ns_synced]).await?;
    Ok(crate::Started::new("namespace", tasks))
}

/// Namespaced resource types that can be listed and deleted.
async fn deletable_resources(
    client: &kube::Client,
) -> anyhow::Result<Vec<(ApiResource, ApiCapabilities)>> {
    let discovery = Discovery::new(client.clone()).run().await?;
    let mut out = Vec::new();
    for group in discovery.groups() {
        for (ar, caps) in group.recommended_resources() {
            if caps.scope == Scope::Namespaced
                && caps.supports_operation(verbs::LIST)
                && caps.supports_operation(verbs::DELETE)
            {
                out.push((ar, caps));
            }
        }
    }
    Ok(out)
}

fn resource_label(ar: &ApiResource) -> String {
    format!("{}.{}", ar.plural, ar.group)
}

async fn reconcile(ns: Arc<Namespace>, ctx: Arc<Ctx>) -> Result<Action, ReconcileError> {
    if ns.metadata.deletion_timestamp.is_none() {
        return Ok(Action::await_change());
    }
    let name = ns.metadata.name.clone().unwrap_or_default();
    let finalizers = ns
        .spec
        .as_ref()
        .and_then(|s| s.finalizers.clone())
        .unwrap_or_default();
    if !finalizers.iter().any(|f| f == FINALIZER) {
        return Ok(Action::await_change());
    }
    let mut report = ContentReport::default();
    let resources = match deletable_resources(&ctx.client).await {
        Ok(r) => r,
        Err(e) => {
            report.discovery_error = Some(format!("{e:#}"));
            vec![]
        }
    };
    // Delete everything.
    for (ar, caps) in &resources {
        let api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), &name, ar);
        let res = if caps.supports_operation(verbs::DELETE_COLLECTION) {
            api.delete_collection(&DeleteParams::background(), &ListParams::default())
                .await
                .map(|_| ())
        } else {
            match api.list(&ListParams::default()).await {
                Ok(list) => {
                    let mut r = Ok(());
                    for o in list.items {
                        let n = o.metadata.name.clone().unwrap_or_default();
                        if let Err(e) = api.delete(&n, &DeleteParams::background()).await {
                            if !error::is_not_found(&e) {
                                r = Err(e);
                            }
                        }
                    }
                    r
                }
                Err(e) => Err(e),
            }
        };
        if let Err(e) = res {
            if !error::is_not_found(&e) {
                report
                    .delete_errors
                    .push(format!("{}: {e}", resource_label(ar)));
            }
        }
    }
    // What is left.
    for (ar, _) in &resources {
        let api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), &name, ar);
        match api.list(&ListParams::default()).await {
            Ok(list) if !list.items.is_empty() => {
                report
                    .remaining
                    .insert(resource_label(ar), list.items.len());
                for o in &list.items {
                    for f in o.metadata.finalizers.iter().flatten() {
                        *report.finalizers.entry(f.clone()).or_default() += 1;
                    }
                }
            }
            Ok(_) => {}
            Err(e) if error::is_not_found(&e) => {}
            Err(e) => report
                .delete_errors
                .push(format!("{}: {e}", resource_label(ar))),
        }
    }
    let api: Api<Namespace> = Api::all(ctx.client.clone());
    let current = ns
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    if let Some(conds) = content::conditions(&report, &current, crate::util::now()) {
        let patch = serde_json::json!({"status": {"conditions": conds}});
        if let Err(e) = api
            .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            tracing::debug!(namespace = %name, error = %e, "updating namespace conditions failed");
        }
    }
    if !report.is_empty() {
        tracing::debug!(namespace = %name, remaining = ?report.remaining, "namespace content remaining");
        return Ok(Action::requeue(Duration::from_millis(
            if report.finalizers.is_empty() {
                300
            } else {
                1000
            },
        )));
    }
    // Finalize: drop our finalizer from spec.finalizers.
    let mut fin = (*ns).clone();
    if let Some(spec) = fin.spec.as_mut() {
        spec.finalizers = Some(content::without_finalizer(&finalizers));
    }
    fin.status = None;
    match api
        .replace_subresource("finalize", &name, &PostParams::default(), &fin)
        .await
    {
        Ok(_) => tracing::debug!(namespace = %name, "namespace finalized"),
        Err(e) if error::is_not_found(&e) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(Action::await_change())
}
