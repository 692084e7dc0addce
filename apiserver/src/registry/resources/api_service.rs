//! apiregistration.k8s.io/v1 APIServices (`ValidateAPIService` in
//! kube-aggregator; local services are Available at once, as the
//! availability controller reports them).

use crate::registry::{Ctx, Pending, Strategy, WriteOp};
use crate::rest::status::ApiResult;
use crate::validation::checks::{is_path_segment_name, present, str_at};
use crate::validation::field_error::{go_quote, FieldError};
use crate::validation::names::{is_dns1035_label, is_dns1123_subdomain, is_valid_port_num};
use serde_json::{json, Value};

pub struct ApiServiceStrategy;

impl Strategy for ApiServiceStrategy {
    fn default(&self, obj: &mut Value, _ctx: &Ctx) {
        if let Some(service) = obj.pointer_mut("/spec/service").filter(|s| s.is_object()) {
            super::default_field(service, "port", json!(443));
        }
    }

    fn validate_create(&self, obj: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        validate_api_service(obj)
    }

    fn begin_write(&self, op: WriteOp<'_>, _ctx: &Ctx) -> ApiResult<Pending> {
        if let WriteOp::Create(obj) = op {
            mark_local_available(obj, &crate::rest::meta::now_rfc3339());
        }
        Ok(Pending::default())
    }
}

/// A local APIService (no `spec.service`) is served by this server.
pub fn mark_local_available(obj: &mut Value, now: &str) {
    if present(obj, "/spec/service").is_some() {
        return;
    }
    if let Some(map) = obj.as_object_mut() {
        map.insert(
            "status".into(),
            json!({"conditions": [{"type": "Available", "status": "True", "lastTransitionTime": now,
                "reason": "Local", "message": "Local APIServices are always available"}]}),
        );
    }
}

fn name_errors(obj: &Value) -> Vec<String> {
    let name = str_at(obj, "/metadata/name");
    let minimal = is_path_segment_name(name);
    if !minimal.is_empty() {
        return minimal;
    }
    let required = format!(
        "{}.{}",
        str_at(obj, "/spec/version"),
        str_at(obj, "/spec/group")
    );
    if name != required {
        return vec![format!(
            "must be `spec.version+\".\"+spec.group`: {}",
            go_quote(&required)
        )];
    }
    Vec::new()
}

/// `ValidateAPIService`.
pub fn validate_api_service(obj: &Value) -> Vec<FieldError> {
    let name = str_at(obj, "/metadata/name");
    let mut errs: Vec<FieldError> = name_errors(obj)
        .into_iter()
        .map(|m| FieldError::invalid("metadata.name", name, m))
        .collect();
    let (group, version) = (str_at(obj, "/spec/group"), str_at(obj, "/spec/version"));
    if group.is_empty() && version != "v1" {
        errs.push(FieldError::required(
            "spec.group",
            "only v1 may have an empty group and it better be legacy kube",
        ));
    }
    if !group.is_empty() {
        errs.extend(
            is_dns1123_subdomain(group)
                .into_iter()
                .map(|m| FieldError::invalid("spec.group", group, m)),
        );
    }
    errs.extend(
        is_dns1035_label(version)
            .into_iter()
            .map(|m| FieldError::invalid("spec.version", version, m)),
    );
    let int = |key: &str| {
        obj.pointer(&format!("/spec/{key}"))
            .and_then(Value::as_i64)
            .unwrap_or(0)
    };
    let gpm = int("groupPriorityMinimum");
    if gpm <= 0 || gpm > 20000 {
        errs.push(FieldError::invalid(
            "spec.groupPriorityMinimum",
            gpm,
            "must be positive and less than 20000",
        ));
    }
    let vp = int("versionPriority");
    if vp <= 0 || vp > 1000 {
        errs.push(FieldError::invalid(
            "spec.versionPriority",
            vp,
            "must be positive and less than 1000",
        ));
    }
    errs.extend(validate_service(obj));
    errs
}

fn validate_service(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let ca_len = str_at(obj, "/spec/caBundle").len() * 3 / 4;
    let insecure = obj
        .pointer("/spec/insecureSkipTLSVerify")
        .and_then(Value::as_bool)
        == Some(true);
    let Some(service) = present(obj, "/spec/service") else {
        if ca_len != 0 {
            errs.push(FieldError::invalid(
                "spec.caBundle",
                format!("{ca_len} bytes"),
                "local APIServices may not have a caBundle",
            ));
        }
        if insecure {
            errs.push(FieldError::invalid(
                "spec.insecureSkipTLSVerify",
                true,
                "local APIServices may not have insecureSkipTLSVerify",
            ));
        }
        return errs;
    };
    for key in ["namespace", "name"] {
        if str_at(service, &format!("/{key}")).is_empty() {
            errs.push(FieldError::required(format!("spec.service.{key}"), ""));
        }
    }
    let port = service.get("port").and_then(Value::as_i64).unwrap_or(443);
    let port_errs = is_valid_port_num(port);
    if !port_errs.is_empty() {
        errs.push(FieldError::invalid(
            "spec.service.port",
            port,
            format!("port is not valid: {}", port_errs.join(", ")),
        ));
    }
    if insecure && ca_len > 0 {
        errs.push(FieldError::invalid(
            "spec.insecureSkipTLSVerify",
            true,
            "may not be true if caBundle is present",
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_and_remote() {
        let mut local = json!({"metadata": {"name": "v1.apps"},
            "spec": {"group": "apps", "version": "v1", "groupPriorityMinimum": 17800, "versionPriority": 15}});
        assert!(validate_api_service(&local).is_empty());
        mark_local_available(&mut local, "2026-01-01T00:00:00Z");
        assert_eq!(local["status"]["conditions"][0]["type"], "Available");
        assert_eq!(local["status"]["conditions"][0]["reason"], "Local");
        let remote = json!({"metadata": {"name": "v1beta1.metrics.k8s.io"},
            "spec": {"group": "metrics.k8s.io", "version": "v1", "service": {"name": "ms", "port": 0}}});
        let errs: Vec<String> = validate_api_service(&remote)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            errs,
            [
                "metadata.name: Invalid value: \"v1beta1.metrics.k8s.io\": must be `spec.version+\".\"+spec.group`: \"v1.metrics.k8s.io\"",
                "spec.groupPriorityMinimum: Invalid value: 0: must be positive and less than 20000",
                "spec.versionPriority: Invalid value: 0: must be positive and less than 1000",
                "spec.service.namespace: Required value",
                "spec.service.port: Invalid value: 0: port is not valid: must be between 1 and 65535, inclusive",
            ]
        );
    }
}
