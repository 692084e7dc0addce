//! node.k8s.io/v1 RuntimeClasses (`ValidateRuntimeClass`,
//! `ValidateRuntimeClassUpdate` in `pkg/apis/node/validation`).

use crate::registry::{Ctx, Strategy};
use crate::validation::checks::{invalid_each, present, str_at, validate_immutable};
use crate::validation::field_error::FieldError;
use crate::validation::names::{validate_label_name, validate_labels};
use crate::validation::quantity::validate_nonnegative;
use serde_json::{json, Value};

pub struct RuntimeClassStrategy;

impl Strategy for RuntimeClassStrategy {
    fn validate_create(&self, obj: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        validate_runtime_class(obj)
    }

    fn validate_update(&self, new: &Value, old: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        let mut errs = validate_runtime_class(new);
        errs.extend(validate_immutable(
            Some(&json!(str_at(new, "/handler"))),
            Some(&json!(str_at(old, "/handler"))),
            "handler",
        ));
        errs
    }
}

/// The handler is a DNS label; overhead quantities are non-negative;
/// scheduling node selectors are labels.
pub fn validate_runtime_class(obj: &Value) -> Vec<FieldError> {
    let handler = str_at(obj, "/handler");
    let mut errs = invalid_each(
        "handler",
        handler,
        crate::validation::names::is_dns1123_label(handler),
    );
    let pod_fixed = obj.pointer("/overhead/podFixed").and_then(Value::as_object);
    for (name, q) in pod_fixed.into_iter().flatten() {
        let path = format!("overhead.podFixed[{name}]");
        errs.extend(validate_label_name(name, &path));
        errs.extend(validate_nonnegative(q, &path));
    }
    if let Some(selector) = present(obj, "/scheduling/nodeSelector") {
        errs.extend(validate_labels(Some(selector), "scheduling.nodeSelector"));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handler_rules() {
        assert!(validate_runtime_class(&json!({"handler": "runc"})).is_empty());
        assert_eq!(
            validate_runtime_class(&json!({"handler": "Run_C"}))[0].to_string(),
            "handler: Invalid value: \"Run_C\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
        );
        let old = json!({"handler": "runc"});
        let new = json!({"handler": "kata"});
        let errs = validate_immutable(
            Some(&json!(str_at(&new, "/handler"))),
            Some(&json!(str_at(&old, "/handler"))),
            "handler",
        );
        assert_eq!(
            errs[0].to_string(),
            "handler: Invalid value: \"kata\": field is immutable"
        );
    }
}
