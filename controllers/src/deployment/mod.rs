//! The deployment controller: Deployment -> ReplicaSets -> (through the
//! ReplicaSet controller) Pods, as kube-controller-manager's deployment
//! controller does it.
//!
//! Each sync claims the Deployment's ReplicaSets (adopting matching orphans,
//! releasing ones that stopped matching), finds or creates the ReplicaSet of
//! the current template (`<deployment>-<pod-template-hash>`), then either
//! resizes proportionally (a scaling event or a paused Deployment) or rolls
//! out (RollingUpdate within maxSurge/maxUnavailable, or Recreate), trims
//! history beyond `revisionHistoryLimit`, and writes the status and the
//! Available / Progressing conditions that `kubectl rollout status` and
//! `kubectl wait --for=condition=available` read. Arithmetic lives in
//! [`rollout`], the template hash in [`hash`]; this file performs the writes
//! and emits the `ScalingReplicaSet` events.
//!
//! mkube's status subresource does not take metadata, so the revision
//! annotation is written with a metadata patch rather than with the status.

pub mod hash;
pub mod rollout;

use crate::util::error::{self, ReconcileError};
use crate::util::events::Events;
use crate::util::watch::{wait_all, CachesSynced, CACHE_SYNC_RETRY};
use crate::util::{owner, selector};
use crate::ControllerOptions;
use futures::StreamExt;
use informers::Informers;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentStatus, ReplicaSet};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{watcher, WatchStreamExt};
use std::sync::Arc;
use std::time::Duration;

struct Ctx {
    client: kube::Client,
    rss: Store<ReplicaSet>,
    deployments: Store<Deployment>,
    events: Events,
    synced: CachesSynced,
}

type Res<T> = Result<T, ReconcileError>;

pub(crate) async fn start(
    informers: &Informers,
    opts: &ControllerOptions,
) -> anyhow::Result<crate::Started> {
    let client = informers.client().clone();
    let (d_store, d_synced, deployments) =
        informers.cached::<Deployment>(watcher::Config::default());
    let (rs_store, rs_synced, rss) = informers.cached::<ReplicaSet>(watcher::Config::default());
    let ctx = Arc::new(Ctx {
        synced: CachesSynced::new(&[&d_synced, &rs_synced]),
        client: client.clone(),
        rss: rs_store,
        deployments: d_store.clone(),
        events: Events::new(client, "deployment-controller"),
    });
    let map_ctx = ctx.clone();
    let controller = Controller::for_stream(deployments.touched_objects(), d_store)
        .with_config(crate::controller_config(opts))
        .watches_stream(rss.touched_objects(), move |rs: ReplicaSet| {
            deployments_for_rs(&map_ctx.deployments, &rs)
        })
        .run(
            reconcile,
            |_, e: &ReconcileError, _| error::retry_after(e),
            ctx,
        )
        .for_each(|res| async move {
            if let Err(e) = res {
                tracing::debug!(error = %e, "deployment reconcile failed");
            }
        });
    let tasks = vec![tokio::spawn(controller)];
    wait_all(vec![d_synced, rs_synced]).await?;
    Ok(crate::Started::new("deployment", tasks))
}

/// The Deployment a ReplicaSet event concerns: its controller, or (orphans)
/// Deployments that would adopt it.
fn deployments_for_rs(ds: &Store<Deployment>, rs: &ReplicaSet) -> Vec<ObjectRef<Deployment>> {
    let ns = rs.metadata.namespace.clone().unwrap_or_default();
    if let Some(o) = owner::controller_of(&rs.metadata) {
        if o.kind == "Deployment" {
            return vec![ObjectRef::new(&o.name).within(&ns)];
        }
        return vec![];
    }
    ds.state()
        .iter()
        .filter(|d| d.metadata.namespace.as_deref() == Some(ns.as_str()))
        .filter(|d| {
            !selector::is_empty(&d.spec.selector)
                && selector::matches(&d.spec.selector, rs.metadata.labels.as_ref())
        })
        .filter_map(|d| {
            d.metadata
                .name
                .as_ref()
                .map(|n| ObjectRef::new(n).within(&ns))
        })
        .collect()
}

fn rv(rs: &ReplicaSet) -> u64 {
    rs.metadata
        .resource_version
        .as_deref()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn rs_name(rs: &ReplicaSet) -> String {
    rs.metadata.name.clone().unwrap_or_default()
}

struct Sync<'a> {
    ctx: &'a Ctx,
    d: Deployment,
    ns: String,
    rs_api: Api<ReplicaSet>,
    d_api: Api<Deployment>,
}

async fn reconcile(d: Arc<Deployment>, ctx: Arc<Ctx>) -> Res<Action> {
    if ctx.synced.wait().await.is_err() {
        return Ok(Action::requeue(CACHE_SYNC_RETRY));
    }
    let ns = d.metadata.namespace.clone().unwrap_or_default();
    let mut s = Sync {
        ctx: &ctx,
        d: (*d).clone(),
        rs_api: Api::namespaced(ctx.client.clone(), &ns),
        d_api: Api::namespaced(ctx.client.clone(), &ns),
        ns,
    };
    if rollout::selects_everything(&s.d) {
        s.ctx
            .events
            .warning(
                &s.d,
                "SelectingAll",
                "Sync",
                "This deployment is selecting all pods. A non-empty selector is required.".into(),
            )
            .await;
        let mut st = s.d.status.clone().unwrap_or_default();
        if st.observed_generation < s.d.metadata.generation {
            st.observed_generation = s.d.metadata.generation;
            s.write_status(st).await?;
        }
        return Ok(Action::await_change());
    }
    let rs_list = s.claim_replicasets().await?;
    if s.d.metadata.deletion_timestamp.is_some() {
        let (new, old) = s.get_all(&rs_list, false).await?;
        s.sync_status(new.as_ref(), &old).await?;
        return Ok(Action::await_change());
    }
    s.check_paused_conditions().await?;
    let paused = s.d.spec.paused.unwrap_or(false);
    if paused || s.is_scaling_event(&rs_list).await? {
        s.sync_scale(&rs_list, paused).await?;
    } else if rollout::is_recreate(&s.d) {
        s.rollout_recreate(&rs_list).await?;
    } else {
        s.rollout_rolling(&rs_list).await?;
    }
    let st = s.d.status.clone().unwrap_or_default();
    if rollout::is_complete(&s.d, &st) || paused {
        return Ok(Action::await_change());
    }
    // Re-check progress (deadline, minReadySeconds) even without events.
    Ok(Action::requeue(Duration::from_secs(5)))
}

impl Sync<'_> {
    fn name(&self) -> String {
        self.d.metadata.name.clone().unwrap_or_default()
    }

    async fn write_status(&mut self, st: DeploymentStatus) -> Res<()> {
        let patch = serde_json::json!({"status": st});
        let updated = self
            .d_api
            .patch_status(&self.name(), &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        self.d.status = updated.status.or(Some(st));
        Ok(())
    }

    /// Records the revision on the Deployment (`SetDeploymentRevision`).
    async fn set_revision(&mut self, revision: &str) -> Res<()> {
        let cur = self
            .d
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(rollout::REVISION));
        if cur.map(String::as_str) == Some(revision) {
            return Ok(());
        }
        let patch = serde_json::json!({"metadata": {"annotations": {rollout::REVISION: revision}}});
        let updated = self
            .d_api
            .patch(&self.name(), &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        self.d.metadata.annotations = updated.metadata.annotations;
        Ok(())
    }

    /// `ControllerRefManager.ClaimReplicaSets`.
    async fn claim_replicasets(&self) -> Res<Vec<ReplicaSet>> {
        let uid = self.d.metadata.uid.clone().unwrap_or_default();
        let sel = &self.d.spec.selector;
        let mut out = Vec::new();
        let candidates = self
            .ctx
            .rss
            .state_filter(|rs| rs.metadata.namespace.as_deref() == Some(self.ns.as_str()));
        for rs in candidates {
            let matches = selector::matches(sel, rs.metadata.labels.as_ref());
            match owner::controller_of(&rs.metadata) {
                Some(o) if o.uid == uid => {
                    if matches {
                        out.push((*rs).clone());
                    } else {
                        let refs: Vec<_> = rs
                            .metadata
                            .owner_references
                            .iter()
                            .flatten()
                            .filter(|o| o.uid != uid)
                            .cloned()
                            .collect();
                        let patch = serde_json::json!({"metadata": {"ownerReferences": refs}});
                        if let Err(e) = self
                            .rs_api
                            .patch(
                                &rs_name(&rs),
                                &PatchParams::default(),
                                &Patch::Merge(&patch),
                            )
                            .await
                        {
                            tracing::debug!(replicaset = %rs_name(&rs), error = %e, "releasing replica set failed");
                        }
                    }
                }
                None if matches
                    && self.d.metadata.deletion_timestamp.is_none()
                    && rs.metadata.deletion_timestamp.is_none() =>
                {
                    let mut refs = rs.metadata.owner_references.clone().unwrap_or_default();
                    refs.push(owner::controller_ref(
                        "apps/v1",
                        "Deployment",
                        &self.d.metadata,
                    ));
                    let patch = serde_json::json!({"metadata": {"ownerReferences": refs}});
                    match self
                        .rs_api
                        .patch(
                            &rs_name(&rs),
                            &PatchParams::default(),
                            &Patch::Merge(&patch),
                        )
                        .await
                    {
                        Ok(adopted) => out.push(adopted),
                        Err(e) => {
                            tracing::debug!(replicaset = %rs_name(&rs), error = %e, "adopting replica set failed")
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(out)
    }

    /// `scaleReplicaSet`: size and the desired/max annotations; event on resize.
    async fn scale(&mut self, rs: &ReplicaSet, to: i32, op: &str) -> Res<(bool, ReplicaSet)> {
        let d_replicas = rollout::replicas(&self.d);
        let max = d_replicas + rollout::max_surge(&self.d);
        let from = rollout::rs_replicas(rs);
        let size_changes = from != to;
        if !size_changes && !rollout::replicas_annotations_need_update(rs, d_replicas, max) {
            return Ok((false, rs.clone()));
        }
        let mut copy = rs.clone();
        copy.spec.replicas = Some(to);
        rollout::set_replicas_annotations(&mut copy, d_replicas, max);
        let updated = self
            .rs_api
            .replace(&rs_name(rs), &PostParams::default(), &copy)
            .await?;
        if size_changes {
            self.ctx
                .events
                .normal(
                    &self.d,
                    "ScalingReplicaSet",
                    "Scale",
                    format!(
                        "Scaled {op} replica set {} to {to} from {from}",
                        rs_name(rs)
                    ),
                )
                .await;
        }
        Ok((size_changes, updated))
    }

    async fn scale_and_record(&mut self, rs: &ReplicaSet, to: i32) -> Res<(bool, ReplicaSet)> {
        let from = rollout::rs_replicas(rs);
        if from == to {
            return Ok((false, rs.clone()));
        }
        let op = if from < to { "up" } else { "down" };
        self.scale(rs, to, op).await
    }

    /// `getAllReplicaSetsAndSyncRevision`: (new, all old).
    async fn get_all(
        &mut self,
        rs_list: &[ReplicaSet],
        create: bool,
    ) -> Res<(Option<ReplicaSet>, Vec<ReplicaSet>)> {
        let new_uid = rollout::find_new(&self.d, rs_list).and_then(|r| r.metadata.uid.clone());
        let old: Vec<ReplicaSet> = rs_list
            .iter()
            .filter(|r| r.metadata.uid != new_uid || new_uid.is_none())
            .cloned()
            .collect();
        let new = self.get_new(rs_list, &old, create).await?;
        Ok((new, old))
    }

    /// `getNewReplicaSet`.
    async fn get_new(
        &mut self,
        rs_list: &[ReplicaSet],
        old: &[ReplicaSet],
        create: bool,
    ) -> Res<Option<ReplicaSet>> {
        let new_revision = rollout::max_revision(old) + 1;
        let now = crate::util::now();
        if let Some(existing) = rollout::find_new(&self.d, rs_list) {
            let mut copy = existing.clone();
            let changed = rollout::set_new_rs_annotations(&self.d, &mut copy, new_revision, true);
            let min_ready_changed = copy.spec.min_ready_seconds != self.d.spec.min_ready_seconds;
            if changed || min_ready_changed {
                copy.spec.min_ready_seconds = self.d.spec.min_ready_seconds;
                let updated = self
                    .rs_api
                    .replace(&rs_name(&copy), &PostParams::default(), &copy)
                    .await?;
                return Ok(Some(updated));
            }
            let rev = copy
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(rollout::REVISION))
                .cloned();
            if let Some(rev) = rev {
                self.set_revision(&rev).await?;
            }
            let st = self.d.status.clone().unwrap_or_default();
            if rollout::progress_deadline(&self.d).is_some()
                && rollout::get_condition(&st, "Progressing").is_none()
            {
                let mut st = st;
                rollout::set_condition(
                    &mut st,
                    rollout::new_condition(
                        "Progressing",
                        "True",
                        rollout::FOUND_NEW_RS,
                        format!("Found new replica set \"{}\"", rs_name(&copy)),
                        now,
                    ),
                );
                self.write_status(st).await?;
            }
            return Ok(Some(copy));
        }
        if !create {
            return Ok(None);
        }
        let collision = self.d.status.as_ref().and_then(|s| s.collision_count);
        let h = hash::compute_hash(&self.d.spec.template, collision);
        let mut template = self.d.spec.template.clone();
        template
            .metadata
            .get_or_insert_with(Default::default)
            .labels
            .get_or_insert_with(Default::default)
            .insert(hash::LABEL.into(), h.clone());
        let mut sel = self.d.spec.selector.clone();
        sel.match_labels
            .get_or_insert_with(Default::default)
            .insert(hash::LABEL.into(), h.clone());
        let name = format!("{}-{h}", self.name());
        let mut new_rs = ReplicaSet {
            metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(self.ns.clone()),
                owner_references: Some(vec![owner::controller_ref(
                    "apps/v1",
                    "Deployment",
                    &self.d.metadata,
                )]),
                labels: template.metadata.as_ref().and_then(|m| m.labels.clone()),
                ..Default::default()
            },
            spec: k8s_openapi::api::apps::v1::ReplicaSetSpec {
                replicas: Some(0),
                min_ready_seconds: self.d.spec.min_ready_seconds,
                selector: sel,
                template: Some(template),
            },
            status: None,
        };
        let all: Vec<&ReplicaSet> = old.iter().chain(std::iter::once(&new_rs)).collect();
        let count = rollout::new_rs_new_replicas(&self.d, &all, &new_rs);
        new_rs.spec.replicas = Some(count);
        rollout::set_new_rs_annotations(&self.d, &mut new_rs, new_revision, false);
        let mut already_exists = false;
        let created = match self.rs_api.create(&PostParams::default(), &new_rs).await {
            Ok(rs) => rs,
            Err(e) if error::is_already_exists(&e) => {
                already_exists = true;
                let found = self.rs_api.get(&name).await?;
                let ours = owner::is_controlled_by(
                    &found.metadata,
                    self.d.metadata.uid.as_deref().unwrap_or_default(),
                );
                let same = found
                    .spec
                    .template
                    .as_ref()
                    .is_some_and(|t| hash::equal_ignore_hash(t, &self.d.spec.template));
                if ours && same {
                    found
                } else {
                    // Hash collision: bump collisionCount and try again on the next sync.
                    let mut st = self.d.status.clone().unwrap_or_default();
                    st.collision_count = Some(st.collision_count.unwrap_or(0) + 1);
                    self.write_status(st).await?;
                    return Err(e.into());
                }
            }
            Err(e) if error::is_namespace_terminating(&e) => return Err(e.into()),
            Err(e) => {
                let msg = format!("Failed to create new replica set \"{name}\": {e}");
                if rollout::progress_deadline(&self.d).is_some() {
                    let mut st = self.d.status.clone().unwrap_or_default();
                    rollout::set_condition(
                        &mut st,
                        rollout::new_condition(
                            "Progressing",
                            "False",
                            rollout::FAILED_RS_CREATE,
                            msg.clone(),
                            now,
                        ),
                    );
                    let _ = self.write_status(st).await;
                }
                self.ctx
                    .events
                    .warning(&self.d, rollout::FAILED_RS_CREATE, "Create", msg)
                    .await;
                return Err(e.into());
            }
        };
        if !already_exists && count > 0 {
            self.ctx
                .events
                .normal(
                    &self.d,
                    "ScalingReplicaSet",
                    "Scale",
                    format!("Scaled up replica set {name} to {count} from 0"),
                )
                .await;
        }
        self.set_revision(&new_revision.to_string()).await?;
        if !already_exists && rollout::progress_deadline(&self.d).is_some() {
            let mut st = self.d.status.clone().unwrap_or_default();
            rollout::set_condition(
                &mut st,
                rollout::new_condition(
                    "Progressing",
                    "True",
                    rollout::NEW_RS_CREATED,
                    format!("Created new replica set \"{name}\""),
                    now,
                ),
            );
            self.write_status(st).await?;
        }
        Ok(Some(created))
    }

    /// `checkPausedConditions`.
    async fn check_paused_conditions(&mut self) -> Res<()> {
        if rollout::progress_deadline(&self.d).is_none() {
            return Ok(());
        }
        let st = self.d.status.clone().unwrap_or_default();
        let cond = rollout::get_condition(&st, "Progressing");
        if cond.is_some_and(|c| c.reason.as_deref() == Some(rollout::TIMED_OUT)) {
            return Ok(());
        }
        let paused_cond = cond.is_some_and(|c| c.reason.as_deref() == Some(rollout::PAUSED));
        let paused = self.d.spec.paused.unwrap_or(false);
        let now = crate::util::now();
        let mut st = st.clone();
        if paused && !paused_cond {
            rollout::set_condition(
                &mut st,
                rollout::new_condition(
                    "Progressing",
                    "Unknown",
                    rollout::PAUSED,
                    "Deployment is paused".into(),
                    now,
                ),
            );
        } else if !paused && paused_cond {
            rollout::set_condition(
                &mut st,
                rollout::new_condition(
                    "Progressing",
                    "Unknown",
                    rollout::RESUMED,
                    "Deployment is resumed".into(),
                    now,
                ),
            );
        } else {
            return Ok(());
        }
        self.write_status(st).await
    }

    /// `isScalingEvent`: an active ReplicaSet was sized for another replica count.
    async fn is_scaling_event(&mut self, rs_list: &[ReplicaSet]) -> Res<bool> {
        let (new, old) = self.get_all(rs_list, false).await?;
        let want = rollout::replicas(&self.d);
        Ok(new
            .iter()
            .chain(old.iter())
            .filter(|r| rollout::rs_replicas(r) > 0)
            .any(|r| {
                r.metadata
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get(rollout::DESIRED_REPLICAS))
                    .and_then(|v| v.parse::<i32>().ok())
                    .is_some_and(|desired| desired != want)
            }))
    }

    /// `sync`: resize (proportionally when mid-rollout), clean up when paused, status.
    async fn sync_scale(&mut self, rs_list: &[ReplicaSet], paused: bool) -> Res<()> {
        let (new, old) = self.get_all(rs_list, false).await?;
        let want = rollout::replicas(&self.d);
        if let Some(target) = rollout::active_or_latest(new.as_ref(), &old).cloned() {
            if rollout::rs_replicas(&target) != want {
                self.scale_and_record(&target, want).await?;
            }
        } else if new
            .as_ref()
            .is_some_and(|n| rollout::is_saturated(&self.d, n))
        {
            for rs in old.iter().filter(|r| rollout::rs_replicas(r) > 0) {
                self.scale_and_record(rs, 0).await?;
            }
        } else if !rollout::is_recreate(&self.d) {
            let active: Vec<ReplicaSet> = new
                .iter()
                .chain(old.iter())
                .filter(|r| rollout::rs_replicas(r) > 0)
                .cloned()
                .collect();
            let sizes = rollout::proportional_scale(&self.d, &active);
            let all: Vec<&ReplicaSet> = active.iter().collect();
            let allowed = if want > 0 {
                want + rollout::max_surge(&self.d)
            } else {
                0
            };
            let op = if allowed > rollout::total_spec(&all) {
                "up"
            } else {
                "down"
            };
            for (name, size) in sizes {
                if let Some(rs) = active.iter().find(|r| rs_name(r) == name) {
                    self.scale(rs, size, op).await?;
                }
            }
        }
        let rs_list = self.refreshed(rs_list);
        let (new, old) = self.split(&rs_list);
        if paused {
            self.cleanup(&old).await?;
        }
        self.sync_status(new.as_ref(), &old).await
    }

    /// The claimed ReplicaSets as the cache shows them now (after our writes).
    fn refreshed(&self, rs_list: &[ReplicaSet]) -> Vec<ReplicaSet> {
        rs_list
            .iter()
            .map(|rs| {
                self.ctx
                    .rss
                    .get(&ObjectRef::new(&rs_name(rs)).within(&self.ns))
                    .map(|r| (*r).clone())
                    .filter(|r| rv(r) >= rv(rs))
                    .unwrap_or_else(|| rs.clone())
            })
            .collect()
    }

    fn split(&self, rs_list: &[ReplicaSet]) -> (Option<ReplicaSet>, Vec<ReplicaSet>) {
        let new = rollout::find_new(&self.d, rs_list).cloned();
        let new_uid = new.as_ref().and_then(|r| r.metadata.uid.clone());
        let old = rs_list
            .iter()
            .filter(|r| new_uid.is_none() || r.metadata.uid != new_uid)
            .cloned()
            .collect();
        (new, old)
    }

    async fn sync_status(&mut self, new: Option<&ReplicaSet>, old: &[ReplicaSet]) -> Res<()> {
        let all: Vec<&ReplicaSet> = old.iter().chain(new).collect();
        let st = rollout::calculate_status(&all, new, &self.d, crate::util::now());
        if rollout::status_equal(&self.d.status.clone().unwrap_or_default(), &st) {
            return Ok(());
        }
        self.write_status(st).await
    }

    async fn sync_rollout_status(
        &mut self,
        new: Option<&ReplicaSet>,
        old: &[ReplicaSet],
    ) -> Res<()> {
        let all: Vec<&ReplicaSet> = old.iter().chain(new).collect();
        let st = rollout::rollout_status(&all, new, &self.d, crate::util::now());
        if rollout::status_equal(&self.d.status.clone().unwrap_or_default(), &st) {
            return Ok(());
        }
        self.write_status(st).await
    }

    /// `cleanupDeployment`: old ReplicaSets beyond the revision history limit.
    async fn cleanup(&self, old: &[ReplicaSet]) -> Res<()> {
        for name in rollout::history_to_delete(&self.d, old) {
            match self.rs_api.delete(&name, &DeleteParams::background()).await {
                Ok(_) => {
                    tracing::debug!(replicaset = %name, "deleted old replica set beyond history limit")
                }
                Err(e) if error::is_not_found(&e) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// `rolloutRolling`.
    async fn rollout_rolling(&mut self, rs_list: &[ReplicaSet]) -> Res<()> {
        let (new, mut old) = self.get_all(rs_list, true).await?;
        let Some(mut new) = new else {
            return Err(ReconcileError(anyhow::anyhow!("no new replica set")));
        };
        let want = rollout::replicas(&self.d);
        // Scale up the new ReplicaSet, if we can.
        let new_size = rollout::rs_replicas(&new);
        let target = if new_size > want {
            want
        } else {
            let all: Vec<&ReplicaSet> = old.iter().chain(std::iter::once(&new)).collect();
            rollout::new_rs_new_replicas(&self.d, &all, &new)
        };
        if target != new_size {
            let (scaled, updated) = self.scale_and_record(&new, target).await?;
            new = updated;
            if scaled {
                return self.sync_rollout_status(Some(&new), &old).await;
            }
        }
        // Scale down old ReplicaSets, if we can.
        let active_old: Vec<ReplicaSet> = old
            .iter()
            .filter(|r| rollout::rs_replicas(r) > 0)
            .cloned()
            .collect();
        if !active_old.is_empty() {
            let all: Vec<&ReplicaSet> = old.iter().chain(std::iter::once(&new)).collect();
            let budget = rollout::max_scaled_down(&self.d, &all, &new);
            if budget > 0 {
                let mut scaled_any = false;
                for (name, size) in rollout::cleanup_unhealthy(&active_old, budget) {
                    if let Some(i) = old.iter().position(|r| rs_name(r) == name) {
                        let rs = old[i].clone();
                        let (scaled, updated) = self.scale_and_record(&rs, size).await?;
                        scaled_any |= scaled;
                        old[i] = updated;
                    }
                }
                let active_old: Vec<ReplicaSet> = old
                    .iter()
                    .filter(|r| rollout::rs_replicas(r) > 0)
                    .cloned()
                    .collect();
                let all: Vec<&ReplicaSet> = old.iter().chain(std::iter::once(&new)).collect();
                for (name, size) in rollout::scale_down_old(&self.d, &all, &active_old) {
                    if let Some(i) = old.iter().position(|r| rs_name(r) == name) {
                        let rs = old[i].clone();
                        let (scaled, updated) = self.scale_and_record(&rs, size).await?;
                        scaled_any |= scaled;
                        old[i] = updated;
                    }
                }
                if scaled_any {
                    return self.sync_rollout_status(Some(&new), &old).await;
                }
            }
        }
        let st = self.d.status.clone().unwrap_or_default();
        if rollout::is_complete(&self.d, &st) {
            self.cleanup(&old).await?;
        }
        self.sync_rollout_status(Some(&new), &old).await
    }

    /// `rolloutRecreate`: all old pods go before the new ReplicaSet grows.
    async fn rollout_recreate(&mut self, rs_list: &[ReplicaSet]) -> Res<()> {
        let (mut new, mut old) = self.get_all(rs_list, false).await?;
        let mut scaled_down = false;
        for slot in old.iter_mut() {
            if rollout::rs_replicas(slot) > 0 {
                let rs = slot.clone();
                let (scaled, updated) = self.scale_and_record(&rs, 0).await?;
                scaled_down |= scaled;
                *slot = updated;
            }
        }
        if scaled_down {
            return self.sync_rollout_status(new.as_ref(), &old).await;
        }
        let old_refs: Vec<&ReplicaSet> = old.iter().collect();
        if rollout::total_actual(&old_refs) > 0 {
            return self.sync_rollout_status(new.as_ref(), &old).await;
        }
        if new.is_none() {
            let (n, o) = self.get_all(rs_list, true).await?;
            new = n;
            old = o;
        }
        if let Some(n) = new.clone() {
            let (_, updated) = self
                .scale_and_record(&n, rollout::replicas(&self.d))
                .await?;
            new = Some(updated);
        }
        let st = self.d.status.clone().unwrap_or_default();
        if rollout::is_complete(&self.d, &st) {
            self.cleanup(&old).await?;
        }
        self.sync_rollout_status(new.as_ref(), &old).await
    }
}
