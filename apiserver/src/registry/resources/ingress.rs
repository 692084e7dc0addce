//! networking.k8s.io/v1 Ingresses (`pkg/registry/networking/ingress`,
//! `ValidateIngressCreate`/`ValidateIngressUpdate`).

use crate::registry::{Ctx, Strategy};
use crate::validation::checks::{
    arr_at, invalid_each, is_path_segment_name, is_wildcard_dns1123_subdomain, present, str_at,
};
use crate::validation::field_error::FieldError;
use crate::validation::names::{
    is_dns1035_label, is_dns1123_label, is_dns1123_subdomain, is_valid_port_name,
    is_valid_port_num, parse_ip_sloppy,
};
use serde_json::Value;

pub struct IngressStrategy;

impl Strategy for IngressStrategy {
    fn validate_create(&self, obj: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        validate_create(obj)
    }

    fn validate_update(&self, new: &Value, old: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        validate_update(new, old)
    }
}

const INGRESS_CLASS_ANNOTATION: &str = "kubernetes.io/ingress.class";
const INVALID_SEQUENCES: [&str; 5] = ["//", "/./", "/../", "%2f", "%2F"];
const INVALID_SUFFIXES: [&str; 2] = ["/..", "/."];

/// What an update tolerates because the stored object already had it
/// (`IngressValidationOptions`).
#[derive(Default, Clone, Copy)]
pub struct Opts {
    allow_invalid_secret_name: bool,
    allow_invalid_wildcard_rule: bool,
    relaxed_service_name: bool,
}

/// `ValidateIngressCreate`: the spec, and the class annotation agreeing
/// with `ingressClassName`.
pub fn validate_create(obj: &Value) -> Vec<FieldError> {
    let mut errs = validate_spec(obj, Opts::default());
    let annotation = obj
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(INGRESS_CLASS_ANNOTATION))
        .and_then(Value::as_str);
    let class = present(obj, "/spec/ingressClassName").and_then(Value::as_str);
    if let (Some(a), Some(c)) = (annotation, class) {
        if a != c {
            errs.push(FieldError::invalid(
                format!("annotations.{INGRESS_CLASS_ANNOTATION}"),
                a,
                "must match `ingressClassName` when both are specified",
            ));
        }
    }
    errs
}

/// `ValidateIngressUpdate`.
pub fn validate_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let opts = Opts {
        allow_invalid_secret_name: arr_at(old, "/spec/tls")
            .iter()
            .any(|t| !tls_secret_errors(str_at(t, "/secretName")).is_empty()),
        allow_invalid_wildcard_rule: arr_at(old, "/spec/rules").iter().any(|r| {
            str_at(r, "/host").contains('*')
                && !validate_rule_value(r, "", Opts::default()).is_empty()
        }),
        relaxed_service_name: old_has_relaxed_service_name(old),
    };
    validate_spec(new, opts)
}

fn old_has_relaxed_service_name(old: &Value) -> bool {
    let relaxed =
        |name: &str| is_dns1123_label(name).is_empty() && !is_dns1035_label(name).is_empty();
    let default = str_at(old, "/spec/defaultBackend/service/name");
    relaxed(default)
        || arr_at(old, "/spec/rules").iter().any(|r| {
            arr_at(r, "/http/paths")
                .iter()
                .any(|p| relaxed(str_at(p, "/backend/service/name")))
        })
}

fn tls_secret_errors(name: &str) -> Vec<String> {
    if name.is_empty() {
        return Vec::new();
    }
    is_dns1123_subdomain(name)
}

/// `ValidateIngressSpec`.
pub fn validate_spec(obj: &Value, opts: Opts) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let rules = arr_at(obj, "/spec/rules");
    let default_backend = present(obj, "/spec/defaultBackend");
    if rules.is_empty() && default_backend.is_none() {
        errs.push(FieldError::invalid(
            "spec",
            obj.pointer("/spec/rules").cloned().unwrap_or(Value::Null),
            "either `defaultBackend` or `rules` must be specified",
        ));
    }
    if let Some(b) = default_backend {
        errs.extend(validate_backend(b, "spec.defaultBackend", opts));
    }
    for (i, rule) in rules.iter().enumerate() {
        errs.extend(validate_rule(rule, &format!("spec.rules[{i}]"), opts));
    }
    errs.extend(validate_tls(obj, opts));
    if let Some(class) = present(obj, "/spec/ingressClassName").and_then(Value::as_str) {
        errs.extend(invalid_each(
            "spec.ingressClassName",
            class,
            is_dns1123_subdomain(class),
        ));
    }
    errs
}

fn validate_tls(obj: &Value, opts: Opts) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (i, tls) in arr_at(obj, "/spec/tls").iter().enumerate() {
        for (j, host) in arr_at(tls, "/hosts").iter().enumerate() {
            let host = host.as_str().unwrap_or("");
            let msgs = if host.contains('*') {
                is_wildcard_dns1123_subdomain(host)
            } else {
                is_dns1123_subdomain(host)
            };
            errs.extend(invalid_each(
                &format!("spec.tls[{i}].hosts[{j}]"),
                host,
                msgs,
            ));
        }
        if !opts.allow_invalid_secret_name {
            let secret = str_at(tls, "/secretName");
            let path = format!("spec.tls[{i}].secretName");
            errs.extend(invalid_each(&path, secret, tls_secret_errors(secret)));
        }
    }
    errs
}

/// One rule: its host (not an IP; wildcards allowed) and HTTP paths.
fn validate_rule(rule: &Value, path: &str, opts: Opts) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let host = str_at(rule, "/host");
    let host_path = format!("{path}.host");
    let mut wildcard = false;
    if !host.is_empty() {
        if parse_ip_sloppy(host).is_some() {
            errs.push(FieldError::invalid(
                &host_path,
                host,
                "must be a DNS name, not an IP address",
            ));
        }
        let msgs = if host.contains('*') {
            wildcard = true;
            is_wildcard_dns1123_subdomain(host)
        } else {
            is_dns1123_subdomain(host)
        };
        errs.extend(invalid_each(&host_path, host, msgs));
    }
    if !wildcard || !opts.allow_invalid_wildcard_rule {
        errs.extend(validate_rule_value(rule, path, opts));
    }
    errs
}

/// `validateIngressRuleValue` / `validateHTTPIngressRuleValue`.
fn validate_rule_value(rule: &Value, path: &str, opts: Opts) -> Vec<FieldError> {
    let Some(http) = present(rule, "/http") else {
        return Vec::new();
    };
    let paths = arr_at(http, "/paths");
    let mut errs = Vec::new();
    if paths.is_empty() {
        errs.push(FieldError::required(join(path, "http.paths"), ""));
    }
    for (i, p) in paths.iter().enumerate() {
        errs.extend(validate_http_path(
            p,
            &join(path, &format!("http.paths[{i}]")),
            opts,
        ));
    }
    errs
}

fn join(prefix: &str, rest: &str) -> String {
    if prefix.is_empty() {
        rest.to_string()
    } else {
        format!("{prefix}.{rest}")
    }
}

/// `validateHTTPIngressPath`: pathType required and supported, absolute
/// paths without dot segments for Exact/Prefix, and the backend.
fn validate_http_path(p: &Value, path: &str, opts: Opts) -> Vec<FieldError> {
    let Some(path_type) = present(p, "/pathType") else {
        return vec![FieldError::required(
            format!("{path}.pathType"),
            "pathType must be specified",
        )];
    };
    let mut errs = Vec::new();
    let value = str_at(p, "/path");
    let field = format!("{path}.path");
    let absolute = || FieldError::invalid(&field, value, "must be an absolute path");
    match path_type.as_str() {
        Some("Exact" | "Prefix") => {
            if !value.starts_with('/') {
                errs.push(absolute());
            }
            for seq in INVALID_SEQUENCES.iter().filter(|s| value.contains(**s)) {
                errs.push(FieldError::invalid(
                    &field,
                    value,
                    format!("must not contain '{seq}'"),
                ));
            }
            for suf in INVALID_SUFFIXES.iter().filter(|s| value.ends_with(**s)) {
                errs.push(FieldError::invalid(
                    &field,
                    value,
                    format!("cannot end with '{suf}'"),
                ));
            }
        }
        Some("ImplementationSpecific") => {
            if !value.is_empty() && !value.starts_with('/') {
                errs.push(absolute());
            }
        }
        _ => errs.push(FieldError::not_supported(
            format!("{path}.pathType"),
            path_type.clone(),
            &["Exact", "ImplementationSpecific", "Prefix"],
        )),
    }
    errs.extend(validate_backend(
        p.get("backend").unwrap_or(&Value::Null),
        &format!("{path}.backend"),
        opts,
    ));
    errs
}

/// `validateIngressBackend`: a service (name and port name xor number) or
/// a resource reference, not both.
pub fn validate_backend(b: &Value, path: &str, opts: Opts) -> Vec<FieldError> {
    let resource = present(b, "/resource");
    let service = present(b, "/service");
    match (resource, service) {
        (Some(_), Some(_)) => vec![FieldError::invalid(
            path,
            "",
            "cannot set both resource and service backends",
        )],
        (Some(r), None) => validate_typed_ref(r, &format!("{path}.resource")),
        (None, Some(s)) => validate_service_backend(s, path, opts),
        (None, None) => vec![FieldError::invalid(
            path,
            "",
            "resource or service backend is required",
        )],
    }
}

fn validate_service_backend(s: &Value, path: &str, opts: Opts) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let name = str_at(s, "/name");
    let name_path = format!("{path}.service.name");
    if name.is_empty() {
        errs.push(FieldError::required(&name_path, ""));
    } else {
        let msgs = if opts.relaxed_service_name {
            is_dns1123_label(name)
        } else {
            is_dns1035_label(name)
        };
        errs.extend(invalid_each(&name_path, name, msgs));
    }
    let port_name = str_at(s, "/port/name");
    let number = s
        .pointer("/port/number")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    match (port_name.is_empty(), number == 0) {
        (false, false) => errs.push(FieldError::invalid(
            path,
            "",
            "cannot set both port name & port number",
        )),
        (false, true) => errs.extend(invalid_each(
            &format!("{path}.service.port.name"),
            port_name,
            is_valid_port_name(port_name),
        )),
        (true, false) => {
            for m in is_valid_port_num(number) {
                errs.push(FieldError::invalid(
                    format!("{path}.service.port.number"),
                    number,
                    m,
                ));
            }
        }
        (true, true) => errs.push(FieldError::required(
            path,
            "port name or number is required",
        )),
    }
    errs
}

/// `validateIngressTypedLocalObjectReference`.
fn validate_typed_ref(r: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if let Some(group) = present(r, "/apiGroup").and_then(Value::as_str) {
        errs.extend(invalid_each(
            &format!("{path}.apiGroup"),
            group,
            is_dns1123_subdomain(group),
        ));
    }
    for key in ["kind", "name"] {
        let v = str_at(r, &format!("/{key}"));
        let p = format!("{path}.{key}");
        if v.is_empty() {
            errs.push(FieldError::required(p, ""));
        } else {
            errs.extend(invalid_each(&p, v, is_path_segment_name(v)));
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn errs(obj: Value) -> Vec<String> {
        validate_create(&obj)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    fn with_path(p: Value) -> Value {
        json!({"spec": {"rules": [{"host": "a.example.com", "http": {"paths": [p]}}]}})
    }

    #[test]
    fn valid_ingress() {
        let ing = with_path(json!({"path": "/", "pathType": "Prefix",
            "backend": {"service": {"name": "web", "port": {"number": 80}}}}));
        assert!(errs(ing).is_empty());
    }

    #[test]
    fn empty_spec() {
        assert_eq!(
            errs(json!({"spec": {}})),
            ["spec: Invalid value: null: either `defaultBackend` or `rules` must be specified"]
        );
    }

    #[test]
    fn path_type_and_paths() {
        let backend = json!({"service": {"name": "web", "port": {"number": 80}}});
        assert_eq!(
            errs(with_path(json!({"path": "/", "backend": backend}))),
            ["spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified"]
        );
        assert_eq!(
            errs(with_path(json!({"path": "a//b", "pathType": "Exact", "backend": backend}))),
            [
                "spec.rules[0].http.paths[0].path: Invalid value: \"a//b\": must be an absolute path",
                "spec.rules[0].http.paths[0].path: Invalid value: \"a//b\": must not contain '//'",
            ]
        );
        assert_eq!(
            errs(with_path(json!({"path": "/", "pathType": "Regex", "backend": backend}))),
            ["spec.rules[0].http.paths[0].pathType: Unsupported value: \"Regex\": supported values: \"Exact\", \"ImplementationSpecific\", \"Prefix\""]
        );
    }

    #[test]
    fn backends() {
        let p = |b: Value| with_path(json!({"path": "/", "pathType": "Prefix", "backend": b}));
        assert_eq!(
            errs(p(json!({}))),
            ["spec.rules[0].http.paths[0].backend: Invalid value: \"\": resource or service backend is required"]
        );
        assert_eq!(
            errs(p(json!({"service": {"name": "web"}, "resource": {"kind": "K", "name": "n"}}))),
            ["spec.rules[0].http.paths[0].backend: Invalid value: \"\": cannot set both resource and service backends"]
        );
        assert_eq!(
            errs(p(json!({"service": {"name": "web", "port": {}}}))),
            ["spec.rules[0].http.paths[0].backend: Required value: port name or number is required"]
        );
        assert_eq!(
            errs(p(json!({"service": {"name": "web", "port": {"name": "http", "number": 80}}}))),
            ["spec.rules[0].http.paths[0].backend: Invalid value: \"\": cannot set both port name & port number"]
        );
        assert_eq!(
            errs(p(json!({"service": {"port": {"number": 70000}}}))),
            [
                "spec.rules[0].http.paths[0].backend.service.name: Required value",
                "spec.rules[0].http.paths[0].backend.service.port.number: Invalid value: 70000: must be between 1 and 65535, inclusive",
            ]
        );
        assert_eq!(
            errs(p(json!({"resource": {"kind": "Bucket"}}))),
            ["spec.rules[0].http.paths[0].backend.resource.name: Required value"]
        );
    }

    #[test]
    fn hosts_and_class() {
        let ing = json!({
            "metadata": {"annotations": {"kubernetes.io/ingress.class": "nginx"}},
            "spec": {"ingressClassName": "traefik", "rules": [{"host": "1.2.3.4"}, {"host": "*.a.com"}]}
        });
        assert_eq!(
            errs(ing),
            [
                "spec.rules[0].host: Invalid value: \"1.2.3.4\": must be a DNS name, not an IP address",
                "annotations.kubernetes.io/ingress.class: Invalid value: \"nginx\": must match `ingressClassName` when both are specified",
            ]
        );
    }
}
