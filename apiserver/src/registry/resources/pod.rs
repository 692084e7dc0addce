//! Pods.

use super::{default_field, field_at_path, object_field, pod_template};
use crate::registry::{Ctx, Strategy};
use crate::validation::field_error::FieldError;
use serde_json::{json, Value};

pub struct PodStrategy;

const FIELDS: &[&str] = &[
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.nominatedNodeName",
];

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

    fn field(&self, obj: &Value, label: &str) -> Option<String> {
        FIELDS.contains(&label).then(|| field_at_path(obj, label))
    }

    fn field_labels(&self) -> &'static [&'static str] {
        FIELDS
    }
}

/// The spec fields a pod update may change (kube-apiserver's ValidatePodUpdate).
fn mutable_view(spec: Option<&Value>) -> Value {
    let mut spec = spec.cloned().unwrap_or_else(|| json!({}));
    for list in ["containers", "initContainers"] {
        if let Some(cs) = spec.get_mut(list).and_then(Value::as_array_mut) {
            for c in cs {
                if let Some(m) = c.as_object_mut() {
                    m.remove("image");
                }
            }
        }
    }
    if let Some(m) = spec.as_object_mut() {
        for f in [
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
    vec![FieldError::forbidden(
        "spec",
        "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
    )]
}
