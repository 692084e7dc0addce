//! apps/v1 Deployments.

use super::{default_field, object_field, pod_template, workload};
use crate::registry::{Ctx, Strategy};
use crate::validation::field_error::FieldError;
use serde_json::{json, Value};

pub struct DeploymentStrategy;

impl Strategy for DeploymentStrategy {
    fn default(&self, obj: &mut Value, _ctx: &Ctx) {
        let Some(spec) = object_field(obj, "spec") else {
            return;
        };
        default_field(spec, "replicas", json!(1));
        default_field(spec, "revisionHistoryLimit", json!(10));
        default_field(spec, "progressDeadlineSeconds", json!(600));
        default_field(
            spec,
            "strategy",
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}),
        );
        if let Some(strategy) = object_field(spec, "strategy") {
            default_field(strategy, "type", json!("RollingUpdate"));
            if strategy.get("type").and_then(Value::as_str) == Some("RollingUpdate") {
                if let Some(ru) = object_field(strategy, "rollingUpdate") {
                    default_field(ru, "maxUnavailable", json!("25%"));
                    default_field(ru, "maxSurge", json!("25%"));
                }
            }
        }
        default_template(spec);
    }

    fn validate_create(&self, obj: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        validate_workload(obj)
    }
}

/// Defaults the embedded pod template of a workload spec.
pub(crate) fn default_template(spec: &mut Value) {
    if let Some(template) = object_field(spec, "template") {
        if let Some(pod_spec) = object_field(template, "spec") {
            pod_template::default_pod_spec(pod_spec);
        }
    }
}

/// Selector/template checks shared by Deployments and ReplicaSets
/// (`ValidatePodTemplateSpecForReplicaSet`, whose words both kinds share).
pub(crate) fn validate_workload(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let spec = obj.get("spec").cloned().unwrap_or_else(|| json!({}));
    workload::nonnegative(&mut errs, &spec, "/replicas", "spec.replicas");
    workload::validate_selector(&mut errs, &spec, "deployment");
    workload::validate_long_running_template(&mut errs, &spec, "ReplicaSet");
    errs
}
