//! Small checks shared by many kinds' validation: apimachinery's
//! `IsWildcardDNS1123Subdomain`, `IsDomainPrefixedPath`,
//! `content.IsPathSegmentName`, `ValidateImmutableField`, and accessors for
//! reading fields of a JSON object without panicking.

use super::field_error::FieldError;
use super::names::{
    is_dns1123_subdomain, matches_dns1123_subdomain, max_len_error, regex_error,
    DNS1123_SUBDOMAIN_MAX_LENGTH,
};
use serde_json::Value;

const WILDCARD_FMT: &str = "\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const WILDCARD_ERR: &str = "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character";
const HTTP_PATH_FMT: &str = "[A-Za-z0-9/\\-._~%!$&'()*+,;=:]+";

/// The message of `ValidateImmutableField`.
pub const FIELD_IMMUTABLE: &str = "field is immutable";

/// `IsWildcardDNS1123Subdomain`: `*.` followed by a DNS subdomain.
pub fn is_wildcard_dns1123_subdomain(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_SUBDOMAIN_MAX_LENGTH {
        errs.push(max_len_error(DNS1123_SUBDOMAIN_MAX_LENGTH));
    }
    let ok = value
        .strip_prefix("*.")
        .is_some_and(matches_dns1123_subdomain);
    if !ok {
        errs.push(regex_error(WILDCARD_ERR, WILDCARD_FMT, &["*.example.com"]));
    }
    errs
}

/// `content.IsPathSegmentName`: not `.`/`..`, no `/` or `%`.
pub fn is_path_segment_name(name: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if name == "." || name == ".." {
        errs.push(format!("may not be '{name}'"));
    }
    for bad in ["/", "%"] {
        if name.contains(bad) {
            errs.push(format!("may not contain '{bad}'"));
        }
    }
    errs
}

fn is_http_path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "/-._~%!$&'()*+,;=:".contains(c)
}

/// `IsDomainPrefixedPath`: `<dns subdomain>/<http path>`.
pub fn validate_domain_prefixed_path(path: &str, value: &str) -> Vec<FieldError> {
    if value.is_empty() {
        return vec![FieldError::required(path, "")];
    }
    let Some((host, rest)) = value
        .split_once('/')
        .filter(|(h, r)| !h.is_empty() && !r.is_empty())
    else {
        return vec![FieldError::invalid(
            path,
            value,
            "must be a domain-prefixed path (such as \"acme.io/foo\")",
        )];
    };
    let mut errs: Vec<FieldError> = is_dns1123_subdomain(host)
        .into_iter()
        .map(|m| FieldError::invalid(path, host, m))
        .collect();
    if !rest.chars().all(is_http_path_char) {
        errs.push(FieldError::invalid(
            path,
            rest,
            regex_error("Invalid path", HTTP_PATH_FMT, &[]),
        ));
    }
    errs
}

/// `ValidateImmutableField`: `new` must equal `old` (absent and null are
/// the same); the error shows the new value.
pub fn validate_immutable(new: Option<&Value>, old: Option<&Value>, path: &str) -> Vec<FieldError> {
    let n = new.cloned().unwrap_or(Value::Null);
    let o = old.cloned().unwrap_or(Value::Null);
    if n == o {
        return Vec::new();
    }
    vec![FieldError::invalid(path, n, FIELD_IMMUTABLE)]
}

/// Every message of `check(value)` as an Invalid error at `path`.
pub fn invalid_each(path: &str, value: &str, msgs: Vec<String>) -> Vec<FieldError> {
    msgs.into_iter()
        .map(|m| FieldError::invalid(path, value, m))
        .collect()
}

/// The string at a JSON pointer, "" when absent or not a string.
pub fn str_at<'a>(obj: &'a Value, pointer: &str) -> &'a str {
    obj.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// The array at a JSON pointer (empty when absent).
pub fn arr_at<'a>(obj: &'a Value, pointer: &str) -> &'a [Value] {
    obj.pointer(pointer)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// The value at a JSON pointer unless absent or null.
pub fn present<'a>(obj: &'a Value, pointer: &str) -> Option<&'a Value> {
    obj.pointer(pointer).filter(|v| !v.is_null())
}

/// The value with every `null` object field removed: absent and null are the
/// same to Go (a nil either way), so comparisons and stored forms ignore it.
pub fn strip_nulls(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, strip_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(strip_nulls).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wildcard_hosts() {
        assert!(is_wildcard_dns1123_subdomain("*.example.com").is_empty());
        assert_eq!(is_wildcard_dns1123_subdomain("*.*.com").len(), 1);
        assert_eq!(is_wildcard_dns1123_subdomain("a.*.com").len(), 1);
    }

    #[test]
    fn domain_prefixed_paths() {
        assert!(validate_domain_prefixed_path("c", "example.com/ingress").is_empty());
        assert_eq!(
            validate_domain_prefixed_path("c", "nginx")[0].to_string(),
            "c: Invalid value: \"nginx\": must be a domain-prefixed path (such as \"acme.io/foo\")"
        );
        assert_eq!(
            validate_domain_prefixed_path("c", "a.io/b c")[0].to_string(),
            "c: Invalid value: \"b c\": Invalid path (regex used for validation is '[A-Za-z0-9/\\-._~%!$&'()*+,;=:]+')"
        );
    }

    #[test]
    fn immutable() {
        let e = validate_immutable(Some(&json!("b")), Some(&json!("a")), "spec.x");
        assert_eq!(
            e[0].to_string(),
            "spec.x: Invalid value: \"b\": field is immutable"
        );
        assert!(validate_immutable(None, Some(&Value::Null), "x").is_empty());
    }
}
