//! Rollout arithmetic of kube-controller-manager's deployment controller
//! (`pkg/controller/deployment/util`, `rolling.go`, `sync.go`), as pure
//! functions over ReplicaSets: surge and unavailability budgets, how far to
//! scale the new ReplicaSet up and the old ones down, proportional scaling,
//! revisions, and the status the Deployment reports.

use super::hash;
use crate::util::selector;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;
use std::collections::BTreeMap;

pub const REVISION: &str = "deployment.kubernetes.io/revision";
pub const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
pub const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
pub const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
const ROLLBACK_TO: &str = "deprecated.deployment.rollback.to";
const MAX_REV_HISTORY_CHARS: usize = 2000;

// Condition reasons (`deploymentutil`).
pub const NEW_RS_CREATED: &str = "NewReplicaSetCreated";
pub const FOUND_NEW_RS: &str = "FoundNewReplicaSet";
pub const NEW_RS_AVAILABLE: &str = "NewReplicaSetAvailable";
pub const RS_UPDATED: &str = "ReplicaSetUpdated";
pub const TIMED_OUT: &str = "ProgressDeadlineExceeded";
pub const FAILED_RS_CREATE: &str = "ReplicaSetCreateError";
pub const PAUSED: &str = "DeploymentPaused";
pub const RESUMED: &str = "DeploymentResumed";
pub const MIN_AVAILABLE: &str = "MinimumReplicasAvailable";
pub const MIN_UNAVAILABLE: &str = "MinimumReplicasUnavailable";

pub fn replicas(d: &Deployment) -> i32 {
    d.spec.replicas.unwrap_or(1)
}

pub fn rs_replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.replicas.unwrap_or(1)
}

fn rs_status(rs: &ReplicaSet) -> (i32, i32, i32) {
    rs.status
        .as_ref()
        .map(|s| {
            (
                s.replicas,
                s.ready_replicas.unwrap_or(0),
                s.available_replicas.unwrap_or(0),
            )
        })
        .unwrap_or((0, 0, 0))
}

pub fn rs_available(rs: &ReplicaSet) -> i32 {
    rs_status(rs).2
}

pub fn is_recreate(d: &Deployment) -> bool {
    d.spec.strategy.as_ref().and_then(|s| s.type_.as_deref()) == Some("Recreate")
}

fn scaled_value(v: Option<&IntOrString>, total: i32, round_up: bool) -> i32 {
    match v {
        None => 0,
        Some(IntOrString::Int(i)) => *i,
        Some(IntOrString::String(s)) => match s
            .strip_suffix('%')
            .and_then(|p| p.trim().parse::<i64>().ok())
        {
            Some(pct) => {
                let num = pct * i64::from(total);
                let v = if round_up {
                    (num + 99).div_euclid(100)
                } else {
                    num.div_euclid(100)
                };
                i32::try_from(v).unwrap_or(0)
            }
            None => s.parse().unwrap_or(0),
        },
    }
}

/// `ResolveFenceposts`: (maxSurge, maxUnavailable) in pods; both zero becomes
/// maxUnavailable 1 so a rollout can always make progress.
pub fn fenceposts(d: &Deployment) -> (i32, i32) {
    let desired = replicas(d);
    let ru = d
        .spec
        .strategy
        .as_ref()
        .and_then(|s| s.rolling_update.as_ref());
    let default = IntOrString::String("25%".into());
    let surge_v = ru.map_or(Some(&default), |r| r.max_surge.as_ref());
    let unav_v = ru.map_or(Some(&default), |r| r.max_unavailable.as_ref());
    let surge = scaled_value(surge_v, desired, true);
    let mut unavailable = scaled_value(unav_v, desired, false);
    if surge == 0 && unavailable == 0 {
        unavailable = 1;
    }
    (surge, unavailable)
}

pub fn max_surge(d: &Deployment) -> i32 {
    if is_recreate(d) {
        0
    } else {
        fenceposts(d).0
    }
}

pub fn max_unavailable(d: &Deployment) -> i32 {
    if is_recreate(d) || replicas(d) == 0 {
        return 0;
    }
    fenceposts(d).1.min(replicas(d))
}

pub fn total_spec(rss: &[&ReplicaSet]) -> i32 {
    rss.iter().map(|r| rs_replicas(r)).sum()
}

pub fn total_actual(rss: &[&ReplicaSet]) -> i32 {
    rss.iter().map(|r| rs_status(r).0).sum()
}

pub fn total_ready(rss: &[&ReplicaSet]) -> i32 {
    rss.iter().map(|r| rs_status(r).1).sum()
}

pub fn total_available(rss: &[&ReplicaSet]) -> i32 {
    rss.iter().map(|r| rs_status(r).2).sum()
}

/// `NewRSNewReplicas`: the size the new ReplicaSet may grow to now.
pub fn new_rs_new_replicas(d: &Deployment, all: &[&ReplicaSet], new_rs: &ReplicaSet) -> i32 {
    if is_recreate(d) {
        return replicas(d);
    }
    let current = total_spec(all);
    let max_total = replicas(d) + max_surge(d);
    if current >= max_total {
        return rs_replicas(new_rs);
    }
    let up = (max_total - current).min(replicas(d) - rs_replicas(new_rs));
    rs_replicas(new_rs) + up
}

fn creation(rs: &ReplicaSet) -> (Option<Timestamp>, String) {
    (
        rs.metadata.creation_timestamp.as_ref().map(|t| t.0),
        rs.metadata.name.clone().unwrap_or_default(),
    )
}

/// Oldest first (`ReplicaSetsByCreationTimestamp`).
pub fn sort_by_creation(rss: &mut [ReplicaSet]) {
    rss.sort_by_key(creation);
}

/// How many pods of the old ReplicaSets may go now (`reconcileOldReplicaSets`'s budget).
pub fn max_scaled_down(d: &Deployment, all: &[&ReplicaSet], new_rs: &ReplicaSet) -> i32 {
    let min_available = replicas(d) - max_unavailable(d);
    let new_unavailable = rs_replicas(new_rs) - rs_available(new_rs);
    total_spec(all) - min_available - new_unavailable
}

/// `cleanupUnhealthyReplicas`: scale old ReplicaSets (oldest first) down by
/// their unavailable pods, within `budget`. Returns (name, new size).
pub fn cleanup_unhealthy(old: &[ReplicaSet], budget: i32) -> Vec<(String, i32)> {
    let mut sorted = old.to_vec();
    sort_by_creation(&mut sorted);
    let mut total = 0;
    let mut out = Vec::new();
    for rs in &sorted {
        if total >= budget {
            break;
        }
        let spec = rs_replicas(rs);
        let avail = rs_available(rs);
        if spec == 0 || spec == avail {
            continue;
        }
        let down = (budget - total).min(spec - avail);
        out.push((rs.metadata.name.clone().unwrap_or_default(), spec - down));
        total += down;
    }
    out
}

/// `scaleDownOldReplicaSetsForRollingUpdate`: scale old ReplicaSets (oldest
/// first) down as far as availability allows.
pub fn scale_down_old(
    d: &Deployment,
    all: &[&ReplicaSet],
    old: &[ReplicaSet],
) -> Vec<(String, i32)> {
    let min_available = replicas(d) - max_unavailable(d);
    let available = total_available(all);
    if available <= min_available {
        return vec![];
    }
    let mut sorted = old.to_vec();
    sort_by_creation(&mut sorted);
    let budget = available - min_available;
    let mut total = 0;
    let mut out = Vec::new();
    for rs in &sorted {
        if total >= budget {
            break;
        }
        let spec = rs_replicas(rs);
        if spec == 0 {
            continue;
        }
        let down = spec.min(budget - total);
        out.push((rs.metadata.name.clone().unwrap_or_default(), spec - down));
        total += down;
    }
    out
}

fn annotation<'a>(rs: &'a ReplicaSet, key: &str) -> Option<&'a String> {
    rs.metadata.annotations.as_ref()?.get(key)
}

pub fn revision(rs: &ReplicaSet) -> i64 {
    annotation(rs, REVISION)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

pub fn max_revision(rss: &[ReplicaSet]) -> i64 {
    rss.iter().map(revision).max().unwrap_or(0)
}

/// `SetReplicasAnnotations`: record the Deployment size the ReplicaSet was
/// scaled for (proportional scaling reads it back). True if changed.
pub fn set_replicas_annotations(rs: &mut ReplicaSet, desired: i32, max: i32) -> bool {
    let ann = rs.metadata.annotations.get_or_insert_with(BTreeMap::new);
    let mut changed = false;
    for (k, v) in [(DESIRED_REPLICAS, desired), (MAX_REPLICAS, max)] {
        let v = v.to_string();
        if ann.get(k) != Some(&v) {
            ann.insert(k.to_string(), v);
            changed = true;
        }
    }
    changed
}

pub fn replicas_annotations_need_update(rs: &ReplicaSet, desired: i32, max: i32) -> bool {
    annotation(rs, DESIRED_REPLICAS) != Some(&desired.to_string())
        || annotation(rs, MAX_REPLICAS) != Some(&max.to_string())
}

fn skip_copy(k: &str) -> bool {
    matches!(
        k,
        LAST_APPLIED | REVISION | REVISION_HISTORY | DESIRED_REPLICAS | MAX_REPLICAS | ROLLBACK_TO
    )
}

/// `SetNewReplicaSetAnnotations`: copy the Deployment's annotations, bump the
/// revision (keeping the revision history on a rollback), and for a new
/// ReplicaSet record the sizes. True if anything changed.
pub fn set_new_rs_annotations(
    d: &Deployment,
    rs: &mut ReplicaSet,
    new_revision: i64,
    exists: bool,
) -> bool {
    let mut changed = false;
    let ann = rs.metadata.annotations.get_or_insert_with(BTreeMap::new);
    for (k, v) in d.metadata.annotations.iter().flatten() {
        if skip_copy(k) || ann.get(k) == Some(v) {
            continue;
        }
        ann.insert(k.clone(), v.clone());
        changed = true;
    }
    let old = ann.get(REVISION).cloned();
    let old_int = match old.as_deref() {
        None | Some("") => 0,
        Some(s) => match s.parse::<i64>() {
            Ok(v) => v,
            Err(_) => return changed,
        },
    };
    if old_int < new_revision {
        ann.insert(REVISION.into(), new_revision.to_string());
        changed = true;
        if let Some(old) = old.filter(|o| !o.is_empty()) {
            let hist = ann.get(REVISION_HISTORY).cloned().unwrap_or_default();
            if hist.is_empty() {
                ann.insert(REVISION_HISTORY.into(), old);
            } else {
                let mut parts: Vec<String> = hist.split(',').map(str::to_string).collect();
                let mut total = hist.len() + old.len() + 1;
                while total > MAX_REV_HISTORY_CHARS && !parts.is_empty() {
                    total -= parts[0].len() + 1;
                    parts.remove(0);
                }
                parts.push(old);
                ann.insert(REVISION_HISTORY.into(), parts.join(","));
            }
        }
    }
    if !exists && set_replicas_annotations(rs, replicas(d), replicas(d) + max_surge(d)) {
        changed = true;
    }
    changed
}

/// `FindActiveOrLatest`: the one ReplicaSet with pods, or the newest if none has.
pub fn active_or_latest<'a>(
    new_rs: Option<&'a ReplicaSet>,
    old: &'a [ReplicaSet],
) -> Option<&'a ReplicaSet> {
    let mut all: Vec<&ReplicaSet> = old.iter().collect();
    all.sort_by_key(|r| std::cmp::Reverse(creation(r)));
    let active: Vec<&ReplicaSet> = new_rs
        .into_iter()
        .chain(all.iter().copied())
        .filter(|r| rs_replicas(r) > 0)
        .collect();
    match active.len() {
        0 => new_rs.or_else(|| all.first().copied()),
        1 => Some(active[0]),
        _ => None,
    }
}

/// `IsSaturated`: the new ReplicaSet has the full size and all of it is available.
pub fn is_saturated(d: &Deployment, rs: &ReplicaSet) -> bool {
    let desired = annotation(rs, DESIRED_REPLICAS).and_then(|v| v.parse::<i32>().ok());
    rs_replicas(rs) == replicas(d)
        && desired == Some(replicas(d))
        && rs_available(rs) == replicas(d)
}

/// Proportional scaling of a rolling Deployment resized mid-rollout
/// (`DeploymentController.scale`): each active ReplicaSet gets its share of
/// the added (or removed) replicas, leftovers to the largest. Returns
/// (name, new size) for every active ReplicaSet.
pub fn proportional_scale(d: &Deployment, active: &[ReplicaSet]) -> Vec<(String, i32)> {
    let mut rss = active.to_vec();
    let all: Vec<&ReplicaSet> = active.iter().collect();
    let current = total_spec(&all);
    let allowed = if replicas(d) > 0 {
        replicas(d) + max_surge(d)
    } else {
        0
    };
    let to_add = allowed - current;
    if to_add > 0 {
        // Larger first; newer first among equals.
        rss.sort_by(|a, b| {
            rs_replicas(b)
                .cmp(&rs_replicas(a))
                .then(creation(b).cmp(&creation(a)))
        });
    } else if to_add < 0 {
        // Larger first; older first among equals.
        rss.sort_by(|a, b| {
            rs_replicas(b)
                .cmp(&rs_replicas(a))
                .then(creation(a).cmp(&creation(b)))
        });
    }
    let mut added = 0;
    let mut sizes: Vec<(String, i32)> = Vec::new();
    let d_max = replicas(d) + max_surge(d);
    let d_status_replicas = d.status.as_ref().and_then(|s| s.replicas).unwrap_or(0);
    for rs in &rss {
        let spec = rs_replicas(rs);
        let name = rs.metadata.name.clone().unwrap_or_default();
        if to_add == 0 || spec == 0 || to_add == added {
            sizes.push((name, spec));
            continue;
        }
        let fraction = if replicas(d) == 0 {
            -spec
        } else {
            let before = annotation(rs, MAX_REPLICAS)
                .and_then(|v| v.parse::<i32>().ok())
                .filter(|v| *v != 0)
                .unwrap_or(d_status_replicas);
            if before == 0 {
                0
            } else {
                ((f64::from(spec) * f64::from(d_max)) / f64::from(before)).round() as i32 - spec
            }
        };
        let allowed_rest = to_add - added;
        let p = if to_add > 0 {
            fraction.min(allowed_rest)
        } else {
            fraction.max(allowed_rest)
        };
        sizes.push((name, spec + p));
        added += p;
    }
    if to_add != 0 {
        if let Some(first) = sizes.first_mut() {
            first.1 = (first.1 + to_add - added).max(0);
        }
    }
    sizes
}

/// Whether the ReplicaSet's template matches the Deployment's (the new one).
pub fn find_new<'a>(d: &Deployment, rss: &'a [ReplicaSet]) -> Option<&'a ReplicaSet> {
    let tmpl = &d.spec.template;
    let mut sorted: Vec<&ReplicaSet> = rss.iter().collect();
    sorted.sort_by_key(|r| creation(r));
    sorted.into_iter().find(|rs| {
        rs.spec
            .template
            .as_ref()
            .is_some_and(|t| hash::equal_ignore_hash(t, tmpl))
    })
}

pub fn new_condition(
    type_: &str,
    status: &str,
    reason: &str,
    message: String,
    now: Timestamp,
) -> DeploymentCondition {
    DeploymentCondition {
        type_: Some(type_.into()),
        status: Some(status.into()),
        reason: Some(reason.into()),
        message: Some(message),
        last_update_time: Some(Time(now)),
        last_transition_time: Some(Time(now)),
    }
}

pub fn get_condition<'a>(st: &'a DeploymentStatus, type_: &str) -> Option<&'a DeploymentCondition> {
    st.conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_.as_deref() == Some(type_))
}

/// `SetDeploymentCondition`: same status and reason is a no-op; same status
/// keeps the transition time.
pub fn set_condition(st: &mut DeploymentStatus, mut c: DeploymentCondition) {
    let ty = c.type_.clone().unwrap_or_default();
    if let Some(cur) = get_condition(st, &ty) {
        if cur.status == c.status && cur.reason == c.reason {
            return;
        }
        if cur.status == c.status {
            c.last_transition_time = cur.last_transition_time.clone();
        }
    }
    remove_condition(st, &ty);
    st.conditions.get_or_insert_with(Vec::new).push(c);
}

pub fn remove_condition(st: &mut DeploymentStatus, type_: &str) {
    if let Some(cs) = st.conditions.as_mut() {
        cs.retain(|c| c.type_.as_deref() != Some(type_));
    }
}

pub fn progress_deadline(d: &Deployment) -> Option<i32> {
    d.spec.progress_deadline_seconds.filter(|v| *v != i32::MAX)
}

/// `calculateStatus`.
pub fn calculate_status(
    all: &[&ReplicaSet],
    new_rs: Option<&ReplicaSet>,
    d: &Deployment,
    now: Timestamp,
) -> DeploymentStatus {
    let available = total_available(all);
    let total = total_spec(all);
    let unavailable = (total - available).max(0);
    let cur = d.status.clone().unwrap_or_default();
    let mut st = DeploymentStatus {
        observed_generation: d.metadata.generation,
        replicas: Some(total_actual(all)),
        updated_replicas: Some(new_rs.map(|r| rs_status(r).0).unwrap_or(0)),
        ready_replicas: Some(total_ready(all)),
        available_replicas: Some(available),
        unavailable_replicas: Some(unavailable),
        collision_count: cur.collision_count,
        conditions: cur.conditions.clone(),
        terminating_replicas: None,
    };
    if available >= replicas(d) - max_unavailable(d) {
        set_condition(
            &mut st,
            new_condition(
                "Available",
                "True",
                MIN_AVAILABLE,
                "Deployment has minimum availability.".into(),
                now,
            ),
        );
    } else {
        set_condition(
            &mut st,
            new_condition(
                "Available",
                "False",
                MIN_UNAVAILABLE,
                "Deployment does not have minimum availability.".into(),
                now,
            ),
        );
    }
    st
}

fn num(v: Option<i32>) -> i32 {
    v.unwrap_or(0)
}

/// `DeploymentComplete`.
pub fn is_complete(d: &Deployment, st: &DeploymentStatus) -> bool {
    let want = replicas(d);
    num(st.updated_replicas) == want
        && num(st.replicas) == want
        && num(st.available_replicas) == want
        && st.observed_generation.unwrap_or(0) >= d.metadata.generation.unwrap_or(0)
}

/// `DeploymentProgressing`: more updated, ready or available pods, or fewer old ones.
pub fn is_progressing(d: &Deployment, st: &DeploymentStatus) -> bool {
    let old = d.status.clone().unwrap_or_default();
    let old_old = num(old.replicas) - num(old.updated_replicas);
    let new_old = num(st.replicas) - num(st.updated_replicas);
    num(st.updated_replicas) > num(old.updated_replicas)
        || new_old < old_old
        || num(st.ready_replicas) > num(old.ready_replicas)
        || num(st.available_replicas) > num(old.available_replicas)
}

/// `DeploymentTimedOut`.
pub fn is_timed_out(d: &Deployment, st: &DeploymentStatus, now: Timestamp) -> bool {
    let Some(deadline) = progress_deadline(d) else {
        return false;
    };
    let Some(c) = get_condition(st, "Progressing") else {
        return false;
    };
    match c.reason.as_deref() {
        Some(NEW_RS_AVAILABLE) => false,
        Some(TIMED_OUT) => true,
        _ => c
            .last_update_time
            .as_ref()
            .is_some_and(|t| t.0.as_second() + i64::from(deadline) < now.as_second()),
    }
}

/// `syncRolloutStatus`'s new status (Progressing condition included).
pub fn rollout_status(
    all: &[&ReplicaSet],
    new_rs: Option<&ReplicaSet>,
    d: &Deployment,
    now: Timestamp,
) -> DeploymentStatus {
    let mut st = calculate_status(all, new_rs, d, now);
    let name = d.metadata.name.clone().unwrap_or_default();
    if progress_deadline(d).is_none() {
        remove_condition(&mut st, "Progressing");
    }
    let cur = d.status.clone().unwrap_or_default();
    let cur_cond = get_condition(&cur, "Progressing").cloned();
    let complete_already = num(st.replicas) == num(st.updated_replicas)
        && cur_cond
            .as_ref()
            .is_some_and(|c| c.reason.as_deref() == Some(NEW_RS_AVAILABLE));
    if progress_deadline(d).is_some() && !complete_already {
        let rs_name = new_rs.and_then(|r| r.metadata.name.clone());
        if is_complete(d, &st) {
            let msg = match &rs_name {
                Some(n) => format!("ReplicaSet \"{n}\" has successfully progressed."),
                None => format!("Deployment \"{name}\" has successfully progressed."),
            };
            set_condition(
                &mut st,
                new_condition("Progressing", "True", NEW_RS_AVAILABLE, msg, now),
            );
        } else if is_progressing(d, &st) {
            let msg = match &rs_name {
                Some(n) => format!("ReplicaSet \"{n}\" is progressing."),
                None => format!("Deployment \"{name}\" is progressing."),
            };
            let mut c = new_condition("Progressing", "True", RS_UPDATED, msg, now);
            if let Some(cur) = &cur_cond {
                if cur.status.as_deref() == Some("True") {
                    c.last_transition_time = cur.last_transition_time.clone();
                }
                remove_condition(&mut st, "Progressing");
            }
            st.conditions.get_or_insert_with(Vec::new).push(c);
        } else if is_timed_out(d, &st, now) {
            let msg = match &rs_name {
                Some(n) => format!("ReplicaSet \"{n}\" has timed out progressing."),
                None => format!("Deployment \"{name}\" has timed out progressing."),
            };
            set_condition(
                &mut st,
                new_condition("Progressing", "False", TIMED_OUT, msg, now),
            );
        }
    }
    st
}

/// Status equality ignoring condition timestamps' sub-second precision.
pub fn status_equal(a: &DeploymentStatus, b: &DeploymentStatus) -> bool {
    serde_json::to_value(a).ok() == serde_json::to_value(b).ok()
}

/// Old ReplicaSets to delete beyond `revisionHistoryLimit`, lowest revision first.
pub fn history_to_delete(d: &Deployment, old: &[ReplicaSet]) -> Vec<String> {
    let Some(limit) = d.spec.revision_history_limit else {
        return vec![];
    };
    let mut cleanable: Vec<&ReplicaSet> = old
        .iter()
        .filter(|r| r.metadata.deletion_timestamp.is_none())
        .collect();
    let diff = cleanable.len() as i64 - i64::from(limit);
    if diff <= 0 {
        return vec![];
    }
    cleanable.sort_by_key(|r| (revision(r), creation(r)));
    cleanable
        .into_iter()
        .take(diff as usize)
        .filter(|rs| {
            let (actual, _, _) = rs_status(rs);
            let observed = rs
                .status
                .as_ref()
                .and_then(|s| s.observed_generation)
                .unwrap_or(0);
            actual == 0 && rs_replicas(rs) == 0 && rs.metadata.generation.unwrap_or(0) <= observed
        })
        .filter_map(|r| r.metadata.name.clone())
        .collect()
}

/// Whether the Deployment's selector selects everything (refused, as upstream).
pub fn selects_everything(d: &Deployment) -> bool {
    selector::is_empty(&d.spec.selector)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deploy(replicas: i32, strategy: serde_json::Value) -> Deployment {
        serde_json::from_value(json!({"metadata": {"name": "web", "generation": 1},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}}, "strategy": strategy,
                     "progressDeadlineSeconds": 600, "revisionHistoryLimit": 2,
                     "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}}}))
        .unwrap()
    }

    fn rs(
        name: &str,
        spec: i32,
        actual: i32,
        available: i32,
        created: &str,
        ann: serde_json::Value,
    ) -> ReplicaSet {
        serde_json::from_value(json!({"metadata": {"name": name, "creationTimestamp": created, "annotations": ann},
            "spec": {"replicas": spec, "selector": {}},
            "status": {"replicas": actual, "readyReplicas": available, "availableReplicas": available}}))
        .unwrap()
    }

    #[test]
    fn fenceposts_round_surge_up_and_unavailable_down() {
        let d = deploy(10, json!({"type": "RollingUpdate"}));
        assert_eq!(fenceposts(&d), (3, 2));
        let d = deploy(
            3,
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": "10%"}}),
        );
        assert_eq!(fenceposts(&d), (0, 1), "both zero: one unavailable allowed");
        let d = deploy(3, json!({"type": "Recreate"}));
        assert_eq!((max_surge(&d), max_unavailable(&d)), (0, 0));
    }

    #[test]
    fn rolling_update_steps() {
        // 4 replicas, 25%/25% -> surge 1, unavailable 1.
        let d = deploy(4, json!({"type": "RollingUpdate"}));
        let old = rs("old", 4, 4, 4, "2024-01-01T00:00:00Z", json!({}));
        let new = rs("new", 0, 0, 0, "2024-01-02T00:00:00Z", json!({}));
        let all = [&old, &new];
        assert_eq!(new_rs_new_replicas(&d, &all, &new), 1, "surge by one");
        let new = rs("new", 1, 1, 0, "2024-01-02T00:00:00Z", json!({}));
        let all = [&old, &new];
        // 5 pods, min available 3, new has 1 unavailable -> 1 old pod may go.
        assert_eq!(max_scaled_down(&d, &all, &new), 1);
        assert_eq!(
            scale_down_old(&d, &all, std::slice::from_ref(&old)),
            vec![("old".to_string(), 3)]
        );
        // Unhealthy old pods are removed first.
        let sick = rs("old", 4, 4, 2, "2024-01-01T00:00:00Z", json!({}));
        assert_eq!(
            cleanup_unhealthy(std::slice::from_ref(&sick), 1),
            vec![("old".to_string(), 3)]
        );
    }

    #[test]
    fn proportional_scaling_splits_by_size() {
        // 10 -> 15 mid-rollout with 25% surge (max 13 before, 19 after).
        let d = deploy(15, json!({"type": "RollingUpdate"}));
        let a = rs(
            "a",
            8,
            8,
            8,
            "2024-01-01T00:00:00Z",
            json!({MAX_REPLICAS: "13"}),
        );
        let b = rs(
            "b",
            5,
            5,
            0,
            "2024-01-02T00:00:00Z",
            json!({MAX_REPLICAS: "13"}),
        );
        let sizes: BTreeMap<String, i32> = proportional_scale(&d, &[a, b]).into_iter().collect();
        assert_eq!(sizes.values().sum::<i32>(), 15 + 4);
        assert_eq!(sizes["a"], 12);
        assert_eq!(sizes["b"], 7);
    }

    #[test]
    fn revisions_and_annotations() {
        let mut d = deploy(3, json!({"type": "RollingUpdate"}));
        d.metadata.annotations = Some(
            [
                ("team".to_string(), "a".to_string()),
                (LAST_APPLIED.to_string(), "{}".to_string()),
            ]
            .into(),
        );
        let mut r = rs("x", 0, 0, 0, "2024-01-01T00:00:00Z", json!({REVISION: "1"}));
        assert!(set_new_rs_annotations(&d, &mut r, 3, false));
        let ann = r.metadata.annotations.clone().unwrap();
        assert_eq!(ann[REVISION], "3");
        assert_eq!(ann[REVISION_HISTORY], "1");
        assert_eq!(ann["team"], "a");
        assert!(!ann.contains_key(LAST_APPLIED));
        assert_eq!(
            (ann[DESIRED_REPLICAS].as_str(), ann[MAX_REPLICAS].as_str()),
            ("3", "4")
        );
        let rss = vec![
            r.clone(),
            rs("y", 0, 0, 0, "2024-01-01T00:00:00Z", json!({REVISION: "2"})),
        ];
        assert_eq!(max_revision(&rss), 3);
    }

    #[test]
    fn status_and_conditions() {
        let d = deploy(3, json!({"type": "RollingUpdate"}));
        let new = rs("web-abc", 3, 3, 3, "2024-01-01T00:00:00Z", json!({}));
        let now = Timestamp::now();
        let st = rollout_status(&[&new], Some(&new), &d, now);
        assert_eq!(
            (
                st.replicas,
                st.updated_replicas,
                st.available_replicas,
                st.unavailable_replicas
            ),
            (Some(3), Some(3), Some(3), Some(0))
        );
        assert_eq!(st.observed_generation, Some(1));
        let av = get_condition(&st, "Available").unwrap();
        assert_eq!(
            (av.status.as_deref(), av.reason.as_deref()),
            (Some("True"), Some(MIN_AVAILABLE))
        );
        let pr = get_condition(&st, "Progressing").unwrap();
        assert_eq!(pr.reason.as_deref(), Some(NEW_RS_AVAILABLE));
        assert_eq!(
            pr.message.as_deref(),
            Some("ReplicaSet \"web-abc\" has successfully progressed.")
        );
        let half = rs("web-abc", 3, 3, 1, "2024-01-01T00:00:00Z", json!({}));
        let st = calculate_status(&[&half], Some(&half), &d, now);
        assert_eq!(
            get_condition(&st, "Available").unwrap().reason.as_deref(),
            Some(MIN_UNAVAILABLE)
        );
        assert_eq!(st.unavailable_replicas, Some(2));
    }

    #[test]
    fn history_cleanup_keeps_limit_and_skips_non_empty() {
        let d = deploy(1, json!({"type": "RollingUpdate"}));
        let old: Vec<ReplicaSet> = (1..=4)
            .map(|i| {
                rs(
                    &format!("r{i}"),
                    if i == 1 { 1 } else { 0 },
                    0,
                    0,
                    "2024-01-01T00:00:00Z",
                    json!({REVISION: i.to_string()}),
                )
            })
            .collect();
        assert_eq!(
            history_to_delete(&d, &old),
            vec!["r2".to_string()],
            "r1 still has replicas"
        );
    }
}
