//! Field selectors (`metadata.name=x,status.phase!=Running`) with
//! kube-apiserver's parse errors, the field labels each resource supports,
//! and the selectable field values of the built-in resources.

use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

use crate::validation::field_error::go_quote;

/// A field selector that could not be parsed or is not supported for the
/// resource; the message is the one of the API server's 400 response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FieldSelectorError(pub String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldOp {
    /// `=` or `==`
    Equals,
    /// `!=`
    NotEquals,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRequirement {
    pub field: String,
    pub op: FieldOp,
    pub value: String,
}

impl FieldRequirement {
    /// A missing field reads as the empty string, as in apimachinery.
    pub fn matches(&self, lookup: &dyn Fn(&str) -> Option<String>) -> bool {
        let have = lookup(&self.field).unwrap_or_default();
        match self.op {
            FieldOp::Equals => have == self.value,
            FieldOp::NotEquals => have != self.value,
        }
    }
}

impl fmt::Display for FieldRequirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.op {
            FieldOp::Equals => "=",
            FieldOp::NotEquals => "!=",
        };
        write!(f, "{}{}{}", self.field, op, escape_value(&self.value))
    }
}

/// A parsed field selector (a conjunction of terms). `Default` is
/// "everything".
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldSelector {
    terms: Vec<FieldRequirement>,
}

/// Escapes `\`, `,` and `=` in a value.
pub fn escape_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | ',' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Undoes [`escape_value`], with the API server's errors.
pub fn unescape_value(s: &str) -> Result<String, FieldSelectorError> {
    if !s.contains(['\\', ',', '=']) {
        return Ok(s.to_string());
    }
    let mut out = String::with_capacity(s.len());
    let mut in_slash = false;
    for c in s.chars() {
        if in_slash {
            match c {
                '\\' | ',' | '=' => out.push(c),
                other => {
                    return Err(FieldSelectorError(format!(
                        "invalid field selector: invalid escape sequence: \\{other}"
                    )))
                }
            }
            in_slash = false;
            continue;
        }
        match c {
            '\\' => in_slash = true,
            ',' | '=' => {
                // Go prints the rune with %v: its code point number.
                return Err(FieldSelectorError(format!(
                    "invalid field selector: unescaped character in value: {}",
                    c as u32
                )));
            }
            other => out.push(other),
        }
    }
    if in_slash {
        return Err(FieldSelectorError(
            "invalid field selector: invalid escape sequence: \\".to_string(),
        ));
    }
    Ok(out)
}

fn split_terms(s: &str) -> Vec<&str> {
    if s.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::new();
    let mut start = 0;
    let mut in_slash = false;
    for (i, c) in s.char_indices() {
        if in_slash {
            in_slash = false;
        } else if c == '\\' {
            in_slash = true;
        } else if c == ',' {
            terms.push(&s[start..i]);
            start = i + 1;
        }
    }
    terms.push(&s[start..]);
    terms
}

fn split_term(term: &str) -> Option<(&str, &str, &str)> {
    for (i, _) in term.char_indices() {
        let rest = &term[i..];
        for op in ["!=", "==", "="] {
            if rest.starts_with(op) {
                return Some((&term[..i], op, &term[i + op.len()..]));
            }
        }
    }
    None
}

impl FieldSelector {
    pub fn everything() -> Self {
        FieldSelector::default()
    }

    /// Parses `a=b,c!=d` (`==` is accepted for `=`; `\,` `\=` `\\` escape
    /// values). An empty string selects everything.
    pub fn parse(selector: &str) -> Result<Self, FieldSelectorError> {
        let mut parts = split_terms(selector);
        parts.sort_unstable();
        let mut terms = Vec::new();
        for part in parts {
            if part.is_empty() {
                continue;
            }
            let Some((lhs, op, rhs)) = split_term(part) else {
                return Err(FieldSelectorError(format!(
                    "invalid selector: '{selector}'; can't understand '{part}'"
                )));
            };
            let value = unescape_value(rhs)?;
            let op = if op == "!=" {
                FieldOp::NotEquals
            } else {
                FieldOp::Equals
            };
            if lhs.is_empty() && value.is_empty() {
                // A term that transforms to nothing selects everything.
                continue;
            }
            terms.push(FieldRequirement {
                field: lhs.to_string(),
                op,
                value,
            });
        }
        Ok(FieldSelector { terms })
    }

    /// Parses and converts the field labels for a resource (what a list or
    /// watch does with `fieldSelector`): unsupported labels fail with
    /// `field label not supported: <label>` (or the generic message for
    /// resources without their own field labels).
    pub fn parse_for(
        selector: &str,
        group: &str,
        plural: &str,
    ) -> Result<Self, FieldSelectorError> {
        Self::parse(selector)?.transform(group, plural)
    }

    /// Converts every field label for the resource.
    pub fn transform(self, group: &str, plural: &str) -> Result<Self, FieldSelectorError> {
        let mut terms = Vec::with_capacity(self.terms.len());
        for t in self.terms {
            let (field, value) = convert_field_label(group, plural, &t.field, &t.value)
                .map_err(FieldSelectorError)?;
            if field.is_empty() && value.is_empty() {
                continue;
            }
            terms.push(FieldRequirement {
                field,
                op: t.op,
                value,
            });
        }
        Ok(FieldSelector { terms })
    }

    pub fn requirements(&self) -> &[FieldRequirement] {
        &self.terms
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// Matches with a field lookup (`None` reads as the empty string).
    pub fn matches(&self, lookup: impl Fn(&str) -> Option<String>) -> bool {
        self.terms.iter().all(|t| t.matches(&lookup))
    }

    /// Matches a stored object of a built-in resource by its selectable
    /// fields (see [`selectable_fields`]).
    pub fn matches_object(&self, group: &str, plural: &str, namespaced: bool, obj: &Value) -> bool {
        if self.terms.is_empty() {
            return true;
        }
        let fields = selectable_fields(group, plural, namespaced, obj);
        self.matches(|f| fields.get(f).cloned())
    }

    /// The value a field must equal for this selector to match, if any.
    pub fn requires_exact_match(&self, field: &str) -> Option<&str> {
        self.terms
            .iter()
            .find(|t| t.field == field && t.op == FieldOp::Equals)
            .map(|t| t.value.as_str())
    }
}

impl fmt::Display for FieldSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.terms.iter().map(|t| t.to_string()).collect();
        f.write_str(&parts.join(","))
    }
}

impl std::str::FromStr for FieldSelector {
    type Err = FieldSelectorError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FieldSelector::parse(s)
    }
}

const POD_FIELDS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.podIPs",
    "status.nominatedNodeName",
];
const NODE_FIELDS: &[&str] = &["metadata.name", "spec.unschedulable"];
const RC_FIELDS: &[&str] = &["metadata.name", "metadata.namespace", "status.replicas"];
const EVENT_FIELDS: &[&str] = &[
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
    "metadata.namespace",
    "metadata.name",
];
const NAMESPACE_FIELDS: &[&str] = &["status.phase", "metadata.name"];
const SECRET_FIELDS: &[&str] = &["type", "metadata.namespace", "metadata.name"];
const SERVICE_FIELDS: &[&str] = &[
    "metadata.namespace",
    "metadata.name",
    "spec.clusterIP",
    "spec.type",
];
const REPLICASET_FIELDS: &[&str] = &["metadata.name", "metadata.namespace", "status.replicas"];
const JOB_FIELDS: &[&str] = &["metadata.name", "metadata.namespace", "status.successful"];
const CSR_FIELDS: &[&str] = &["metadata.name", "spec.signerName"];
const DEFAULT_FIELDS: &[&str] = &["metadata.name", "metadata.namespace"];

/// The field labels a resource accepts in `fieldSelector`, and whether it has
/// its own list (`true`) or the generic metadata-only default (`false`).
pub fn supported_field_labels(group: &str, plural: &str) -> (&'static [&'static str], bool) {
    match (group, plural) {
        ("", "pods") => (POD_FIELDS, true),
        ("", "nodes") => (NODE_FIELDS, true),
        ("", "replicationcontrollers") => (RC_FIELDS, true),
        ("", "events") => (EVENT_FIELDS, true),
        ("", "namespaces") => (NAMESPACE_FIELDS, true),
        ("", "secrets") => (SECRET_FIELDS, true),
        ("", "services") => (SERVICE_FIELDS, true),
        ("apps", "replicasets") => (REPLICASET_FIELDS, true),
        ("batch", "jobs") => (JOB_FIELDS, true),
        ("certificates.k8s.io", "certificatesigningrequests") => (CSR_FIELDS, true),
        _ => (DEFAULT_FIELDS, false),
    }
}

/// Converts one field label for a resource, as the scheme's field label
/// conversion does (`spec.host` on pods becomes `spec.nodeName`).
pub fn convert_field_label(
    group: &str,
    plural: &str,
    label: &str,
    value: &str,
) -> Result<(String, String), String> {
    if (group, plural, label) == ("", "pods", "spec.host") {
        return Ok(("spec.nodeName".to_string(), value.to_string()));
    }
    let (supported, own) = supported_field_labels(group, plural);
    if supported.contains(&label) {
        return Ok((label.to_string(), value.to_string()));
    }
    if own {
        Err(format!("field label not supported: {label}"))
    } else {
        Err(format!(
            "{} is not a known field selector: only {}, {}",
            go_quote(label),
            go_quote("metadata.name"),
            go_quote("metadata.namespace")
        ))
    }
}

fn s(obj: &Value, pointer: &str) -> String {
    match obj.pointer(pointer) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}

fn num(obj: &Value, pointer: &str) -> String {
    obj.pointer(pointer)
        .and_then(Value::as_i64)
        .unwrap_or(0)
        .to_string()
}

fn boolean(obj: &Value, pointer: &str) -> String {
    obj.pointer(pointer)
        .and_then(Value::as_bool)
        .unwrap_or(false)
        .to_string()
}

/// The selectable fields of a stored object, as the registries compute them
/// (missing values are empty strings; numbers and booleans as Go prints
/// them). `metadata.namespace` is only present for namespaced resources.
pub fn selectable_fields(
    group: &str,
    plural: &str,
    namespaced: bool,
    obj: &Value,
) -> BTreeMap<String, String> {
    let mut f = BTreeMap::new();
    f.insert("metadata.name".to_string(), s(obj, "/metadata/name"));
    if namespaced {
        f.insert(
            "metadata.namespace".to_string(),
            s(obj, "/metadata/namespace"),
        );
    }
    let mut put = |k: &str, v: String| {
        f.insert(k.to_string(), v);
    };
    match (group, plural) {
        ("", "pods") => {
            put("spec.nodeName", s(obj, "/spec/nodeName"));
            put("spec.restartPolicy", s(obj, "/spec/restartPolicy"));
            put("spec.schedulerName", s(obj, "/spec/schedulerName"));
            put(
                "spec.serviceAccountName",
                s(obj, "/spec/serviceAccountName"),
            );
            put("spec.hostNetwork", boolean(obj, "/spec/hostNetwork"));
            put("status.phase", s(obj, "/status/phase"));
            let ip = obj
                .pointer("/status/podIPs/0/ip")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| s(obj, "/status/podIP"));
            put("status.podIP", ip);
            put(
                "status.nominatedNodeName",
                s(obj, "/status/nominatedNodeName"),
            );
        }
        ("", "nodes") => put("spec.unschedulable", boolean(obj, "/spec/unschedulable")),
        ("", "replicationcontrollers") | ("apps", "replicasets") => {
            put("status.replicas", num(obj, "/status/replicas"))
        }
        ("batch", "jobs") => put("status.successful", num(obj, "/status/succeeded")),
        ("certificates.k8s.io", "certificatesigningrequests") => {
            put("spec.signerName", s(obj, "/spec/signerName"))
        }
        ("", "events") => {
            for (k, p) in [
                ("involvedObject.kind", "/involvedObject/kind"),
                ("involvedObject.namespace", "/involvedObject/namespace"),
                ("involvedObject.name", "/involvedObject/name"),
                ("involvedObject.uid", "/involvedObject/uid"),
                ("involvedObject.apiVersion", "/involvedObject/apiVersion"),
                (
                    "involvedObject.resourceVersion",
                    "/involvedObject/resourceVersion",
                ),
                ("involvedObject.fieldPath", "/involvedObject/fieldPath"),
                ("reason", "/reason"),
                ("reportingComponent", "/reportingComponent"),
                ("type", "/type"),
            ] {
                put(k, s(obj, p));
            }
            let mut source = s(obj, "/source/component");
            if source.is_empty() {
                source = s(obj, "/reportingComponent");
            }
            put("source", source);
        }
        ("", "namespaces") => put("status.phase", s(obj, "/status/phase")),
        ("", "secrets") => put("type", s(obj, "/type")),
        ("", "services") => {
            put("spec.clusterIP", s(obj, "/spec/clusterIP"));
            put("spec.type", s(obj, "/spec/type"));
        }
        _ => {}
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parse_and_match() {
        let sel = FieldSelector::parse("status.phase!=Running,spec.nodeName==n1").unwrap();
        assert_eq!(sel.to_string(), "spec.nodeName=n1,status.phase!=Running");
        let pod = json!({"metadata": {"name": "p", "namespace": "d"},
            "spec": {"nodeName": "n1"}, "status": {"phase": "Pending"}});
        assert!(sel.matches_object("", "pods", true, &pod));
        let sel = FieldSelector::parse("spec.nodeName=").unwrap();
        assert!(!sel.matches_object("", "pods", true, &pod));
        assert!(sel.matches(|_| None));
        assert_eq!(
            FieldSelector::parse("metadata.name=a\\,b")
                .unwrap()
                .requires_exact_match("metadata.name"),
            Some("a,b")
        );
        assert!(FieldSelector::parse("").unwrap().is_empty());
        assert!(FieldSelector::parse("=").unwrap().is_empty());
    }

    #[test]
    fn errors() {
        let e = |s: &str| FieldSelector::parse(s).unwrap_err().to_string();
        assert_eq!(e("foo"), "invalid selector: 'foo'; can't understand 'foo'");
        assert_eq!(
            e("a=b,zzz"),
            "invalid selector: 'a=b,zzz'; can't understand 'zzz'"
        );
        assert_eq!(
            e("a=b=c"),
            "invalid field selector: unescaped character in value: 61"
        );
        assert_eq!(
            e("a=b\\x"),
            "invalid field selector: invalid escape sequence: \\x"
        );
        assert_eq!(
            e("a=b\\"),
            "invalid field selector: invalid escape sequence: \\"
        );
        let e = FieldSelector::parse_for("foo=bar", "", "pods").unwrap_err();
        assert_eq!(e.to_string(), "field label not supported: foo");
        let e = FieldSelector::parse_for("spec.replicas=1", "apps", "deployments").unwrap_err();
        assert_eq!(
            e.to_string(),
            "\"spec.replicas\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
        );
        let ok = FieldSelector::parse_for("spec.host=n1", "", "pods").unwrap();
        assert_eq!(ok.to_string(), "spec.nodeName=n1");
        assert!(FieldSelector::parse_for("metadata.namespace=x", "", "nodes").is_err());
    }

    #[test]
    fn selectable() {
        let ev = json!({"metadata": {"name": "e", "namespace": "d"},
            "involvedObject": {"kind": "Pod", "name": "p"}, "reportingComponent": "kubelet",
            "source": {}});
        let f = selectable_fields("", "events", true, &ev);
        assert_eq!(f["source"], "kubelet");
        assert_eq!(f["involvedObject.kind"], "Pod");
        let node = json!({"metadata": {"name": "n"}, "spec": {"unschedulable": true}});
        let f = selectable_fields("", "nodes", false, &node);
        assert_eq!(f["spec.unschedulable"], "true");
        assert!(!f.contains_key("metadata.namespace"));
    }
}
