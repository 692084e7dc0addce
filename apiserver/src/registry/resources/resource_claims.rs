//! resource.k8s.io/v1 DeviceClasses, ResourceClaims, ResourceClaimTemplates
//! and ResourceSlices: the required-field checks of
//! `pkg/apis/resource/validation` and the v1 request defaults
//! (`SetDefaults_ExactDeviceRequest`). CEL selectors are not compiled.

use super::csi_driver::validate_driver_name;
use super::default_field;
use crate::registry::{Ctx, Strategy};
use crate::validation::checks::{arr_at, invalid_each, present, str_at, FIELD_IMMUTABLE};
use crate::validation::field_error::FieldError;
use crate::validation::names::is_dns1123_label;
use serde_json::{json, Value};

pub struct DeviceClassStrategy;
pub struct ResourceClaimStrategy;
pub struct ResourceClaimTemplateStrategy;
pub struct ResourceSliceStrategy;

impl Strategy for DeviceClassStrategy {
    fn validate_create(&self, obj: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        validate_selectors(obj.pointer("/spec/selectors"), "spec.selectors")
    }
}

impl Strategy for ResourceClaimStrategy {
    fn default(&self, obj: &mut Value, _ctx: &Ctx) {
        if let Some(spec) = obj.get_mut("spec") {
            default_claim_spec(spec);
        }
    }

    fn validate_create(&self, obj: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        validate_claim_spec(obj.get("spec"), "spec")
    }

    fn validate_update(&self, new: &Value, old: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        let mut errs = validate_claim_spec(new.get("spec"), "spec");
        errs.extend(immutable_spec(new, old, "spec"));
        errs
    }
}

impl Strategy for ResourceClaimTemplateStrategy {
    fn default(&self, obj: &mut Value, _ctx: &Ctx) {
        if let Some(spec) = obj.pointer_mut("/spec/spec") {
            default_claim_spec(spec);
        }
    }

    fn validate_create(&self, obj: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        validate_claim_spec(obj.pointer("/spec/spec"), "spec.spec")
    }

    fn validate_update(&self, new: &Value, old: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        let mut errs = validate_claim_spec(new.pointer("/spec/spec"), "spec.spec");
        errs.extend(immutable_spec(new, old, "spec"));
        errs
    }
}

impl Strategy for ResourceSliceStrategy {
    fn validate_create(&self, obj: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        validate_slice(obj)
    }
}

fn immutable_spec(new: &Value, old: &Value, key: &str) -> Vec<FieldError> {
    let get = |o: &Value| o.get(key).cloned().unwrap_or(Value::Null);
    if get(new) == get(old) {
        return Vec::new();
    }
    vec![FieldError::invalid(key, get(new), FIELD_IMMUTABLE)]
}

/// Allocation mode ExactCount with count 1, for requests and subrequests.
pub fn default_claim_spec(spec: &mut Value) {
    let requests = spec
        .pointer_mut("/devices/requests")
        .and_then(Value::as_array_mut);
    for request in requests.into_iter().flatten() {
        if let Some(exactly) = request.get_mut("exactly").filter(|e| e.is_object()) {
            default_exact(exactly);
        }
        let subs = request
            .get_mut("firstAvailable")
            .and_then(Value::as_array_mut);
        for sub in subs.into_iter().flatten() {
            default_exact(sub);
        }
    }
}

fn default_exact(request: &mut Value) {
    default_field(request, "allocationMode", json!("ExactCount"));
    let exact = request.get("allocationMode").and_then(Value::as_str) == Some("ExactCount");
    if exact && request.get("count").and_then(Value::as_i64).unwrap_or(0) == 0 {
        request["count"] = json!(1);
    }
}

fn validate_selectors(selectors: Option<&Value>, path: &str) -> Vec<FieldError> {
    let list = selectors
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let mut errs = Vec::new();
    for (i, s) in list.iter().enumerate() {
        let p = format!("{path}[{i}]");
        match present(s, "/cel") {
            None => errs.push(FieldError::required(format!("{p}.cel"), "")),
            Some(cel) if str_at(cel, "/expression").is_empty() => {
                errs.push(FieldError::required(format!("{p}.cel.expression"), ""))
            }
            Some(_) => {}
        }
    }
    errs
}

/// Requests: unique DNS-label names, exactly one of `exactly` and
/// `firstAvailable`, a device class and a count that fits the mode.
pub fn validate_claim_spec(spec: Option<&Value>, path: &str) -> Vec<FieldError> {
    let empty = json!({});
    let spec = spec.unwrap_or(&empty);
    let mut errs = Vec::new();
    let mut names = Vec::new();
    for (i, r) in arr_at(spec, "/devices/requests").iter().enumerate() {
        let p = format!("{path}.devices.requests[{i}]");
        let name = str_at(r, "/name");
        if name.is_empty() {
            errs.push(FieldError::required(format!("{p}.name"), ""));
        } else {
            errs.extend(invalid_each(
                &format!("{p}.name"),
                name,
                is_dns1123_label(name),
            ));
            if names.contains(&name) {
                errs.push(FieldError::duplicate(format!("{p}.name"), name));
            }
            names.push(name);
        }
        let exactly = present(r, "/exactly");
        let first = arr_at(r, "/firstAvailable");
        match (exactly, first.is_empty()) {
            (Some(_), false) => errs.push(FieldError::invalid(
                &p,
                Value::Null,
                "exactly one of `exactly` or `firstAvailable` is required, but multiple fields are set",
            )),
            (None, true) => errs.push(FieldError::required(
                &p,
                "exactly one of `exactly` or `firstAvailable` is required",
            )),
            (Some(e), true) => errs.extend(validate_exact(e, &format!("{p}.exactly"))),
            (None, false) => {
                for (j, sub) in first.iter().enumerate() {
                    errs.extend(validate_exact(sub, &format!("{p}.firstAvailable[{j}]")));
                }
            }
        }
    }
    errs
}

fn validate_exact(r: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if str_at(r, "/deviceClassName").is_empty() {
        errs.push(FieldError::required(format!("{path}.deviceClassName"), ""));
    }
    let count = r.get("count").and_then(Value::as_i64).unwrap_or(0);
    match str_at(r, "/allocationMode") {
        "ExactCount" if count <= 0 => errs.push(FieldError::invalid(
            format!("{path}.count"),
            count,
            "must be greater than zero",
        )),
        "All" if count != 0 => errs.push(FieldError::invalid(
            format!("{path}.count"),
            count,
            "must not be specified when allocationMode is 'All'",
        )),
        "ExactCount" | "All" => {}
        other => errs.push(FieldError::not_supported(
            format!("{path}.allocationMode"),
            other,
            &["All", "ExactCount"],
        )),
    }
    errs.extend(validate_selectors(
        r.get("selectors"),
        &format!("{path}.selectors"),
    ));
    errs
}

/// A slice names its driver and pool and exactly one node selection.
pub fn validate_slice(obj: &Value) -> Vec<FieldError> {
    let mut errs = validate_driver_name(str_at(obj, "/spec/driver"), "spec.driver");
    if str_at(obj, "/spec/pool/name").is_empty() {
        errs.push(FieldError::required("spec.pool.name", ""));
    }
    let count = obj
        .pointer("/spec/pool/resourceSliceCount")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if count <= 0 {
        errs.push(FieldError::invalid(
            "spec.pool.resourceSliceCount",
            count,
            "must be greater than zero",
        ));
    }
    let selections = [
        "nodeName",
        "nodeSelector",
        "allNodes",
        "perDeviceNodeSelection",
    ];
    let set = selections
        .iter()
        .filter(|k| match present(obj, &format!("/spec/{k}")) {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => !s.is_empty(),
            Some(_) => true,
            None => false,
        })
        .count();
    let detail = "exactly one of `nodeName`, `nodeSelector`, `allNodes`, `perDeviceNodeSelection` is required";
    if set == 0 {
        errs.push(FieldError::required("spec", detail));
    } else if set > 1 {
        errs.push(FieldError::invalid(
            "spec",
            Value::Null,
            format!("{detail}, but multiple fields are set"),
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::validation::field_error::strs;

    #[test]
    fn claims() {
        let mut spec = json!({"devices": {"requests": [{"name": "gpu", "exactly": {"deviceClassName": "gpu.example.com"}}]}});
        default_claim_spec(&mut spec);
        assert_eq!(
            spec["devices"]["requests"][0]["exactly"]["allocationMode"],
            "ExactCount"
        );
        assert_eq!(spec["devices"]["requests"][0]["exactly"]["count"], 1);
        assert!(validate_claim_spec(Some(&spec), "spec").is_empty());
        let bad = json!({"devices": {"requests": [
            {"name": "gpu"},
            {"name": "gpu", "exactly": {"allocationMode": "All", "count": 2}}
        ]}});
        assert_eq!(
            strs(validate_claim_spec(Some(&bad), "spec")),
            [
                "spec.devices.requests[0]: Required value: exactly one of `exactly` or `firstAvailable` is required",
                "spec.devices.requests[1].name: Duplicate value: \"gpu\"",
                "spec.devices.requests[1].exactly.deviceClassName: Required value",
                "spec.devices.requests[1].exactly.count: Invalid value: 2: must not be specified when allocationMode is 'All'",
            ]
        );
        let old = json!({"spec": spec});
        let mut new = old.clone();
        new["spec"]["devices"]["requests"][0]["exactly"]["count"] = json!(2);
        assert!(immutable_spec(&new, &old, "spec")[0]
            .to_string()
            .ends_with(": field is immutable"));
    }

    #[test]
    fn slices() {
        let ok = json!({"spec": {"driver": "gpu.example.com", "pool": {"name": "p", "resourceSliceCount": 1},
            "nodeName": "node-1"}});
        assert!(validate_slice(&ok).is_empty());
        assert_eq!(
            strs(validate_slice(&json!({"spec": {"driver": "gpu.example.com", "pool": {"name": "p", "resourceSliceCount": 1}}}))),
            ["spec: Required value: exactly one of `nodeName`, `nodeSelector`, `allNodes`, `perDeviceNodeSelection` is required"]
        );
    }
}
