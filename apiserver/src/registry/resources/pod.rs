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

    fn field(&self, obj: &Value, label: &str) -> Option<String> {
        FIELDS.contains(&label).then(|| field_at_path(obj, label))
    }

    fn field_labels(&self) -> &'static [&'static str] {
        FIELDS
    }
}
