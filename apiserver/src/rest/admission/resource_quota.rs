//! ResourceQuota admission (`staging/src/k8s.io/apiserver/pkg/admission/
//! plugin/resourcequota`): a create is refused when it would take a
//! namespace's quota over its hard limits, and otherwise charged to the
//! quotas' `status.used` at once, with optimistic concurrency, so two
//! creates racing for the last unit cannot both win. The resourcequota
//! controller later recounts `used` from the objects themselves (which
//! also returns what deleted objects and failed creates held).

use super::{forbidden, namespace_of};
use crate::registry::{catalog, ResourceDef};
use crate::rest::object_store::resource_version;
use crate::rest::status::{ApiError, ApiResult};
use crate::rest::ApiState;
use quota::resource_list::{self, ResourceList};
use serde_json::Value;

/// Attempts before a create that keeps losing the race for its quota's
/// status gives up (kube-apiserver retries its evaluation the same way).
const ATTEMPTS: usize = 8;

/// Kinds never charged: they are not kept, or are kept only briefly.
fn ignored(def: &ResourceDef) -> bool {
    def.kind == "Event" || !def.namespaced
}

pub async fn charge(st: &ApiState, def: &ResourceDef, obj: &Value, dry_run: bool) -> ApiResult<()> {
    if ignored(def) {
        return Ok(());
    }
    let Some(ns) = namespace_of(obj) else {
        return Ok(());
    };
    let quota_def = catalog()
        .lookup("", "v1", "resourcequotas")
        .ok_or_else(|| ApiError::internal("resourcequotas not served"))?;
    for _ in 0..ATTEMPTS {
        let quotas = st
            .store
            .list(quota_def, Some(ns), None, 0, |_| true)
            .await?
            .items;
        let charged = match evaluate(def, obj, &quotas, chrono::Utc::now()) {
            Ok(charged) => charged,
            Err(why) => return Err(forbidden(def, obj, &why)),
        };
        if dry_run || charged.is_empty() {
            return Ok(());
        }
        if write_all(st, quota_def, charged).await? {
            return Ok(());
        }
    }
    Err(ApiError::conflict_msg(
        def.target(),
        super::name_of(obj),
        &format!("too many concurrent changes to the resource quotas of namespace {ns}; please try again"),
    ))
}

/// Writes each quota's new usage; false when one had changed meanwhile
/// (the whole evaluation is then run again on fresh quotas).
async fn write_all(
    st: &ApiState,
    def: &'static ResourceDef,
    charged: Vec<Value>,
) -> ApiResult<bool> {
    for q in charged {
        let rv = resource_version(&q)?.unwrap_or_default();
        match st.store.update(def, q, rv, Default::default()).await {
            Err(e) if e.reason == "Conflict" => return Ok(false),
            Err(e) => return Err(e),
            Ok(_) => {}
        }
    }
    Ok(true)
}

fn status_list(q: &Value, key: &str) -> ResourceList {
    resource_list::from_json(q.pointer(&format!("/status/{key}")))
}

/// `checkRequest`: the quotas to update with their new `status.used`, or
/// the refusal's message.
pub fn evaluate(
    def: &ResourceDef,
    obj: &Value,
    quotas: &[Value],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<Value>, String> {
    let (group, plural) = (def.group, def.plural);
    let mut interesting = Vec::new();
    for q in quotas {
        if !quota::quota_matches(q, group, plural, obj) {
            continue;
        }
        let name = q
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let hard = status_list(q, "hard");
        let tracked = quota::tracked(q, &hard, group, plural);
        quota::constraints(group, plural, obj, &tracked)
            .map_err(|e| format!("failed quota: {name}: {e}"))?;
        let used = status_list(q, "used");
        if tracked.iter().any(|r| !used.contains_key(r)) {
            return Err(format!(
                "status unknown for quota: {name}, resources: {}",
                tracked.join(",")
            ));
        }
        if !tracked.is_empty() {
            interesting.push((q, name, hard, used));
        }
    }
    let delta = resource_list::remove_zeros(&quota::usage(group, plural, obj, now));
    if delta.is_empty() {
        return Ok(Vec::new());
    }
    let mut charged = Vec::new();
    for (q, name, hard, used) in interesting {
        let requested = resource_list::mask(&delta, hard.keys());
        let new_usage = resource_list::add(&used, &requested);
        let checked = resource_list::mask(&new_usage, requested.keys());
        let (ok, exceeded) = resource_list::less_than_or_equal(&checked, &hard);
        if !ok {
            return Err(format!(
                "exceeded quota: {name}, requested: {}, used: {}, limited: {}",
                resource_list::pretty_print(&resource_list::mask(&requested, &exceeded)),
                resource_list::pretty_print(&resource_list::mask(&used, &exceeded)),
                resource_list::pretty_print(&resource_list::mask(&hard, &exceeded)),
            ));
        }
        if requested.is_empty() {
            continue;
        }
        let mut updated = q.clone();
        updated["status"]["used"] = resource_list::to_json(&new_usage);
        charged.push(updated);
    }
    Ok(charged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pods_def() -> &'static ResourceDef {
        catalog().lookup("", "v1", "pods").expect("pods")
    }

    fn quota(hard: Value, used: Value) -> Value {
        json!({"metadata": {"name": "compute"}, "spec": {"hard": hard},
               "status": {"hard": hard, "used": used}})
    }

    fn pod(cpu: &str) -> Value {
        json!({"metadata": {"name": "p", "namespace": "ns"}, "spec": {"containers": [
            {"name": "a", "resources": {"requests": {"cpu": cpu}, "limits": {"cpu": cpu}}}]}})
    }

    #[test]
    fn charges_within_the_limits() {
        let q = quota(
            json!({"pods": "2", "requests.cpu": "1"}),
            json!({"pods": "1", "requests.cpu": "500m"}),
        );
        let charged =
            evaluate(pods_def(), &pod("250m"), &[q], chrono::Utc::now()).expect("admitted");
        assert_eq!(
            charged[0]["status"]["used"],
            json!({"pods": "2", "requests.cpu": "750m"})
        );
    }

    #[test]
    fn refuses_over_the_limits_with_kubes_message() {
        let q = quota(
            json!({"pods": "2", "requests.cpu": "1"}),
            json!({"pods": "2", "requests.cpu": "500m"}),
        );
        let err =
            evaluate(pods_def(), &pod("750m"), &[q], chrono::Utc::now()).expect_err("refused");
        assert_eq!(
            err,
            "exceeded quota: compute, requested: pods=1,requests.cpu=750m, used: pods=2,requests.cpu=500m, limited: pods=2,requests.cpu=1"
        );
    }

    #[test]
    fn compute_quotas_need_explicit_requests() {
        let q = quota(
            json!({"limits.memory": "1Gi"}),
            json!({"limits.memory": "0"}),
        );
        let err = evaluate(pods_def(), &pod("1"), &[q], chrono::Utc::now()).expect_err("refused");
        assert_eq!(err, "failed quota: compute: must specify limits.memory");
    }

    #[test]
    fn unsynced_quotas_do_not_restrict_and_unknown_usage_refuses() {
        let fresh = json!({"metadata": {"name": "compute"}, "spec": {"hard": {"pods": "0"}}});
        assert_eq!(
            evaluate(pods_def(), &pod("1"), &[fresh], chrono::Utc::now()),
            Ok(vec![])
        );
        let unknown = json!({"metadata": {"name": "compute"}, "status": {"hard": {"pods": "1"}}});
        assert_eq!(
            evaluate(pods_def(), &pod("1"), &[unknown], chrono::Utc::now()),
            Err("status unknown for quota: compute, resources: pods".to_string())
        );
    }
}
