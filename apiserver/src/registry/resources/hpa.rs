//! autoscaling/v2 HorizontalPodAutoscalers (`pkg/apis/autoscaling/v2/defaults.go`,
//! `pkg/apis/autoscaling/validation`). autoscaling/v1 delegates here
//! through [`super::hpa_versions`].

use super::{default_field, object_field};
use crate::registry::{Ctx, NameRule, Strategy};
use crate::rest::meta::name_errors;
use crate::validation::field_error::FieldError;
use serde_json::{json, Value};

const MAX_STABILIZATION_WINDOW_SECONDS: i64 = 3600;
const MAX_PERIOD_SECONDS: i64 = 1800;
const METRIC_SOURCE_TYPES: &[&str] = &[
    "ContainerResource",
    "External",
    "Object",
    "Pods",
    "Resource",
];

pub struct HpaStrategy;

impl Strategy for HpaStrategy {
    fn default(&self, obj: &mut Value, _ctx: &Ctx) {
        defaults(obj);
    }

    fn validate_create(&self, obj: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        validate(obj)
    }
}

/// `SetDefaults_HorizontalPodAutoscaler`.
pub(crate) fn defaults(obj: &mut Value) {
    let Some(spec) = object_field(obj, "spec") else {
        return;
    };
    default_field(spec, "minReplicas", json!(1));
    if spec
        .get("metrics")
        .and_then(Value::as_array)
        .is_none_or(|m| m.is_empty())
    {
        spec["metrics"] = json!([{"type": "Resource", "resource": {"name": "cpu",
            "target": {"type": "Utilization", "averageUtilization": 80}}}]);
    }
    if spec.get("behavior").is_some_and(|b| !b.is_null()) {
        if let Some(behavior) = object_field(spec, "behavior") {
            let up = json!({"stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": [
                {"type": "Pods", "value": 4, "periodSeconds": 15},
                {"type": "Percent", "value": 100, "periodSeconds": 15}]});
            let down = json!({"selectPolicy": "Max", "policies": [
                {"type": "Percent", "value": 100, "periodSeconds": 15}]});
            for (key, rules) in [("scaleUp", up), ("scaleDown", down)] {
                match behavior.get_mut(key).filter(|v| v.is_object()) {
                    Some(given) => {
                        for (k, v) in rules.as_object().into_iter().flatten() {
                            default_field(given, k, v.clone());
                        }
                    }
                    None => behavior[key] = rules,
                }
            }
        }
    }
}

/// `validateHorizontalPodAutoscalerSpec` (minReplicas lower bound 1).
pub(crate) fn validate(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let spec = obj.get("spec").cloned().unwrap_or_else(|| json!({}));
    let min = spec.get("minReplicas").and_then(Value::as_i64);
    let max = spec.get("maxReplicas").and_then(Value::as_i64).unwrap_or(0);
    if let Some(m) = min.filter(|m| *m < 1) {
        errs.push(FieldError::invalid(
            "spec.minReplicas",
            m,
            "must be greater than or equal to 1",
        ));
    }
    if max < 1 {
        errs.push(FieldError::invalid(
            "spec.maxReplicas",
            max,
            "must be greater than 0",
        ));
    }
    if min.is_some_and(|m| max < m) {
        errs.push(FieldError::invalid(
            "spec.maxReplicas",
            max,
            "must be greater than or equal to `minReplicas`",
        ));
    }
    errs.extend(validate_object_reference(
        spec.get("scaleTargetRef"),
        "spec.scaleTargetRef",
    ));
    for (i, m) in spec
        .get("metrics")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        validate_metric_spec(&mut errs, m, &format!("spec.metrics[{i}]"));
    }
    if let Some(b) = spec.get("behavior").filter(|b| !b.is_null()) {
        for key in ["scaleUp", "scaleDown"] {
            if let Some(rules) = b.get(key).filter(|r| !r.is_null()) {
                validate_scaling_rules(&mut errs, rules, &format!("spec.behavior.{key}"));
            }
        }
    }
    errs
}

/// `ValidateCrossVersionObjectReference`.
fn validate_object_reference(r: Option<&Value>, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for key in ["kind", "name"] {
        let v = r
            .and_then(|r| r.get(key))
            .and_then(Value::as_str)
            .unwrap_or_default();
        if v.is_empty() {
            errs.push(FieldError::required(format!("{path}.{key}"), ""));
        } else {
            for msg in name_errors(NameRule::PathSegment, v) {
                errs.push(FieldError::invalid(format!("{path}.{key}"), v, msg));
            }
        }
    }
    errs
}

fn validate_metric_spec(errs: &mut Vec<FieldError>, m: &Value, path: &str) {
    let ty = m.get("type").and_then(Value::as_str).unwrap_or_default();
    if ty.is_empty() {
        errs.push(FieldError::required(
            format!("{path}.type"),
            "must specify a metric source type",
        ));
    }
    if !METRIC_SOURCE_TYPES.contains(&ty) {
        errs.push(FieldError::not_supported(
            format!("{path}.type"),
            ty,
            METRIC_SOURCE_TYPES,
        ));
    }
    // In the order kube-apiserver looks at them; the first one present is
    // validated.
    let sources = [
        "object",
        "external",
        "pods",
        "resource",
        "containerResource",
    ];
    let present: Vec<&str> = sources
        .iter()
        .copied()
        .filter(|s| m.get(*s).is_some_and(|v| !v.is_null()))
        .collect();
    if let Some(first) = present.first() {
        let src = &m[*first];
        let p = format!("{path}.{first}");
        match *first {
            "object" => validate_object_source(errs, src, &p),
            "pods" => validate_pods_source(errs, src, &p),
            "resource" => validate_resource_source(errs, src, &p, false),
            "containerResource" => validate_resource_source(errs, src, &p, true),
            _ => validate_external_source(errs, src, &p),
        }
    }
    let expected = match ty {
        "Object" => "object",
        "Pods" => "pods",
        "Resource" => "resource",
        "ContainerResource" => "containerResource",
        "External" => "external",
        _ => "",
    };
    if !expected.is_empty() && !present.contains(&expected) {
        errs.push(FieldError::required(
            format!("{path}.{expected}"),
            "must populate information for the given metric source",
        ));
    }
    if present.len() != 1 {
        let mut extra: Vec<&str> = present.into_iter().filter(|s| *s != expected).collect();
        extra.sort_unstable();
        for s in extra {
            errs.push(FieldError::forbidden(
                format!("{path}.{s}"),
                "must populate the given metric source only",
            ));
        }
    }
}

fn target_has(src: &Value, key: &str) -> bool {
    src.pointer(&format!("/target/{key}"))
        .is_some_and(|v| !v.is_null())
}

fn validate_object_source(errs: &mut Vec<FieldError>, src: &Value, path: &str) {
    errs.extend(validate_object_reference(
        src.get("describedObject"),
        &format!("{path}.describedObject"),
    ));
    validate_metric_identifier(errs, src.get("metric"), &format!("{path}.metric"));
    validate_metric_target(errs, src.get("target"), &format!("{path}.target"));
    if !target_has(src, "value") && !target_has(src, "averageValue") {
        errs.push(FieldError::required(
            format!("{path}.target.averageValue"),
            "must set either a target value or averageValue",
        ));
    }
}

fn validate_pods_source(errs: &mut Vec<FieldError>, src: &Value, path: &str) {
    validate_metric_identifier(errs, src.get("metric"), &format!("{path}.metric"));
    validate_metric_target(errs, src.get("target"), &format!("{path}.target"));
    if !target_has(src, "averageValue") {
        errs.push(FieldError::required(
            format!("{path}.target.averageValue"),
            "must specify a positive target averageValue",
        ));
    }
}

fn validate_external_source(errs: &mut Vec<FieldError>, src: &Value, path: &str) {
    validate_metric_identifier(errs, src.get("metric"), &format!("{path}.metric"));
    validate_metric_target(errs, src.get("target"), &format!("{path}.target"));
    let (value, average) = (target_has(src, "value"), target_has(src, "averageValue"));
    if !value && !average {
        errs.push(FieldError::required(
            format!("{path}.target.averageValue"),
            "must set either a target value for metric or a per-pod target",
        ));
    }
    if value && average {
        errs.push(FieldError::forbidden(
            format!("{path}.target.value"),
            "may not set both a target value for metric and a per-pod target",
        ));
    }
}

fn validate_resource_source(errs: &mut Vec<FieldError>, src: &Value, path: &str, container: bool) {
    let name = src.get("name").and_then(Value::as_str).unwrap_or_default();
    if name.is_empty() {
        errs.push(FieldError::required(
            format!("{path}.name"),
            "must specify a resource name",
        ));
    }
    if container {
        let c = src
            .get("container")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if c.is_empty() {
            errs.push(FieldError::required(
                format!("{path}.container"),
                "must specify a container",
            ));
        } else {
            for msg in crate::validation::names::is_dns1123_label(c) {
                errs.push(FieldError::invalid(format!("{path}.container"), c, msg));
            }
        }
    }
    validate_metric_target(errs, src.get("target"), &format!("{path}.target"));
    let (util, average) = (
        target_has(src, "averageUtilization"),
        target_has(src, "averageValue"),
    );
    if !util && !average {
        errs.push(FieldError::required(
            format!("{path}.target.averageUtilization"),
            "must set either a target raw value or a target utilization",
        ));
    }
    if util && average {
        errs.push(FieldError::forbidden(
            format!("{path}.target.averageValue"),
            "may not set both a target raw value and a target utilization",
        ));
    }
}

fn validate_metric_identifier(errs: &mut Vec<FieldError>, id: Option<&Value>, path: &str) {
    let name = id
        .and_then(|i| i.get("name"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    if name.is_empty() {
        errs.push(FieldError::required(
            format!("{path}.name"),
            "must specify a metric name",
        ));
    } else {
        for msg in name_errors(NameRule::PathSegment, name) {
            errs.push(FieldError::invalid(format!("{path}.name"), name, msg));
        }
    }
}

fn validate_metric_target(errs: &mut Vec<FieldError>, t: Option<&Value>, path: &str) {
    let empty = json!({});
    let t = t.unwrap_or(&empty);
    let ty = t.get("type").and_then(Value::as_str).unwrap_or_default();
    if ty.is_empty() {
        errs.push(FieldError::required(
            format!("{path}.type"),
            "must specify a metric target type",
        ));
    }
    if !["Utilization", "Value", "AverageValue"].contains(&ty) {
        errs.push(FieldError::invalid(
            format!("{path}.type"),
            ty,
            "must be either Utilization, Value, or AverageValue",
        ));
    }
    for key in ["value", "averageValue"] {
        if let Some(q) = t.get(key).filter(|v| !v.is_null()) {
            if !quantity_is_positive(q) {
                errs.push(FieldError::invalid(
                    format!("{path}.{key}"),
                    q.clone(),
                    "must be positive",
                ));
            }
        }
    }
    if let Some(u) = t.get("averageUtilization").and_then(Value::as_i64) {
        if u < 1 {
            errs.push(FieldError::invalid(
                format!("{path}.averageUtilization"),
                u,
                "must be greater than 0",
            ));
        }
    }
}

/// Whether a quantity (`"100m"`, `"1Gi"`, `2`) is above zero.
fn quantity_is_positive(q: &Value) -> bool {
    match q {
        Value::Number(n) => n.as_f64().is_some_and(|f| f > 0.0),
        Value::String(s) => {
            let s = s.trim();
            let num_end = s
                .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
                .unwrap_or(s.len());
            s[..num_end].parse::<f64>().is_ok_and(|f| f > 0.0)
        }
        _ => false,
    }
}

fn validate_scaling_rules(errs: &mut Vec<FieldError>, rules: &Value, path: &str) {
    if let Some(w) = rules
        .get("stabilizationWindowSeconds")
        .and_then(Value::as_i64)
    {
        let p = format!("{path}.stabilizationWindowSeconds");
        if w < 0 {
            errs.push(FieldError::invalid(
                p.clone(),
                w,
                "must be greater than or equal to zero",
            ));
        }
        if w > MAX_STABILIZATION_WINDOW_SECONDS {
            errs.push(FieldError::invalid(
                p,
                w,
                format!("must be less than or equal to {MAX_STABILIZATION_WINDOW_SECONDS}"),
            ));
        }
    }
    if let Some(sp) = rules.get("selectPolicy").and_then(Value::as_str) {
        if !["Max", "Min", "Disabled"].contains(&sp) {
            errs.push(FieldError::not_supported(
                format!("{path}.selectPolicy"),
                sp,
                &["Disabled", "Max", "Min"],
            ));
        }
    }
    let policies = rules.get("policies").and_then(Value::as_array);
    if policies.is_none_or(|p| p.is_empty()) {
        errs.push(FieldError::required(
            format!("{path}.policies"),
            "must specify at least one Policy",
        ));
    }
    for (i, policy) in policies.into_iter().flatten().enumerate() {
        let p = format!("{path}.policies[{i}]");
        let ty = policy
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if ty != "Pods" && ty != "Percent" {
            errs.push(FieldError::not_supported(
                format!("{p}.type"),
                ty,
                &["Percent", "Pods"],
            ));
        }
        let value = policy.get("value").and_then(Value::as_i64).unwrap_or(0);
        if value <= 0 {
            errs.push(FieldError::invalid(
                format!("{p}.value"),
                value,
                "must be greater than zero",
            ));
        }
        let period = policy
            .get("periodSeconds")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if period <= 0 {
            errs.push(FieldError::invalid(
                format!("{p}.periodSeconds"),
                period,
                "must be greater than zero",
            ));
        }
        if period > MAX_PERIOD_SECONDS {
            errs.push(FieldError::invalid(
                format!("{p}.periodSeconds"),
                period,
                format!("must be less than or equal to {MAX_PERIOD_SECONDS}"),
            ));
        }
    }
    if let Some(t) = rules.get("tolerance").filter(|v| !v.is_null()) {
        let negative = match t {
            Value::Number(n) => n.as_f64().is_some_and(|f| f < 0.0),
            Value::String(s) => {
                s.trim_start().starts_with('-')
                    && quantity_is_positive(&json!(&s.trim_start()[1..]))
            }
            _ => false,
        };
        if negative {
            errs.push(FieldError::invalid(
                format!("{path}.tolerance"),
                t.clone(),
                "must be greater than or equal to zero",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::resources::workload::rendered;

    fn hpa() -> Value {
        json!({
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "maxReplicas": 5}
        })
    }

    #[test]
    fn defaults_match_kube() {
        let mut o = hpa();
        defaults(&mut o);
        assert_eq!(o["spec"]["minReplicas"], 1);
        assert_eq!(
            o["spec"]["metrics"],
            json!([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}])
        );
        assert!(o["spec"].get("behavior").is_none());
        assert!(validate(&o).is_empty(), "{:?}", validate(&o));
        o["spec"]["behavior"] = json!({"scaleDown": {"stabilizationWindowSeconds": 60}});
        defaults(&mut o);
        assert_eq!(
            o["spec"]["behavior"],
            json!({
                "scaleDown": {"stabilizationWindowSeconds": 60, "selectPolicy": "Max",
                    "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]},
                "scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": [
                    {"type": "Pods", "value": 4, "periodSeconds": 15},
                    {"type": "Percent", "value": 100, "periodSeconds": 15}]}
            })
        );
        assert!(validate(&o).is_empty());
    }

    #[test]
    fn invalid_specs_are_reported_as_kube_does() {
        let mut o = hpa();
        defaults(&mut o);
        o["spec"]["minReplicas"] = json!(0);
        o["spec"]["maxReplicas"] = json!(0);
        o["spec"]["metrics"] = json!([
            {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 0}}},
            {"type": "Pods", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}},
            {"type": "Object", "object": {"describedObject": {"kind": "Service", "name": "s"}, "metric": {"name": "rps"}, "target": {"type": "Value", "value": "10"}},
             "external": {"metric": {"name": "q"}, "target": {"type": "Value", "value": "1"}}}
        ]);
        o["spec"]["behavior"] = json!({"scaleUp": {"selectPolicy": "Most", "policies": [{"type": "Pods", "value": 0, "periodSeconds": 2000}]}});
        assert_eq!(
            rendered(&validate(&o)),
            vec![
                "spec.minReplicas: Invalid value: 0: must be greater than or equal to 1",
                "spec.maxReplicas: Invalid value: 0: must be greater than 0",
                "spec.metrics[0].resource.target.averageUtilization: Invalid value: 0: must be greater than 0",
                "spec.metrics[1].pods: Required value: must populate information for the given metric source",
                "spec.metrics[2].external: Forbidden: must populate the given metric source only",
                r#"spec.behavior.scaleUp.selectPolicy: Unsupported value: "Most": supported values: "Disabled", "Max", "Min""#,
                "spec.behavior.scaleUp.policies[0].value: Invalid value: 0: must be greater than zero",
                "spec.behavior.scaleUp.policies[0].periodSeconds: Invalid value: 2000: must be less than or equal to 1800",
            ]
        );
    }

    #[test]
    fn target_reference_and_bounds() {
        let mut o = hpa();
        o["spec"]["scaleTargetRef"] = json!({"kind": "Deployment"});
        o["spec"]["minReplicas"] = json!(6);
        o["spec"]["metrics"] = json!([{"type": "Pods", "pods": {"metric": {"name": "a/b"}, "target": {"type": "AverageValue"}}}]);
        assert_eq!(
            rendered(&validate(&o)),
            vec![
                "spec.maxReplicas: Invalid value: 5: must be greater than or equal to `minReplicas`",
                "spec.scaleTargetRef.name: Required value",
                r#"spec.metrics[0].pods.metric.name: Invalid value: "a/b": may not contain '/'"#,
                "spec.metrics[0].pods.target.averageValue: Required value: must specify a positive target averageValue",
            ]
        );
        let mut o = hpa();
        o["spec"]["metrics"] = json!([{"type": "External", "external": {"metric": {"name": "q"}, "target": {"type": "Value", "value": "-1"}}}]);
        assert_eq!(
            rendered(&validate(&o)),
            vec![r#"spec.metrics[0].external.target.value: Invalid value: "-1": must be positive"#]
        );
    }
}
