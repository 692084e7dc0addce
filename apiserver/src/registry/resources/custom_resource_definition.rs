//! apiextensions.k8s.io/v1 CustomResourceDefinitions
//! (`ValidateCustomResourceDefinition`, `ValidateCustomResourceDefinitionNames`;
//! v1 `SetDefaults_CustomResourceDefinitionSpec`; the status the
//! establishing and naming controllers set once the names are free).

use super::object_field;
use crate::registry::{Ctx, Pending, Strategy, WriteOp};
use crate::rest::status::ApiResult;
use crate::validation::checks::{arr_at, present, str_at, validate_immutable};
use crate::validation::field_error::FieldError;
use crate::validation::names::{is_dns1035_label, is_dns1123_subdomain};
use serde_json::{json, Value};

pub struct CustomResourceDefinitionStrategy;

impl Strategy for CustomResourceDefinitionStrategy {
    fn default(&self, obj: &mut Value, _ctx: &Ctx) {
        default_crd(obj);
    }

    fn validate_create(&self, obj: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        validate_crd(obj)
    }

    fn validate_update(&self, new: &Value, old: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        let mut errs = validate_crd(new);
        errs.extend(validate_immutable(
            present(new, "/spec/group"),
            present(old, "/spec/group"),
            "spec.group",
        ));
        errs
    }

    fn begin_write(&self, op: WriteOp<'_>, _ctx: &Ctx) -> ApiResult<Pending> {
        if let WriteOp::Create(obj) = op {
            establish(obj, &crate::rest::meta::now_rfc3339());
        }
        Ok(Pending::default())
    }
}

/// Singular and list kind from the kind; conversion None.
pub fn default_crd(obj: &mut Value) {
    let Some(spec) = object_field(obj, "spec") else {
        return;
    };
    super::default_field(spec, "conversion", json!({"strategy": "None"}));
    let Some(names) = object_field(spec, "names") else {
        return;
    };
    let kind = str_at(names, "/kind").to_string();
    if str_at(names, "/singular").is_empty() {
        names["singular"] = json!(kind.to_lowercase());
    }
    if str_at(names, "/listKind").is_empty() && !kind.is_empty() {
        names["listKind"] = json!(format!("{kind}List"));
    }
}

/// The status of a CRD whose names are free: names accepted, established,
/// the storage version recorded.
pub fn establish(obj: &mut Value, now: &str) {
    let names = obj.pointer("/spec/names").cloned().unwrap_or(json!({}));
    let storage: Vec<Value> = arr_at(obj, "/spec/versions")
        .iter()
        .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        .filter_map(|v| v.get("name").cloned())
        .collect();
    let condition = |type_: &str, reason: &str, message: &str| {
        json!({"type": type_, "status": "True", "lastTransitionTime": now,
            "reason": reason, "message": message})
    };
    if let Some(map) = obj.as_object_mut() {
        map.insert(
            "status".into(),
            json!({
                "acceptedNames": names,
                "conditions": [
                    condition("NamesAccepted", "NoConflicts", "no conflicts found"),
                    condition("Established", "InitialNamesAccepted", "the initial names have been accepted"),
                ],
                "storedVersions": storage,
            }),
        );
    }
}

/// `ValidateCustomResourceDefinition` (the checks that need no schema
/// machinery).
pub fn validate_crd(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let name = str_at(obj, "/metadata/name");
    let required = format!(
        "{}.{}",
        str_at(obj, "/spec/names/plural"),
        str_at(obj, "/spec/group")
    );
    if name != required {
        errs.push(FieldError::invalid(
            "metadata.name",
            name,
            "must be spec.names.plural+\".\"+spec.group",
        ));
    }
    errs.extend(validate_group(str_at(obj, "/spec/group")));
    let scope = str_at(obj, "/spec/scope");
    if scope.is_empty() {
        errs.push(FieldError::required("spec.scope", ""));
    } else if scope != "Cluster" && scope != "Namespaced" {
        errs.push(FieldError::not_supported(
            "spec.scope",
            scope,
            &["Cluster", "Namespaced"],
        ));
    }
    errs.extend(validate_versions(obj));
    errs.extend(validate_names(obj));
    errs
}

fn validate_group(group: &str) -> Vec<FieldError> {
    if group.is_empty() {
        return vec![FieldError::required("spec.group", "")];
    }
    let errs = is_dns1123_subdomain(group);
    if !errs.is_empty() {
        return vec![FieldError::invalid("spec.group", group, errs.join(","))];
    }
    if !group.contains('.') {
        return vec![FieldError::invalid(
            "spec.group",
            group,
            "should be a domain with at least one dot",
        )];
    }
    Vec::new()
}

fn validate_versions(obj: &Value) -> Vec<FieldError> {
    let versions = arr_at(obj, "/spec/versions");
    let mut errs = Vec::new();
    let mut seen = Vec::new();
    let mut unique = true;
    for (i, v) in versions.iter().enumerate() {
        let path = format!("spec.versions[{i}]");
        let name = str_at(v, "/name");
        unique &= !seen.contains(&name);
        seen.push(name);
        let name_errs = is_dns1035_label(name);
        if !name_errs.is_empty() {
            errs.push(FieldError::invalid(
                format!("{path}.name"),
                name,
                name_errs.join(","),
            ));
        }
        errs.extend(validate_schema(v, &path));
    }
    let all = || {
        obj.pointer("/spec/versions")
            .cloned()
            .unwrap_or(Value::Null)
    };
    if !unique {
        errs.push(FieldError::invalid(
            "spec.versions",
            all(),
            "must contain unique version names",
        ));
    }
    let storage = versions
        .iter()
        .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        .count();
    if storage != 1 {
        errs.push(FieldError::invalid(
            "spec.versions",
            all(),
            "must have exactly one version marked as storage version",
        ));
    }
    errs
}

/// A schema is required in v1, and its root is an object.
fn validate_schema(version: &Value, path: &str) -> Vec<FieldError> {
    let schema_path = format!("{path}.schema.openAPIV3Schema");
    let Some(schema) = present(version, "/schema/openAPIV3Schema") else {
        return vec![FieldError::required(schema_path, "schemas are required")];
    };
    match schema.get("type").and_then(Value::as_str) {
        None | Some("") => vec![FieldError::required(
            format!("{schema_path}.type"),
            "must not be empty at the root",
        )],
        Some("object") => Vec::new(),
        Some(t) => vec![FieldError::invalid(
            format!("{schema_path}.type"),
            t,
            "must be object at the root",
        )],
    }
}

/// `ValidateCustomResourceDefinitionNames` and the required names.
fn validate_names(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let names = obj.pointer("/spec/names").cloned().unwrap_or(json!({}));
    let mixed = "may have mixed case, but should otherwise match: ";
    for (key, lower, prefix) in [
        ("plural", false, ""),
        ("singular", false, ""),
        ("kind", true, mixed),
        ("listKind", true, mixed),
    ] {
        let v = str_at(&names, &format!("/{key}"));
        let path = format!("spec.names.{key}");
        if v.is_empty() {
            errs.push(FieldError::required(path, ""));
            continue;
        }
        let checked = if lower {
            v.to_lowercase()
        } else {
            v.to_string()
        };
        let msgs = is_dns1035_label(&checked);
        if !msgs.is_empty() {
            errs.push(FieldError::invalid(
                path,
                v,
                format!("{prefix}{}", msgs.join(",")),
            ));
        }
    }
    for (i, s) in arr_at(&names, "/shortNames").iter().enumerate() {
        let s = s.as_str().unwrap_or("");
        let msgs = is_dns1035_label(s);
        if !msgs.is_empty() {
            errs.push(FieldError::invalid(
                format!("spec.names.shortNames[{i}]"),
                s,
                msgs.join(","),
            ));
        }
    }
    let (kind, list_kind) = (str_at(&names, "/kind"), str_at(&names, "/listKind"));
    if !kind.is_empty() && kind == list_kind {
        errs.push(FieldError::invalid(
            "spec.names.listKind",
            list_kind,
            "kind and listKind may not be the same",
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crd() -> Value {
        json!({
            "metadata": {"name": "widgets.example.com"},
            "spec": {
                "group": "example.com", "scope": "Namespaced",
                "names": {"plural": "widgets", "kind": "Widget"},
                "versions": [{"name": "v1", "served": true, "storage": true,
                    "schema": {"openAPIV3Schema": {"type": "object"}}}]
            }
        })
    }

    #[test]
    fn defaults_and_status() {
        let mut c = crd();
        default_crd(&mut c);
        assert_eq!(c["spec"]["names"]["singular"], "widget");
        assert_eq!(c["spec"]["names"]["listKind"], "WidgetList");
        assert_eq!(c["spec"]["conversion"]["strategy"], "None");
        assert!(validate_crd(&c).is_empty());
        establish(&mut c, "2026-01-01T00:00:00Z");
        assert_eq!(c["status"]["acceptedNames"]["kind"], "Widget");
        assert_eq!(c["status"]["conditions"][1]["type"], "Established");
        assert_eq!(c["status"]["conditions"][1]["status"], "True");
        assert_eq!(c["status"]["storedVersions"], json!(["v1"]));
    }

    #[test]
    fn invalid_definitions() {
        let c = json!({
            "metadata": {"name": "widgets"},
            "spec": {"group": "example", "scope": "Global",
                "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "Widget"},
                "versions": [{"name": "v1", "storage": false}]}
        });
        let errs: Vec<String> = validate_crd(&c).iter().map(ToString::to_string).collect();
        assert_eq!(
            errs,
            [
                "metadata.name: Invalid value: \"widgets\": must be spec.names.plural+\".\"+spec.group",
                "spec.group: Invalid value: \"example\": should be a domain with at least one dot",
                "spec.scope: Unsupported value: \"Global\": supported values: \"Cluster\", \"Namespaced\"",
                "spec.versions[0].schema.openAPIV3Schema: Required value: schemas are required",
                "spec.versions: Invalid value: [{\"name\":\"v1\",\"storage\":false}]: must have exactly one version marked as storage version",
                "spec.names.listKind: Invalid value: \"Widget\": kind and listKind may not be the same",
            ]
        );
    }
}
