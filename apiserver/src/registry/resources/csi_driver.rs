//! storage.k8s.io/v1 CSIDrivers (`ValidateCSIDriver`,
//! `ValidateCSIDriverUpdate`; `SetDefaults_CSIDriver`).

use super::{default_field, object_field};
use crate::registry::{Ctx, Strategy};
use crate::validation::checks::{arr_at, present, str_at, validate_immutable};
use crate::validation::field_error::FieldError;
use crate::validation::names::is_dns1123_subdomain;
use serde_json::{json, Value};

pub struct CsiDriverStrategy;

impl Strategy for CsiDriverStrategy {
    fn default(&self, obj: &mut Value, _ctx: &Ctx) {
        default_csi_driver(obj);
    }

    fn validate_create(&self, obj: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        validate_csi_driver(obj)
    }

    fn validate_update(&self, new: &Value, old: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        let mut errs = validate_csi_driver(new);
        errs.extend(validate_immutable(
            present(new, "/spec/attachRequired"),
            present(old, "/spec/attachRequired"),
            "spec.attachRequired",
        ));
        errs.extend(validate_immutable(
            present(new, "/spec/volumeLifecycleModes"),
            present(old, "/spec/volumeLifecycleModes"),
            "spec.volumeLifecycleModes",
        ));
        errs
    }
}

/// `SetDefaults_CSIDriver`.
pub fn default_csi_driver(obj: &mut Value) {
    let Some(spec) = object_field(obj, "spec") else {
        return;
    };
    default_field(spec, "attachRequired", json!(true));
    default_field(spec, "podInfoOnMount", json!(false));
    default_field(spec, "storageCapacity", json!(false));
    default_field(spec, "fsGroupPolicy", json!("ReadWriteOnceWithFSType"));
    default_field(spec, "requiresRepublish", json!(false));
    default_field(spec, "seLinuxMount", json!(false));
    let no_modes = spec
        .get("volumeLifecycleModes")
        .and_then(Value::as_array)
        .is_none_or(|a| a.is_empty());
    if no_modes {
        spec["volumeLifecycleModes"] = json!(["Persistent"]);
    }
}

/// `ValidateCSIDriverName` (its `path` is `name` for CSIDrivers).
pub fn validate_driver_name(name: &str, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if name.is_empty() {
        errs.push(FieldError::required(path, ""));
    }
    if name.len() > 63 {
        errs.push(FieldError::too_long(path, 63));
    }
    for m in is_dns1123_subdomain(&name.to_lowercase()) {
        errs.push(FieldError::invalid(path, name, m));
    }
    errs
}

/// `ValidateCSIDriver`: the name, required booleans, enumerations and
/// token requests.
pub fn validate_csi_driver(obj: &Value) -> Vec<FieldError> {
    let mut errs = validate_driver_name(str_at(obj, "/metadata/name"), "name");
    let empty = json!({});
    let spec = obj.get("spec").unwrap_or(&empty);
    for key in [
        "attachRequired",
        "podInfoOnMount",
        "storageCapacity",
        "requiresRepublish",
    ] {
        if present(spec, &format!("/{key}")).is_none() {
            errs.push(FieldError::required(format!("spec.{key}"), ""));
        }
    }
    match present(spec, "/fsGroupPolicy") {
        None => errs.push(FieldError::required("spec.fsGroupPolicy", "")),
        Some(p)
            if !matches!(
                p.as_str(),
                Some("File" | "None" | "ReadWriteOnceWithFSType")
            ) =>
        {
            errs.push(FieldError::not_supported(
                "spec.fsGroupPolicy",
                p.clone(),
                &["File", "None", "ReadWriteOnceWithFSType"],
            ))
        }
        Some(_) => {}
    }
    for m in arr_at(spec, "/volumeLifecycleModes") {
        if !matches!(m.as_str(), Some("Ephemeral" | "Persistent")) {
            errs.push(FieldError::not_supported(
                "spec.volumeLifecycleModes",
                m.clone(),
                &["Ephemeral", "Persistent"],
            ));
        }
    }
    errs.extend(validate_token_requests(spec));
    errs
}

/// Token requests: unique audiences, 10 minutes to 2^32 seconds.
fn validate_token_requests(spec: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, tr) in arr_at(spec, "/tokenRequests").iter().enumerate() {
        let path = format!("spec.tokenRequests[{i}]");
        let audience = str_at(tr, "/audience");
        if !seen.insert(audience) {
            errs.push(FieldError::duplicate(format!("{path}.audience"), audience));
        }
        let Some(secs) = tr.get("expirationSeconds").and_then(Value::as_i64) else {
            continue;
        };
        let p = format!("{path}.expirationSeconds");
        if secs < 600 {
            errs.push(FieldError::invalid(
                &p,
                secs,
                "may not specify a duration less than 10 minutes",
            ));
        }
        if secs > 1 << 32 {
            errs.push(FieldError::invalid(
                &p,
                secs,
                "may not specify a duration larger than 2^32 seconds",
            ));
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let mut d = json!({"metadata": {"name": "csi.example.com"}});
        default_csi_driver(&mut d);
        assert_eq!(
            d["spec"],
            json!({"attachRequired": true, "podInfoOnMount": false, "storageCapacity": false,
                "fsGroupPolicy": "ReadWriteOnceWithFSType", "requiresRepublish": false,
                "seLinuxMount": false, "volumeLifecycleModes": ["Persistent"]})
        );
        assert!(validate_csi_driver(&d).is_empty());
    }

    #[test]
    fn invalid_specs() {
        let mut d = json!({"metadata": {"name": "csi.example.com"}, "spec": {
            "fsGroupPolicy": "Always", "volumeLifecycleModes": ["Forever"],
            "tokenRequests": [{"audience": "a", "expirationSeconds": 60}, {"audience": "a"}]}});
        default_csi_driver(&mut d);
        let errs: Vec<String> = validate_csi_driver(&d)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            errs,
            [
                "spec.fsGroupPolicy: Unsupported value: \"Always\": supported values: \"File\", \"None\", \"ReadWriteOnceWithFSType\"",
                "spec.volumeLifecycleModes: Unsupported value: \"Forever\": supported values: \"Ephemeral\", \"Persistent\"",
                "spec.tokenRequests[0].expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes",
                "spec.tokenRequests[1].audience: Duplicate value: \"a\"",
            ]
        );
    }
}
