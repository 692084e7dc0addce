//! core/v1 PersistentVolumeClaims (`ValidatePersistentVolumeClaim`,
//! `ValidatePersistentVolumeClaimUpdate`; `SetDefaults_PersistentVolumeClaimSpec`).

use super::persistent_volume::{validate_access_modes, validate_class_name, validate_volume_mode};
use super::{default_field, object_field};
use crate::registry::{Ctx, Strategy};
use crate::validation::checks::{present, str_at};
use crate::validation::field_error::FieldError;
use crate::validation::label_selector::validate_label_selector;
use crate::validation::quantity::{quantity_value, validate_positive};
use serde_json::{json, Value};

pub struct PersistentVolumeClaimStrategy;

impl Strategy for PersistentVolumeClaimStrategy {
    fn default(&self, obj: &mut Value, _ctx: &Ctx) {
        default_pvc(obj);
    }

    fn validate_create(&self, obj: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        validate_pvc(obj)
    }

    fn validate_update(&self, new: &Value, old: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        let mut errs = validate_pvc(new);
        errs.extend(validate_pvc_update(new, old));
        errs
    }
}

const IMMUTABLE: &str =
    "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims";

/// Volume mode Filesystem, phase Pending.
pub fn default_pvc(obj: &mut Value) {
    if let Some(spec) = object_field(obj, "spec") {
        default_field(spec, "volumeMode", json!("Filesystem"));
    }
    if let Some(status) = object_field(obj, "status") {
        default_field(status, "phase", json!("Pending"));
    }
}

/// `ValidatePersistentVolumeClaimSpec`.
pub fn validate_pvc(obj: &Value) -> Vec<FieldError> {
    let empty = json!({});
    let spec = obj.get("spec").unwrap_or(&empty);
    let mut errs = validate_access_modes(spec, "spec", "at least 1 access mode is required");
    errs.extend(validate_label_selector(
        present(spec, "/selector"),
        false,
        "spec.selector",
    ));
    match spec.pointer("/resources/requests/storage") {
        None => errs.push(FieldError::required("spec.resources[storage]", "")),
        Some(q) => errs.extend(validate_positive(q, "spec.resources[storage]")),
    }
    errs.extend(validate_class_name(spec, "spec"));
    errs.extend(validate_volume_mode(spec, "spec"));
    errs
}

/// The spec with what an update may change blanked out.
fn comparable_spec(new: &Value, old: &Value) -> (Value, Value) {
    let mut n = new.get("spec").cloned().unwrap_or(json!({}));
    let mut o = old.get("spec").cloned().unwrap_or(json!({}));
    if str_at(old, "/spec/volumeName").is_empty() {
        n["volumeName"] = Value::Null;
        o["volumeName"] = Value::Null;
    }
    if str_at(new, "/status/phase") == "Bound" {
        for spec in [&mut n, &mut o] {
            if let Some(requests) = spec.pointer_mut("/resources/requests") {
                requests["storage"] = Value::Null;
            }
            spec["volumeAttributesClassName"] = Value::Null;
        }
    }
    (n, o)
}

fn strip_nulls(v: &mut Value) {
    if let Some(map) = v.as_object_mut() {
        map.retain(|_, x| !x.is_null());
        map.values_mut().for_each(strip_nulls);
        map.retain(|_, x| !x.as_object().is_some_and(|m| m.is_empty()));
    }
}

/// `ValidatePersistentVolumeClaimUpdate`: the spec is immutable but for
/// the volume name (set once), and for bound claims the storage request
/// (not below the recorded capacity) and the attributes class.
pub fn validate_pvc_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let (mut n, mut o) = comparable_spec(new, old);
    strip_nulls(&mut n);
    strip_nulls(&mut o);
    if n != o {
        errs.push(FieldError::forbidden(
            "spec",
            format!("{IMMUTABLE}\n{}", spec_diff(&o, &n)),
        ));
    }
    let size = |v: &Value, p: &str| v.pointer(p).and_then(quantity_value).unwrap_or(0.0);
    let new_size = size(new, "/spec/resources/requests/storage");
    let old_size = size(old, "/spec/resources/requests/storage");
    let status_size = size(old, "/status/capacity/storage");
    if new_size < old_size && new_size <= status_size {
        errs.push(FieldError::forbidden(
            "spec.resources.requests.storage",
            "field can not be less than status.capacity",
        ));
    }
    errs
}

/// The changed top-level spec fields, one `-old`/`+new` pair each (a
/// simplification of the `cmp.Diff` kube-apiserver appends).
fn spec_diff(old: &Value, new: &Value) -> String {
    let empty = serde_json::Map::new();
    let (o, n) = (
        old.as_object().unwrap_or(&empty),
        new.as_object().unwrap_or(&empty),
    );
    let mut keys: Vec<&String> = o.keys().chain(n.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut out = String::new();
    for k in keys {
        if o.get(k) != n.get(k) {
            let show = |v: Option<&Value>| v.map_or("nil".to_string(), Value::to_string);
            out.push_str(&format!(
                "  {k}:\n-   {}\n+   {}\n",
                show(o.get(k)),
                show(n.get(k))
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(storage: &str) -> Value {
        json!({"spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": storage}}}})
    }

    #[test]
    fn defaults_and_create() {
        let mut c = claim("1Gi");
        default_pvc(&mut c);
        assert_eq!(c["spec"]["volumeMode"], "Filesystem");
        assert_eq!(c["status"]["phase"], "Pending");
        assert!(validate_pvc(&c).is_empty());
        let errs: Vec<String> = validate_pvc(&json!({"spec": {}}))
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            errs,
            [
                "spec.accessModes: Required value: at least 1 access mode is required",
                "spec.resources[storage]: Required value",
            ]
        );
    }

    #[test]
    fn updates() {
        let mut old = claim("1Gi");
        default_pvc(&mut old);
        old["spec"]["volumeName"] = json!("pv1");
        old["status"] = json!({"phase": "Bound", "capacity": {"storage": "1Gi"}});
        let mut grown = old.clone();
        grown["spec"]["resources"]["requests"]["storage"] = json!("2Gi");
        assert!(validate_pvc_update(&grown, &old).is_empty());
        let mut shrunk = old.clone();
        shrunk["spec"]["resources"]["requests"]["storage"] = json!("512Mi");
        assert_eq!(
            validate_pvc_update(&shrunk, &old)[0].to_string(),
            "spec.resources.requests.storage: Forbidden: field can not be less than status.capacity"
        );
        let mut changed = old.clone();
        changed["spec"]["accessModes"] = json!(["ReadWriteMany"]);
        let e = validate_pvc_update(&changed, &old)[0].to_string();
        assert!(
            e.starts_with(&format!("spec: Forbidden: {IMMUTABLE}\n")),
            "{e}"
        );
    }
}
