//! Pods.

use super::{default_field, object_field, pod_template};
use crate::registry::{Ctx, Pending, Strategy, WriteOp};
use crate::rest::status::{ApiError, ApiResult};
use crate::validation::field_error::FieldError;
use serde_json::{json, Value};

pub struct PodStrategy;

impl Strategy for PodStrategy {
    fn default(&self, obj: &mut Value, _ctx: &Ctx) {
        if let Some(spec) = object_field(obj, "spec") {
            pod_template::default_pod_spec(spec);
            let sa = spec
                .get("serviceAccount")
                .and_then(Value::as_str)
                .unwrap_or("default")
                .to_string();
            default_field(spec, "serviceAccountName", json!(sa));
            default_requests_from_limits(spec);
        }
        if let Some(status) = object_field(obj, "status") {
            default_field(status, "phase", json!("Pending"));
            default_field(status, "qosClass", json!("BestEffort"));
        }
    }

    fn validate_create(&self, obj: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        pod_template::validate_pod_spec(obj.get("spec"), "spec")
    }

    fn validate_update(&self, new: &Value, old: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        let mut errs = pod_template::validate_pod_spec(new.get("spec"), "spec");
        errs.extend(validate_pod_update(new, old));
        errs
    }

    /// Ephemeral containers and container resources change only through
    /// their subresources (`pods/ephemeralcontainers`, `pods/resize`).
    fn begin_write(&self, op: WriteOp<'_>, _ctx: &Ctx) -> ApiResult<Pending> {
        let WriteOp::Update {
            old,
            new,
            subresource,
        } = op
        else {
            return Ok(Pending::default());
        };
        let name = new
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let errs = match subresource {
            None if subresource_view(new) != subresource_view(old) => {
                vec![pod_update_forbidden()]
            }
            Some("ephemeralcontainers") => validate_ephemeral_update(new, old),
            _ => Vec::new(),
        };
        if errs.is_empty() {
            return Ok(Pending::default());
        }
        let target = crate::rest::status::Target {
            group: "",
            resource: "pods",
            kind: "Pod",
        };
        Err(ApiError::invalid(target, &name, &errs))
    }
}

/// `SetDefaults_Pod`: a container that states a limit but no request for a
/// resource requests its limit.
fn default_requests_from_limits(spec: &mut Value) {
    for list in ["initContainers", "containers"] {
        let containers = spec.get_mut(list).and_then(Value::as_array_mut);
        for c in containers.into_iter().flatten() {
            let Some(resources) = c.get_mut("resources").and_then(Value::as_object_mut) else {
                continue;
            };
            let limits = resources.get("limits").and_then(Value::as_object).cloned();
            let Some(limits) = limits.filter(|l| !l.is_empty()) else {
                continue;
            };
            let requests = resources.entry("requests").or_insert_with(|| json!({}));
            let Some(requests) = requests.as_object_mut() else {
                continue;
            };
            for (k, v) in limits {
                requests.entry(k).or_insert(v);
            }
        }
    }
}

/// What only the ephemeralcontainers and resize subresources change.
fn subresource_view(pod: &Value) -> Value {
    let resources = |list: &str| -> Vec<Value> {
        pod.pointer(&format!("/spec/{list}"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|c| json!([c.get("resources"), c.get("resizePolicy")]))
            .collect()
    };
    json!([
        pod.pointer("/spec/ephemeralContainers"),
        resources("containers"),
        resources("initContainers"),
    ])
}

/// Ephemeral containers may be added, never changed or removed
/// (`ValidatePodEphemeralContainersUpdate`).
fn validate_ephemeral_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let list = |pod: &Value| -> Vec<Value> {
        pod.pointer("/spec/ephemeralContainers")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let (new_list, old_list) = (list(new), list(old));
    let mut errs = Vec::new();
    for before in &old_list {
        let name = before
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let after = new_list
            .iter()
            .find(|c| c.get("name") == before.get("name"));
        match after {
            Some(after) if after == before => {}
            Some(_) => errs.push(FieldError::forbidden(
                "spec.ephemeralContainers",
                format!(
                    "existing ephemeral containers {} may not be changed",
                    crate::validation::field_error::go_quote(name)
                ),
            )),
            None => errs.push(FieldError::forbidden(
                "spec.ephemeralContainers",
                format!(
                    "existing ephemeral containers {} may not be removed",
                    crate::validation::field_error::go_quote(name)
                ),
            )),
        }
    }
    errs
}

fn pod_update_forbidden() -> FieldError {
    FieldError::forbidden(
        "spec",
        "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
    )
}

/// The spec fields a pod update may change (kube-apiserver's
/// ValidatePodUpdate); what the subresources own is checked in
/// `begin_write`, which knows the subresource.
fn mutable_view(spec: Option<&Value>) -> Value {
    let mut spec = spec.cloned().unwrap_or_else(|| json!({}));
    for list in ["containers", "initContainers"] {
        if let Some(cs) = spec.get_mut(list).and_then(Value::as_array_mut) {
            for c in cs {
                if let Some(m) = c.as_object_mut() {
                    for f in ["image", "resources", "resizePolicy"] {
                        m.remove(f);
                    }
                }
            }
        }
    }
    if let Some(m) = spec.as_object_mut() {
        for f in [
            "ephemeralContainers",
            "activeDeadlineSeconds",
            "tolerations",
            "terminationGracePeriodSeconds",
            "nodeName",
        ] {
            m.remove(f);
        }
    }
    spec
}

pub(crate) fn validate_pod_update(new: &Value, old: &Value) -> Vec<FieldError> {
    if mutable_view(new.get("spec")) == mutable_view(old.get("spec")) {
        return Vec::new();
    }
    vec![pod_update_forbidden()]
}

#[cfg(test)]
mod defaulting_tests {
    use super::*;

    #[test]
    fn requests_default_to_limits() {
        let mut spec = json!({"containers": [
            {"name": "a", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m"}}},
            {"name": "b", "resources": {}}]});
        default_requests_from_limits(&mut spec);
        assert_eq!(
            spec["containers"][0]["resources"]["requests"],
            json!({"cpu": "500m", "memory": "1Gi"})
        );
        assert_eq!(spec["containers"][1]["resources"], json!({}));
    }
}
