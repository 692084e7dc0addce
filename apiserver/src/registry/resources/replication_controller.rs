//! core/v1 ReplicationControllers (`pkg/apis/core/v1/defaults.go`,
//! `ValidateReplicationController`, `pkg/registry/core/replicationcontroller`).

use super::{default_field, deployment, object_field, workload};
use crate::registry::{Ctx, Strategy};
use crate::selectors::LabelSelector;
use crate::validation::field_error::FieldError;
use serde_json::{json, Value};

pub struct ReplicationControllerStrategy;

impl Strategy for ReplicationControllerStrategy {
    fn default(&self, obj: &mut Value, _ctx: &Ctx) {
        defaults(obj);
    }

    fn validate_create(&self, obj: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        validate(obj)
    }
}

/// `SetDefaults_ReplicationController`: the template's labels become the
/// selector and the object's labels when those are empty.
pub(crate) fn defaults(obj: &mut Value) {
    let labels = obj
        .pointer("/spec/template/metadata/labels")
        .filter(|l| l.is_object())
        .cloned();
    let is_empty = |v: Option<&Value>| v.and_then(Value::as_object).is_none_or(|m| m.is_empty());
    if let Some(labels) = labels {
        if is_empty(obj.pointer("/spec/selector")) {
            if let Some(spec) = object_field(obj, "spec") {
                spec["selector"] = labels.clone();
            }
        }
        if is_empty(obj.pointer("/metadata/labels")) {
            if let Some(meta) = object_field(obj, "metadata") {
                meta["labels"] = labels;
            }
        }
    }
    if let Some(spec) = object_field(obj, "spec") {
        default_field(spec, "replicas", json!(1));
        if spec.get("template").is_some_and(|t| !t.is_null()) {
            deployment::default_template(spec);
        }
    }
}

/// `ValidateReplicationControllerSpec`.
pub(crate) fn validate(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let spec = obj.get("spec").cloned().unwrap_or_else(|| json!({}));
    workload::nonnegative(&mut errs, &spec, "/minReadySeconds", "spec.minReadySeconds");
    let selector = spec.get("selector").and_then(Value::as_object);
    if selector.is_none_or(|s| s.is_empty()) {
        errs.push(FieldError::required("spec.selector", ""));
    }
    workload::nonnegative(&mut errs, &spec, "/replicas", "spec.replicas");
    if spec.get("template").is_none_or(Value::is_null) {
        errs.push(FieldError::required("spec.template", ""));
        return errs;
    }
    if let Some(sel) = selector.filter(|s| !s.is_empty()) {
        workload::check_template_labels(&mut errs, &spec, &LabelSelector::from_map(sel));
    }
    workload::validate_long_running_template(&mut errs, &spec, "ReplicationController");
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::resources::workload::rendered;

    fn rc() -> Value {
        let mut o = json!({
            "apiVersion": "v1", "kind": "ReplicationController",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": "nginx:1"}]}
            }}
        });
        defaults(&mut o);
        o
    }

    #[test]
    fn defaults_come_from_the_template() {
        let o = rc();
        assert_eq!(o["spec"]["selector"], json!({"app": "web"}));
        assert_eq!(o["metadata"]["labels"], json!({"app": "web"}));
        assert_eq!(o["spec"]["replicas"], 1);
        assert_eq!(o["spec"]["template"]["spec"]["restartPolicy"], "Always");
        assert!(validate(&o).is_empty(), "{:?}", validate(&o));
    }

    #[test]
    fn invalid_specs_are_reported_as_kube_does() {
        let mut o = rc();
        o["spec"]["selector"] = json!({"app": "other"});
        o["spec"]["replicas"] = json!(-2);
        o["spec"]["template"]["spec"]["restartPolicy"] = json!("OnFailure");
        assert_eq!(
            rendered(&validate(&o)),
            vec![
                "spec.replicas: Invalid value: -2: must be greater than or equal to 0",
                r#"spec.template.metadata.labels: Invalid value: {"app":"web"}: `selector` does not match template `labels`"#,
                r#"spec.template.spec.restartPolicy: Unsupported value: "OnFailure": supported values: "Always""#,
            ]
        );
        let o = json!({"spec": {}});
        assert_eq!(
            rendered(&validate(&o)),
            vec![
                "spec.selector: Required value",
                "spec.template: Required value"
            ]
        );
    }
}
