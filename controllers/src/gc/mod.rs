//! The garbage collector: objects whose owners are gone are deleted
//! (background), `foregroundDeletion` owners wait for their blocking
//! dependents to be deleted before their finalizer is removed, and `orphan`
//! owners first strip their references from every dependent.
//!
//! It watches every listable, deletable resource type found through
//! discovery (events excepted), keeps the ownership [`graph`] from those
//! watches, and works a de-duplicated queue of three kinds of items. Every
//! deletion is re-checked against the live API first (the object's latest
//! owner references, and the owner itself when the graph does not know it),
//! so a cache that lags never makes it delete something that is still owned.

pub mod graph;

use crate::ControllerOptions;
use futures::StreamExt;
use graph::{Graph, Node, OwnerState, Verdict, FOREGROUND, ORPHAN};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{
    Api, DeleteParams, DynamicObject, PartialObjectMeta, Patch, PatchParams, Preconditions,
};
use kube::discovery::{verbs, ApiResource, Discovery, Scope};
use kube::runtime::watcher;
use kube::runtime::WatchStreamExt;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Work {
    /// Is this dependent garbage?
    AttemptDelete(String),
    /// Can this foreground-deleting owner be released?
    Foreground(String),
    /// Orphan this owner's dependents, then release it.
    Orphan(String),
}

struct Resource {
    ar: ApiResource,
    namespaced: bool,
}

struct Gc {
    client: kube::Client,
    resources: Vec<Resource>,
    by_kind: HashMap<(String, String), usize>,
    graph: Mutex<Graph>,
    pending: Mutex<HashSet<Work>>,
    queue: mpsc::UnboundedSender<Work>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

fn node_of(resource: usize, m: &ObjectMeta) -> Option<Node> {
    Some(Node {
        resource,
        namespace: m.namespace.clone(),
        name: m.name.clone()?,
        uid: m.uid.clone()?,
        owners: m.owner_references.clone().unwrap_or_default(),
        deleting: m.deletion_timestamp.is_some(),
        finalizers: m.finalizers.clone().unwrap_or_default(),
    })
}

impl Gc {
    fn enqueue(&self, w: Work) {
        if lock(&self.pending).insert(w.clone()) {
            let _ = self.queue.send(w);
        }
    }

    fn api(&self, resource: usize, namespace: Option<&str>) -> Option<Api<DynamicObject>> {
        let r = self.resources.get(resource)?;
        Some(match (r.namespaced, namespace) {
            (true, Some(ns)) => Api::namespaced_with(self.client.clone(), ns, &r.ar),
            (true, None) => return None,
            (false, _) => Api::all_with(self.client.clone(), &r.ar),
        })
    }

    /// Graph update for an added or changed object, and the work it causes.
    fn applied(&self, node: Node) {
        let mut work = Vec::new();
        {
            let mut g = lock(&self.graph);
            if node.deleting && node.has_finalizer(FOREGROUND) {
                work.push(Work::Foreground(node.uid.clone()));
            }
            if node.deleting && node.has_finalizer(ORPHAN) {
                work.push(Work::Orphan(node.uid.clone()));
            }
            for o in &node.owners {
                match g.get(&o.uid) {
                    None => work.push(Work::AttemptDelete(node.uid.clone())),
                    Some(owner) if owner.deleting_dependents() => {
                        work.push(Work::AttemptDelete(node.uid.clone()));
                        work.push(Work::Foreground(o.uid.clone()));
                    }
                    Some(_) => {}
                }
            }
            if let Some(prev) = g.upsert(node.clone()) {
                for o in prev
                    .owners
                    .iter()
                    .filter(|o| !node.owners.iter().any(|n| n.uid == o.uid))
                {
                    if g.get(&o.uid).is_some_and(Node::deleting_dependents) {
                        work.push(Work::Foreground(o.uid.clone()));
                    }
                }
            }
        }
        for w in work {
            self.enqueue(w);
        }
    }

    fn deleted(&self, uid: &str) {
        let mut work = Vec::new();
        {
            let mut g = lock(&self.graph);
            let Some(gone) = g.remove(uid) else { return };
            for d in g.dependents(uid) {
                work.push(Work::AttemptDelete(d.uid.clone()));
            }
            for o in &gone.owners {
                if g.get(&o.uid).is_some_and(Node::deleting_dependents) {
                    work.push(Work::Foreground(o.uid.clone()));
                }
            }
        }
        for w in work {
            self.enqueue(w);
        }
    }

    /// The state of one owner of `node`: from the graph, else from the API.
    async fn owner_state(&self, node: &Node, o: &OwnerReference) -> OwnerState {
        if let Some(owner) = lock(&self.graph).get(&o.uid) {
            return if owner.deleting_dependents() {
                OwnerState::WaitingForDependents
            } else {
                OwnerState::Solid
            };
        }
        let Some(&idx) = self.by_kind.get(&(o.api_version.clone(), o.kind.clone())) else {
            // A kind we cannot look up: never treat it as gone.
            tracing::debug!(kind = %o.kind, api_version = %o.api_version, "owner of unknown kind; keeping dependent");
            return OwnerState::Solid;
        };
        let Some(api) = self.api(idx, node.namespace.as_deref()) else {
            // A namespaced owner of a cluster-scoped object cannot exist.
            return OwnerState::Dangling;
        };
        match api.get_opt(&o.name).await {
            Ok(Some(obj)) if obj.metadata.uid.as_deref() == Some(o.uid.as_str()) => {
                let deleting_dependents = obj.metadata.deletion_timestamp.is_some()
                    && obj
                        .metadata
                        .finalizers
                        .iter()
                        .flatten()
                        .any(|f| f == FOREGROUND);
                if deleting_dependents {
                    OwnerState::WaitingForDependents
                } else {
                    OwnerState::Solid
                }
            }
            Ok(_) => OwnerState::Dangling,
            Err(e) => {
                tracing::debug!(error = %e, "looking up owner failed; keeping dependent for now");
                OwnerState::Solid
            }
        }
    }

    async fn attempt_delete(&self, uid: &str) -> anyhow::Result<()> {
        let Some(node) = lock(&self.graph).get(uid).cloned() else {
            return Ok(());
        };
        if node.deleting_dependents() {
            self.enqueue(Work::Foreground(node.uid));
            return Ok(());
        }
        if node.deleting {
            return Ok(());
        }
        if lock(&self.graph).owners_all_solid(&node) {
            // Keeping needs no proof; only a deletion is checked live.
            return Ok(());
        }
        let api = self
            .api(node.resource, node.namespace.as_deref())
            .ok_or_else(|| anyhow::anyhow!("no API for {}", node.name))?;
        // Decide on the live object, not the cache.
        let Some(latest) = api.get_opt(&node.name).await? else {
            return Ok(());
        };
        if latest.metadata.uid.as_deref() != Some(uid) {
            return Ok(());
        }
        let owners = latest.metadata.owner_references.clone().unwrap_or_default();
        let mut states = Vec::new();
        for o in &owners {
            states.push((o.clone(), self.owner_state(&node, o).await));
        }
        let has_dependents = !lock(&self.graph).dependents(uid).is_empty();
        let mut live = node.clone();
        live.finalizers = latest.metadata.finalizers.clone().unwrap_or_default();
        match graph::decide(&states, &live, has_dependents) {
            Verdict::Keep => {}
            Verdict::RemoveOwnerRefs(gone) => {
                let keep: Vec<&OwnerReference> =
                    owners.iter().filter(|o| !gone.contains(&o.uid)).collect();
                let patch = serde_json::json!({"metadata": {
                    "ownerReferences": keep,
                    "resourceVersion": latest.metadata.resource_version,
                }});
                api.patch(&node.name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await?;
                tracing::debug!(object = %node.name, removed = ?gone, "removed owner references");
            }
            Verdict::Delete(policy) => {
                let dp = DeleteParams {
                    propagation_policy: Some(match policy {
                        "Foreground" => kube::api::PropagationPolicy::Foreground,
                        "Orphan" => kube::api::PropagationPolicy::Orphan,
                        _ => kube::api::PropagationPolicy::Background,
                    }),
                    preconditions: Some(Preconditions {
                        uid: Some(uid.to_string()),
                        resource_version: None,
                    }),
                    ..Default::default()
                };
                match api.delete(&node.name, &dp).await {
                    Ok(_) => tracing::debug!(object = %node.name, policy, "deleted garbage"),
                    Err(e) if crate::util::error::is_not_found(&e) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(())
    }

    /// Removes `finalizer` from the live object, if it is still there.
    async fn remove_finalizer(&self, node: &Node, finalizer: &str) -> anyhow::Result<()> {
        let api = self
            .api(node.resource, node.namespace.as_deref())
            .ok_or_else(|| anyhow::anyhow!("no API for {}", node.name))?;
        let Some(latest) = api.get_opt(&node.name).await? else {
            return Ok(());
        };
        if latest.metadata.uid.as_deref() != Some(node.uid.as_str()) {
            return Ok(());
        }
        let fins: Vec<String> = latest.metadata.finalizers.clone().unwrap_or_default();
        if !fins.iter().any(|f| f == finalizer) {
            return Ok(());
        }
        let keep: Vec<&String> = fins.iter().filter(|f| *f != finalizer).collect();
        let patch = serde_json::json!({"metadata": {
            "finalizers": keep,
            "resourceVersion": latest.metadata.resource_version,
        }});
        match api
            .patch(&node.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => tracing::debug!(object = %node.name, finalizer, "removed finalizer"),
            Err(e) if crate::util::error::is_not_found(&e) => {}
            Err(e) => return Err(e.into()),
        }
        Ok(())
    }

    async fn foreground(&self, uid: &str) -> anyhow::Result<()> {
        let (node, blocking) = {
            let g = lock(&self.graph);
            let Some(node) = g.get(uid).cloned() else {
                return Ok(());
            };
            if !node.deleting_dependents() {
                return Ok(());
            }
            let blocking: Vec<Node> = graph::blocking_dependents(&g, uid)
                .into_iter()
                .cloned()
                .collect();
            (node, blocking)
        };
        if blocking.is_empty() {
            return self.remove_finalizer(&node, FOREGROUND).await;
        }
        for d in blocking.iter().filter(|d| !d.deleting) {
            self.enqueue(Work::AttemptDelete(d.uid.clone()));
        }
        Ok(())
    }

    async fn orphan(&self, uid: &str) -> anyhow::Result<()> {
        let (node, dependents) = {
            let g = lock(&self.graph);
            let Some(node) = g.get(uid).cloned() else {
                return Ok(());
            };
            if !(node.deleting && node.has_finalizer(ORPHAN)) {
                return Ok(());
            }
            let deps: Vec<Node> = g.dependents(uid).into_iter().cloned().collect();
            (node, deps)
        };
        for d in dependents {
            let Some(api) = self.api(d.resource, d.namespace.as_deref()) else {
                continue;
            };
            let Some(latest) = api.get_opt(&d.name).await? else {
                continue;
            };
            let owners = latest.metadata.owner_references.clone().unwrap_or_default();
            if !owners.iter().any(|o| o.uid == uid) {
                continue;
            }
            let keep: Vec<&OwnerReference> = owners.iter().filter(|o| o.uid != uid).collect();
            let patch = serde_json::json!({"metadata": {
                "ownerReferences": keep,
                "resourceVersion": latest.metadata.resource_version,
            }});
            match api
                .patch(&d.name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => {
                    tracing::debug!(object = %d.name, owner = %node.name, "orphaned dependent")
                }
                Err(e) if crate::util::error::is_not_found(&e) => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.remove_finalizer(&node, ORPHAN).await
    }

    async fn process(self: &Arc<Self>, w: Work) {
        lock(&self.pending).remove(&w);
        let res = match &w {
            Work::AttemptDelete(uid) => self.attempt_delete(uid).await,
            Work::Foreground(uid) => self.foreground(uid).await,
            Work::Orphan(uid) => self.orphan(uid).await,
        };
        if let Err(e) = res {
            tracing::debug!(work = ?w, error = %format!("{e:#}"), "garbage collection step failed; retrying");
            let me = self.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(500)).await;
                me.enqueue(w);
            });
        }
    }
}

/// Resource types the collector watches.
async fn watched_resources(client: &kube::Client) -> anyhow::Result<Vec<Resource>> {
    let discovery = Discovery::new(client.clone()).run().await?;
    let mut out = Vec::new();
    for group in discovery.groups() {
        for (ar, caps) in group.recommended_resources() {
            let events =
                ar.plural == "events" && (ar.group.is_empty() || ar.group == "events.k8s.io");
            if events
                || !caps.supports_operation(verbs::LIST)
                || !caps.supports_operation(verbs::WATCH)
                || !caps.supports_operation(verbs::DELETE)
            {
                continue;
            }
            out.push(Resource {
                namespaced: caps.scope == Scope::Namespaced,
                ar,
            });
        }
    }
    Ok(out)
}

/// Feeds resource `idx`'s objects into the graph. Types the process's
/// other components already cache come from those shared caches, as
/// kube-controller-manager's garbage collector takes the typed informer of
/// a resource when one exists; every other type is watched as metadata
/// only (PartialObjectMetadata), as its metadata informers do: the graph
/// needs owners, uids and finalizers, not whole objects.
fn follow_resource(
    informers: &informers::Informers,
    gc: Arc<Gc>,
    idx: usize,
    sync_tx: tokio::sync::watch::Sender<bool>,
) -> tokio::task::JoinHandle<()> {
    use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
    use k8s_openapi::api::core::v1::{Endpoints, Namespace, Node as KubeNode, Pod, Service};
    use k8s_openapi::api::discovery::v1::EndpointSlice;
    let all = watcher::Config::default;
    let ar = &gc.resources[idx].ar;
    let spawn = |events| tokio::spawn(follow(gc.clone(), idx, events, sync_tx));
    match (ar.group.as_str(), ar.version.as_str(), ar.kind.as_str()) {
        ("", "v1", "Service") => spawn(meta_events(informers.cached::<Service>(all()).2)),
        ("", "v1", "Endpoints") => spawn(meta_events(informers.cached::<Endpoints>(all()).2)),
        ("", "v1", "Pod") => spawn(meta_events(informers.cached::<Pod>(all()).2)),
        ("", "v1", "Node") => spawn(meta_events(informers.cached::<KubeNode>(all()).2)),
        ("", "v1", "Namespace") => spawn(meta_events(informers.cached::<Namespace>(all()).2)),
        ("discovery.k8s.io", "v1", "EndpointSlice") => {
            spawn(meta_events(informers.cached::<EndpointSlice>(all()).2))
        }
        ("apps", "v1", "ReplicaSet") => spawn(meta_events(informers.cached::<ReplicaSet>(all()).2)),
        ("apps", "v1", "Deployment") => spawn(meta_events(informers.cached::<Deployment>(all()).2)),
        _ => {
            let api: Api<PartialObjectMeta<DynamicObject>> = Api::all_with(gc.client.clone(), ar);
            spawn(meta_events(
                watcher(api, watcher::Config::default())
                    .default_backoff()
                    .boxed(),
            ))
        }
    }
}

/// The graph reads only metadata: each event's object as its ObjectMeta.
type MetaEvents = futures::stream::BoxStream<'static, watcher::Result<watcher::Event<ObjectMeta>>>;

fn meta_events<K, S>(events: S) -> MetaEvents
where
    K: kube::Resource + Send + 'static,
    S: futures::Stream<Item = watcher::Result<watcher::Event<K>>> + Send + 'static,
{
    events.map(|ev| ev.map(meta_event)).boxed()
}

fn meta_event<K: kube::Resource>(ev: watcher::Event<K>) -> watcher::Event<ObjectMeta> {
    use watcher::Event;
    let meta = |mut o: K| std::mem::take(o.meta_mut());
    match ev {
        Event::Apply(o) => Event::Apply(meta(o)),
        Event::Delete(o) => Event::Delete(meta(o)),
        Event::Init => Event::Init,
        Event::InitApply(o) => Event::InitApply(meta(o)),
        Event::InitDone => Event::InitDone,
    }
}

/// Applies one resource's events to the graph; `sync_tx` is set at the end
/// of each complete list, after objects the list no longer has are removed.
async fn follow(
    gc: Arc<Gc>,
    idx: usize,
    mut events: MetaEvents,
    sync_tx: tokio::sync::watch::Sender<bool>,
) {
    let mut seen: HashSet<String> = HashSet::new();
    while let Some(ev) = events.next().await {
        match ev {
            Ok(watcher::Event::Apply(m)) => {
                if let Some(n) = node_of(idx, &m) {
                    gc.applied(n);
                }
            }
            Ok(watcher::Event::Delete(m)) => {
                if let Some(uid) = m.uid.as_deref() {
                    gc.deleted(uid);
                }
            }
            Ok(watcher::Event::Init) => seen.clear(),
            Ok(watcher::Event::InitApply(m)) => {
                if let Some(n) = node_of(idx, &m) {
                    seen.insert(n.uid.clone());
                    gc.applied(n);
                }
            }
            Ok(watcher::Event::InitDone) => {
                let stale: Vec<String> = lock(&gc.graph)
                    .uids_of_resource(idx)
                    .into_iter()
                    .filter(|u| !seen.contains(u))
                    .collect();
                for uid in stale {
                    gc.deleted(&uid);
                }
                seen.clear();
                let _ = sync_tx.send(true);
            }
            Err(e) => tracing::debug!(error = %e, "garbage collector watch error"),
        }
    }
}

pub(crate) async fn start(
    informers: &informers::Informers,
    opts: &ControllerOptions,
) -> anyhow::Result<crate::Started> {
    let client = informers.client().clone();
    let resources = watched_resources(&client).await?;
    let by_kind = resources
        .iter()
        .enumerate()
        .map(|(i, r)| ((r.ar.api_version.clone(), r.ar.kind.clone()), i))
        .collect();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let gc = Arc::new(Gc {
        client: client.clone(),
        resources,
        by_kind,
        graph: Mutex::new(Graph::default()),
        pending: Mutex::new(HashSet::new()),
        queue: tx,
    });
    let mut tasks = Vec::new();
    let mut synced = Vec::new();
    for idx in 0..gc.resources.len() {
        let (sync_tx, sync_rx) = tokio::sync::watch::channel(false);
        synced.push(sync_rx);
        tasks.push(follow_resource(informers, gc.clone(), idx, sync_tx));
    }
    // Workers start once every watch has listed: before that a missing owner
    // may just not have been seen yet.
    let all_synced = synced.clone();
    let workers = gc.clone();
    let concurrency = opts.concurrency.max(1);
    tasks.push(tokio::spawn(async move {
        for mut s in all_synced {
            let _ = s.wait_for(|v| *v).await;
        }
        let sem = Arc::new(tokio::sync::Semaphore::new(concurrency));
        while let Some(w) = rx.recv().await {
            let Ok(permit) = sem.clone().acquire_owned().await else {
                break;
            };
            let gc = workers.clone();
            tokio::spawn(async move {
                gc.process(w).await;
                drop(permit);
            });
        }
    }));
    for mut s in synced {
        s.wait_for(|v| *v)
            .await
            .map_err(|_| anyhow::anyhow!("garbage collector watch ended before syncing"))?;
    }
    tracing::debug!(
        objects = lock(&gc.graph).len(),
        "garbage collector graph synced"
    );
    Ok(crate::Started::new("garbagecollector", tasks))
}
