//! resource.Quantity strings (`k8s.io/apimachinery/pkg/api/resource`):
//! parsing by the canonical grammar, and the quantity checks of core
//! validation (`ValidateNonnegativeQuantity`, `ValidatePositiveQuantityValue`).

use super::field_error::FieldError;
use serde_json::Value;

/// The message of a quantity that does not parse (`ErrFormatWrong`).
pub const FORMAT_WRONG: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

const BINARY: [(&str, i32); 6] = [
    ("Ki", 10),
    ("Mi", 20),
    ("Gi", 30),
    ("Ti", 40),
    ("Pi", 50),
    ("Ei", 60),
];
const DECIMAL: [(&str, i32); 9] = [
    ("n", -9),
    ("u", -6),
    ("m", -3),
    ("", 0),
    ("k", 3),
    ("M", 6),
    ("G", 9),
    ("T", 12),
    ("P", 15),
];

/// The numeric part: an optional sign, digits with at most one dot, and at
/// least one digit.
fn parse_number(s: &str) -> Option<f64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    let ok = !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit() || c == '.')
        && digits.matches('.').count() <= 1
        && digits.chars().any(|c| c.is_ascii_digit());
    if !ok {
        return None;
    }
    s.parse::<f64>()
        .ok()
        .or_else(|| format!("{s}0").parse().ok())
}

/// The value of a quantity in base units, or None when it does not parse.
pub fn parse_quantity(s: &str) -> Option<f64> {
    let split = s
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || c == '.' || (i == 0 && (c == '+' || c == '-'))))
        .map_or(s.len(), |(i, _)| i);
    let (num, suffix) = s.split_at(split);
    let n = parse_number(num)?;
    if let Some((_, p)) = BINARY.iter().find(|(x, _)| *x == suffix) {
        return Some(n * 2f64.powi(*p));
    }
    if let Some((_, p)) = DECIMAL.iter().find(|(x, _)| *x == suffix) {
        return Some(n * 10f64.powi(*p));
    }
    let exp = suffix.strip_prefix(['e', 'E'])?;
    let digits = exp.strip_prefix(['+', '-']).unwrap_or(exp);
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some(n * 10f64.powi(exp.parse::<i32>().ok()?))
}

/// A quantity as JSON carries it (a string, or a bare number).
pub fn quantity_value(v: &Value) -> Option<f64> {
    match v {
        Value::String(s) => parse_quantity(s),
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

/// The quantity as a string for messages.
pub fn quantity_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The error of a quantity that does not parse.
pub fn format_error(v: &Value, path: &str) -> FieldError {
    FieldError::invalid(path, quantity_string(v), FORMAT_WRONG)
}

/// `ValidateNonnegativeQuantity`.
pub fn validate_nonnegative(v: &Value, path: &str) -> Vec<FieldError> {
    match quantity_value(v) {
        None => vec![format_error(v, path)],
        Some(q) if q < 0.0 => vec![FieldError::invalid(
            path,
            quantity_string(v),
            "must be greater than or equal to 0",
        )],
        Some(_) => Vec::new(),
    }
}

/// `ValidatePositiveQuantityValue`.
pub fn validate_positive(v: &Value, path: &str) -> Vec<FieldError> {
    match quantity_value(v) {
        None => vec![format_error(v, path)],
        Some(q) if q <= 0.0 => vec![FieldError::invalid(
            path,
            quantity_string(v),
            "must be greater than zero",
        )],
        Some(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses() {
        assert_eq!(parse_quantity("1Gi"), Some(1073741824.0));
        assert_eq!(parse_quantity("100m"), Some(0.1));
        assert_eq!(parse_quantity("1e3"), Some(1000.0));
        assert_eq!(parse_quantity("1.5"), Some(1.5));
        assert_eq!(parse_quantity("-2k"), Some(-2000.0));
        assert_eq!(parse_quantity("1.G"), Some(1e9));
        for bad in ["", "Gi", "1GB", "1..2", "abc", "1e"] {
            assert_eq!(parse_quantity(bad), None, "{bad}");
        }
    }

    #[test]
    fn messages() {
        assert_eq!(
            validate_positive(&json!("0"), "spec.resources[storage]")[0].to_string(),
            "spec.resources[storage]: Invalid value: \"0\": must be greater than zero"
        );
        assert_eq!(
            validate_nonnegative(&json!("-1"), "spec.hard[cpu]")[0].to_string(),
            "spec.hard[cpu]: Invalid value: \"-1\": must be greater than or equal to 0"
        );
    }
}
