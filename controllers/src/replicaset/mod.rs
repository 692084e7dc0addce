//! The ReplicaSet controller: keeps `spec.replicas` active pods for every
//! ReplicaSet (creating them from the template with generateName
//! `<replicaset>-`, deleting the cheapest ones first), adopts matching
//! orphans, releases pods that stopped matching, and reports status
//! (replicas, fullyLabeledReplicas, readyReplicas, availableReplicas,
//! observedGeneration). Decisions are in [`decide`].
//!
//! Expectations: after creating or deleting pods, the controller does not
//! act again for that ReplicaSet until its pod cache shows those changes —
//! otherwise a lagging cache would make it create the same pods twice.

pub mod decide;

use crate::util::error::{self, ReconcileError};
use crate::util::events::Events;
use crate::util::watch::{wait_all, CachesSynced, CACHE_SYNC_RETRY};
use crate::util::{owner, pod as podutil};
use crate::ControllerOptions;
use decide::Claim;
use futures::StreamExt;
use informers::Informers;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{watcher, WatchStreamExt};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Default)]
struct Expectation {
    creates: HashSet<String>,
    deletes: HashSet<String>,
    since: Option<Instant>,
}

struct Ctx {
    client: kube::Client,
    pods: Store<Pod>,
    rss: Store<ReplicaSet>,
    expectations: Mutex<HashMap<String, Expectation>>,
    events: Events,
    synced: CachesSynced,
}

const EXPECTATION_TTL: Duration = Duration::from_secs(30);

impl Ctx {
    /// Whether the pod cache reflects every create/delete we made for `key`.
    fn satisfied(&self, key: &str, ns: &str) -> bool {
        let mut g = match self.expectations.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let Some(e) = g.get_mut(key) else { return true };
        e.creates
            .retain(|n| self.pods.get(&ObjectRef::new(n).within(ns)).is_none());
        e.deletes.retain(|n| {
            self.pods
                .get(&ObjectRef::new(n).within(ns))
                .is_some_and(|p| p.metadata.deletion_timestamp.is_none())
        });
        let expired = e.since.is_some_and(|t| t.elapsed() > EXPECTATION_TTL);
        if (e.creates.is_empty() && e.deletes.is_empty()) || expired {
            g.remove(key);
            return true;
        }
        false
    }

    fn expect(&self, key: &str, creates: Vec<String>, deletes: Vec<String>) {
        let mut g = match self.expectations.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let e = g.entry(key.to_string()).or_default();
        e.creates.extend(creates);
        e.deletes.extend(deletes);
        e.since = Some(Instant::now());
    }
}

pub(crate) async fn start(
    informers: &Informers,
    opts: &ControllerOptions,
) -> anyhow::Result<crate::Started> {
    let client = informers.client().clone();
    let (rs_store, rs_synced, rss) = informers.cached::<ReplicaSet>(watcher::Config::default());
    let (pod_store, pod_synced, pods) = informers.cached::<Pod>(watcher::Config::default());
    let ctx = Arc::new(Ctx {
        synced: CachesSynced::new(&[&rs_synced, &pod_synced]),
        client: client.clone(),
        pods: pod_store,
        rss: rs_store.clone(),
        expectations: Mutex::new(HashMap::new()),
        events: Events::new(client, "replicaset-controller"),
    });
    let map_ctx = ctx.clone();
    let controller = Controller::for_stream(rss.touched_objects(), rs_store)
        .with_config(crate::controller_config(opts))
        .watches_stream(pods.touched_objects(), move |p: Pod| {
            rs_for_pod(&map_ctx.rss, &p)
        })
        .run(
            reconcile,
            |_, e: &ReconcileError, _| error::retry_after(e),
            ctx,
        )
        .for_each(|res| async move {
            if let Err(e) = res {
                tracing::debug!(error = %e, "replicaset reconcile failed");
            }
        });
    let tasks = vec![tokio::spawn(controller)];
    wait_all(vec![rs_synced, pod_synced]).await?;
    Ok(crate::Started::new("replicaset", tasks))
}

/// The ReplicaSet a pod event concerns: its controller, or (orphans) any
/// ReplicaSet in the namespace that would adopt it.
fn rs_for_pod(rss: &Store<ReplicaSet>, p: &Pod) -> Vec<ObjectRef<ReplicaSet>> {
    let ns = p.metadata.namespace.clone().unwrap_or_default();
    if let Some(o) = owner::controller_of(&p.metadata) {
        if o.kind == "ReplicaSet" && o.api_version.starts_with("apps/") {
            return vec![ObjectRef::new(&o.name).within(&ns)];
        }
        return vec![];
    }
    rss.state()
        .iter()
        .filter(|rs| rs.metadata.namespace.as_deref() == Some(ns.as_str()))
        .filter(|rs| decide::claim(rs, p) == Claim::Adopt)
        .filter_map(|rs| {
            rs.metadata
                .name
                .as_ref()
                .map(|n| ObjectRef::new(n).within(&ns))
        })
        .collect()
}

async fn reconcile(rs: Arc<ReplicaSet>, ctx: Arc<Ctx>) -> Result<Action, ReconcileError> {
    if ctx.synced.wait().await.is_err() {
        return Ok(Action::requeue(CACHE_SYNC_RETRY));
    }
    let ns = rs.metadata.namespace.clone().unwrap_or_default();
    let name = rs.metadata.name.clone().unwrap_or_default();
    let key = format!("{ns}/{name}");
    let pods_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let all = ctx.pods.state_filter(|p| {
        p.metadata.namespace.as_deref() == Some(ns.as_str()) && podutil::is_active(p)
    });
    let mut active: Vec<Arc<Pod>> = Vec::new();
    for p in all {
        match decide::claim(&rs, &p) {
            Claim::Owned => active.push(p),
            Claim::Adopt => {
                let mut refs = p.metadata.owner_references.clone().unwrap_or_default();
                refs.push(owner::controller_ref("apps/v1", "ReplicaSet", &rs.metadata));
                let patch = serde_json::json!({"metadata": {"ownerReferences": refs, "uid": p.metadata.uid}});
                let pn = p.metadata.name.clone().unwrap_or_default();
                match pods_api
                    .patch(&pn, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                {
                    Ok(_) => active.push(p),
                    Err(e) => tracing::debug!(pod = %pn, error = %e, "adopting pod failed"),
                }
            }
            Claim::Release => {
                let uid = rs.metadata.uid.clone().unwrap_or_default();
                let refs: Vec<_> = p
                    .metadata
                    .owner_references
                    .iter()
                    .flatten()
                    .filter(|o| o.uid != uid)
                    .cloned()
                    .collect();
                let patch = serde_json::json!({"metadata": {"ownerReferences": refs}});
                let pn = p.metadata.name.clone().unwrap_or_default();
                if let Err(e) = pods_api
                    .patch(&pn, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                {
                    tracing::debug!(pod = %pn, error = %e, "releasing pod failed");
                }
            }
            Claim::Ignore => {}
        }
    }
    let mut manage_error: Option<String> = None;
    if ctx.satisfied(&key, &ns) && rs.metadata.deletion_timestamp.is_none() {
        let refs: Vec<&Pod> = active.iter().map(|p| p.as_ref()).collect();
        if let Err(e) = manage_replicas(&ctx, &rs, &key, &refs, &pods_api).await {
            manage_error = Some(format!("{e:#}"));
        }
    }
    let refs: Vec<&Pod> = active.iter().map(|p| p.as_ref()).collect();
    let now = crate::util::now();
    let status = decide::status(&rs, &refs, manage_error.as_deref(), now);
    if decide::status_changed(rs.status.as_ref(), &status) {
        let api: Api<ReplicaSet> = Api::namespaced(ctx.client.clone(), &ns);
        let patch = serde_json::json!({"status": status});
        api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
    }
    if let Some(e) = manage_error {
        return Err(ReconcileError(anyhow::anyhow!(e)));
    }
    let min_ready = decide::min_ready_seconds(&rs);
    let want = decide::spec_replicas(&rs);
    if min_ready > 0
        && status.ready_replicas == Some(want)
        && status.available_replicas != Some(want)
    {
        return Ok(Action::requeue(Duration::from_secs(
            u64::try_from(min_ready).unwrap_or(1),
        )));
    }
    Ok(Action::await_change())
}

async fn manage_replicas(
    ctx: &Ctx,
    rs: &ReplicaSet,
    key: &str,
    active: &[&Pod],
    api: &Api<Pod>,
) -> anyhow::Result<()> {
    let diff = decide::diff(active.len(), rs);
    if diff < 0 {
        let Some(template) = decide::pod_from_template(rs) else {
            anyhow::bail!("replica set has no pod template");
        };
        // Slow start: batches of 1, 2, 4, ... stop at the first failure.
        let mut remaining = usize::try_from(-diff).unwrap_or(0);
        let mut batch = 1;
        while remaining > 0 {
            let n = batch.min(remaining);
            let pp = PostParams::default();
            let results =
                futures::future::join_all((0..n).map(|_| api.create(&pp, &template))).await;
            let mut created = Vec::new();
            let mut failure = None;
            for r in results {
                match r {
                    Ok(p) => {
                        let pn = p.metadata.name.clone().unwrap_or_default();
                        ctx.events
                            .normal(
                                rs,
                                "SuccessfulCreate",
                                "Create",
                                format!("Created pod: {pn}"),
                            )
                            .await;
                        created.push(pn);
                    }
                    Err(e) if error::is_namespace_terminating(&e) => return Ok(()),
                    Err(e) => {
                        ctx.events
                            .warning(rs, "FailedCreate", "Create", format!("Error creating: {e}"))
                            .await;
                        failure = Some(e);
                    }
                }
            }
            ctx.expect(key, created, vec![]);
            if let Some(e) = failure {
                return Err(e.into());
            }
            remaining -= n;
            batch *= 2;
        }
    } else if diff > 0 {
        let victims = decide::pods_to_delete(active, usize::try_from(diff).unwrap_or(0));
        let names: Vec<String> = victims
            .iter()
            .filter_map(|p| p.metadata.name.clone())
            .collect();
        ctx.expect(key, vec![], names);
        let results = futures::future::join_all(victims.iter().map(|p| async move {
            let pn = p.metadata.name.clone().unwrap_or_default();
            let dp = DeleteParams {
                preconditions: Some(Preconditions {
                    uid: p.metadata.uid.clone(),
                    resource_version: None,
                }),
                ..Default::default()
            };
            (pn.clone(), api.delete(&pn, &dp).await)
        }))
        .await;
        let mut failure = None;
        for (pn, r) in results {
            match r {
                Ok(_) => {
                    ctx.events
                        .normal(
                            rs,
                            "SuccessfulDelete",
                            "Delete",
                            format!("Deleted pod: {pn}"),
                        )
                        .await
                }
                Err(e) if error::is_not_found(&e) => {}
                Err(e) => {
                    ctx.events
                        .warning(rs, "FailedDelete", "Delete", format!("Error deleting: {e}"))
                        .await;
                    failure = Some(e);
                }
            }
        }
        if let Some(e) = failure {
            return Err(e.into());
        }
    }
    Ok(())
}
