//! The resourcequota controller: keeps each ResourceQuota's `status.hard`
//! equal to its spec and `status.used` equal to what the namespace's
//! objects really charge (kube-controller-manager's
//! `pkg/controller/resourcequota/`). Admission charges creates as they
//! happen; this controller is the recount that returns what deleted and
//! finished objects held, so it runs when a quota's spec changes, when a
//! pod or Service in its namespace changes, and on a resync period for the
//! kinds it does not watch (as kube's `--resource-quota-sync-period`).
//!
//! The counting itself is the `quota` crate's, shared with admission, and
//! [`recount`] holds the decisions.

pub mod recount;

use crate::util::error::{self, ReconcileError};
use crate::util::watch::{wait_all, CachesSynced, CACHE_SYNC_RETRY};
use crate::ControllerOptions;
use futures::StreamExt;
use informers::Informers;
use k8s_openapi::api::core::v1::{Pod, ResourceQuota, Service};
use kube::api::{Api, ApiResource, DynamicObject, ListParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{watcher, PredicateConfig, WatchStreamExt};
use kube::ResourceExt;
use quota::resource_list::{self, ResourceList};
use serde_json::Value;
use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeSet, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// kube-controller-manager's default `--resource-quota-sync-period`.
const FULL_RESYNC: Duration = Duration::from_secs(300);
/// Resync of quotas that count kinds this controller does not watch, so a
/// deleted ConfigMap or Deployment is returned without waiting 5 minutes.
const UNWATCHED_RESYNC: Duration = Duration::from_secs(10);

struct Ctx {
    client: kube::Client,
    pods: Store<Pod>,
    services: Store<Service>,
    /// API resources resolved by discovery, by (group, plural).
    resolved: Mutex<HashMap<(String, String), ApiResource>>,
    synced: CachesSynced,
}

pub(crate) async fn start(
    informers: &Informers,
    opts: &ControllerOptions,
) -> anyhow::Result<crate::Started> {
    let (quota_store, quota_synced, quotas) =
        informers.cached::<ResourceQuota>(watcher::Config::default());
    let (pod_store, pod_synced, pods) = informers.cached::<Pod>(watcher::Config::default());
    let (svc_store, svc_synced, services) = informers.cached::<Service>(watcher::Config::default());
    let ctx = Arc::new(Ctx {
        client: informers.client().clone(),
        pods: pod_store,
        services: svc_store,
        resolved: Mutex::new(HashMap::new()),
        synced: CachesSynced::new(&[&quota_synced, &pod_synced, &svc_synced]),
    });
    let by_pod = quota_store.clone();
    let by_service = quota_store.clone();
    // Status writes (ours and admission's charges) do not trigger a recount.
    let spec_changes = quotas
        .touched_objects()
        .predicate_filter(spec_hash, PredicateConfig::default());
    let controller = Controller::for_stream(spec_changes, quota_store)
        .with_config(crate::controller_config(opts))
        .watches_stream(pods.touched_objects(), move |p: Pod| {
            quotas_in(&by_pod, p.namespace())
        })
        .watches_stream(services.touched_objects(), move |s: Service| {
            quotas_in(&by_service, s.namespace())
        })
        .run(
            reconcile,
            |_, e: &ReconcileError, _| error::retry_after(e),
            ctx,
        )
        .for_each(|res| async move {
            if let Err(e) = res {
                tracing::debug!(error = %e, "resourcequota reconcile failed");
            }
        });
    let tasks = vec![tokio::spawn(controller)];
    wait_all(vec![quota_synced, pod_synced, svc_synced]).await?;
    Ok(crate::Started::new("resourcequota", tasks))
}

/// What a recount depends on in the quota object itself.
fn spec_hash(q: &ResourceQuota) -> Option<u64> {
    let mut h = DefaultHasher::new();
    serde_json::to_string(&q.spec).ok()?.hash(&mut h);
    let status_hard = q.status.as_ref().map(|s| &s.hard);
    serde_json::to_string(&status_hard).ok()?.hash(&mut h);
    Some(h.finish())
}

fn quotas_in(store: &Store<ResourceQuota>, ns: Option<String>) -> Vec<ObjectRef<ResourceQuota>> {
    let Some(ns) = ns else { return Vec::new() };
    store
        .state()
        .iter()
        .filter(|q| q.metadata.namespace.as_deref() == Some(ns.as_str()))
        .map(|q| ObjectRef::from_obj(q.as_ref()))
        .collect()
}

async fn reconcile(q: Arc<ResourceQuota>, ctx: Arc<Ctx>) -> Result<Action, ReconcileError> {
    if ctx.synced.wait().await.is_err() {
        return Ok(Action::requeue(CACHE_SYNC_RETRY));
    }
    let ns = q.namespace().unwrap_or_default();
    let quota_obj = serde_json::to_value(q.as_ref()).map_err(anyhow::Error::from)?;
    let hard = resource_list::from_json(quota_obj.pointer("/spec/hard"));
    let kinds: BTreeSet<(String, String)> = hard
        .keys()
        .filter_map(|n| recount::counted_kind(n))
        .collect();
    let now = chrono::Utc::now();
    let mut used = ResourceList::new();
    let mut unwatched = false;
    for (group, plural) in &kinds {
        let objects = match (group.as_str(), plural.as_str()) {
            ("", "pods") => cached(&ctx.pods, &ns),
            ("", "services") => cached(&ctx.services, &ns),
            _ => {
                unwatched = true;
                ctx.list(group, plural, &ns).await?
            }
        };
        let charged = recount::usage_of_kind(&quota_obj, &hard, group, plural, &objects, now);
        used = resource_list::add(&used, &charged);
    }
    let want = recount::status(&hard, &used);
    if !recount::status_matches(quota_obj.get("status"), &want) {
        write_status(&ctx, &q, &ns, want).await?;
    }
    Ok(Action::requeue(if unwatched {
        UNWATCHED_RESYNC
    } else {
        FULL_RESYNC
    }))
}

/// The namespace's cached objects as JSON, for the shared evaluators.
fn cached<K>(store: &Store<K>, ns: &str) -> Vec<Value>
where
    K: kube::Resource<DynamicType = ()> + Clone + serde::Serialize + 'static,
{
    store
        .state()
        .iter()
        .filter(|o| o.meta().namespace.as_deref() == Some(ns))
        .filter_map(|o| serde_json::to_value(o.as_ref()).ok())
        .collect()
}

/// Replaces the status with the cached object's resourceVersion, so a
/// charge admission made since that version is never overwritten: the
/// write conflicts and the recount runs again on fresher caches.
async fn write_status(
    ctx: &Ctx,
    q: &ResourceQuota,
    ns: &str,
    status: Value,
) -> Result<(), ReconcileError> {
    let mut obj = serde_json::to_value(q).map_err(anyhow::Error::from)?;
    obj["status"] = status;
    let body: ResourceQuota = serde_json::from_value(obj).map_err(anyhow::Error::from)?;
    let api: Api<ResourceQuota> = Api::namespaced(ctx.client.clone(), ns);
    match api
        .replace_status(&q.name_any(), &PostParams::default(), &body)
        .await
    {
        Err(e) if error::is_conflict(&e) || error::is_not_found(&e) => Ok(()),
        Err(e) => Err(e.into()),
        Ok(_) => Ok(()),
    }
}

impl Ctx {
    /// Lists one namespace's objects of a kind found by discovery.
    async fn list(
        &self,
        group: &str,
        plural: &str,
        ns: &str,
    ) -> Result<Vec<Value>, ReconcileError> {
        let Some(ar) = self.resolve(group, plural).await? else {
            return Ok(Vec::new());
        };
        let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), ns, &ar);
        let list = api.list(&ListParams::default()).await?;
        Ok(list
            .items
            .iter()
            .filter_map(|o| serde_json::to_value(o).ok())
            .collect())
    }

    async fn resolve(
        &self,
        group: &str,
        plural: &str,
    ) -> Result<Option<ApiResource>, ReconcileError> {
        let key = (group.to_string(), plural.to_string());
        if let Some(ar) = self.lock().get(&key) {
            return Ok(Some(ar.clone()));
        }
        let found = match kube::discovery::group(&self.client, group).await {
            Ok(g) => g
                .recommended_resources()
                .into_iter()
                .find(|(ar, _)| ar.plural == plural)
                .map(|(ar, _)| ar),
            Err(e) => {
                tracing::debug!(group, error = %e, "quota: discovery of a counted group failed");
                None
            }
        };
        if let Some(ar) = &found {
            self.lock().insert(key, ar.clone());
        }
        Ok(found)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), ApiResource>> {
        match self.resolved.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }
}
