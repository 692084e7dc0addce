//! Field-level validation errors, rendered the way kube-apiserver renders
//! them (`spec.ports[0].port: Invalid value: 0: must be between 1 and 65535,
//! inclusive`), plus the aggregate message of a 422 Invalid status.

use serde_json::{json, Value};
use std::collections::HashSet;

/// The machine-readable kind of a field error (metav1 `CauseType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldErrorType {
    NotFound,
    Required,
    Duplicate,
    Invalid,
    NotSupported,
    Forbidden,
    TooLong,
    TooMany,
    Internal,
    TypeInvalid,
    TooShort,
    TooFew,
}

impl FieldErrorType {
    /// The cause type as it appears in `status.details.causes[].reason`.
    pub fn reason(self) -> &'static str {
        match self {
            FieldErrorType::NotFound => "FieldValueNotFound",
            FieldErrorType::Required => "FieldValueRequired",
            FieldErrorType::Duplicate => "FieldValueDuplicate",
            FieldErrorType::Invalid => "FieldValueInvalid",
            FieldErrorType::NotSupported => "FieldValueNotSupported",
            FieldErrorType::Forbidden => "FieldValueForbidden",
            FieldErrorType::TooLong => "FieldValueTooLong",
            FieldErrorType::TooMany => "FieldValueTooMany",
            FieldErrorType::Internal => "InternalError",
            FieldErrorType::TypeInvalid => "FieldValueTypeInvalid",
            FieldErrorType::TooShort => "FieldValueTooShort",
            FieldErrorType::TooFew => "FieldValueTooFew",
        }
    }

    /// The human-readable heading used in messages ("Invalid value", ...).
    pub fn label(self) -> &'static str {
        match self {
            FieldErrorType::NotFound => "Not found",
            FieldErrorType::Required => "Required value",
            FieldErrorType::Duplicate => "Duplicate value",
            FieldErrorType::Invalid => "Invalid value",
            FieldErrorType::NotSupported => "Unsupported value",
            FieldErrorType::Forbidden => "Forbidden",
            FieldErrorType::TooLong => "Too long",
            FieldErrorType::TooMany => "Too many",
            FieldErrorType::Internal => "Internal error",
            FieldErrorType::TypeInvalid => "Invalid value",
            FieldErrorType::TooShort => "Too short",
            FieldErrorType::TooFew => "Too few",
        }
    }
}

/// One validation failure at one field path.
///
/// `bad_value` is `None` when the value is not shown (required, forbidden,
/// too long, internal, or an omitted quantity); `Some(Value::Null)` prints
/// `null`, as Go does for a nil value.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    pub type_: FieldErrorType,
    pub field: String,
    pub bad_value: Option<Value>,
    pub detail: String,
}

impl FieldError {
    pub fn new(
        type_: FieldErrorType,
        field: impl Into<String>,
        bad_value: Option<Value>,
        detail: impl Into<String>,
    ) -> Self {
        FieldError {
            type_,
            field: field.into(),
            bad_value,
            detail: detail.into(),
        }
    }

    pub fn required(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(FieldErrorType::Required, field, None, detail)
    }

    pub fn invalid(
        field: impl Into<String>,
        value: impl Into<Value>,
        detail: impl Into<String>,
    ) -> Self {
        Self::new(FieldErrorType::Invalid, field, Some(value.into()), detail)
    }

    pub fn type_invalid(
        field: impl Into<String>,
        value: impl Into<Value>,
        detail: impl Into<String>,
    ) -> Self {
        Self::new(
            FieldErrorType::TypeInvalid,
            field,
            Some(value.into()),
            detail,
        )
    }

    pub fn not_found(field: impl Into<String>, value: impl Into<Value>) -> Self {
        Self::new(FieldErrorType::NotFound, field, Some(value.into()), "")
    }

    pub fn duplicate(field: impl Into<String>, value: impl Into<Value>) -> Self {
        Self::new(FieldErrorType::Duplicate, field, Some(value.into()), "")
    }

    /// `Unsupported value: "x": supported values: "a", "b"`; the valid values
    /// are listed in the order given (callers pass them sorted where Go does).
    pub fn not_supported<S: AsRef<str>>(
        field: impl Into<String>,
        value: impl Into<Value>,
        valid: &[S],
    ) -> Self {
        let detail = if valid.is_empty() {
            String::new()
        } else {
            let quoted: Vec<String> = valid.iter().map(|v| go_quote(v.as_ref())).collect();
            format!("supported values: {}", quoted.join(", "))
        };
        Self::new(
            FieldErrorType::NotSupported,
            field,
            Some(value.into()),
            detail,
        )
    }

    pub fn forbidden(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(FieldErrorType::Forbidden, field, None, detail)
    }

    /// `Too long: may not be more than N bytes` (the value is never shown).
    pub fn too_long(field: impl Into<String>, max_bytes: i64) -> Self {
        let detail = if max_bytes >= 0 {
            let unit = if max_bytes == 1 { "byte" } else { "bytes" };
            format!("may not be more than {max_bytes} {unit}")
        } else {
            "value is too long".to_string()
        };
        Self::new(FieldErrorType::TooLong, field, None, detail)
    }

    /// As [`FieldError::too_long`] but counted in characters.
    pub fn too_long_characters(field: impl Into<String>, max_chars: i64) -> Self {
        let detail = if max_chars >= 0 {
            let unit = if max_chars == 1 {
                "character"
            } else {
                "characters"
            };
            format!("may not be more than {max_chars} {unit}")
        } else {
            "value is too long".to_string()
        };
        Self::new(FieldErrorType::TooLong, field, None, detail)
    }

    /// `Too many: <actual>: must have at most N items`; a negative `actual`
    /// omits the value, a negative `max` gives the generic detail.
    pub fn too_many(field: impl Into<String>, actual: i64, max: i64) -> Self {
        let detail = if max >= 0 {
            let unit = if max == 1 { "item" } else { "items" };
            format!("must have at most {max} {unit}")
        } else {
            "has too many items".to_string()
        };
        let value = (actual >= 0).then(|| json!(actual));
        Self::new(FieldErrorType::TooMany, field, value, detail)
    }

    pub fn too_few(field: impl Into<String>, actual: i64, min: i64) -> Self {
        let detail = if min >= 0 {
            let unit = if min == 1 { "item" } else { "items" };
            format!("must have at least {min} {unit}")
        } else {
            "has too few items".to_string()
        };
        Self::new(FieldErrorType::TooFew, field, Some(json!(actual)), detail)
    }

    pub fn too_short(field: impl Into<String>, value: impl Into<Value>, min_chars: i64) -> Self {
        let detail = if min_chars >= 0 {
            let unit = if min_chars == 1 {
                "character"
            } else {
                "characters"
            };
            format!("must be at least {min_chars} {unit}")
        } else {
            "value is too short".to_string()
        };
        Self::new(FieldErrorType::TooShort, field, Some(value.into()), detail)
    }

    /// `Internal error: <detail>`.
    pub fn internal(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(FieldErrorType::Internal, field, None, detail)
    }

    /// The metav1 cause type (`FieldValueInvalid`, ...).
    pub fn reason(&self) -> &'static str {
        self.type_.reason()
    }

    /// The message without the field path (what goes in a status cause).
    pub fn error_body(&self) -> String {
        let mut s = match self.type_ {
            FieldErrorType::Required
            | FieldErrorType::Forbidden
            | FieldErrorType::TooLong
            | FieldErrorType::TooShort
            | FieldErrorType::Internal => self.type_.label().to_string(),
            _ => match &self.bad_value {
                None => self.type_.label().to_string(),
                Some(v) => format!("{}: {}", self.type_.label(), format_bad_value(v)),
            },
        };
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }

    /// The `status.details.causes[]` entry for this error.
    pub fn to_cause(&self) -> Value {
        json!({
            "reason": self.reason(),
            "message": self.error_body(),
            "field": self.field,
        })
    }

    /// Returns the error with `prefix` prepended to its field path (handy for
    /// validating a nested object with paths relative to it).
    pub fn with_field_prefix(mut self, prefix: &str) -> Self {
        if !prefix.is_empty() {
            if self.field.is_empty() {
                self.field = prefix.to_string();
            } else if self.field.starts_with('[') {
                self.field = format!("{prefix}{}", self.field);
            } else {
                self.field = format!("{prefix}.{}", self.field);
            }
        }
        self
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.error_body())
    }
}

impl std::error::Error for FieldError {}

/// Renders a bad value as Go's field error does: strings quoted with Go
/// quoting, numbers and booleans bare, anything else as (HTML-safe) JSON.
pub fn format_bad_value(v: &Value) -> String {
    match v {
        Value::String(s) => go_quote(s),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".to_string(),
        other => go_json(other),
    }
}

/// `json.Marshal` output: compact, with `<`, `>`, `&`, U+2028 and U+2029
/// escaped as Go does by default.
pub fn go_json(v: &Value) -> String {
    let raw = serde_json::to_string(v).unwrap_or_else(|_| "null".to_string());
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// Go's `strconv.Quote` (`%q`): double quotes, backslash escapes for
/// control and non-printable characters, printable Unicode kept as is.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if go_is_print(c) => out.push(c),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// An approximation of Go's `unicode.IsPrint`: graphic characters and the
/// ASCII space, but not other spaces, controls or format characters.
fn go_is_print(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    let u = c as u32;
    !matches!(u,
        0x00AD
        | 0x0600..=0x0605
        | 0x061C
        | 0x06DD
        | 0x070F
        | 0x180E
        | 0x200B..=0x200F
        | 0x202A..=0x202E
        | 0x2060..=0x206F
        | 0xE000..=0xF8FF
        | 0xFDD0..=0xFDEF
        | 0xFEFF
        | 0xFFF9..=0xFFFB
        | 0xFFFE..=0xFFFF
        | 0xF0000..=0x10FFFF
    )
}

/// The list as one error string, the way `ErrorList.ToAggregate()` prints:
/// duplicates (by message) dropped, one message bare, several as `[a, b]`.
pub fn aggregate_errors(errs: &[FieldError]) -> String {
    let mut seen = HashSet::new();
    let mut msgs = Vec::new();
    for e in errs {
        let m = e.to_string();
        if seen.insert(m.clone()) {
            msgs.push(m);
        }
    }
    match msgs.len() {
        0 => String::new(),
        1 => msgs.remove(0),
        _ => format!("[{}]", msgs.join(", ")),
    }
}

/// The message of the 422 status for an invalid object:
/// `Service "x" is invalid: spec.ports[0].port: Invalid value: ...`.
/// `kind` is the qualified kind (`Service`, `Deployment.apps`).
pub fn aggregate_message(kind: &str, name: &str, errs: &[FieldError]) -> String {
    let agg = aggregate_errors(errs);
    if agg.is_empty() {
        format!("{kind} {} is invalid", go_quote(name))
    } else {
        format!("{kind} {} is invalid: {agg}", go_quote(name))
    }
}

/// The `status.details.causes` array for a list of errors.
pub fn causes(errs: &[FieldError]) -> Value {
    Value::Array(errs.iter().map(FieldError::to_cause).collect())
}

/// The rendered form of each error (`field: Type: detail`), what unit
/// tests compare with kube-apiserver's messages.
#[cfg(test)]
pub fn strs(errs: Vec<FieldError>) -> Vec<String> {
    errs.iter().map(ToString::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_matches_go() {
        let e = FieldError::invalid(
            "spec.ports[0].port",
            0,
            "must be between 1 and 65535, inclusive",
        );
        assert_eq!(
            e.to_string(),
            "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive"
        );
        assert_eq!(e.reason(), "FieldValueInvalid");
        assert_eq!(
            FieldError::required("spec.ports", "").to_string(),
            "spec.ports: Required value"
        );
        assert_eq!(
            FieldError::required("metadata.name", "name or generateName is required").to_string(),
            "metadata.name: Required value: name or generateName is required"
        );
        assert_eq!(
            FieldError::duplicate("spec.ports[1].name", "http").to_string(),
            "spec.ports[1].name: Duplicate value: \"http\""
        );
        assert_eq!(
            FieldError::not_supported(
                "spec.sessionAffinity",
                "Sticky",
                &["ClientIP", "None"]
            )
            .to_string(),
            "spec.sessionAffinity: Unsupported value: \"Sticky\": supported values: \"ClientIP\", \"None\""
        );
        assert_eq!(
            FieldError::forbidden(
                "spec.clusterIPs",
                "may not be set for ExternalName services"
            )
            .to_string(),
            "spec.clusterIPs: Forbidden: may not be set for ExternalName services"
        );
        assert_eq!(
            FieldError::too_long("metadata.annotations", 262144).to_string(),
            "metadata.annotations: Too long: may not be more than 262144 bytes"
        );
        assert_eq!(
            FieldError::too_many("spec.x", 5, 3).to_string(),
            "spec.x: Too many: 5: must have at most 3 items"
        );
        assert_eq!(
            FieldError::too_many("spec.x", -1, 1).to_string(),
            "spec.x: Too many: must have at most 1 item"
        );
        assert_eq!(
            FieldError::internal("spec.clusterIPs", "boom").to_string(),
            "spec.clusterIPs: Internal error: boom"
        );
        assert_eq!(
            FieldError::invalid("spec.clusterIPs", json!(["a", "b<"]), "x").to_string(),
            "spec.clusterIPs: Invalid value: [\"a\",\"b\\u003c\"]: x"
        );
        assert_eq!(
            FieldError::invalid("f", Value::Null, "x").to_string(),
            "f: Invalid value: null: x"
        );
    }

    #[test]
    fn quoting() {
        assert_eq!(go_quote("a\"b\\c\n\u{1}é"), "\"a\\\"b\\\\c\\n\\x01é\"");
        assert_eq!(go_quote("\u{200b}"), "\"\\u200b\"");
    }

    #[test]
    fn aggregate() {
        let a = FieldError::invalid(
            "spec.ports[0].port",
            0,
            "must be between 1 and 65535, inclusive",
        );
        let b = FieldError::required("spec.selector", "");
        assert_eq!(
            aggregate_message("Service", "x", std::slice::from_ref(&a)),
            "Service \"x\" is invalid: spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive"
        );
        assert_eq!(
            aggregate_message("Service", "x", &[a.clone(), b.clone(), a.clone()]),
            "Service \"x\" is invalid: [spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive, spec.selector: Required value]"
        );
        assert_eq!(
            aggregate_message("Deployment.apps", "d", &[]),
            "Deployment.apps \"d\" is invalid"
        );
        let c = b.to_cause();
        assert_eq!(c["reason"], "FieldValueRequired");
        assert_eq!(c["message"], "Required value");
        assert_eq!(c["field"], "spec.selector");
    }
}
