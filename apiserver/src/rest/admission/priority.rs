//! Priority: a pod's priority comes from its PriorityClass, or from the
//! global default class (`plugin/pkg/admission/priority`).

use super::{list, name_of, pod_forbidden};
use crate::rest::status::ApiResult;
use crate::rest::ApiState;
use serde_json::{json, Value};

/// Priority: resolves `spec.priorityClassName` (or the global default
/// class) into `spec.priority` and `spec.preemptionPolicy`.
pub async fn pod_priority(st: &ApiState, pod: &mut Value) -> ApiResult<()> {
    let wanted = pod
        .pointer("/spec/priorityClassName")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .map(str::to_string);
    let classes = list(st, "scheduling.k8s.io", "priorityclasses").await?;
    let class = match &wanted {
        Some(name) => Some(classes.iter().find(|c| name_of(c) == name).ok_or_else(|| {
            pod_forbidden(pod, &format!("no PriorityClass with name {name} was found"))
        })?),
        None => classes
            .iter()
            .filter(|c| c.get("globalDefault").and_then(Value::as_bool) == Some(true))
            .min_by_key(|c| c.get("value").and_then(Value::as_i64).unwrap_or(0)),
    };
    let (priority, policy) = match class {
        Some(c) => (
            c.get("value").and_then(Value::as_i64).unwrap_or(0),
            c.get("preemptionPolicy")
                .cloned()
                .unwrap_or(json!("PreemptLowerPriority")),
        ),
        None => (0, json!("PreemptLowerPriority")),
    };
    let given = pod.pointer("/spec/priority").and_then(Value::as_i64);
    if let Some(given) = given.filter(|g| *g != priority) {
        return Err(pod_forbidden(
            pod,
            &format!("the integer value of priority ({given}) must not be provided in pod spec; priority admission controller computed {priority} from the given PriorityClass name"),
        ));
    }
    if !pod.get("spec").is_some_and(Value::is_object) {
        return Ok(());
    }
    pod["spec"]["priority"] = json!(priority);
    if pod.pointer("/spec/preemptionPolicy").is_none() {
        pod["spec"]["preemptionPolicy"] = policy;
    }
    if let (Some(c), None) = (class, wanted) {
        pod["spec"]["priorityClassName"] = json!(name_of(c));
    }
    Ok(())
}
