//! core/v1 ResourceQuotas (`ValidateResourceQuota`,
//! `ValidateResourceQuotaSpec`, `validateResourceQuotaScopes`).

use crate::registry::{Ctx, Strategy};
use crate::validation::checks::arr_at;
use crate::validation::field_error::FieldError;
use crate::validation::quantity::{quantity_string, quantity_value, validate_nonnegative};
use crate::validation::resource_names::{is_integer, validate_quota_resource_name};
use serde_json::Value;

pub struct ResourceQuotaStrategy;

const SCOPES: [&str; 7] = [
    "Terminating",
    "NotTerminating",
    "BestEffort",
    "NotBestEffort",
    "PriorityClass",
    "CrossNamespacePodAffinity",
    "VolumeAttributesClass",
];

impl Strategy for ResourceQuotaStrategy {
    fn validate_create(&self, obj: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        validate_quota(obj)
    }
}

/// `ValidateResourceQuantityValue`: non-negative, whole for counts.
pub fn validate_quantity_value(resource: &str, q: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = validate_nonnegative(q, path);
    if errs.is_empty() && is_integer(resource) {
        let v = quantity_value(q).unwrap_or(0.0);
        if v.fract() != 0.0 {
            errs.push(FieldError::invalid(
                path,
                quantity_string(q),
                "must be an integer",
            ));
        }
    }
    errs
}

/// A resource list (`spec.hard`, `status.used`, ...).
pub fn validate_quota_list(list: Option<&Value>, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (name, q) in list.and_then(Value::as_object).into_iter().flatten() {
        let p = format!("{path}[{name}]");
        errs.extend(validate_quota_resource_name(name, &p));
        errs.extend(validate_quantity_value(name, q, &p));
    }
    errs
}

/// `ValidateResourceQuota`: spec and status lists, known scopes.
pub fn validate_quota(obj: &Value) -> Vec<FieldError> {
    let mut errs = validate_quota_list(obj.pointer("/spec/hard"), "spec.hard");
    let scopes = arr_at(obj, "/spec/scopes");
    if scopes
        .iter()
        .any(|s| !s.as_str().is_some_and(|s| SCOPES.contains(&s)))
    {
        errs.push(FieldError::invalid(
            "spec.scopes",
            Value::Array(scopes.to_vec()),
            "unsupported scope",
        ));
    }
    errs.extend(validate_quota_list(
        obj.pointer("/status/hard"),
        "status.hard",
    ));
    errs.extend(validate_quota_list(
        obj.pointer("/status/used"),
        "status.used",
    ));
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quotas() {
        let ok = json!({"spec": {"hard": {"pods": "10", "requests.cpu": "4", "count/deployments.apps": "5"}}});
        assert!(validate_quota(&ok).is_empty());
        let bad = json!({"spec": {"hard": {"pods": "1500m", "widgets": "1", "cpu": "-1"}, "scopes": ["Sometimes"]}});
        let errs: Vec<String> = validate_quota(&bad)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            errs,
            [
                "spec.hard[pods]: Invalid value: \"1500m\": must be an integer",
                "spec.hard[widgets]: Invalid value: \"widgets\": must be a standard resource type or fully qualified",
                "spec.hard[widgets]: Invalid value: \"widgets\": must be a standard resource for quota",
                "spec.hard[cpu]: Invalid value: \"-1\": must be greater than or equal to 0",
                "spec.scopes: Invalid value: [\"Sometimes\"]: unsupported scope",
            ]
        );
    }
}
