//! storage.k8s.io/v1 StorageClasses and VolumeAttributesClasses
//! (`ValidateStorageClass`, `ValidateStorageClassUpdate`,
//! `ValidateVolumeAttributesClass`; `SetDefaults_StorageClass`).

use super::default_field;
use crate::registry::{Ctx, Strategy};
use crate::validation::checks::{present, str_at, validate_immutable};
use crate::validation::field_error::FieldError;
use crate::validation::names::is_qualified_name;
use serde_json::{json, Value};

pub struct StorageClassStrategy;
pub struct VolumeAttributesClassStrategy;

/// At most this many parameters, of at most this total size.
const MAX_PARAMETERS: usize = 512;
const MAX_PARAMETERS_SIZE: i64 = 256 * 1024;

impl Strategy for StorageClassStrategy {
    fn default(&self, obj: &mut Value, _ctx: &Ctx) {
        default_field(obj, "reclaimPolicy", json!("Delete"));
        default_field(obj, "volumeBindingMode", json!("Immediate"));
    }

    fn validate_create(&self, obj: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        validate_storage_class(obj)
    }

    fn validate_update(&self, new: &Value, old: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        let mut errs = validate_storage_class(new);
        errs.extend(validate_storage_class_update(new, old));
        errs
    }
}

impl Strategy for VolumeAttributesClassStrategy {
    fn validate_create(&self, obj: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        validate_vac(obj)
    }

    fn validate_update(&self, new: &Value, old: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        validate_vac_update(new, old)
    }
}

/// `ValidateVolumeAttributesClassUpdate`: driver and parameters are fixed.
pub fn validate_vac_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errs = validate_vac(new);
    errs.extend(forbid_change(new, old, "driverName"));
    errs.extend(forbid_change(new, old, "parameters"));
    errs
}

/// `validateProvisioner`: required, and a qualified name once lowercased.
pub fn validate_provisioner(value: &str, path: &str) -> Vec<FieldError> {
    if value.is_empty() {
        return vec![FieldError::required(path, "")];
    }
    is_qualified_name(&value.to_lowercase())
        .into_iter()
        .map(|m| FieldError::invalid(path, value, m))
        .collect()
}

/// `validateParameters` (empty maps allowed).
pub fn validate_parameters(obj: &Value, path: &str) -> Vec<FieldError> {
    let Some(params) = obj.get(path).and_then(Value::as_object) else {
        return Vec::new();
    };
    if params.len() > MAX_PARAMETERS {
        return vec![FieldError::too_long(path, MAX_PARAMETERS as i64)];
    }
    let mut errs = Vec::new();
    let mut total = 0i64;
    for (k, v) in params {
        if k.is_empty() {
            errs.push(FieldError::invalid(
                path,
                k.as_str(),
                "field can not be empty.",
            ));
        }
        total += (k.len() + v.as_str().map_or(0, str::len)) as i64;
    }
    if total > MAX_PARAMETERS_SIZE {
        errs.push(FieldError::too_long(path, MAX_PARAMETERS_SIZE));
    }
    errs
}

/// `ValidateStorageClass`.
pub fn validate_storage_class(obj: &Value) -> Vec<FieldError> {
    let mut errs = validate_provisioner(str_at(obj, "/provisioner"), "provisioner");
    errs.extend(validate_parameters(obj, "parameters"));
    if let Some(policy) = present(obj, "/reclaimPolicy") {
        if policy != "" && policy != "Delete" && policy != "Retain" {
            errs.push(FieldError::not_supported(
                "reclaimPolicy",
                policy.clone(),
                &["Delete", "Retain"],
            ));
        }
    }
    match present(obj, "/volumeBindingMode") {
        None => errs.push(FieldError::required("volumeBindingMode", "")),
        Some(m) if m != "Immediate" && m != "WaitForFirstConsumer" => {
            errs.push(FieldError::not_supported(
                "volumeBindingMode",
                m.clone(),
                &["Immediate", "WaitForFirstConsumer"],
            ))
        }
        Some(_) => {}
    }
    errs
}

fn forbid_change(new: &Value, old: &Value, key: &str) -> Vec<FieldError> {
    let get = |o: &Value| o.get(key).filter(|v| !v.is_null()).cloned();
    let (n, o) = (get(new), get(old));
    let empty_map = |v: &Option<Value>| {
        v.as_ref()
            .is_none_or(|v| v.as_object().is_some_and(|m| m.is_empty()))
    };
    if n == o || (empty_map(&n) && empty_map(&o) && key == "parameters") {
        return Vec::new();
    }
    vec![FieldError::forbidden(
        key,
        format!("updates to {key} are forbidden."),
    )]
}

/// `ValidateStorageClassUpdate`: parameters, provisioner, reclaim policy
/// and binding mode are fixed.
pub fn validate_storage_class_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errs = forbid_change(new, old, "parameters");
    errs.extend(forbid_change(new, old, "provisioner"));
    errs.extend(forbid_change(new, old, "reclaimPolicy"));
    errs.extend(validate_immutable(
        present(new, "/volumeBindingMode"),
        present(old, "/volumeBindingMode"),
        "volumeBindingMode",
    ));
    errs
}

/// `ValidateVolumeAttributesClass`.
pub fn validate_vac(obj: &Value) -> Vec<FieldError> {
    let mut errs = validate_provisioner(str_at(obj, "/driverName"), "driverName");
    errs.extend(validate_parameters(obj, "parameters"));
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::validation::field_error::strs;

    fn defaulted(mut sc: Value) -> Value {
        default_field(&mut sc, "reclaimPolicy", json!("Delete"));
        default_field(&mut sc, "volumeBindingMode", json!("Immediate"));
        sc
    }

    #[test]
    fn storage_classes() {
        let sc = defaulted(json!({"provisioner": "kubernetes.io/no-provisioner"}));
        assert_eq!(sc["reclaimPolicy"], "Delete");
        assert_eq!(sc["volumeBindingMode"], "Immediate");
        assert!(validate_storage_class(&sc).is_empty());
        let bad = json!({"reclaimPolicy": "Recycle", "volumeBindingMode": "Later"});
        assert_eq!(
            strs(validate_storage_class(&bad)),
            [
                "provisioner: Required value",
                "reclaimPolicy: Unsupported value: \"Recycle\": supported values: \"Delete\", \"Retain\"",
                "volumeBindingMode: Unsupported value: \"Later\": supported values: \"Immediate\", \"WaitForFirstConsumer\"",
            ]
        );
        let mut new = sc.clone();
        new["provisioner"] = json!("other.io/p");
        new["parameters"] = json!({"type": "ssd"});
        new["volumeBindingMode"] = json!("WaitForFirstConsumer");
        assert_eq!(
            strs(validate_storage_class_update(&new, &sc)),
            [
                "parameters: Forbidden: updates to parameters are forbidden.",
                "provisioner: Forbidden: updates to provisioner are forbidden.",
                "volumeBindingMode: Invalid value: \"WaitForFirstConsumer\": field is immutable",
            ]
        );
    }

    #[test]
    fn volume_attributes_classes() {
        assert_eq!(
            strs(validate_vac(&json!({}))),
            ["driverName: Required value"]
        );
        let old = json!({"driverName": "d.io", "parameters": {"iops": "100"}});
        let new = json!({"driverName": "d.io", "parameters": {"iops": "200"}});
        assert_eq!(
            strs(validate_vac_update(&new, &old)),
            ["parameters: Forbidden: updates to parameters are forbidden."]
        );
    }
}
