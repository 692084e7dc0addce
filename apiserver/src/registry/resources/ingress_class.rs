//! networking.k8s.io/v1 IngressClasses (`ValidateIngressClass`,
//! `SetDefaults_IngressClass`).

use crate::registry::{Ctx, Strategy};
use crate::validation::checks::{
    invalid_each, is_path_segment_name, present, str_at, validate_domain_prefixed_path,
    validate_immutable,
};
use crate::validation::field_error::FieldError;
use crate::validation::names::{is_dns1123_label, is_dns1123_subdomain};
use serde_json::{json, Value};

pub struct IngressClassStrategy;

/// The longest controller name accepted.
const MAX_CONTROLLER_LEN: i64 = 250;

impl Strategy for IngressClassStrategy {
    fn default(&self, obj: &mut Value, _ctx: &Ctx) {
        default_ingress_class(obj);
    }

    fn validate_create(&self, obj: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        validate_spec(obj)
    }

    fn validate_update(&self, new: &Value, old: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        validate_update(new, old)
    }
}

/// `SetDefaults_IngressClass`: parameters default to the Cluster scope.
pub fn default_ingress_class(obj: &mut Value) {
    if let Some(params) = obj
        .pointer_mut("/spec/parameters")
        .filter(|p| p.is_object())
    {
        super::default_field(params, "scope", json!("Cluster"));
    }
}

/// `ValidateIngressClassUpdate`: the controller is immutable.
pub fn validate_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errs = validate_immutable(
        Some(&json!(str_at(new, "/spec/controller"))),
        Some(&json!(str_at(old, "/spec/controller"))),
        "spec.controller",
    );
    errs.extend(validate_spec(new));
    errs
}

/// `validateIngressClassSpec`.
pub fn validate_spec(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let controller = str_at(obj, "/spec/controller");
    if controller.is_empty() {
        errs.push(FieldError::required("spec.controller", ""));
    } else {
        if controller.len() as i64 > MAX_CONTROLLER_LEN {
            errs.push(FieldError::too_long("spec.controller", MAX_CONTROLLER_LEN));
        }
        errs.extend(validate_domain_prefixed_path("spec.controller", controller));
    }
    if let Some(params) = present(obj, "/spec/parameters") {
        errs.extend(validate_parameters(params, "spec.parameters"));
    }
    errs
}

/// `validateIngressClassParametersReference`.
fn validate_parameters(params: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if let Some(group) = present(params, "/apiGroup").and_then(Value::as_str) {
        errs.extend(invalid_each(
            &format!("{path}.apiGroup"),
            group,
            is_dns1123_subdomain(group),
        ));
    }
    for key in ["kind", "name"] {
        let v = str_at(params, &format!("/{key}"));
        let p = format!("{path}.{key}");
        if v.is_empty() {
            errs.push(FieldError::required(p, ""));
        } else {
            errs.extend(invalid_each(&p, v, is_path_segment_name(v)));
        }
    }
    let Some(scope) = present(params, "/scope") else {
        errs.push(FieldError::required(format!("{path}.scope"), ""));
        return errs;
    };
    let namespace = present(params, "/namespace").and_then(Value::as_str);
    let ns_path = format!("{path}.namespace");
    match (scope.as_str(), namespace) {
        (Some("Namespace"), None) => errs.push(FieldError::required(
            ns_path,
            "`parameters.scope` is set to 'Namespace'",
        )),
        (Some("Namespace"), Some(ns)) => {
            errs.extend(invalid_each(&ns_path, ns, is_dns1123_label(ns)))
        }
        (Some("Cluster"), Some(_)) => errs.push(FieldError::forbidden(
            ns_path,
            "`parameters.scope` is set to 'Cluster'",
        )),
        (Some("Cluster"), None) => {}
        _ => errs.push(FieldError::not_supported(
            format!("{path}.scope"),
            scope.clone(),
            &["Cluster", "Namespace"],
        )),
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errs(obj: &Value) -> Vec<String> {
        validate_spec(obj).iter().map(ToString::to_string).collect()
    }

    #[test]
    fn defaults_scope() {
        let mut ic =
            json!({"spec": {"controller": "a.io/c", "parameters": {"kind": "K", "name": "n"}}});
        default_ingress_class(&mut ic);
        assert_eq!(ic["spec"]["parameters"]["scope"], "Cluster");
        assert!(errs(&ic).is_empty());
    }

    #[test]
    fn controller() {
        assert_eq!(
            errs(&json!({"spec": {}})),
            ["spec.controller: Required value"]
        );
        assert_eq!(
            errs(&json!({"spec": {"controller": "nginx"}})),
            ["spec.controller: Invalid value: \"nginx\": must be a domain-prefixed path (such as \"acme.io/foo\")"]
        );
        let old = json!({"spec": {"controller": "a.io/c"}});
        let new = json!({"spec": {"controller": "b.io/c"}});
        assert_eq!(
            validate_update(&new, &old)[0].to_string(),
            "spec.controller: Invalid value: \"b.io/c\": field is immutable"
        );
    }

    #[test]
    fn parameters() {
        let ic = |p: Value| json!({"spec": {"controller": "a.io/c", "parameters": p}});
        assert_eq!(
            errs(&ic(json!({"kind": "K", "name": "n", "scope": "Namespace"}))),
            ["spec.parameters.namespace: Required value: `parameters.scope` is set to 'Namespace'"]
        );
        assert_eq!(
            errs(&ic(
                json!({"kind": "K", "name": "n", "scope": "Cluster", "namespace": "x"})
            )),
            ["spec.parameters.namespace: Forbidden: `parameters.scope` is set to 'Cluster'"]
        );
        assert_eq!(
            errs(&ic(json!({"name": "a/b", "scope": "Global"}))),
            [
                "spec.parameters.kind: Required value",
                "spec.parameters.name: Invalid value: \"a/b\": may not contain '/'",
                "spec.parameters.scope: Unsupported value: \"Global\": supported values: \"Cluster\", \"Namespace\"",
            ]
        );
    }
}
