//! policy/v1 PodDisruptionBudgets (`pkg/apis/policy/validation`,
//! `pkg/registry/policy/poddisruptionbudget`).

use super::workload;
use crate::registry::{Ctx, Strategy};
use crate::validation::field_error::FieldError;
use serde_json::{json, Value};

pub struct PdbStrategy;

impl Strategy for PdbStrategy {
    fn validate_create(&self, obj: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        validate(obj)
    }
}

/// `ValidatePodDisruptionBudgetSpec`.
pub(crate) fn validate(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let spec = obj.get("spec").cloned().unwrap_or_else(|| json!({}));
    let min = spec.get("minAvailable").filter(|v| !v.is_null());
    let max = spec.get("maxUnavailable").filter(|v| !v.is_null());
    if min.is_some() && max.is_some() {
        // The spec as Go marshals it: fields in struct order.
        let mut go_order = serde_json::Map::new();
        for k in [
            "minAvailable",
            "selector",
            "maxUnavailable",
            "unhealthyPodEvictionPolicy",
        ] {
            if let Some(v) = spec.get(k).filter(|v| !v.is_null()) {
                go_order.insert(k.to_string(), v.clone());
            }
        }
        errs.push(FieldError::invalid(
            "spec",
            Value::Object(go_order),
            "minAvailable and maxUnavailable cannot be both set",
        ));
    }
    for (v, path) in [(min, "spec.minAvailable"), (max, "spec.maxUnavailable")] {
        if let Some(v) = v {
            workload::validate_int_or_percent(&mut errs, v, path);
            workload::not_more_than_100_percent(&mut errs, v, path);
        }
    }
    if let Some(sel) = spec.get("selector").filter(|v| !v.is_null()) {
        if let Err(e) = crate::selectors::LabelSelector::from_label_selector(Some(sel)) {
            errs.push(FieldError::invalid(
                "spec.selector",
                sel.clone(),
                e.to_string(),
            ));
        }
    }
    if let Some(p) = spec
        .get("unhealthyPodEvictionPolicy")
        .and_then(Value::as_str)
    {
        if p != "IfHealthyBudget" && p != "AlwaysAllow" {
            errs.push(FieldError::not_supported(
                "spec.unhealthyPodEvictionPolicy",
                p,
                &["AlwaysAllow", "IfHealthyBudget"],
            ));
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::resources::workload::rendered;

    fn pdb(spec: Value) -> Value {
        json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": {"name": "web", "namespace": "default"}, "spec": spec})
    }

    #[test]
    fn valid_budgets() {
        for spec in [
            json!({"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}}),
            json!({"maxUnavailable": "25%", "unhealthyPodEvictionPolicy": "AlwaysAllow"}),
        ] {
            assert!(validate(&pdb(spec.clone())).is_empty(), "{spec}");
        }
    }

    #[test]
    fn invalid_budgets_are_reported_as_kube_does() {
        let o = pdb(json!({"maxUnavailable": -1, "minAvailable": "120%"}));
        assert_eq!(
            rendered(&validate(&o)),
            vec![
                r#"spec: Invalid value: {"minAvailable":"120%","maxUnavailable":-1}: minAvailable and maxUnavailable cannot be both set"#,
                r#"spec.minAvailable: Invalid value: "120%": must not be greater than 100%"#,
                "spec.maxUnavailable: Invalid value: -1: must be greater than or equal to 0",
            ]
        );
        let o = pdb(json!({"minAvailable": "half", "unhealthyPodEvictionPolicy": "Never"}));
        assert_eq!(
            rendered(&validate(&o)),
            vec![
                r#"spec.minAvailable: Invalid value: "half": a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"#,
                r#"spec.unhealthyPodEvictionPolicy: Unsupported value: "Never": supported values: "AlwaysAllow", "IfHealthyBudget""#,
            ]
        );
    }
}
