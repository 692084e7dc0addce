//! admissionregistration.k8s.io/v1 ValidatingAdmissionPolicies and their
//! bindings (`validateValidatingAdmissionPolicySpec`, `validateParamKind`,
//! `validateValidatingAdmissionPolicyBindingSpec`, `validateParamRef`,
//! `validateValidationActions`; v1 defaults). CEL expressions are not
//! compiled.

use super::default_field;
use super::webhook_configuration::validate_rule;
use crate::registry::{Ctx, Strategy};
use crate::validation::checks::{arr_at, invalid_each, is_path_segment_name, present, str_at};
use crate::validation::field_error::FieldError;
use crate::validation::label_selector::validate_label_selector;
use crate::validation::names::{is_dns1035_label, is_dns1123_subdomain};
use serde_json::{json, Value};

pub struct ValidatingAdmissionPolicyStrategy;
pub struct ValidatingAdmissionPolicyBindingStrategy;

impl Strategy for ValidatingAdmissionPolicyStrategy {
    fn default(&self, obj: &mut Value, _ctx: &Ctx) {
        default_policy(obj);
    }

    fn validate_create(&self, obj: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        validate_policy(obj)
    }
}

impl Strategy for ValidatingAdmissionPolicyBindingStrategy {
    fn default(&self, obj: &mut Value, _ctx: &Ctx) {
        if let Some(m) = obj
            .pointer_mut("/spec/matchResources")
            .filter(|m| m.is_object())
        {
            default_match_resources(m);
        }
    }

    fn validate_create(&self, obj: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        validate_binding(obj)
    }
}

/// `SetDefaults_ValidatingAdmissionPolicySpec`: failure policy Fail.
pub fn default_policy(obj: &mut Value) {
    if let Some(spec) = obj.get_mut("spec").filter(|s| s.is_object()) {
        default_field(spec, "failurePolicy", json!("Fail"));
        if let Some(m) = spec.get_mut("matchConstraints").filter(|m| m.is_object()) {
            default_match_resources(m);
        }
    }
}

/// `SetDefaults_MatchResources`, and rule scopes `*`.
pub fn default_match_resources(m: &mut Value) {
    default_field(m, "matchPolicy", json!("Equivalent"));
    default_field(m, "namespaceSelector", json!({}));
    default_field(m, "objectSelector", json!({}));
    for key in ["resourceRules", "excludeResourceRules"] {
        let rules = m.get_mut(key).and_then(Value::as_array_mut);
        for rule in rules.into_iter().flatten() {
            default_field(rule, "scope", json!("*"));
        }
    }
}

/// `validateValidatingAdmissionPolicySpec` without CEL compilation.
pub fn validate_policy(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    match present(obj, "/spec/failurePolicy") {
        None => errs.push(FieldError::required("spec.failurePolicy", "")),
        Some(p) if p != "Fail" && p != "Ignore" => errs.push(FieldError::not_supported(
            "spec.failurePolicy",
            p.clone(),
            &["Fail", "Ignore"],
        )),
        Some(_) => {}
    }
    if let Some(kind) = present(obj, "/spec/paramKind") {
        errs.extend(validate_param_kind(kind));
    }
    match present(obj, "/spec/matchConstraints") {
        None => errs.push(FieldError::required("spec.matchConstraints", "")),
        Some(m) => {
            errs.extend(validate_match_resources(m, "spec.matchConstraints"));
            if arr_at(m, "/resourceRules").is_empty() {
                errs.push(FieldError::required(
                    "spec.matchConstraints.resourceRules",
                    "",
                ));
            }
        }
    }
    let validations = arr_at(obj, "/spec/validations");
    if validations.is_empty() && arr_at(obj, "/spec/auditAnnotations").is_empty() {
        let detail = "validations or auditAnnotations must contain at least one item";
        errs.push(FieldError::required("spec.validations", detail));
        errs.push(FieldError::required("spec.auditAnnotations", detail));
    }
    for (i, v) in validations.iter().enumerate() {
        errs.extend(validate_validation(v, &format!("spec.validations[{i}]")));
    }
    errs
}

fn validate_validation(v: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if str_at(v, "/expression").trim().is_empty() {
        errs.push(FieldError::required(
            format!("{path}.expression"),
            "expression is not specified",
        ));
    }
    let message = str_at(v, "/message");
    if !message.is_empty() && message.trim().is_empty() {
        errs.push(FieldError::invalid(
            format!("{path}.message"),
            message,
            "message must be non-empty if specified",
        ));
    } else if message.trim().contains(['\n', '\r']) {
        errs.push(FieldError::invalid(
            format!("{path}.message"),
            message,
            "message must not contain line breaks",
        ));
    }
    if let Some(reason) = present(v, "/reason") {
        let valid = [
            "Forbidden",
            "Invalid",
            "RequestEntityTooLarge",
            "Unauthorized",
        ];
        if !reason.as_str().is_some_and(|r| valid.contains(&r)) {
            errs.push(FieldError::not_supported(
                format!("{path}.reason"),
                reason.clone(),
                &valid,
            ));
        }
    }
    errs
}

/// `validateParamKind`.
fn validate_param_kind(kind: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let api_version = str_at(kind, "/apiVersion");
    let p = "spec.paramKind.apiVersion";
    if api_version.is_empty() {
        errs.push(FieldError::required(p, ""));
    } else {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        if !group.is_empty() {
            let e = is_dns1123_subdomain(group);
            if !e.is_empty() {
                errs.push(FieldError::invalid(p, group, e.join(",")));
            }
        }
        if version.is_empty() {
            errs.push(FieldError::invalid(
                p,
                api_version,
                "version must be specified",
            ));
        } else {
            let e = is_dns1035_label(version);
            if !e.is_empty() {
                errs.push(FieldError::invalid(p, version, e.join(",")));
            }
        }
    }
    let k = str_at(kind, "/kind");
    if k.is_empty() {
        errs.push(FieldError::required("spec.paramKind.kind", ""));
    } else {
        let e = is_dns1035_label(&k.to_lowercase());
        if !e.is_empty() {
            errs.push(FieldError::invalid(
                "spec.paramKind.kind",
                k,
                format!(
                    "may have mixed case, but should otherwise match: {}",
                    e.join(",")
                ),
            ));
        }
    }
    errs
}

/// `validateMatchResources`: selectors, match policy and rules.
fn validate_match_resources(m: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if let Some(p) = present(m, "/matchPolicy") {
        if p != "Equivalent" && p != "Exact" {
            errs.push(FieldError::not_supported(
                format!("{path}.matchPolicy"),
                p.clone(),
                &["Equivalent", "Exact"],
            ));
        }
    }
    for key in ["namespaceSelector", "objectSelector"] {
        errs.extend(validate_label_selector(
            present(m, &format!("/{key}")),
            false,
            &format!("{path}.{key}"),
        ));
    }
    for key in ["resourceRules", "excludeResourceRules"] {
        for (i, rule) in arr_at(m, &format!("/{key}")).iter().enumerate() {
            errs.extend(validate_rule(rule, &format!("{path}.{key}[{i}]")));
        }
    }
    errs
}

/// `validateValidatingAdmissionPolicyBindingSpec`.
pub fn validate_binding(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let policy = str_at(obj, "/spec/policyName");
    if policy.is_empty() {
        errs.push(FieldError::required("spec.policyName", ""));
    } else {
        errs.extend(invalid_each(
            "spec.policyName",
            policy,
            is_dns1123_subdomain(policy),
        ));
    }
    if let Some(pr) = present(obj, "/spec/paramRef") {
        errs.extend(validate_param_ref(pr, "spec.paramRef"));
    }
    if let Some(m) = present(obj, "/spec/matchResources") {
        // kube-apiserver spells this path "matchResouces".
        errs.extend(validate_match_resources(m, "spec.matchResouces"));
    }
    errs.extend(validate_actions(arr_at(obj, "/spec/validationActions")));
    errs
}

fn validate_param_ref(pr: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let name = str_at(pr, "/name");
    let selector = present(pr, "/selector");
    let exclusive = "name and selector are mutually exclusive";
    if !name.is_empty() {
        errs.extend(invalid_each(
            &format!("{path}.name"),
            name,
            is_path_segment_name(name),
        ));
        if selector.is_some() {
            errs.push(FieldError::forbidden(format!("{path}.name"), exclusive));
        }
    }
    if let Some(sel) = selector {
        errs.extend(validate_label_selector(
            Some(sel),
            false,
            &format!("{path}.selector"),
        ));
        if !name.is_empty() {
            errs.push(FieldError::forbidden(format!("{path}.selector"), exclusive));
        }
    }
    if name.is_empty() && selector.is_none() {
        errs.push(FieldError::required(
            path,
            "one of name or selector must be specified",
        ));
    }
    match str_at(pr, "/parameterNotFoundAction") {
        "" => errs.push(FieldError::required(
            format!("{path}.parameterNotFoundAction"),
            "",
        )),
        "Deny" | "Allow" => {}
        other => errs.push(FieldError::not_supported(
            format!("{path}.parameterNotFoundAction"),
            other,
            &["Deny", "Allow"],
        )),
    }
    errs
}

/// `validateValidationActions`.
fn validate_actions(actions: &[Value]) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let path = "spec.validationActions";
    let mut seen: Vec<&Value> = Vec::new();
    for (i, a) in actions.iter().enumerate() {
        if !a
            .as_str()
            .is_some_and(|s| ["Audit", "Deny", "Warn"].contains(&s))
        {
            errs.push(FieldError::not_supported(
                format!("{path}[{i}]"),
                a.clone(),
                &["Audit", "Deny", "Warn"],
            ));
        }
        if seen.contains(&a) {
            errs.push(FieldError::duplicate(format!("{path}[{i}]"), a.clone()));
        }
        seen.push(a);
    }
    if seen.iter().any(|a| *a == "Deny") && seen.iter().any(|a| *a == "Warn") {
        errs.push(FieldError::invalid(
            path,
            Value::Array(actions.to_vec()),
            "must not contain both Deny and Warn (repeating the same validation failure information in the API response and headers serves no purpose)",
        ));
    }
    if seen.is_empty() {
        errs.push(FieldError::required(
            path,
            "at least one validation action is required",
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::validation::field_error::strs;

    #[test]
    fn policies() {
        let mut vap = json!({"spec": {
            "matchConstraints": {"resourceRules": [{"apiGroups": ["apps"], "apiVersions": ["v1"],
                "operations": ["CREATE"], "resources": ["deployments"]}]},
            "validations": [{"expression": "object.spec.replicas <= 5"}]}});
        default_policy(&mut vap);
        assert_eq!(vap["spec"]["failurePolicy"], "Fail");
        assert_eq!(vap["spec"]["matchConstraints"]["matchPolicy"], "Equivalent");
        assert_eq!(
            vap["spec"]["matchConstraints"]["resourceRules"][0]["scope"],
            "*"
        );
        assert!(validate_policy(&vap).is_empty());
        let bad = json!({"spec": {"failurePolicy": "Maybe", "paramKind": {"apiVersion": "example.com/", "kind": "Cfg"}}});
        assert_eq!(
            strs(validate_policy(&bad)),
            [
                "spec.failurePolicy: Unsupported value: \"Maybe\": supported values: \"Fail\", \"Ignore\"",
                "spec.paramKind.apiVersion: Invalid value: \"example.com/\": version must be specified",
                "spec.matchConstraints: Required value",
                "spec.validations: Required value: validations or auditAnnotations must contain at least one item",
                "spec.auditAnnotations: Required value: validations or auditAnnotations must contain at least one item",
            ]
        );
    }

    #[test]
    fn bindings() {
        assert!(validate_binding(
            &json!({"spec": {"policyName": "p", "validationActions": ["Deny"]}})
        )
        .is_empty());
        let bad = json!({"spec": {"paramRef": {"name": "cfg", "selector": {}},
            "validationActions": ["Deny", "Warn", "Deny"]}});
        assert_eq!(
            strs(validate_binding(&bad)),
            [
                "spec.policyName: Required value",
                "spec.paramRef.name: Forbidden: name and selector are mutually exclusive",
                "spec.paramRef.selector: Forbidden: name and selector are mutually exclusive",
                "spec.paramRef.parameterNotFoundAction: Required value",
                "spec.validationActions[2]: Duplicate value: \"Deny\"",
                "spec.validationActions: Invalid value: [\"Deny\",\"Warn\",\"Deny\"]: must not contain both Deny and Warn (repeating the same validation failure information in the API response and headers serves no purpose)",
            ]
        );
    }
}
