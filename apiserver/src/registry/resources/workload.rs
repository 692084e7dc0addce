//! Checks shared by the workload kinds (apps/v1 Deployments, ReplicaSets,
//! StatefulSets, DaemonSets, batch/v1 Jobs, core/v1 ReplicationControllers),
//! worded as kube-apiserver's `pkg/apis/apps/validation` words them.

use super::pod_template;
use crate::selectors::LabelSelector;
use crate::validation::field_error::FieldError;
use crate::validation::names;
use serde_json::{json, Map, Value};

/// `apivalidation.ValidateNonnegativeField` on `obj[pointer]` when it is set.
pub(crate) fn nonnegative(errs: &mut Vec<FieldError>, obj: &Value, pointer: &str, path: &str) {
    if let Some(v) = obj.pointer(pointer).and_then(Value::as_i64) {
        if v < 0 {
            errs.push(FieldError::invalid(
                path,
                v,
                "must be greater than or equal to 0",
            ));
        }
    }
}

/// A metav1.LabelSelector at `spec.selector`: required, non-empty, parseable,
/// matching the template's labels. `kind` names the kind in the "empty
/// selector is invalid for <kind>" message.
pub(crate) fn validate_selector(errs: &mut Vec<FieldError>, spec: &Value, kind: &str) {
    let selector = spec.get("selector").filter(|v| !v.is_null());
    match selector {
        None => errs.push(FieldError::required("spec.selector", "")),
        Some(sel) => {
            let n = sel
                .get("matchLabels")
                .and_then(Value::as_object)
                .map_or(0, Map::len)
                + sel
                    .get("matchExpressions")
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len);
            if n == 0 {
                errs.push(FieldError::invalid(
                    "spec.selector",
                    sel.clone(),
                    format!("empty selector is invalid for {kind}"),
                ));
            }
        }
    }
    match LabelSelector::from_label_selector(selector) {
        Err(_) => errs.push(FieldError::invalid(
            "spec.selector",
            selector.cloned().unwrap_or(Value::Null),
            "invalid label selector",
        )),
        Ok(sel) => {
            if !sel.is_empty() {
                check_template_labels(errs, spec, &sel);
            }
        }
    }
}

/// "`selector` does not match template `labels`" when `sel` does not
/// select the template's labels.
pub(crate) fn check_template_labels(errs: &mut Vec<FieldError>, spec: &Value, sel: &LabelSelector) {
    let labels = template_labels(spec);
    if !sel.matches(&labels) {
        errs.push(FieldError::invalid(
            "spec.template.metadata.labels",
            Value::Object(labels),
            "`selector` does not match template `labels`",
        ));
    }
}

/// The labels of `spec.template`.
pub(crate) fn template_labels(spec: &Value) -> Map<String, Value> {
    spec.pointer("/template/metadata/labels")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

/// The pod template of a long-running workload: its pod spec, restartPolicy
/// Always, no activeDeadlineSeconds (`kind` is the kind's name as in
/// "activeDeadlineSeconds in StatefulSet is not Supported").
pub(crate) fn validate_long_running_template(errs: &mut Vec<FieldError>, spec: &Value, kind: &str) {
    errs.extend(validate_template(spec.get("template"), "spec.template"));
    let restart = spec
        .pointer("/template/spec/restartPolicy")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if restart != "Always" {
        errs.push(FieldError::not_supported(
            "spec.template.spec.restartPolicy",
            restart,
            &["Always"],
        ));
    }
    if spec
        .pointer("/template/spec/activeDeadlineSeconds")
        .is_some_and(|v| !v.is_null())
    {
        errs.push(FieldError::forbidden(
            "spec.template.spec.activeDeadlineSeconds",
            format!("activeDeadlineSeconds in {kind} is not Supported"),
        ));
    }
}

/// `ValidatePodTemplateSpec` at `path`: labels and annotations (reported
/// at `<path>.labels`, as kube-apiserver does) and the pod spec.
pub(crate) fn validate_template(template: Option<&Value>, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let meta = template.and_then(|t| t.get("metadata"));
    errs.extend(names::validate_labels(
        meta.and_then(|m| m.get("labels")),
        &format!("{path}.labels"),
    ));
    errs.extend(names::validate_annotations(
        meta.and_then(|m| m.get("annotations")),
        &format!("{path}.annotations"),
    ));
    errs.extend(pod_template::validate_pod_spec(
        template.and_then(|t| t.get("spec")),
        &format!("{path}.spec"),
    ));
    errs
}

/// `ValidatePositiveIntOrPercent`: a non-negative integer or a `N%` string.
pub(crate) fn validate_int_or_percent(errs: &mut Vec<FieldError>, v: &Value, path: &str) {
    match v {
        Value::String(s) => {
            if percent_value(s).is_none() {
                errs.push(FieldError::invalid(path, v.clone(), percent_error()));
            }
        }
        Value::Number(n) => {
            if n.as_i64().is_some_and(|i| i < 0) {
                errs.push(FieldError::invalid(
                    path,
                    v.clone(),
                    "must be greater than or equal to 0",
                ));
            }
        }
        _ => errs.push(FieldError::invalid(
            path,
            v.clone(),
            "must be an integer or percentage (e.g '5%')",
        )),
    }
}

/// The message of apimachinery's `IsValidPercent`.
pub(crate) fn percent_error() -> String {
    names::regex_error(
        "a valid percent string must be a numeric string followed by an ending '%'",
        "[0-9]+%",
        &["1%", "93%"],
    )
}

/// The number in a valid `N%` string.
pub(crate) fn percent_value(s: &str) -> Option<i64> {
    let digits = s.strip_suffix('%')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(digits.parse().unwrap_or(i64::MAX))
}

/// `getIntOrPercentValue`: the percentage or integer, 0 otherwise.
pub(crate) fn int_or_percent_value(v: &Value) -> i64 {
    match v {
        Value::String(s) => percent_value(s).unwrap_or(0),
        other => other.as_i64().unwrap_or(0),
    }
}

/// `IsNotMoreThan100Percent`.
pub(crate) fn not_more_than_100_percent(errs: &mut Vec<FieldError>, v: &Value, path: &str) {
    if let Some(p) = v.as_str().and_then(percent_value) {
        if p > 100 {
            errs.push(FieldError::invalid(
                path,
                v.clone(),
                "must not be greater than 100%",
            ));
        }
    }
}

/// `ValidateImmutableField`: "field is immutable" when `pointer` changed.
pub(crate) fn immutable(
    errs: &mut Vec<FieldError>,
    new: &Value,
    old: &Value,
    pointer: &str,
    path: &str,
) {
    let a = new.pointer(pointer).filter(|v| !v.is_null());
    let b = old.pointer(pointer).filter(|v| !v.is_null());
    if a != b {
        errs.push(FieldError::invalid(
            path,
            a.cloned().unwrap_or(Value::Null),
            "field is immutable",
        ));
    }
}

/// `errs` plus apps/v1's immutable `spec.selector` (the update rule of
/// Deployments, ReplicaSets and DaemonSets).
pub(crate) fn with_immutable_selector(
    mut errs: Vec<FieldError>,
    new: &Value,
    old: &Value,
) -> Vec<FieldError> {
    immutable(&mut errs, new, old, "/spec/selector", "spec.selector");
    errs
}

/// The object with `spec` keys in `keep` replaced by the old object's.
pub(crate) fn spec_without(obj: &Value, old: &Value, keep: &[&str]) -> Value {
    let mut spec = obj.get("spec").cloned().unwrap_or_else(|| json!({}));
    if let Some(map) = spec.as_object_mut() {
        for k in keep {
            match old.pointer(&format!("/spec/{k}")) {
                Some(v) => {
                    map.insert((*k).to_string(), v.clone());
                }
                None => {
                    map.remove(*k);
                }
            }
        }
    }
    spec
}

#[cfg(test)]
pub(crate) fn rendered(errs: &[FieldError]) -> Vec<String> {
    errs.iter().map(ToString::to_string).collect()
}
