//! admissionregistration.k8s.io/v1 Mutating- and
//! ValidatingWebhookConfigurations (`ValidateMutatingWebhookConfiguration`,
//! `validateWebhook`, `validateRuleWithOperations`; v1 `SetDefaults_*Webhook`).

use super::default_field;
use crate::registry::{Ctx, Strategy};
use crate::validation::checks::{arr_at, present, str_at};
use crate::validation::field_error::FieldError;
use crate::validation::label_selector::validate_label_selector;
use crate::validation::names::{is_dns1035_label, is_dns1123_subdomain, is_valid_port_num};
use serde_json::{json, Value};

pub struct MutatingWebhookConfigurationStrategy;
pub struct ValidatingWebhookConfigurationStrategy;

const URL_FORM: &str = "; desired format: https://host[/path]";

impl Strategy for MutatingWebhookConfigurationStrategy {
    fn default(&self, obj: &mut Value, _ctx: &Ctx) {
        default_webhooks(obj, true);
    }

    fn validate_create(&self, obj: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        validate_configuration(obj, true)
    }
}

impl Strategy for ValidatingWebhookConfigurationStrategy {
    fn default(&self, obj: &mut Value, _ctx: &Ctx) {
        default_webhooks(obj, false);
    }

    fn validate_create(&self, obj: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        validate_configuration(obj, false)
    }
}

/// `SetDefaults_MutatingWebhook`/`ValidatingWebhook`, `SetDefaults_Rule`,
/// `SetDefaults_ServiceReference`.
pub fn default_webhooks(obj: &mut Value, mutating: bool) {
    let hooks = obj.get_mut("webhooks").and_then(Value::as_array_mut);
    for hook in hooks.into_iter().flatten() {
        default_field(hook, "failurePolicy", json!("Fail"));
        default_field(hook, "matchPolicy", json!("Equivalent"));
        default_field(hook, "namespaceSelector", json!({}));
        default_field(hook, "objectSelector", json!({}));
        default_field(hook, "timeoutSeconds", json!(10));
        if mutating {
            default_field(hook, "reinvocationPolicy", json!("Never"));
        }
        let rules = hook.get_mut("rules").and_then(Value::as_array_mut);
        for rule in rules.into_iter().flatten() {
            default_field(rule, "scope", json!("*"));
        }
        if let Some(service) = hook.pointer_mut("/clientConfig/service") {
            default_field(service, "port", json!(443));
        }
    }
}

/// The whole configuration: each webhook, and unique webhook names.
pub fn validate_configuration(obj: &Value, mutating: bool) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut names = std::collections::HashSet::new();
    for (i, hook) in arr_at(obj, "/webhooks").iter().enumerate() {
        let path = format!("webhooks[{i}]");
        errs.extend(validate_webhook(hook, mutating, &path));
        errs.extend(validate_review_versions(
            hook,
            &format!("{path}.admissionReviewVersions"),
        ));
        let name = str_at(hook, "/name");
        if !name.is_empty() && !names.insert(name) {
            errs.push(FieldError::duplicate(format!("{path}.name"), name));
        }
    }
    errs
}

/// `IsFullyQualifiedName`: a DNS subdomain of at least three labels.
pub fn validate_fully_qualified(path: &str, name: &str) -> Vec<FieldError> {
    if name.is_empty() {
        return vec![FieldError::required(path, "")];
    }
    let errs = is_dns1123_subdomain(name);
    if !errs.is_empty() {
        return vec![FieldError::invalid(path, name, errs.join(","))];
    }
    if name.split('.').count() < 3 {
        return vec![FieldError::invalid(
            path,
            name,
            "should be a domain with at least three segments separated by dots",
        )];
    }
    Vec::new()
}

fn enum_check(hook: &Value, key: &str, path: &str, valid: &[&str]) -> Option<FieldError> {
    let v = present(hook, &format!("/{key}"))?;
    let ok = v.as_str().is_some_and(|s| valid.contains(&s));
    (!ok).then(|| FieldError::not_supported(format!("{path}.{key}"), v.clone(), valid))
}

/// `validateMutatingWebhook`/`validateValidatingWebhook`.
fn validate_webhook(hook: &Value, mutating: bool, path: &str) -> Vec<FieldError> {
    let mut errs = validate_fully_qualified(&format!("{path}.name"), str_at(hook, "/name"));
    for (i, rule) in arr_at(hook, "/rules").iter().enumerate() {
        errs.extend(validate_rule_with_operations(
            rule,
            &format!("{path}.rules[{i}]"),
        ));
    }
    errs.extend(enum_check(hook, "failurePolicy", path, &["Fail", "Ignore"]));
    errs.extend(enum_check(
        hook,
        "matchPolicy",
        path,
        &["Equivalent", "Exact"],
    ));
    if mutating {
        errs.extend(enum_check(
            hook,
            "reinvocationPolicy",
            path,
            &["IfNeeded", "Never"],
        ));
    }
    for key in ["namespaceSelector", "objectSelector"] {
        errs.extend(validate_label_selector(
            present(hook, &format!("/{key}")),
            false,
            &format!("{path}.{key}"),
        ));
    }
    match present(hook, "/sideEffects") {
        None => errs.push(FieldError::required(
            format!("{path}.sideEffects"),
            "must specify one of None, NoneOnDryRun",
        )),
        Some(s) if !matches!(s.as_str(), Some("None" | "NoneOnDryRun")) => {
            errs.push(FieldError::not_supported(
                format!("{path}.sideEffects"),
                s.clone(),
                &["None", "NoneOnDryRun"],
            ))
        }
        Some(_) => {}
    }
    if let Some(t) = hook.get("timeoutSeconds").and_then(Value::as_i64) {
        if !(1..=30).contains(&t) {
            errs.push(FieldError::invalid(
                format!("{path}.timeoutSeconds"),
                t,
                "the timeout value must be between 1 and 30 seconds",
            ));
        }
    }
    errs.extend(validate_client_config(
        hook,
        &format!("{path}.clientConfig"),
    ));
    errs
}

/// `url` xor `service`, each valid.
fn validate_client_config(hook: &Value, path: &str) -> Vec<FieldError> {
    let url = present(hook, "/clientConfig/url").and_then(Value::as_str);
    let service = present(hook, "/clientConfig/service");
    match (url, service) {
        (Some(u), None) => validate_url(&format!("{path}.url"), u),
        (None, Some(s)) => validate_service(&format!("{path}.service"), s),
        _ => vec![FieldError::required(
            path,
            "exactly one of url or service is required",
        )],
    }
}

/// `ValidateWebhookURL` with https forced.
pub fn validate_url(path: &str, url: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    if scheme != "https" {
        errs.push(FieldError::invalid(
            path,
            scheme,
            format!("'https' is the only allowed URL scheme{URL_FORM}"),
        ));
    }
    let (before_fragment, fragment) = rest.split_once('#').unwrap_or((rest, ""));
    let (before_query, query) = before_fragment
        .split_once('?')
        .unwrap_or((before_fragment, ""));
    let authority = if scheme.is_empty() {
        ""
    } else {
        before_query.split('/').next().unwrap_or("")
    };
    let (user, host) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    if host.is_empty() {
        errs.push(FieldError::invalid(
            path,
            host,
            format!("host must be specified{URL_FORM}"),
        ));
    }
    if let Some(u) = user {
        errs.push(FieldError::invalid(
            path,
            u,
            "user information is not permitted in the URL",
        ));
    }
    if !fragment.is_empty() {
        errs.push(FieldError::invalid(
            path,
            fragment,
            "fragments are not permitted in the URL",
        ));
    }
    if !query.is_empty() {
        errs.push(FieldError::invalid(
            path,
            query,
            "query parameters are not permitted in the URL",
        ));
    }
    errs
}

/// `ValidateWebhookService`.
fn validate_service(path: &str, s: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if str_at(s, "/name").is_empty() {
        errs.push(FieldError::required(
            format!("{path}.name"),
            "service name is required",
        ));
    }
    if str_at(s, "/namespace").is_empty() {
        errs.push(FieldError::required(
            format!("{path}.namespace"),
            "service namespace is required",
        ));
    }
    let port = s.get("port").and_then(Value::as_i64).unwrap_or(443);
    let port_errs = is_valid_port_num(port);
    if !port_errs.is_empty() {
        errs.push(FieldError::invalid(
            format!("{path}.port"),
            port,
            format!("port is not valid: {}", port_errs.join(", ")),
        ));
    }
    let p = str_at(s, "/path");
    if p.is_empty() || p == "/" {
        return errs;
    }
    let field = format!("{path}.path");
    if p == "//" {
        errs.push(FieldError::invalid(field, p, "segment[0] may not be empty"));
        return errs;
    }
    if !p.starts_with('/') {
        errs.push(FieldError::invalid(&field, p, "must start with a '/'"));
    }
    errs
}

/// `validateRuleWithOperations` and `validateRule`.
fn validate_rule_with_operations(rule: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let ops = arr_at(rule, "/operations");
    let op_path = format!("{path}.operations");
    if ops.is_empty() {
        errs.push(FieldError::required(&op_path, ""));
    }
    if ops.len() > 1 && ops.iter().any(|o| o == "*") {
        errs.push(FieldError::invalid(
            &op_path,
            Value::Array(ops.to_vec()),
            "if '*' is present, must not specify other operations",
        ));
    }
    const OPS: [&str; 5] = ["*", "CONNECT", "CREATE", "DELETE", "UPDATE"];
    for (i, op) in ops.iter().enumerate() {
        if !op.as_str().is_some_and(|o| OPS.contains(&o)) {
            errs.push(FieldError::not_supported(
                format!("{op_path}[{i}]"),
                op.clone(),
                &OPS,
            ));
        }
    }
    errs.extend(validate_rule(rule, path));
    errs
}

fn wildcard_list(rule: &Value, key: &str, what: &str, path: &str) -> Vec<FieldError> {
    let items = arr_at(rule, &format!("/{key}"));
    let p = format!("{path}.{key}");
    let mut errs = Vec::new();
    if items.is_empty() {
        errs.push(FieldError::required(&p, ""));
    }
    if items.len() > 1 && items.iter().any(|x| x == "*") {
        errs.push(FieldError::invalid(
            &p,
            Value::Array(items.to_vec()),
            format!("if '*' is present, must not specify other {what}"),
        ));
    }
    errs
}

/// `validateRule`: groups, versions, resources and scope.
pub fn validate_rule(rule: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = wildcard_list(rule, "apiGroups", "API groups", path);
    errs.extend(wildcard_list(rule, "apiVersions", "API versions", path));
    for (i, v) in arr_at(rule, "/apiVersions").iter().enumerate() {
        if v == "" {
            errs.push(FieldError::required(format!("{path}.apiVersions[{i}]"), ""));
        }
    }
    errs.extend(validate_resources(rule, &format!("{path}.resources")));
    errs.extend(enum_check(
        rule,
        "scope",
        path,
        &["*", "Cluster", "Namespaced"],
    ));
    errs
}

/// `validateResources`: wildcard rules of `resource/subresource` entries.
fn validate_resources(rule: &Value, path: &str) -> Vec<FieldError> {
    let resources = arr_at(rule, "/resources");
    let mut errs = Vec::new();
    if resources.is_empty() {
        errs.push(FieldError::required(path, ""));
    }
    let (mut wild_sub, mut wild_res) = (Vec::new(), Vec::new());
    let (mut double, mut single, mut plain) = (false, false, false);
    for (i, r) in resources.iter().enumerate() {
        let r = r.as_str().unwrap_or("");
        let p = format!("{path}[{i}]");
        if r.is_empty() {
            errs.push(FieldError::required(p, ""));
            continue;
        }
        double |= r == "*/*";
        single |= r == "*";
        let Some((res, sub)) = r.split_once('/') else {
            plain = r != "*";
            continue;
        };
        if wild_sub.contains(&res) {
            errs.push(FieldError::invalid(
                &p,
                r,
                format!("if '{res}/*' is present, must not specify {r}"),
            ));
        }
        if wild_res.contains(&sub) {
            errs.push(FieldError::invalid(
                &p,
                r,
                format!("if '*/{sub}' is present, must not specify {r}"),
            ));
        }
        if sub == "*" {
            wild_sub.push(res);
        }
        if res == "*" {
            wild_res.push(sub);
        }
    }
    let all = || Value::Array(resources.to_vec());
    if resources.len() > 1 && double {
        errs.push(FieldError::invalid(
            path,
            all(),
            "if '*/*' is present, must not specify other resources",
        ));
    }
    if single && plain {
        errs.push(FieldError::invalid(
            path,
            all(),
            "if '*' is present, must not specify other resources without subresources",
        ));
    }
    errs
}

/// `validateAdmissionReviewVersions`: required, unique DNS-1035 labels,
/// one of them a version the server speaks.
fn validate_review_versions(hook: &Value, path: &str) -> Vec<FieldError> {
    let versions = arr_at(hook, "/admissionReviewVersions");
    if versions.is_empty() {
        return vec![FieldError::required(
            path,
            "must specify one of v1, v1beta1",
        )];
    }
    let mut errs = Vec::new();
    let mut seen = Vec::new();
    for (i, v) in versions.iter().enumerate() {
        let v = v.as_str().unwrap_or("");
        let p = format!("{path}[{i}]");
        if seen.contains(&v) {
            errs.push(FieldError::invalid(p, v, "duplicate version"));
            continue;
        }
        seen.push(v);
        errs.extend(
            is_dns1035_label(v)
                .into_iter()
                .map(|m| FieldError::invalid(&p, v, m)),
        );
    }
    if !seen.iter().any(|v| *v == "v1" || *v == "v1beta1") {
        errs.push(FieldError::invalid(
            path,
            Value::Array(versions.to_vec()),
            "must include at least one of v1, v1beta1",
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::validation::field_error::strs;

    fn hook() -> Value {
        json!({"webhooks": [{
            "name": "pods.policy.example.com",
            "clientConfig": {"service": {"name": "wh", "namespace": "default"}},
            "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}],
            "sideEffects": "None",
            "admissionReviewVersions": ["v1"]
        }]})
    }

    #[test]
    fn defaults() {
        let mut m = hook();
        default_webhooks(&mut m, true);
        let h = &m["webhooks"][0];
        assert_eq!(h["failurePolicy"], "Fail");
        assert_eq!(h["matchPolicy"], "Equivalent");
        assert_eq!(h["namespaceSelector"], json!({}));
        assert_eq!(h["objectSelector"], json!({}));
        assert_eq!(h["timeoutSeconds"], 10);
        assert_eq!(h["reinvocationPolicy"], "Never");
        assert_eq!(h["rules"][0]["scope"], "*");
        assert_eq!(h["clientConfig"]["service"]["port"], 443);
        assert!(validate_configuration(&m, true).is_empty());
        let mut v = hook();
        default_webhooks(&mut v, false);
        assert!(v["webhooks"][0].get("reinvocationPolicy").is_none());
    }

    #[test]
    fn invalid_webhooks() {
        let cfg = json!({"webhooks": [
            {"name": "short.name", "clientConfig": {"url": "http://x.io/a?b=c"},
             "rules": [{"operations": ["*", "CREATE"], "apiGroups": ["*", "apps"], "apiVersions": ["v1"], "resources": ["*", "pods"]}],
             "timeoutSeconds": 31},
            {"name": "a.b.c", "clientConfig": {}, "sideEffects": "Some", "admissionReviewVersions": ["v2"]},
            {"name": "a.b.c", "clientConfig": {"service": {"namespace": "x", "port": 0, "path": "hook"}},
             "sideEffects": "None", "admissionReviewVersions": ["v1"]}
        ]});
        assert_eq!(
            strs(validate_configuration(&cfg, false)),
            [
                "webhooks[0].name: Invalid value: \"short.name\": should be a domain with at least three segments separated by dots",
                "webhooks[0].rules[0].operations: Invalid value: [\"*\",\"CREATE\"]: if '*' is present, must not specify other operations",
                "webhooks[0].rules[0].apiGroups: Invalid value: [\"*\",\"apps\"]: if '*' is present, must not specify other API groups",
                "webhooks[0].rules[0].resources: Invalid value: [\"*\",\"pods\"]: if '*' is present, must not specify other resources without subresources",
                "webhooks[0].sideEffects: Required value: must specify one of None, NoneOnDryRun",
                "webhooks[0].timeoutSeconds: Invalid value: 31: the timeout value must be between 1 and 30 seconds",
                "webhooks[0].clientConfig.url: Invalid value: \"http\": 'https' is the only allowed URL scheme; desired format: https://host[/path]",
                "webhooks[0].clientConfig.url: Invalid value: \"b=c\": query parameters are not permitted in the URL",
                "webhooks[0].admissionReviewVersions: Required value: must specify one of v1, v1beta1",
                "webhooks[1].sideEffects: Unsupported value: \"Some\": supported values: \"None\", \"NoneOnDryRun\"",
                "webhooks[1].clientConfig: Required value: exactly one of url or service is required",
                "webhooks[1].admissionReviewVersions: Invalid value: [\"v2\"]: must include at least one of v1, v1beta1",
                "webhooks[2].clientConfig.service.name: Required value: service name is required",
                "webhooks[2].clientConfig.service.port: Invalid value: 0: port is not valid: must be between 1 and 65535, inclusive",
                "webhooks[2].clientConfig.service.path: Invalid value: \"hook\": must start with a '/'",
                "webhooks[2].name: Duplicate value: \"a.b.c\"",
            ]
        );
    }
}
