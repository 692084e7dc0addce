//! flowcontrol.apiserver.k8s.io/v1 FlowSchemas (`ValidateFlowSchemaSpec`,
//! `ValidateFlowSchemaPolicyRulesWithSubjects`, `ValidateFlowSchemaSubject`;
//! `SetDefaults_FlowSchemaSpec`).

use crate::registry::{Ctx, Strategy};
use crate::validation::checks::{arr_at, invalid_each, present, str_at};
use crate::validation::field_error::FieldError;
use crate::validation::names::{is_dns1123_label, is_dns1123_subdomain};
use serde_json::{json, Value};

pub struct FlowSchemaStrategy;

const MAX_PRECEDENCE: i64 = 10_000;
const NS_INTRO: &str = "each member of this list must be '*' or a DNS-1123 label; ";

impl Strategy for FlowSchemaStrategy {
    fn default(&self, obj: &mut Value, _ctx: &Ctx) {
        default_flow_schema(obj);
    }

    fn validate_create(&self, obj: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        validate_flow_schema(obj)
    }
}

/// Matching precedence 1000 when unset or zero.
pub fn default_flow_schema(obj: &mut Value) {
    if let Some(spec) = obj.get_mut("spec").filter(|s| s.is_object()) {
        if spec
            .get("matchingPrecedence")
            .and_then(Value::as_i64)
            .unwrap_or(0)
            == 0
        {
            spec["matchingPrecedence"] = json!(1000);
        }
    }
}

/// `ValidateFlowSchemaSpec`.
pub fn validate_flow_schema(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let precedence = obj
        .pointer("/spec/matchingPrecedence")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let p = "spec.matchingPrecedence";
    if precedence <= 0 {
        errs.push(FieldError::invalid(
            p,
            precedence,
            "must be a positive value",
        ));
    }
    if precedence > MAX_PRECEDENCE {
        errs.push(FieldError::invalid(
            p,
            precedence,
            format!("must not be greater than {MAX_PRECEDENCE}"),
        ));
    }
    if precedence == 1 && str_at(obj, "/metadata/name") != "exempt" {
        errs.push(FieldError::invalid(
            p,
            precedence,
            "only the schema named 'exempt' may have matchingPrecedence 1",
        ));
    }
    if let Some(method) = present(obj, "/spec/distinguisherMethod") {
        let t = str_at(method, "/type");
        if t != "ByNamespace" && t != "ByUser" {
            errs.push(FieldError::not_supported(
                "spec.distinguisherMethod.type",
                json!({"Type": t}),
                &["ByNamespace", "ByUser"],
            ));
        }
    }
    let level = str_at(obj, "/spec/priorityLevelConfiguration/name");
    let level_path = "spec.priorityLevelConfiguration.name";
    if level.is_empty() {
        errs.push(FieldError::required(
            level_path,
            "must reference a priority level",
        ));
    } else {
        errs.extend(invalid_each(level_path, level, is_dns1123_subdomain(level)));
    }
    for (i, rule) in arr_at(obj, "/spec/rules").iter().enumerate() {
        errs.extend(validate_rule(rule, &format!("spec.rules[{i}]")));
    }
    errs
}

fn validate_rule(rule: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let subjects = arr_at(rule, "/subjects");
    if subjects.is_empty() {
        errs.push(FieldError::required(
            format!("{path}.subjects"),
            "subjects must contain at least one value",
        ));
    }
    for (i, s) in subjects.iter().enumerate() {
        errs.extend(validate_subject(s, &format!("{path}.subjects[{i}]")));
    }
    let resource = arr_at(rule, "/resourceRules");
    let non_resource = arr_at(rule, "/nonResourceRules");
    if resource.is_empty() && non_resource.is_empty() {
        errs.push(FieldError::required(
            path,
            "at least one of resourceRules and nonResourceRules has to be non-empty",
        ));
    }
    for (i, r) in resource.iter().enumerate() {
        errs.extend(validate_resource_rule(
            r,
            &format!("{path}.resourceRules[{i}]"),
        ));
    }
    for (i, r) in non_resource.iter().enumerate() {
        let p = format!("{path}.nonResourceRules[{i}]");
        errs.extend(list_rule(
            r,
            "verbs",
            "verbs",
            "verbs must contain at least one value",
            &p,
        ));
        errs.extend(list_rule(
            r,
            "nonResourceURLs",
            "non-resource URLs",
            "nonResourceURLs must contain at least one value",
            &p,
        ));
    }
    errs
}

/// A list that is required and may hold `*` only alone.
fn list_rule(rule: &Value, key: &str, what: &str, required: &str, path: &str) -> Vec<FieldError> {
    let items = arr_at(rule, &format!("/{key}"));
    let p = format!("{path}.{key}");
    if items.is_empty() {
        return vec![FieldError::required(p, required)];
    }
    if items.len() > 1 && items.iter().any(|x| x == "*") {
        return vec![FieldError::invalid(
            p,
            Value::Array(items.to_vec()),
            format!("if '*' is present, must not specify other {what}"),
        )];
    }
    Vec::new()
}

/// `ValidateFlowSchemaResourcePolicyRule` (verbs, groups, resources,
/// namespaces).
fn validate_resource_rule(r: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = list_rule(
        r,
        "verbs",
        "verbs",
        "verbs must contain at least one value",
        path,
    );
    errs.extend(list_rule(
        r,
        "apiGroups",
        "api groups",
        "resource rules must supply at least one api group",
        path,
    ));
    errs.extend(list_rule(
        r,
        "resources",
        "resources",
        "resource rules must supply at least one resource",
        path,
    ));
    let namespaces = arr_at(r, "/namespaces");
    let cluster = r.get("clusterScope").and_then(Value::as_bool) == Some(true);
    let p = format!("{path}.namespaces");
    if namespaces.is_empty() && !cluster {
        errs.push(FieldError::required(
            &p,
            "resource rules that are not cluster scoped must supply at least one namespace",
        ));
    } else if namespaces.iter().any(|n| n == "*") {
        if namespaces.len() > 1 {
            errs.push(FieldError::invalid(
                &p,
                Value::Array(namespaces.to_vec()),
                "if '*' is present, must not specify other namespaces",
            ));
        }
    } else {
        for (i, ns) in namespaces.iter().enumerate() {
            let ns = ns.as_str().unwrap_or("");
            for m in is_dns1123_label(ns) {
                errs.push(FieldError::invalid(
                    format!("{p}[{i}]"),
                    ns,
                    format!("{NS_INTRO}{m}"),
                ));
            }
        }
    }
    errs
}

/// `ValidateFlowSchemaSubject`: the member matching the kind is present,
/// the others absent.
fn validate_subject(s: &Value, path: &str) -> Vec<FieldError> {
    let kinds = [
        ("ServiceAccount", "serviceAccount"),
        ("User", "user"),
        ("Group", "group"),
    ];
    let kind = str_at(s, "/kind");
    let Some((_, member)) = kinds.iter().find(|(k, _)| *k == kind) else {
        return vec![FieldError::not_supported(
            format!("{path}.kind"),
            kind,
            &["Group", "ServiceAccount", "User"],
        )];
    };
    let mut errs = Vec::new();
    let member_path = format!("{path}.{member}");
    match present(s, &format!("/{member}")) {
        None => errs.push(FieldError::required(
            &member_path,
            format!("{member} is required when subject kind is '{kind}'"),
        )),
        Some(m) => errs.extend(validate_member(kind, m, &member_path)),
    }
    for (k, other) in kinds.iter().filter(|(k, _)| *k != kind) {
        if present(s, &format!("/{other}")).is_some() {
            errs.push(FieldError::forbidden(
                format!("{path}.{other}"),
                format!("{other} is forbidden when subject kind is not '{k}'"),
            ));
        }
    }
    errs
}

fn validate_member(kind: &str, m: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let name = str_at(m, "/name");
    if name.is_empty() {
        errs.push(FieldError::required(format!("{path}.name"), ""));
    } else if kind == "ServiceAccount" && name != "*" {
        errs.extend(invalid_each(
            &format!("{path}.name"),
            name,
            is_dns1123_subdomain(name),
        ));
    }
    if kind == "ServiceAccount" {
        let ns = str_at(m, "/namespace");
        if ns.is_empty() {
            errs.push(FieldError::required(
                format!("{path}.namespace"),
                "must specify namespace for service account",
            ));
        } else {
            errs.extend(invalid_each(
                &format!("{path}.namespace"),
                ns,
                is_dns1123_label(ns),
            ));
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::validation::field_error::strs;

    #[test]
    fn valid_schema_and_default() {
        let mut fs = json!({"metadata": {"name": "mine"}, "spec": {
            "priorityLevelConfiguration": {"name": "workload-low"},
            "rules": [{"subjects": [{"kind": "Group", "group": {"name": "system:authenticated"}}],
                "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"], "namespaces": ["*"]}]}]}});
        default_flow_schema(&mut fs);
        assert_eq!(fs["spec"]["matchingPrecedence"], 1000);
        assert!(validate_flow_schema(&fs).is_empty());
    }

    #[test]
    fn invalid_schemas() {
        let fs = json!({"metadata": {"name": "mine"}, "spec": {"matchingPrecedence": 1,
            "rules": [{"subjects": [{"kind": "User", "group": {"name": "g"}}],
                "resourceRules": [{"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}]}]}});
        assert_eq!(
            strs(validate_flow_schema(&fs)),
            [
                "spec.matchingPrecedence: Invalid value: 1: only the schema named 'exempt' may have matchingPrecedence 1",
                "spec.priorityLevelConfiguration.name: Required value: must reference a priority level",
                "spec.rules[0].subjects[0].user: Required value: user is required when subject kind is 'User'",
                "spec.rules[0].subjects[0].group: Forbidden: group is forbidden when subject kind is not 'Group'",
                "spec.rules[0].resourceRules[0].namespaces: Required value: resource rules that are not cluster scoped must supply at least one namespace",
            ]
        );
    }
}
