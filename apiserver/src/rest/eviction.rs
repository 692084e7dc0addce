//! `pods/eviction`: a delete that asks first (policy/v1 Eviction), as
//! `kubectl drain` and cluster autoscalers send it.
//!
//! As kube-apiserver's eviction REST (`pkg/registry/core/pod/storage/
//! eviction.go`): a pod that has finished, is pending or is already being
//! deleted goes at once; otherwise the PodDisruptionBudget selecting it
//! must allow a disruption, which the eviction takes (decrementing
//! `status.disruptionsAllowed` and recording the pod in `disruptedPods`)
//! before the pod is deleted. A budget its controller has not yet observed
//! refuses evictions with 429, as does one with no disruptions left.

use super::codec::{decode_body, respond};
use super::delete::{delete_one, DeleteOptions};
use super::object_store::resource_version;
use super::request::{Query, RequestInfo};
use super::status::{ApiError, ApiResult};
use super::ApiState;
use crate::registry::catalog;
use crate::selectors::label_selector::LabelSelector;
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use serde_json::{json, Value};

const BUDGET_MESSAGE: &str = "Cannot evict pod as it would violate the pod's disruption budget.";

pub async fn evict(
    st: &ApiState,
    ri: &RequestInfo,
    q: &Query,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult<Response> {
    let eviction = decode_body(headers, body, "Eviction", "policy/v1")?;
    let named = eviction
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if named != ri.name() {
        return Err(ApiError::bad_request(
            "name in URL does not match name in Eviction object",
        ));
    }
    let opts = DeleteOptions::from_value(q, eviction.get("deleteOptions"))?;
    let dry_run = q.dry_run()? || opts.dry_run;
    let pod = st
        .store
        .get(ri.def, ri.namespace.as_deref(), ri.name())
        .await?;
    if !ignores_budgets(&pod) {
        take_disruption(st, ri, &pod, dry_run).await?;
    }
    delete_one(st, ri, ri.name(), &opts, dry_run).await?;
    let status = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "code": 201,
    });
    Ok(respond(
        StatusCode::CREATED,
        &status,
        super::codec::Format::Json,
    ))
}

/// Pods that have finished or not started, or are going already, are
/// evicted whatever the budgets say (`canIgnorePDB`).
fn ignores_budgets(pod: &Value) -> bool {
    let phase = pod
        .pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("Pending");
    matches!(phase, "Succeeded" | "Failed" | "Pending")
        || pod.pointer("/metadata/deletionTimestamp").is_some()
}

fn pod_ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

/// Checks the budget selecting the pod and takes one disruption from it.
async fn take_disruption(
    st: &ApiState,
    ri: &RequestInfo,
    pod: &Value,
    dry_run: bool,
) -> ApiResult<()> {
    let pdb_def = catalog()
        .lookup("policy", "v1", "poddisruptionbudgets")
        .ok_or_else(|| ApiError::internal("poddisruptionbudgets not served"))?;
    for _ in 0..8 {
        let budgets = st
            .store
            .list(pdb_def, ri.namespace.as_deref(), None, 0, |pdb| {
                selects(pdb, pod)
            })
            .await?
            .items;
        let pdb = match budgets.as_slice() {
            [] => return Ok(()),
            [one] => one,
            _ => {
                return Err(ApiError::internal(
                    "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
                ))
            }
        };
        let Some(updated) = decrement(pdb, pod, ri.name())? else {
            return Ok(());
        };
        if dry_run {
            return Ok(());
        }
        let rv = resource_version(pdb)?.unwrap_or_default();
        match st
            .store
            .update(pdb_def, updated, rv, Default::default())
            .await
        {
            Err(e) if e.reason == "Conflict" => continue,
            Err(e) => return Err(e),
            Ok(_) => return Ok(()),
        }
    }
    Err(ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "TooManyRequests",
        "Too many concurrent evictions; please try again.",
    ))
}

/// Whether the budget's selector selects the pod (a null selector selects
/// nothing, an empty one everything, as in policy/v1).
fn selects(pdb: &Value, pod: &Value) -> bool {
    LabelSelector::from_label_selector(pdb.pointer("/spec/selector"))
        .is_ok_and(|s| s.matches_object(pod))
}

/// The budget with one disruption taken, `None` when the pod may go
/// without taking one (an unhealthy pod the policy lets go), or the 429
/// that refuses the eviction (`checkAndDecrement`).
fn decrement(pdb: &Value, pod: &Value, pod_name: &str) -> ApiResult<Option<Value>> {
    let name = pdb
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let int = |p: &str| pdb.pointer(p).and_then(Value::as_i64).unwrap_or(0);
    if int("/status/observedGeneration") < int("/metadata/generation") {
        return Err(too_many_requests(format!(
            "The disruption budget {name} is still being processed by the server."
        )));
    }
    let (desired, current) = (int("/status/desiredHealthy"), int("/status/currentHealthy"));
    if !pod_ready(pod) {
        let policy = pdb
            .pointer("/spec/unhealthyPodEvictionPolicy")
            .and_then(Value::as_str);
        let healthy_enough = current >= desired && desired > 0;
        if policy == Some("AlwaysAllow") || healthy_enough {
            return Ok(None);
        }
    }
    let allowed = int("/status/disruptionsAllowed");
    if allowed < 0 {
        return Err(ApiError::forbidden(
            pdb_target(),
            name,
            "pdb disruptions allowed is negative",
        ));
    }
    if allowed == 0 {
        return Err(too_many_requests(format!(
            "The disruption budget {name} needs {desired} healthy pods and has {current} currently"
        )));
    }
    let mut out = pdb.clone();
    out["status"]["disruptionsAllowed"] = json!(allowed - 1);
    let now = super::meta::now_rfc3339();
    match out["status"]
        .get_mut("disruptedPods")
        .and_then(Value::as_object_mut)
    {
        Some(pods) => {
            pods.insert(pod_name.to_string(), json!(now));
        }
        None => out["status"]["disruptedPods"] = json!({ pod_name: now }),
    }
    if allowed == 1 {
        set_insufficient(&mut out, &now);
    }
    Ok(Some(out))
}

/// DisruptionAllowed=False once the last disruption is taken.
fn set_insufficient(pdb: &mut Value, now: &str) {
    let condition = json!({
        "type": "DisruptionAllowed",
        "status": "False",
        "reason": "InsufficientPods",
        "message": "",
        "observedGeneration": pdb.pointer("/metadata/generation").cloned().unwrap_or(json!(0)),
        "lastTransitionTime": now,
    });
    let status = &mut pdb["status"];
    match status.get_mut("conditions").and_then(Value::as_array_mut) {
        Some(list) => {
            list.retain(|c| c["type"] != "DisruptionAllowed");
            list.push(condition);
        }
        None => status["conditions"] = json!([condition]),
    }
}

fn pdb_target() -> super::status::Target<'static> {
    super::status::Target {
        group: "policy",
        resource: "poddisruptionbudget",
        kind: "PodDisruptionBudget",
    }
}

fn too_many_requests(cause: String) -> ApiError {
    let mut e = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "TooManyRequests",
        BUDGET_MESSAGE,
    );
    e.details = Some(json!({"causes": [{"reason": "DisruptionBudget", "message": cause}]}));
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pdb(allowed: i64, observed: i64) -> Value {
        json!({"metadata": {"name": "web", "generation": 1},
               "spec": {"selector": {"matchLabels": {"app": "web"}}},
               "status": {"observedGeneration": observed, "disruptionsAllowed": allowed,
                          "desiredHealthy": 2, "currentHealthy": 2}})
    }

    fn ready_pod() -> Value {
        json!({"metadata": {"name": "p", "labels": {"app": "web"}},
               "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}})
    }

    #[test]
    fn a_budget_with_no_disruptions_left_refuses() {
        let e = decrement(&pdb(0, 1), &ready_pod(), "p").unwrap_err();
        assert_eq!(e.code, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(e.message, BUDGET_MESSAGE);
        let cause = &e.details.unwrap()["causes"][0];
        assert_eq!(cause["reason"], "DisruptionBudget");
        assert_eq!(
            cause["message"],
            "The disruption budget web needs 2 healthy pods and has 2 currently"
        );
    }

    #[test]
    fn an_unobserved_budget_refuses() {
        let e = decrement(&pdb(1, 0), &ready_pod(), "p").unwrap_err();
        assert!(e.details.unwrap()["causes"][0]["message"]
            .as_str()
            .unwrap()
            .contains("is still being processed by the server"));
    }

    #[test]
    fn an_eviction_takes_a_disruption() {
        let out = decrement(&pdb(1, 1), &ready_pod(), "p").unwrap().unwrap();
        assert_eq!(out["status"]["disruptionsAllowed"], 0);
        assert!(out["status"]["disruptedPods"]["p"].is_string());
        assert_eq!(out["status"]["conditions"][0]["reason"], "InsufficientPods");
    }

    #[test]
    fn selection_follows_policy_v1() {
        assert!(selects(&pdb(1, 1), &ready_pod()));
        let everything = json!({"spec": {"selector": {}}});
        assert!(selects(&everything, &ready_pod()));
        let nothing = json!({"spec": {}});
        assert!(!selects(&nothing, &ready_pod()));
    }
}
