//! scheduling.k8s.io/v1 PriorityClasses (`ValidatePriorityClass`,
//! `ValidatePriorityClassUpdate`, `SetDefaults_PriorityClass`).

use crate::registry::{Ctx, Strategy};
use crate::validation::checks::{present, str_at, validate_immutable};
use crate::validation::field_error::FieldError;
use serde_json::{json, Value};

pub struct PriorityClassStrategy;

/// The highest value a user-defined class may have.
const HIGHEST_USER_DEFINABLE: i64 = 1_000_000_000;
/// The built-in classes: name, value (neither is the global default).
const SYSTEM_CLASSES: [(&str, i64); 2] = [
    ("system-node-critical", 2_000_001_000),
    ("system-cluster-critical", 2_000_000_000),
];

impl Strategy for PriorityClassStrategy {
    fn default(&self, obj: &mut Value, _ctx: &Ctx) {
        super::default_field(obj, "preemptionPolicy", json!("PreemptLowerPriority"));
    }

    fn validate_create(&self, obj: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        validate_priority_class(obj)
    }

    fn validate_update(&self, new: &Value, old: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        validate_update(new, old)
    }
}

/// `IsKnownSystemPriorityClass`: why a `system-` class is refused.
fn system_class_error(name: &str, value: i64, global_default: bool) -> Option<String> {
    let Some((_, expected)) = SYSTEM_CLASSES.iter().find(|(n, _)| *n == name) else {
        return Some(format!("{name} is not a known system priority class"));
    };
    if *expected != value {
        return Some(format!("value of {name} PriorityClass must be {expected}"));
    }
    global_default.then(|| format!("globalDefault of {name} PriorityClass must be false"))
}

/// `ValidatePriorityClass`.
pub fn validate_priority_class(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let name = str_at(obj, "/metadata/name");
    let value = obj.get("value").and_then(Value::as_i64).unwrap_or(0);
    let global_default = obj
        .get("globalDefault")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if name.starts_with("system-") {
        if let Some(e) = system_class_error(name, value, global_default) {
            errs.push(FieldError::forbidden(
                "metadata.name",
                format!("priority class names with 'system-' prefix are reserved for system use only. error: {e}"),
            ));
        }
    } else if value > HIGHEST_USER_DEFINABLE {
        errs.push(FieldError::forbidden(
            "value",
            format!("maximum allowed value of a user defined priority is {HIGHEST_USER_DEFINABLE}"),
        ));
    }
    if let Some(policy) = present(obj, "/preemptionPolicy") {
        match policy.as_str() {
            Some("PreemptLowerPriority" | "Never") => {}
            Some("") => errs.push(FieldError::required("preemptionPolicy", "")),
            _ => errs.push(FieldError::not_supported(
                "preemptionPolicy",
                policy.clone(),
                &["PreemptLowerPriority", "Never"],
            )),
        }
    }
    errs
}

/// `ValidatePriorityClassUpdate`: value and preemption policy are fixed.
pub fn validate_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let value = |o: &Value| o.get("value").and_then(Value::as_i64).unwrap_or(0);
    if value(new) != value(old) {
        errs.push(FieldError::forbidden(
            "value",
            "may not be changed in an update.",
        ));
    }
    errs.extend(validate_immutable(
        present(new, "/preemptionPolicy"),
        present(old, "/preemptionPolicy"),
        "preemptionPolicy",
    ));
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::validation::field_error::strs;

    #[test]
    fn values_and_names() {
        let pc = json!({"metadata": {"name": "high"}, "value": 2_000_000_000i64, "preemptionPolicy": "Sometimes"});
        assert_eq!(
            strs(validate_priority_class(&pc)),
            [
                "value: Forbidden: maximum allowed value of a user defined priority is 1000000000",
                "preemptionPolicy: Unsupported value: \"Sometimes\": supported values: \"PreemptLowerPriority\", \"Never\"",
            ]
        );
        let sys = json!({"metadata": {"name": "system-mine"}, "value": 1});
        assert_eq!(
            strs(validate_priority_class(&sys)),
            ["metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: system-mine is not a known system priority class"]
        );
        let known =
            json!({"metadata": {"name": "system-node-critical"}, "value": 2_000_001_000i64});
        assert!(validate_priority_class(&known).is_empty());
    }

    #[test]
    fn immutable_value() {
        let old = json!({"value": 10, "preemptionPolicy": "Never"});
        let new = json!({"value": 11, "preemptionPolicy": "PreemptLowerPriority"});
        assert_eq!(
            strs(validate_update(&new, &old)),
            [
                "value: Forbidden: may not be changed in an update.",
                "preemptionPolicy: Invalid value: \"PreemptLowerPriority\": field is immutable",
            ]
        );
    }
}
