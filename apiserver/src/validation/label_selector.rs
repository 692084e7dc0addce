//! metav1 LabelSelector validation (`ValidateLabelSelector` and
//! `ValidateLabelSelectorRequirement` in apimachinery's
//! `pkg/apis/meta/v1/validation`).

use super::field_error::FieldError;
use super::names::{is_valid_label_value, validate_label_name, validate_labels};
use serde_json::Value;

/// A label selector at `path`; `allow_invalid_values` skips the checks of
/// `matchExpressions[].values` (kept for objects stored before they applied).
pub fn validate_label_selector(
    selector: Option<&Value>,
    allow_invalid_values: bool,
    path: &str,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let Some(sel) = selector.filter(|s| !s.is_null()) else {
        return errs;
    };
    errs.extend(validate_labels(
        sel.get("matchLabels"),
        &format!("{path}.matchLabels"),
    ));
    let exprs = sel.get("matchExpressions").and_then(Value::as_array);
    for (i, expr) in exprs.into_iter().flatten().enumerate() {
        let p = format!("{path}.matchExpressions[{i}]");
        errs.extend(validate_requirement(expr, allow_invalid_values, &p));
    }
    errs
}

/// One `matchExpressions` entry (`ValidateLabelSelectorRequirement`).
pub fn validate_requirement(
    expr: &Value,
    allow_invalid_values: bool,
    path: &str,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let operator = expr.get("operator").and_then(Value::as_str).unwrap_or("");
    let values: Vec<&str> = expr
        .get("values")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    match operator {
        "In" | "NotIn" if values.is_empty() => errs.push(FieldError::required(
            format!("{path}.values"),
            "must be specified when `operator` is 'In' or 'NotIn'",
        )),
        "Exists" | "DoesNotExist" if !values.is_empty() => errs.push(FieldError::forbidden(
            format!("{path}.values"),
            "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
        )),
        "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
        other => errs.push(FieldError::invalid(
            format!("{path}.operator"),
            other,
            "not a valid selector operator",
        )),
    }
    let key = expr.get("key").and_then(Value::as_str).unwrap_or("");
    errs.extend(validate_label_name(key, &format!("{path}.key")));
    if !allow_invalid_values {
        for (i, v) in values.iter().enumerate() {
            for msg in is_valid_label_value(v) {
                errs.push(FieldError::invalid(format!("{path}.values[{i}]"), *v, msg));
            }
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn msgs(sel: Value) -> Vec<String> {
        validate_label_selector(Some(&sel), false, "spec.selector")
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn operators_and_values() {
        assert!(msgs(json!({"matchLabels": {"a": "b"}})).is_empty());
        assert_eq!(
            msgs(json!({"matchExpressions": [{"key": "a", "operator": "In"}]})),
            ["spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'"]
        );
        assert_eq!(
            msgs(json!({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]})),
            ["spec.selector.matchExpressions[0].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'"]
        );
        assert_eq!(
            msgs(json!({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]})),
            ["spec.selector.matchExpressions[0].operator: Invalid value: \"Gt\": not a valid selector operator"]
        );
        assert_eq!(
            msgs(json!({"matchExpressions": [{"key": "a", "operator": "In", "values": ["-x"]}]})),
            ["spec.selector.matchExpressions[0].values[0]: Invalid value: \"-x\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"]
        );
    }
}
