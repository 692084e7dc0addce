//! core/v1 PersistentVolumes (`ValidatePersistentVolume`,
//! `ValidatePersistentVolumeSpec`; `SetDefaults_PersistentVolume`;
//! `pkg/registry/core/persistentvolume/strategy.go`).

use super::{default_field, object_field};
use crate::registry::{Ctx, Strategy};
use crate::validation::checks::{invalid_each, present, str_at};
use crate::validation::field_error::FieldError;
use crate::validation::names::is_dns1123_subdomain;
use crate::validation::quantity::validate_positive;
use serde_json::{json, Value};

pub struct PersistentVolumeStrategy;

impl Strategy for PersistentVolumeStrategy {
    fn default(&self, obj: &mut Value, _ctx: &Ctx) {
        default_pv(obj);
    }

    fn validate_create(&self, obj: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        validate_pv(obj)
    }
}

/// The access modes a volume or claim may request.
pub const ACCESS_MODES: [&str; 4] = [
    "ReadOnlyMany",
    "ReadWriteMany",
    "ReadWriteOnce",
    "ReadWriteOncePod",
];

/// The volume sources a PersistentVolume may carry.
const SOURCES: [&str; 22] = [
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "hostPath",
    "glusterfs",
    "nfs",
    "rbd",
    "quobyte",
    "cephfs",
    "iscsi",
    "cinder",
    "fc",
    "flocker",
    "flexVolume",
    "azureFile",
    "vsphereVolume",
    "azureDisk",
    "photonPersistentDisk",
    "portworxVolume",
    "scaleIO",
    "local",
    "storageos",
    "csi",
];

/// Reclaim policy Retain, volume mode Filesystem, phase Pending.
pub fn default_pv(obj: &mut Value) {
    if let Some(spec) = object_field(obj, "spec") {
        default_field(spec, "persistentVolumeReclaimPolicy", json!("Retain"));
        default_field(spec, "volumeMode", json!("Filesystem"));
    }
    if let Some(status) = object_field(obj, "status") {
        default_field(status, "phase", json!("Pending"));
    }
}

/// Access modes: required (with `required_detail`), supported, and
/// ReadWriteOncePod alone.
pub fn validate_access_modes(spec: &Value, path: &str, required_detail: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let modes = spec.get("accessModes").and_then(Value::as_array);
    let modes = modes.map(Vec::as_slice).unwrap_or(&[]);
    let p = format!("{path}.accessModes");
    if modes.is_empty() {
        errs.push(FieldError::required(&p, required_detail));
    }
    for m in modes {
        if !m.as_str().is_some_and(|s| ACCESS_MODES.contains(&s)) {
            errs.push(FieldError::not_supported(&p, m.clone(), &ACCESS_MODES));
        }
    }
    if modes.len() > 1 && modes.iter().any(|m| m == "ReadWriteOncePod") {
        errs.push(FieldError::forbidden(
            &p,
            "may not use ReadWriteOncePod with other access modes",
        ));
    }
    errs
}

/// `volumeMode` Block or Filesystem.
pub fn validate_volume_mode(spec: &Value, path: &str) -> Vec<FieldError> {
    match present(spec, "/volumeMode") {
        Some(m) if !matches!(m.as_str(), Some("Block" | "Filesystem")) => {
            vec![FieldError::not_supported(
                format!("{path}.volumeMode"),
                m.clone(),
                &["Block", "Filesystem"],
            )]
        }
        _ => Vec::new(),
    }
}

/// A storage class name is a DNS subdomain (`ValidateClassName`).
pub fn validate_class_name(spec: &Value, path: &str) -> Vec<FieldError> {
    let class = str_at(spec, "/storageClassName");
    if class.is_empty() {
        return Vec::new();
    }
    invalid_each(
        &format!("{path}.storageClassName"),
        class,
        is_dns1123_subdomain(class),
    )
}

/// `ValidatePersistentVolumeSpec` (not inline).
pub fn validate_pv(obj: &Value) -> Vec<FieldError> {
    let empty = json!({});
    let spec = obj.get("spec").unwrap_or(&empty);
    let mut errs = validate_access_modes(spec, "spec", "");
    errs.extend(validate_capacity(spec));
    errs.extend(validate_class_name(spec, "spec"));
    errs.extend(validate_volume_mode(spec, "spec"));
    let policy = spec
        .get("persistentVolumeReclaimPolicy")
        .cloned()
        .unwrap_or(json!(""));
    if !matches!(policy.as_str(), Some("Delete" | "Recycle" | "Retain")) {
        errs.push(FieldError::not_supported(
            "spec.persistentVolumeReclaimPolicy",
            policy,
            &["Delete", "Recycle", "Retain"],
        ));
    }
    errs.extend(validate_sources(spec));
    errs
}

fn validate_capacity(spec: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let capacity = spec.get("capacity").and_then(Value::as_object);
    let empty = serde_json::Map::new();
    let capacity = capacity.unwrap_or(&empty);
    if capacity.is_empty() {
        errs.push(FieldError::required("spec.capacity", ""));
    }
    if !capacity.contains_key("storage") || capacity.len() > 1 {
        errs.push(FieldError::not_supported(
            "spec.capacity",
            Value::Object(capacity.clone()),
            &["storage"],
        ));
    }
    for (name, q) in capacity {
        errs.extend(validate_positive(q, &format!("spec.capacity[{name}]")));
    }
    errs
}

/// Exactly one volume source, with the required fields of the common ones.
fn validate_sources(spec: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut count = 0;
    for key in SOURCES {
        let Some(source) = present(spec, &format!("/{key}")) else {
            continue;
        };
        count += 1;
        if count > 1 {
            errs.push(FieldError::forbidden(
                format!("spec.{key}"),
                "may not specify more than 1 volume type",
            ));
            continue;
        }
        errs.extend(validate_source(key, source, spec));
    }
    if count == 0 {
        errs.push(FieldError::required("spec", "must specify a volume type"));
    }
    errs
}

fn require(source: &Value, path: &str, keys: &[&str]) -> Vec<FieldError> {
    keys.iter()
        .filter(|k| str_at(source, &format!("/{k}")).is_empty())
        .map(|k| FieldError::required(format!("{path}.{k}"), ""))
        .collect()
}

fn validate_source(key: &str, source: &Value, spec: &Value) -> Vec<FieldError> {
    let path = format!("spec.{key}");
    match key {
        "hostPath" => require(source, &path, &["path"]),
        "nfs" => require(source, &path, &["server", "path"]),
        "csi" => require(source, &path, &["driver", "volumeHandle"]),
        "local" => {
            let mut errs = require(source, &path, &["path"]);
            if present(spec, "/nodeAffinity").is_none() {
                errs.push(FieldError::required(
                    "spec.nodeAffinity",
                    "Local volume requires node affinity",
                ));
            }
            errs
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errs(obj: &Value) -> Vec<String> {
        validate_pv(obj).iter().map(ToString::to_string).collect()
    }

    #[test]
    fn defaults() {
        let mut pv = json!({"spec": {}});
        default_pv(&mut pv);
        assert_eq!(pv["spec"]["persistentVolumeReclaimPolicy"], "Retain");
        assert_eq!(pv["spec"]["volumeMode"], "Filesystem");
        assert_eq!(pv["status"]["phase"], "Pending");
    }

    #[test]
    fn valid_and_invalid() {
        let mut pv = json!({"spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
            "hostPath": {"path": "/data"}}});
        default_pv(&mut pv);
        assert!(errs(&pv).is_empty());
        let mut bad = json!({"spec": {"capacity": {"cpu": "1"}, "volumeMode": "Raw",
            "nfs": {"server": "s"}, "hostPath": {"path": "/x"}}});
        default_pv(&mut bad);
        assert_eq!(
            errs(&bad),
            [
                "spec.accessModes: Required value",
                "spec.capacity: Unsupported value: {\"cpu\":\"1\"}: supported values: \"storage\"",
                "spec.volumeMode: Unsupported value: \"Raw\": supported values: \"Block\", \"Filesystem\"",
                "spec.nfs: Forbidden: may not specify more than 1 volume type",
            ]
        );
        assert_eq!(
            errs(
                &json!({"spec": {"capacity": {"storage": "0"}, "accessModes": ["ReadWriteOncePod", "ReadWriteOnce"],
                "persistentVolumeReclaimPolicy": "Retain"}})
            ),
            [
                "spec.accessModes: Forbidden: may not use ReadWriteOncePod with other access modes",
                "spec.capacity[storage]: Invalid value: \"0\": must be greater than zero",
                "spec: Required value: must specify a volume type",
            ]
        );
    }
}
