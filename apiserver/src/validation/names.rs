//! Name, label, annotation, IP and CIDR checks with kube-apiserver's exact
//! messages, and ObjectMeta validation for create and update.
//!
//! Each `is_*` check returns the list of problems (empty when valid), worded
//! as apimachinery words them, including the regular expression quoted in
//! the message.

use super::field_error::FieldError;
use ipnet::IpNet;
use serde_json::{Map, Value};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub const DNS1123_LABEL_MAX_LENGTH: usize = 63;
pub const DNS1123_SUBDOMAIN_MAX_LENGTH: usize = 253;
pub const DNS1035_LABEL_MAX_LENGTH: usize = 63;
pub const LABEL_KEY_MAX_LENGTH: usize = 63;
pub const LABEL_VALUE_MAX_LENGTH: usize = 63;
/// Total size of all annotation keys and values (256 KiB).
pub const TOTAL_ANNOTATION_SIZE_LIMIT_BYTES: usize = 256 * 1024;

const DNS1123_LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_LABEL_ERR: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_FMT: &str =
    "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1123_SUBDOMAIN_ERR: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const DNS1035_LABEL_FMT: &str = "[a-z]([-a-z0-9]*[a-z0-9])?";
const DNS1035_LABEL_ERR: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character";
const LABEL_KEY_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const LABEL_KEY_ERR: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const LABEL_VALUE_ERR: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";

/// `must be no more than N characters` (DNS names, port names).
pub fn max_len_error(n: usize) -> String {
    format!("must be no more than {n} characters")
}

/// `must be no more than N bytes` (label keys and values).
pub fn max_len_bytes_error(n: usize) -> String {
    format!("must be no more than {n} bytes")
}

/// A regex failure explained, with examples, as apimachinery words it
/// (including its doubled space before each "or").
pub fn regex_error(msg: &str, fmt: &str, examples: &[&str]) -> String {
    if examples.is_empty() {
        return format!("{msg} (regex used for validation is '{fmt}')");
    }
    let mut s = format!("{msg} (e.g. ");
    for (i, ex) in examples.iter().enumerate() {
        if i > 0 {
            s.push_str(" or ");
        }
        s.push('\'');
        s.push_str(ex);
        s.push_str("', ");
    }
    s.push_str("regex used for validation is '");
    s.push_str(fmt);
    s.push_str("')");
    s
}

pub fn empty_error() -> String {
    "must be non-empty".to_string()
}

pub fn inclusive_range_error(lo: i64, hi: i64) -> String {
    format!("must be between {lo} and {hi}, inclusive")
}

fn lower_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

fn matches_dns1123_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && lower_alnum(b[0])
        && lower_alnum(b[b.len() - 1])
        && b.iter().all(|&c| lower_alnum(c) || c == b'-')
}

pub(crate) fn matches_dns1123_subdomain(s: &str) -> bool {
    !s.is_empty() && s.split('.').all(matches_dns1123_label)
}

fn matches_dns1035_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_lowercase()
        && lower_alnum(b[b.len() - 1])
        && b.iter().all(|&c| lower_alnum(c) || c == b'-')
}

fn matches_label_key_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_' || c == b'.')
}

/// RFC 1123 label (namespaces, port names of services, container names).
pub fn is_dns1123_label(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_LABEL_MAX_LENGTH {
        errs.push(max_len_error(DNS1123_LABEL_MAX_LENGTH));
    }
    if !matches_dns1123_label(value) {
        if matches_dns1123_subdomain(value) {
            errs.push("must not contain dots".to_string());
        } else {
            errs.push(regex_error(
                DNS1123_LABEL_ERR,
                DNS1123_LABEL_FMT,
                &["my-name", "123-abc"],
            ));
        }
    }
    errs
}

/// RFC 1123 subdomain (most object names).
pub fn is_dns1123_subdomain(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_SUBDOMAIN_MAX_LENGTH {
        errs.push(max_len_error(DNS1123_SUBDOMAIN_MAX_LENGTH));
    }
    if !matches_dns1123_subdomain(value) {
        errs.push(regex_error(
            DNS1123_SUBDOMAIN_ERR,
            DNS1123_SUBDOMAIN_FMT,
            &["example.com"],
        ));
    }
    errs
}

/// The subdomain check of the label-key prefix (counted in bytes).
fn is_dns1123_subdomain_bytes(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_SUBDOMAIN_MAX_LENGTH {
        errs.push(max_len_bytes_error(DNS1123_SUBDOMAIN_MAX_LENGTH));
    }
    if !matches_dns1123_subdomain(value) {
        errs.push(regex_error(
            DNS1123_SUBDOMAIN_ERR,
            DNS1123_SUBDOMAIN_FMT,
            &["example.com"],
        ));
    }
    errs
}

/// RFC 1035 label (Service names).
pub fn is_dns1035_label(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1035_LABEL_MAX_LENGTH {
        errs.push(max_len_error(DNS1035_LABEL_MAX_LENGTH));
    }
    if !matches_dns1035_label(value) {
        errs.push(regex_error(
            DNS1035_LABEL_ERR,
            DNS1035_LABEL_FMT,
            &["my-name", "abc-123"],
        ));
    }
    errs
}

/// A label key (what Kubernetes calls a "qualified name"): an optional DNS
/// subdomain prefix and `/`, then a name of at most 63 characters.
pub fn is_label_key(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let parts: Vec<&str> = value.split('/').collect();
    let name = match parts.len() {
        1 => parts[0],
        2 => {
            let prefix = parts[0];
            if prefix.is_empty() {
                errs.push(format!("prefix part {}", empty_error()));
            } else {
                for m in is_dns1123_subdomain_bytes(prefix) {
                    errs.push(format!("prefix part {m}"));
                }
            }
            parts[1]
        }
        _ => {
            errs.push(format!(
                "a valid label key {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_error(LABEL_KEY_ERR, LABEL_KEY_FMT, &["MyName", "my.name", "123-abc"])
            ));
            return errs;
        }
    };
    if name.is_empty() {
        errs.push(format!("name part {}", empty_error()));
    } else if name.len() > LABEL_KEY_MAX_LENGTH {
        errs.push(format!(
            "name part {}",
            max_len_bytes_error(LABEL_KEY_MAX_LENGTH)
        ));
    }
    if !matches_label_key_name(name) {
        errs.push(format!(
            "name part {}",
            regex_error(
                LABEL_KEY_ERR,
                LABEL_KEY_FMT,
                &["MyName", "my.name", "123-abc"]
            )
        ));
    }
    errs
}

/// Same as [`is_label_key`] (apimachinery's `IsQualifiedName`).
pub fn is_qualified_name(value: &str) -> Vec<String> {
    is_label_key(value)
}

/// A label value: empty, or up to 63 alphanumerics, `-`, `_`, `.`, starting
/// and ending alphanumeric.
pub fn is_valid_label_value(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > LABEL_VALUE_MAX_LENGTH {
        errs.push(max_len_bytes_error(LABEL_VALUE_MAX_LENGTH));
    }
    if !value.is_empty() && !matches_label_key_name(value) {
        errs.push(regex_error(
            LABEL_VALUE_ERR,
            LABEL_VALUE_FMT,
            &["MyValue", "my_value", "12345"],
        ));
    }
    errs
}

/// An IANA service name (RFC 6335), as used for named ports and
/// `targetPort` names.
pub fn is_valid_port_name(port: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if port.len() > 15 {
        errs.push(max_len_error(15));
    }
    let b = port.as_bytes();
    if b.is_empty() || !b.iter().all(|&c| lower_alnum(c) || c == b'-') {
        errs.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".into());
    }
    if !b.iter().any(|c| c.is_ascii_lowercase()) {
        errs.push("must contain at least one letter (a-z)".into());
    }
    if port.contains("--") {
        errs.push("must not contain consecutive hyphens".into());
    }
    if !b.is_empty() && (b[0] == b'-' || b[b.len() - 1] == b'-') {
        errs.push("must not begin or end with a hyphen".into());
    }
    errs
}

/// A valid, non-zero port number.
pub fn is_valid_port_num(port: i64) -> Vec<String> {
    if (1..=65535).contains(&port) {
        Vec::new()
    } else {
        vec![inclusive_range_error(1, 65535)]
    }
}

pub fn is_in_range(value: i64, min: i64, max: i64) -> Vec<String> {
    if value >= min && value <= max {
        Vec::new()
    } else {
        vec![inclusive_range_error(min, max)]
    }
}

/// A ConfigMap or Secret data key.
pub fn is_config_map_key(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_SUBDOMAIN_MAX_LENGTH {
        errs.push(max_len_error(DNS1123_SUBDOMAIN_MAX_LENGTH));
    }
    let ok = !value.is_empty()
        && value
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_' || c == b'.');
    if !ok {
        errs.push(regex_error(
            "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
            "[-._a-zA-Z0-9]+",
            &["key.name", "KEY_NAME", "key-name"],
        ));
    }
    if value == "." {
        errs.push("must not be '.'".into());
    } else if value == ".." {
        errs.push("must not be '..'".into());
    } else if value.starts_with("..") {
        errs.push("must not start with '..'".into());
    }
    errs
}

/// Replaces a trailing dash of a `generateName` prefix (and, as the API
/// server does, the character before it) so the name checks accept it.
pub fn mask_trailing_dash(name: &str) -> String {
    if name.len() > 1 && name.ends_with('-') {
        let cut = name.len() - 2;
        if name.is_char_boundary(cut) {
            return format!("{}a", &name[..cut]);
        }
        return format!("{}a", &name[..name.len() - 1]);
    }
    name.to_string()
}

// ---------------------------------------------------------------------------
// IP addresses and CIDRs

fn dtoi(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut n: u32 = 0;
    for c in s.bytes() {
        n = n * 10 + u32::from(c - b'0');
        if n >= 0xFF_FFFF {
            return None;
        }
    }
    Some(n)
}

fn parse_ipv4_sloppy(s: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() != 4 {
        return None;
    }
    let mut octets = [0u8; 4];
    for (i, p) in parts.iter().enumerate() {
        let n = dtoi(p)?;
        octets[i] = u8::try_from(n).ok()?;
    }
    Some(Ipv4Addr::from(octets))
}

/// Parses an IP the way Kubernetes' `ParseIPSloppy` does: IPv4 octets may
/// carry leading zeros (read as decimal); no zones.
pub fn parse_ip_sloppy(s: &str) -> Option<IpAddr> {
    if s.contains('%') {
        return None;
    }
    if !s.contains(':') {
        return parse_ipv4_sloppy(s).map(IpAddr::V4);
    }
    if let Ok(v6) = s.parse::<Ipv6Addr>() {
        return Some(IpAddr::V6(v6));
    }
    // An embedded IPv4 tail with leading zeros.
    let idx = s.rfind(':')?;
    let tail = &s[idx + 1..];
    if tail.contains('.') {
        let v4 = parse_ipv4_sloppy(tail)?;
        let rebuilt = format!("{}{}", &s[..=idx], v4);
        return rebuilt.parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    }
    None
}

/// True for an IPv6 address that is not IPv4-mapped (`netutils.IsIPv6`).
pub fn is_ipv6(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(_) => false,
        IpAddr::V6(v6) => v6.to_ipv4_mapped().is_none(),
    }
}

/// `netutils.IsIPv6String`.
pub fn is_ipv6_string(s: &str) -> bool {
    parse_ip_sloppy(s).is_some_and(|ip| is_ipv6(&ip))
}

/// The address as Go's `net.IP.String()` prints it (IPv4-mapped IPv6
/// addresses print as IPv4; IPv6 in RFC 5952 form).
pub fn go_ip_string(ip: &IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return v4.to_string();
            }
            let seg = v6.segments();
            // Longest run (at least two) of zero groups, first one on ties.
            let (mut best_start, mut best_len) = (usize::MAX, 0usize);
            let mut i = 0;
            while i < 8 {
                if seg[i] == 0 {
                    let start = i;
                    while i < 8 && seg[i] == 0 {
                        i += 1;
                    }
                    if i - start > best_len {
                        best_start = start;
                        best_len = i - start;
                    }
                } else {
                    i += 1;
                }
            }
            if best_len < 2 {
                best_start = usize::MAX;
            }
            let mut out = String::new();
            let mut i = 0;
            while i < 8 {
                if i == best_start {
                    out.push_str("::");
                    i += best_len;
                    continue;
                }
                if !out.is_empty() && !out.ends_with(':') {
                    out.push(':');
                }
                out.push_str(&format!("{:x}", seg[i]));
                i += 1;
            }
            out
        }
    }
}

fn ip_problems(value: &str, strict: bool) -> (Option<IpAddr>, Vec<String>) {
    let Some(ip) = parse_ip_sloppy(value) else {
        return (
            None,
            vec!["must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)".into()],
        );
    };
    let mut errs = Vec::new();
    if strict {
        match value.parse::<IpAddr>() {
            Err(_) => errs.push("must not have leading 0s".to_string()),
            Ok(IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_some() => {
                errs.push("must not be an IPv4-mapped IPv6 address".to_string())
            }
            Ok(_) => {}
        }
    }
    (Some(ip), errs)
}

/// A valid IP in canonical form (`IsValidIP`).
pub fn is_valid_ip(value: &str) -> Vec<String> {
    let (ip, mut errs) = ip_problems(value, true);
    if let (Some(ip), true) = (ip, errs.is_empty()) {
        let canonical = go_ip_string(&ip);
        if canonical != value {
            errs.push(format!(
                "must be in canonical form ({})",
                super::field_error::go_quote(&canonical)
            ));
        }
    }
    errs
}

/// `IsValidIPForLegacyField`: sloppy forms accepted unless `strict`; values
/// in `valid_old` (unchanged on update) are always accepted.
pub fn is_valid_ip_for_legacy_field(value: &str, strict: bool, valid_old: &[&str]) -> Vec<String> {
    if valid_old.contains(&value) {
        return Vec::new();
    }
    ip_problems(value, strict).1
}

/// Parses a CIDR the way `ParseCIDRSloppy` does; returns the address as
/// written and the masked network.
pub fn parse_cidr_sloppy(value: &str) -> Option<(IpAddr, IpNet)> {
    let (addr, bits) = value.split_once('/')?;
    let ip = parse_ip_sloppy(addr)?;
    let n = dtoi(bits)?;
    let max = if addr.contains(':') { 128 } else { 32 };
    if n > max {
        return None;
    }
    let prefix = u8::try_from(n).ok()?;
    let net = match ip {
        IpAddr::V4(v4) => IpNet::V4(ipnet::Ipv4Net::new(v4, prefix).ok()?),
        IpAddr::V6(v6) => IpNet::V6(ipnet::Ipv6Net::new(v6, prefix).ok()?),
    };
    Some((ip, net.trunc()))
}

fn cidr_string(net: &IpNet) -> String {
    format!("{}/{}", go_ip_string(&net.network()), net.prefix_len())
}

fn cidr_problems(value: &str, strict: bool) -> (Option<IpNet>, Vec<String>) {
    let Some((ip, net)) = parse_cidr_sloppy(value) else {
        return (
            None,
            vec!["must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)".into()],
        );
    };
    let mut errs = Vec::new();
    if strict {
        let strict_ok = value.split_once('/').and_then(|(a, b)| {
            let addr = a.parse::<IpAddr>().ok()?;
            let leading_zero = b.len() > 1 && b.starts_with('0');
            (!leading_zero).then_some(addr)
        });
        match strict_ok {
            None => errs.push("must not have leading 0s in IP or prefix length".to_string()),
            Some(IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_some() => {
                errs.push("must not have an IPv4-mapped IPv6 address".to_string())
            }
            Some(_) => {
                if ip != net.network() {
                    errs.push("must not have bits set beyond the prefix length".to_string());
                }
            }
        }
    }
    (Some(net), errs)
}

/// A valid CIDR in canonical form (`IsValidCIDR`).
pub fn is_valid_cidr(value: &str) -> Vec<String> {
    let (net, mut errs) = cidr_problems(value, true);
    if let (Some(net), true) = (net, errs.is_empty()) {
        let canonical = cidr_string(&net);
        if canonical != value {
            errs.push(format!(
                "must be in canonical form ({})",
                super::field_error::go_quote(&canonical)
            ));
        }
    }
    errs
}

/// `IsValidCIDRForLegacyField`.
pub fn is_valid_cidr_for_legacy_field(
    value: &str,
    strict: bool,
    valid_old: &[&str],
) -> Vec<String> {
    if valid_old.contains(&value) {
        return Vec::new();
    }
    cidr_problems(value, strict).1
}

fn to_field_errors(path: &str, value: &str, msgs: Vec<String>) -> Vec<FieldError> {
    msgs.into_iter()
        .map(|m| FieldError::invalid(path, value, m))
        .collect()
}

/// [`is_valid_ip`] as field errors at `path`.
pub fn validate_ip(path: &str, value: &str) -> Vec<FieldError> {
    to_field_errors(path, value, is_valid_ip(value))
}

/// [`is_valid_cidr`] as field errors at `path`.
pub fn validate_cidr(path: &str, value: &str) -> Vec<FieldError> {
    to_field_errors(path, value, is_valid_cidr(value))
}

/// Refuses unspecified, loopback and link-local addresses (external IPs,
/// endpoints).
pub fn validate_non_special_ip(path: &str, value: &str) -> Vec<FieldError> {
    let Some(ip) = parse_ip_sloppy(value) else {
        return vec![FieldError::invalid(
            path,
            value,
            "must be a valid IP address",
        )];
    };
    let ip = match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    };
    let mut errs = Vec::new();
    let (unspecified, loopback, ll_unicast, ll_multicast) = match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            (
                v4.is_unspecified(),
                o[0] == 127,
                o[0] == 169 && o[1] == 254,
                o[0] == 224 && o[1] == 0 && o[2] == 0,
            )
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            (
                v6.is_unspecified(),
                v6.is_loopback(),
                s[0] & 0xffc0 == 0xfe80,
                (s[0] >> 8) == 0xff && (s[0] & 0x0f) == 0x02,
            )
        }
    };
    if unspecified {
        errs.push(FieldError::invalid(
            path,
            value,
            format!("may not be unspecified ({value})"),
        ));
    }
    if loopback {
        errs.push(FieldError::invalid(
            path,
            value,
            "may not be in the loopback range (127.0.0.0/8, ::1/128)",
        ));
    }
    if ll_unicast {
        errs.push(FieldError::invalid(
            path,
            value,
            "may not be in the link-local range (169.254.0.0/16, fe80::/10)",
        ));
    }
    if ll_multicast {
        errs.push(FieldError::invalid(
            path,
            value,
            "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)",
        ));
    }
    errs
}

// ---------------------------------------------------------------------------
// Field-error wrappers

/// Every message of `check(value)` as an Invalid error at `path`.
pub fn validate_with(path: &str, value: &str, check: fn(&str) -> Vec<String>) -> Vec<FieldError> {
    to_field_errors(path, value, check(value))
}

/// Label keys as `ValidateLabelName` reports them.
pub fn validate_label_name(key: &str, path: &str) -> Vec<FieldError> {
    to_field_errors(path, key, is_label_key(key))
}

/// A label map (`metadata.labels`, `spec.selector`, ...): every key and
/// value is checked, errors at `path` itself.
pub fn validate_labels(labels: Option<&Value>, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let Some(map) = labels.and_then(Value::as_object) else {
        if let Some(v) = labels.filter(|v| !v.is_null()) {
            errs.push(FieldError::type_invalid(
                path,
                v.clone(),
                "must be an object",
            ));
        }
        return errs;
    };
    for (k, v) in map {
        errs.extend(validate_label_name(k, path));
        match v.as_str() {
            Some(s) => errs.extend(to_field_errors(path, s, is_valid_label_value(s))),
            None => errs.push(FieldError::type_invalid(
                path,
                v.clone(),
                "must be a string",
            )),
        }
    }
    errs
}

/// Annotation keys (label-key rules, case-insensitive) and the 256 KiB
/// total size limit.
pub fn validate_annotations(annotations: Option<&Value>, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let Some(map) = annotations.and_then(Value::as_object) else {
        if let Some(v) = annotations.filter(|v| !v.is_null()) {
            errs.push(FieldError::type_invalid(
                path,
                v.clone(),
                "must be an object",
            ));
        }
        return errs;
    };
    let mut total = 0usize;
    for (k, v) in map {
        for m in is_label_key(&k.to_lowercase()) {
            errs.push(FieldError::invalid(path, k.as_str(), m));
        }
        total += k.len();
        match v {
            Value::String(s) => total += s.len(),
            other => errs.push(FieldError::type_invalid(
                path,
                other.clone(),
                "must be a string",
            )),
        }
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT_BYTES {
        errs.push(FieldError::too_long(
            path,
            TOTAL_ANNOTATION_SIZE_LIMIT_BYTES as i64,
        ));
    }
    errs
}

fn child(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

fn str_field<'a>(obj: &'a Value, key: &str) -> &'a str {
    obj.get(key).and_then(Value::as_str).unwrap_or("")
}

/// Splits an apiVersion into (group, version), or `None` when malformed.
fn parse_group_version(gv: &str) -> Option<(&str, &str)> {
    if gv.is_empty() {
        return Some(("", ""));
    }
    match gv.matches('/').count() {
        0 => Some(("", gv)),
        1 => gv.split_once('/'),
        _ => None,
    }
}

/// `metadata.ownerReferences`.
pub fn validate_owner_references(refs: Option<&Value>, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let Some(list) = refs.and_then(Value::as_array) else {
        return errs;
    };
    let mut first_controller: Option<String> = None;
    for (i, r) in list.iter().enumerate() {
        let ipath = format!("{path}[{i}]");
        let api_version = str_field(r, "apiVersion");
        let gv = parse_group_version(api_version);
        if api_version.is_empty() {
            errs.push(FieldError::required(
                child(&ipath, "apiVersion"),
                "must not be empty",
            ));
        } else if gv.is_none_or(|(_, v)| v.is_empty()) {
            errs.push(FieldError::invalid(
                child(&ipath, "apiVersion"),
                api_version,
                "must be <group>/<version> or <version>",
            ));
        }
        let kind = str_field(r, "kind");
        if kind.is_empty() {
            errs.push(FieldError::required(
                child(&ipath, "kind"),
                "must not be empty",
            ));
        }
        if str_field(r, "name").is_empty() {
            errs.push(FieldError::required(
                child(&ipath, "name"),
                "must not be empty",
            ));
        }
        if str_field(r, "uid").is_empty() {
            errs.push(FieldError::required(
                child(&ipath, "uid"),
                "must not be empty",
            ));
        }
        let (group, version) = gv.unwrap_or(("", ""));
        if group.is_empty() && version == "v1" && kind == "Event" {
            errs.push(FieldError::invalid(
                ipath.as_str(),
                r.clone(),
                "/v1, Kind=Event is disallowed from being an owner",
            ));
        }
        if r.get("controller").and_then(Value::as_bool) == Some(true) {
            let current = format!("{}/{}", kind, str_field(r, "name"));
            match &first_controller {
                Some(first) => errs.push(FieldError::invalid(
                    path,
                    Value::Array(list.clone()),
                    format!(
                        "Only one reference can have Controller set to true. Found \"true\" in references for {first} and {current}"
                    ),
                )),
                None => first_controller = Some(current),
            }
        }
    }
    errs
}

/// `metadata.finalizers` as apimachinery checks them (qualified names, no
/// orphan + foregroundDeletion together).
pub fn validate_finalizers(finalizers: Option<&Value>, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let Some(list) = finalizers.and_then(Value::as_array) else {
        return errs;
    };
    let names: Vec<&str> = list.iter().filter_map(Value::as_str).collect();
    for f in &names {
        errs.extend(to_field_errors(path, f, is_label_key(f)));
    }
    if names.contains(&"orphan") && names.contains(&"foregroundDeletion") {
        errs.push(FieldError::invalid(
            path,
            Value::Array(list.clone()),
            "finalizer orphan and foregroundDeletion cannot be both set",
        ));
    }
    errs
}

/// The extra finalizer rule of core (v1) objects: a finalizer without a
/// `/` must be a standard one (`kubernetes`, `orphan`, `foregroundDeletion`).
pub fn validate_kube_finalizer_names(finalizers: Option<&Value>, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let Some(list) = finalizers.and_then(Value::as_array) else {
        return errs;
    };
    for (i, f) in list.iter().enumerate() {
        let Some(f) = f.as_str() else { continue };
        let ipath = format!("{path}[{i}]");
        errs.extend(to_field_errors(&ipath, f, is_label_key(f)));
        if !f.contains('/') && !matches!(f, "kubernetes" | "orphan" | "foregroundDeletion") {
            errs.push(FieldError::invalid(
                ipath.as_str(),
                f,
                "name is neither a standard finalizer name nor is it fully qualified",
            ));
        }
    }
    errs
}

/// ObjectMeta on create, as `ValidateObjectMeta`: `meta` is the metadata
/// object, `name_validator` the resource's name rule (e.g.
/// [`is_dns1035_label`] for Services), `path` normally `metadata`.
/// `generateName` is checked with its trailing dash masked.
pub fn validate_object_meta(
    meta: &Value,
    namespaced: bool,
    name_validator: fn(&str) -> Vec<String>,
    path: &str,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let generate = str_field(meta, "generateName");
    if !generate.is_empty() {
        for m in name_validator(&mask_trailing_dash(generate)) {
            errs.push(FieldError::invalid(
                child(path, "generateName"),
                generate,
                m,
            ));
        }
    }
    let name = str_field(meta, "name");
    if name.is_empty() {
        errs.push(FieldError::required(
            child(path, "name"),
            "name or generateName is required",
        ));
    } else {
        for m in name_validator(name) {
            errs.push(FieldError::invalid(child(path, "name"), name, m));
        }
    }
    errs.extend(validate_meta_common(meta, namespaced, path));
    errs
}

fn validate_meta_common(meta: &Value, namespaced: bool, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let namespace = str_field(meta, "namespace");
    if namespaced {
        if namespace.is_empty() {
            errs.push(FieldError::required(child(path, "namespace"), ""));
        } else {
            for m in is_dns1123_label(namespace) {
                errs.push(FieldError::invalid(child(path, "namespace"), namespace, m));
            }
        }
    } else if !namespace.is_empty() {
        errs.push(FieldError::forbidden(
            child(path, "namespace"),
            "not allowed on this type",
        ));
    }
    if let Some(g) = meta.get("generation").and_then(Value::as_i64) {
        if g < 0 {
            errs.push(FieldError::invalid(
                child(path, "generation"),
                g,
                "must be greater than or equal to 0",
            ));
        }
    }
    errs.extend(validate_labels(meta.get("labels"), &child(path, "labels")));
    errs.extend(validate_annotations(
        meta.get("annotations"),
        &child(path, "annotations"),
    ));
    errs.extend(validate_owner_references(
        meta.get("ownerReferences"),
        &child(path, "ownerReferences"),
    ));
    errs.extend(validate_finalizers(
        meta.get("finalizers"),
        &child(path, "finalizers"),
    ));
    errs
}

fn go_string_slice(items: &[&str]) -> String {
    let quoted: Vec<String> = items
        .iter()
        .map(|s| super::field_error::go_quote(s))
        .collect();
    format!("[]string{{{}}}", quoted.join(", "))
}

/// ObjectMeta on update, as `ValidateObjectMetaUpdate`.
pub fn validate_object_meta_update(new: &Value, old: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if old.get("deletionTimestamp").is_some_and(|v| !v.is_null()) {
        let old_f: Vec<&str> = old
            .get("finalizers")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut extra: Vec<&str> = new
            .get("finalizers")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        extra.retain(|f| !old_f.contains(f));
        extra.sort();
        extra.dedup();
        if !extra.is_empty() {
            errs.push(FieldError::forbidden(
                child(path, "finalizers"),
                format!(
                    "no new finalizers can be added if the object is being deleted, found new finalizers {}",
                    go_string_slice(&extra)
                ),
            ));
        }
    }
    let rv = str_field(new, "resourceVersion");
    if rv.is_empty() {
        errs.push(FieldError::invalid(
            child(path, "resourceVersion"),
            rv,
            "must be specified for an update",
        ));
    }
    let new_gen = new.get("generation").and_then(Value::as_i64).unwrap_or(0);
    let old_gen = old.get("generation").and_then(Value::as_i64).unwrap_or(0);
    if new_gen < 0 {
        errs.push(FieldError::invalid(
            child(path, "generation"),
            new_gen,
            "must be greater than or equal to 0",
        ));
    }
    if new_gen < old_gen {
        errs.push(FieldError::invalid(
            child(path, "generation"),
            new_gen,
            "must not be decremented",
        ));
    }
    for (key, string_like) in [
        ("name", true),
        ("namespace", true),
        ("uid", true),
        ("creationTimestamp", false),
        ("deletionTimestamp", false),
        ("deletionGracePeriodSeconds", false),
    ] {
        let norm = |v: Option<&Value>| -> Value {
            match v {
                None | Some(Value::Null) if string_like => Value::String(String::new()),
                None => Value::Null,
                Some(v) => v.clone(),
            }
        };
        let (n, o) = (norm(new.get(key)), norm(old.get(key)));
        if n != o {
            errs.push(FieldError::invalid(
                child(path, key),
                n,
                "field is immutable",
            ));
        }
    }
    errs.extend(validate_labels(new.get("labels"), &child(path, "labels")));
    errs.extend(validate_annotations(
        new.get("annotations"),
        &child(path, "annotations"),
    ));
    errs.extend(validate_owner_references(
        new.get("ownerReferences"),
        &child(path, "ownerReferences"),
    ));
    errs
}

/// Label map helper: the string entries of a JSON object.
pub fn string_map(v: Option<&Value>) -> Map<String, Value> {
    v.and_then(Value::as_object).cloned().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dns_labels() {
        assert!(is_dns1123_label("my-name").is_empty());
        assert_eq!(
            is_dns1123_label("My_Name"),
            vec!["a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"]
        );
        assert_eq!(is_dns1123_label("a.b"), vec!["must not contain dots"]);
        let long = "a".repeat(64);
        assert_eq!(
            is_dns1123_label(&long),
            vec!["must be no more than 63 characters"]
        );
        assert_eq!(
            is_dns1035_label("1abc"),
            vec!["a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"]
        );
        assert_eq!(
            is_dns1123_subdomain("Foo"),
            vec!["a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"]
        );
        assert!(is_dns1123_subdomain("a.b-c.d").is_empty());
        assert_eq!(is_dns1123_subdomain("").len(), 1);
    }

    #[test]
    fn label_keys_and_values() {
        assert!(is_label_key("app").is_empty());
        assert!(is_label_key("example.com/app").is_empty());
        assert_eq!(is_label_key("/app"), vec!["prefix part must be non-empty"]);
        assert_eq!(
            is_label_key("a@b"),
            vec!["name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"]
        );
        assert_eq!(is_label_key("a/b/c").len(), 1);
        assert!(is_label_key("a/b/c")[0].starts_with("a valid label key must consist"));
        assert_eq!(
            is_label_key("Foo/bar")[0],
            "prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
        );
        assert_eq!(is_label_key("x/"), vec!["name part must be non-empty", "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"]);
        assert_eq!(
            is_label_key(&"a".repeat(64))[0],
            "name part must be no more than 63 bytes"
        );
        assert!(is_valid_label_value("").is_empty());
        assert!(is_valid_label_value("v1.2_x").is_empty());
        assert_eq!(
            is_valid_label_value("-x"),
            vec!["a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"]
        );
    }

    #[test]
    fn port_names() {
        assert!(is_valid_port_name("http").is_empty());
        assert_eq!(
            is_valid_port_name("8080"),
            vec!["must contain at least one letter (a-z)"]
        );
        assert_eq!(
            is_valid_port_name("-a--b"),
            vec![
                "must not contain consecutive hyphens",
                "must not begin or end with a hyphen"
            ]
        );
        assert_eq!(
            is_valid_port_name("HTTP"),
            vec![
                "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
                "must contain at least one letter (a-z)"
            ]
        );
        assert_eq!(
            is_valid_port_name("abcdefghijklmnop")[0],
            "must be no more than 15 characters"
        );
        assert_eq!(
            is_valid_port_num(0),
            vec!["must be between 1 and 65535, inclusive"]
        );
    }

    #[test]
    fn ips() {
        assert!(is_valid_ip("10.0.0.1").is_empty());
        assert_eq!(is_valid_ip("10.0.0.01"), vec!["must not have leading 0s"]);
        assert_eq!(
            is_valid_ip("foo"),
            vec!["must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"]
        );
        assert_eq!(
            is_valid_ip("::ffff:1.2.3.4"),
            vec!["must not be an IPv4-mapped IPv6 address"]
        );
        assert_eq!(
            is_valid_ip("2001:DB8::1"),
            vec!["must be in canonical form (\"2001:db8::1\")"]
        );
        assert_eq!(
            is_valid_ip("2001:db8:0:0:0:0:0:1"),
            vec!["must be in canonical form (\"2001:db8::1\")"]
        );
        assert!(is_valid_ip("2001:db8::1").is_empty());
        assert_eq!(
            go_ip_string(&"1:0:1:1:1:1:1:1".parse().unwrap()),
            "1:0:1:1:1:1:1:1"
        );
        assert_eq!(
            go_ip_string(&"1:0:0:1:0:0:0:1".parse().unwrap()),
            "1:0:0:1::1"
        );
        assert!(is_valid_ip_for_legacy_field("010.0.0.1", false, &[]).is_empty());
        assert!(is_valid_cidr("10.0.0.0/24").is_empty());
        assert_eq!(
            is_valid_cidr("10.0.0.1/24"),
            vec!["must not have bits set beyond the prefix length"]
        );
        assert_eq!(
            is_valid_cidr("10.0.0.0/024"),
            vec!["must not have leading 0s in IP or prefix length"]
        );
        assert_eq!(
            is_valid_cidr("10.0.0.0"),
            vec!["must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"]
        );
        assert_eq!(
            is_valid_cidr("2001:DB8::/64"),
            vec!["must be in canonical form (\"2001:db8::/64\")"]
        );
        let e = validate_non_special_ip("spec.externalIPs[0]", "127.0.0.1");
        assert_eq!(
            e[0].to_string(),
            "spec.externalIPs[0]: Invalid value: \"127.0.0.1\": may not be in the loopback range (127.0.0.0/8, ::1/128)"
        );
        assert_eq!(
            validate_non_special_ip("x", "0.0.0.0")[0].detail,
            "may not be unspecified (0.0.0.0)"
        );
        assert_eq!(validate_non_special_ip("x", "fe80::1").len(), 1);
        assert_eq!(validate_non_special_ip("x", "224.0.0.5").len(), 1);
        assert!(validate_non_special_ip("x", "8.8.8.8").is_empty());
    }

    #[test]
    fn object_meta() {
        let meta = json!({"name": "Bad_Name", "namespace": "", "labels": {"a@": "x"},
            "annotations": {"ok": "v"}});
        let errs = validate_object_meta(&meta, true, is_dns1035_label, "metadata");
        let msgs: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        assert!(msgs[0].starts_with("metadata.name: Invalid value: \"Bad_Name\": a DNS-1035 label"));
        assert_eq!(msgs[1], "metadata.namespace: Required value");
        assert!(
            msgs[2].starts_with("metadata.labels: Invalid value: \"a@\": name part must consist")
        );
        let meta = json!({"generateName": "web-", "namespace": "default"});
        let errs = validate_object_meta(&meta, true, is_dns1035_label, "metadata");
        assert_eq!(errs.len(), 1);
        assert_eq!(
            errs[0].to_string(),
            "metadata.name: Required value: name or generateName is required"
        );
        let big = "x".repeat(TOTAL_ANNOTATION_SIZE_LIMIT_BYTES);
        let meta = json!({"name": "a", "annotations": {"k": big}});
        let errs = validate_object_meta(&meta, false, is_dns1123_subdomain, "metadata");
        assert_eq!(
            errs[0].to_string(),
            "metadata.annotations: Too long: may not be more than 262144 bytes"
        );
        let meta = json!({"name": "a", "namespace": "x"});
        let errs = validate_object_meta(&meta, false, is_dns1123_subdomain, "metadata");
        assert_eq!(
            errs[0].to_string(),
            "metadata.namespace: Forbidden: not allowed on this type"
        );
        assert_eq!(mask_trailing_dash("abc-"), "aba");
    }

    #[test]
    fn object_meta_update() {
        let old = json!({"name": "a", "namespace": "ns", "uid": "u1", "resourceVersion": "5",
            "generation": 3, "deletionTimestamp": "2024-01-01T00:00:00Z", "finalizers": ["a.io/x"]});
        let new = json!({"name": "b", "namespace": "ns", "uid": "u1", "generation": 2,
            "deletionTimestamp": "2024-01-01T00:00:00Z", "finalizers": ["a.io/x", "b.io/y"]});
        let msgs: Vec<String> = validate_object_meta_update(&new, &old, "metadata")
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(msgs, vec![
            "metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{\"b.io/y\"}",
            "metadata.resourceVersion: Invalid value: \"\": must be specified for an update",
            "metadata.generation: Invalid value: 2: must not be decremented",
            "metadata.name: Invalid value: \"b\": field is immutable",
        ]);
    }
}
