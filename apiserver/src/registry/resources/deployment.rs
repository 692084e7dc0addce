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
        validate_deployment(obj)
    }

    fn validate_update(&self, new: &Value, old: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        workload::with_immutable_selector(validate_deployment(new), new, old)
    }
}

/// `ValidateDeploymentSpec`.
pub(crate) fn validate_deployment(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let spec = obj.get("spec").cloned().unwrap_or_else(|| json!({}));
    workload::nonnegative(&mut errs, &spec, "/replicas", "spec.replicas");
    workload::validate_selector(&mut errs, &spec, "deployment");
    workload::validate_long_running_template(&mut errs, &spec, "ReplicaSet");
    let strategy = spec.get("strategy").cloned().unwrap_or_else(|| json!({}));
    let rolling = strategy.get("rollingUpdate").filter(|v| !v.is_null());
    match strategy.get("type").and_then(Value::as_str) {
        Some("Recreate") => {
            if rolling.is_some() {
                errs.push(FieldError::forbidden(
                    "spec.strategy.rollingUpdate",
                    "may not be specified when strategy `type` is 'Recreate'",
                ));
            }
        }
        Some("RollingUpdate") => match rolling {
            None => errs.push(FieldError::required(
                "spec.strategy.rollingUpdate",
                "this should be defaulted and never be nil",
            )),
            Some(ru) => {
                let zero = json!(0);
                let mu = ru
                    .get("maxUnavailable")
                    .filter(|v| !v.is_null())
                    .unwrap_or(&zero);
                let ms = ru.get("maxSurge").filter(|v| !v.is_null()).unwrap_or(&zero);
                let mu_path = "spec.strategy.rollingUpdate.maxUnavailable";
                workload::validate_int_or_percent(&mut errs, mu, mu_path);
                workload::validate_int_or_percent(
                    &mut errs,
                    ms,
                    "spec.strategy.rollingUpdate.maxSurge",
                );
                if workload::int_or_percent_value(mu) == 0
                    && workload::int_or_percent_value(ms) == 0
                {
                    errs.push(FieldError::invalid(
                        mu_path,
                        mu.clone(),
                        "may not be 0 when `maxSurge` is 0",
                    ));
                }
                workload::not_more_than_100_percent(&mut errs, mu, mu_path);
            }
        },
        _ => errs.push(FieldError::not_supported(
            "spec.strategy",
            strategy.clone(),
            &["Recreate", "RollingUpdate"],
        )),
    }
    workload::nonnegative(&mut errs, &spec, "/minReadySeconds", "spec.minReadySeconds");
    workload::nonnegative(
        &mut errs,
        &spec,
        "/revisionHistoryLimit",
        "spec.revisionHistoryLimit",
    );
    if let Some(p) = spec.get("progressDeadlineSeconds").and_then(Value::as_i64) {
        workload::nonnegative(
            &mut errs,
            &spec,
            "/progressDeadlineSeconds",
            "spec.progressDeadlineSeconds",
        );
        let min_ready = spec
            .get("minReadySeconds")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if p <= min_ready {
            errs.push(FieldError::invalid(
                "spec.progressDeadlineSeconds",
                p,
                "must be greater than minReadySeconds",
            ));
        }
    }
    errs
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
    workload::nonnegative(&mut errs, &spec, "/minReadySeconds", "spec.minReadySeconds");
    workload::validate_selector(&mut errs, &spec, "deployment");
    workload::validate_long_running_template(&mut errs, &spec, "ReplicaSet");
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::resources::workload::rendered;

    fn deploy() -> Value {
        let mut o = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "c", "image": "nginx:1"}]}
                }
            }
        });
        let Some(spec) = object_field(&mut o, "spec") else {
            unreachable!()
        };
        default_field(spec, "replicas", json!(1));
        default_field(spec, "revisionHistoryLimit", json!(10));
        default_field(spec, "progressDeadlineSeconds", json!(600));
        spec["strategy"] = json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}});
        default_template(spec);
        o
    }

    #[test]
    fn deployments_are_validated_as_kube_does() {
        let mut o = deploy();
        assert!(
            validate_deployment(&o).is_empty(),
            "{:?}",
            validate_deployment(&o)
        );
        o["spec"]["strategy"]["rollingUpdate"] = json!({"maxUnavailable": 0, "maxSurge": 0});
        o["spec"]["minReadySeconds"] = json!(700);
        assert_eq!(
            rendered(&validate_deployment(&o)),
            vec![
                "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0",
                "spec.progressDeadlineSeconds: Invalid value: 600: must be greater than minReadySeconds",
            ]
        );
        let old = deploy();
        let mut new = old.clone();
        new["spec"]["selector"] = json!({"matchLabels": {"app": "web", "v": "2"}});
        new["spec"]["template"]["metadata"]["labels"]["v"] = json!("2");
        assert_eq!(
            rendered(&workload::with_immutable_selector(
                validate_deployment(&new),
                &new,
                &old
            )),
            vec![
                r#"spec.selector: Invalid value: {"matchLabels":{"app":"web","v":"2"}}: field is immutable"#
            ]
        );
    }
}
