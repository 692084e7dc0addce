//! rbac.authorization.k8s.io/v1 RoleBindings and ClusterRoleBindings
//! (`ValidateRoleBinding`, `ValidateClusterRoleBinding`,
//! `ValidateRoleBindingSubject`; defaults from `pkg/apis/rbac/v1/defaults.go`).

use crate::registry::{Ctx, Strategy};
use crate::validation::checks::{arr_at, invalid_each, is_path_segment_name, str_at};
use crate::validation::field_error::FieldError;
use crate::validation::names::is_dns1123_subdomain;
use serde_json::{json, Value};

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

pub struct RoleBindingStrategy;
pub struct ClusterRoleBindingStrategy;

impl Strategy for RoleBindingStrategy {
    fn default(&self, obj: &mut Value, _ctx: &Ctx) {
        default_binding(obj);
    }

    fn validate_create(&self, obj: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        validate_binding(obj, true)
    }

    fn validate_update(&self, new: &Value, old: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        let mut errs = validate_binding(new, true);
        errs.extend(validate_role_ref_update(new, old));
        errs
    }
}

impl Strategy for ClusterRoleBindingStrategy {
    fn default(&self, obj: &mut Value, _ctx: &Ctx) {
        default_binding(obj);
    }

    fn validate_create(&self, obj: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        validate_binding(obj, false)
    }

    fn validate_update(&self, new: &Value, old: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        let mut errs = validate_binding(new, false);
        errs.extend(validate_role_ref_update(new, old));
        errs
    }
}

/// `SetDefaults_RoleBinding`/`ClusterRoleBinding` and `SetDefaults_Subject`.
pub fn default_binding(obj: &mut Value) {
    if let Some(role_ref) = obj.get_mut("roleRef").filter(|r| r.is_object()) {
        if str_at(role_ref, "/apiGroup").is_empty() {
            role_ref["apiGroup"] = json!(RBAC_GROUP);
        }
    }
    let subjects = obj.get_mut("subjects").and_then(Value::as_array_mut);
    for subject in subjects.into_iter().flatten() {
        let group = match str_at(subject, "/kind") {
            "ServiceAccount" => "",
            "User" | "Group" => RBAC_GROUP,
            _ => continue,
        };
        if str_at(subject, "/apiGroup").is_empty() {
            if let Some(map) = subject.as_object_mut() {
                map.insert("apiGroup".into(), json!(group));
            }
        }
    }
}

/// The roleRef may never change (`ValidateRoleBindingUpdate`); the value
/// shown is the new roleRef as the internal Go struct marshals it.
pub fn validate_role_ref_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let role_ref = |o: &Value| {
        json!({
            "APIGroup": str_at(o, "/roleRef/apiGroup"),
            "Kind": str_at(o, "/roleRef/kind"),
            "Name": str_at(o, "/roleRef/name"),
        })
    };
    let (n, o) = (role_ref(new), role_ref(old));
    if n == o {
        return Vec::new();
    }
    vec![FieldError::invalid("roleRef", n, "cannot change roleRef")]
}

/// `ValidateRoleBinding` (`namespaced`) and `ValidateClusterRoleBinding`.
pub fn validate_binding(obj: &Value, namespaced: bool) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let group = str_at(obj, "/roleRef/apiGroup");
    if group != RBAC_GROUP {
        errs.push(FieldError::not_supported(
            "roleRef.apiGroup",
            group,
            &[RBAC_GROUP],
        ));
    }
    let kind = str_at(obj, "/roleRef/kind");
    let kinds: &[&str] = if namespaced {
        &["Role", "ClusterRole"]
    } else {
        &["ClusterRole"]
    };
    if !kinds.contains(&kind) {
        errs.push(FieldError::not_supported("roleRef.kind", kind, kinds));
    }
    let name = str_at(obj, "/roleRef/name");
    if name.is_empty() {
        errs.push(FieldError::required("roleRef.name", ""));
    } else {
        errs.extend(invalid_each(
            "roleRef.name",
            name,
            is_path_segment_name(name),
        ));
    }
    for (i, s) in arr_at(obj, "/subjects").iter().enumerate() {
        errs.extend(validate_subject(s, namespaced, &format!("subjects[{i}]")));
    }
    errs
}

/// `ValidateRoleBindingSubject`.
pub fn validate_subject(s: &Value, namespaced: bool, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let name = str_at(s, "/name");
    let group = str_at(s, "/apiGroup");
    if name.is_empty() {
        errs.push(FieldError::required(format!("{path}.name"), ""));
    }
    match str_at(s, "/kind") {
        "ServiceAccount" => {
            if !name.is_empty() {
                errs.extend(invalid_each(
                    &format!("{path}.name"),
                    name,
                    is_dns1123_subdomain(name),
                ));
            }
            if !group.is_empty() {
                errs.push(FieldError::not_supported(
                    format!("{path}.apiGroup"),
                    group,
                    &[""],
                ));
            }
            if !namespaced && str_at(s, "/namespace").is_empty() {
                errs.push(FieldError::required(format!("{path}.namespace"), ""));
            }
        }
        "User" | "Group" => {
            if group != RBAC_GROUP {
                errs.push(FieldError::not_supported(
                    format!("{path}.apiGroup"),
                    group,
                    &[RBAC_GROUP],
                ));
            }
        }
        other => errs.push(FieldError::not_supported(
            format!("{path}.kind"),
            other,
            &["ServiceAccount", "User", "Group"],
        )),
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::validation::field_error::strs;

    fn binding() -> Value {
        json!({
            "roleRef": {"kind": "Role", "name": "reader"},
            "subjects": [
                {"kind": "User", "name": "jane"},
                {"kind": "Group", "name": "devs"},
                {"kind": "ServiceAccount", "name": "default", "namespace": "default"}
            ]
        })
    }

    #[test]
    fn defaults_api_groups() {
        let mut b = binding();
        default_binding(&mut b);
        assert_eq!(b["roleRef"]["apiGroup"], RBAC_GROUP);
        assert_eq!(b["subjects"][0]["apiGroup"], RBAC_GROUP);
        assert_eq!(b["subjects"][1]["apiGroup"], RBAC_GROUP);
        assert_eq!(b["subjects"][2]["apiGroup"], "");
        assert!(validate_binding(&b, true).is_empty());
    }

    #[test]
    fn invalid_bindings() {
        let b = json!({
            "roleRef": {"apiGroup": "x.io", "kind": "Role"},
            "subjects": [
                {"kind": "Robot", "name": "r"},
                {"kind": "ServiceAccount", "name": "sa", "apiGroup": "v1"},
                {"kind": "User", "apiGroup": "", "name": ""}
            ]
        });
        assert_eq!(
            strs(validate_binding(&b, false)),
            [
                "roleRef.apiGroup: Unsupported value: \"x.io\": supported values: \"rbac.authorization.k8s.io\"",
                "roleRef.kind: Unsupported value: \"Role\": supported values: \"ClusterRole\"",
                "roleRef.name: Required value",
                "subjects[0].kind: Unsupported value: \"Robot\": supported values: \"ServiceAccount\", \"User\", \"Group\"",
                "subjects[1].apiGroup: Unsupported value: \"v1\": supported values: \"\"",
                "subjects[1].namespace: Required value",
                "subjects[2].name: Required value",
                "subjects[2].apiGroup: Unsupported value: \"\": supported values: \"rbac.authorization.k8s.io\"",
            ]
        );
    }

    #[test]
    fn role_ref_is_immutable() {
        let mut old = binding();
        default_binding(&mut old);
        let mut new = old.clone();
        new["roleRef"]["name"] = json!("writer");
        assert_eq!(
            strs(validate_role_ref_update(&new, &old)),
            ["roleRef: Invalid value: {\"APIGroup\":\"rbac.authorization.k8s.io\",\"Kind\":\"Role\",\"Name\":\"writer\"}: cannot change roleRef"]
        );
    }
}
