//! The built-in mutating admission kube-apiserver enables by default that
//! needs no controller: DefaultIngressClass (an Ingress without a class
//! gets the default IngressClass) and Priority (a pod's priority comes from
//! its PriorityClass, or the global default class). They run on create,
//! after defaulting and before validation, as admission does.

use super::status::{ApiError, ApiResult};
use super::ApiState;
use crate::registry::{catalog, ResourceDef};
use serde_json::{json, Value};

/// The annotation that marks the default IngressClass.
pub const DEFAULT_INGRESS_CLASS: &str = "ingressclass.kubernetes.io/is-default-class";
/// The deprecated annotation that names an Ingress's class.
const INGRESS_CLASS_ANNOTATION: &str = "kubernetes.io/ingress.class";

pub async fn admit_create(st: &ApiState, def: &ResourceDef, obj: &mut Value) -> ApiResult<()> {
    match (def.group, def.kind) {
        ("networking.k8s.io", "Ingress") => default_ingress_class(st, obj).await,
        ("", "Pod") => pod_priority(st, obj).await,
        _ => Ok(()),
    }
}

async fn list(st: &ApiState, group: &str, plural: &str) -> ApiResult<Vec<Value>> {
    let def = catalog()
        .lookup(group, "v1", plural)
        .ok_or_else(|| ApiError::internal(format!("{plural} not served")))?;
    Ok(st.store.list(def, None, None, 0, |_| true).await?.items)
}

fn name_of(obj: &Value) -> &str {
    obj.pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// DefaultIngressClass: the newest class annotated as default, when the
/// Ingress names none (by field or by the old annotation).
async fn default_ingress_class(st: &ApiState, ingress: &mut Value) -> ApiResult<()> {
    let has_class = ingress
        .pointer("/spec/ingressClassName")
        .is_some_and(|c| !c.is_null());
    let annotated = ingress
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(INGRESS_CLASS_ANNOTATION))
        .is_some();
    if has_class || annotated {
        return Ok(());
    }
    let classes = list(st, "networking.k8s.io", "ingressclasses").await?;
    let newest_default = classes
        .iter()
        .filter(|c| {
            c.pointer("/metadata/annotations")
                .and_then(|a| a.get(DEFAULT_INGRESS_CLASS))
                .and_then(Value::as_str)
                == Some("true")
        })
        .max_by_key(|c| {
            c.pointer("/metadata/creationTimestamp")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        });
    if let Some(class) = newest_default {
        if !ingress.get("spec").is_some_and(Value::is_object) {
            ingress["spec"] = json!({});
        }
        ingress["spec"]["ingressClassName"] = json!(name_of(class));
    }
    Ok(())
}

/// Priority: resolves `spec.priorityClassName` (or the global default
/// class) into `spec.priority` and `spec.preemptionPolicy`.
async fn pod_priority(st: &ApiState, pod: &mut Value) -> ApiResult<()> {
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

fn pod_forbidden(pod: &Value, why: &str) -> ApiError {
    let target = super::status::Target {
        group: "",
        resource: "pods",
        kind: "Pod",
    };
    ApiError::forbidden(target, name_of(pod), why)
}
