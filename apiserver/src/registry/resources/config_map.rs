//! core/v1 ConfigMaps, and the data-key and immutability rules Secrets
//! share with them (`ValidateConfigMap`, `ValidateSecret`,
//! `ValidateConfigMapUpdate` in `pkg/apis/core/validation`).

use crate::registry::{Ctx, Strategy};
use crate::validation::field_error::FieldError;
use crate::validation::names::is_config_map_key;
use serde_json::Value;

pub struct ConfigMapStrategy;

impl Strategy for ConfigMapStrategy {
    fn validate_create(&self, obj: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        let mut errs = validate_keys(obj, "data");
        errs.extend(validate_keys(obj, "binaryData"));
        let data = obj.get("data").and_then(Value::as_object);
        let binary = obj.get("binaryData").and_then(Value::as_object);
        for key in binary.into_iter().flat_map(|b| b.keys()) {
            if data.is_some_and(|d| d.contains_key(key)) {
                errs.push(FieldError::invalid(
                    format!("binaryData[{key}]"),
                    key.as_str(),
                    "duplicate of key present in data",
                ));
            }
        }
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value, ctx: &Ctx) -> Vec<FieldError> {
        let mut errs = self.validate_create(new, ctx);
        errs.extend(validate_immutable(new, old, &["data", "binaryData"]));
        errs
    }
}

/// Every key of the map at `field` must be a valid config key.
pub(crate) fn validate_keys(obj: &Value, field: &str) -> Vec<FieldError> {
    let keys = obj.get(field).and_then(Value::as_object);
    keys.into_iter()
        .flat_map(|m| m.keys())
        .flat_map(|key| {
            is_config_map_key(key)
                .into_iter()
                .map(move |msg| FieldError::invalid(format!("{field}[{key}]"), key.as_str(), msg))
        })
        .collect()
}

/// Once `immutable` is true the payload fields and the flag itself are fixed.
pub(crate) fn validate_immutable(new: &Value, old: &Value, payload: &[&str]) -> Vec<FieldError> {
    if old.get("immutable").and_then(Value::as_bool) != Some(true) {
        return Vec::new();
    }
    let mut errs = Vec::new();
    if new.get("immutable").and_then(Value::as_bool) != Some(true) {
        errs.push(FieldError::forbidden(
            "immutable",
            "field is immutable when `immutable` is set",
        ));
    }
    for field in payload {
        if new.get(*field) != old.get(*field) {
            errs.push(FieldError::forbidden(
                *field,
                "field is immutable when `immutable` is set",
            ));
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_and_immutability() {
        let bad = json!({"data": {"bad key": "x"}, "binaryData": {"a": ""}});
        let errs = validate_keys(&bad, "data");
        assert!(errs[0]
            .to_string()
            .starts_with("data[bad key]: Invalid value: \"bad key\": a valid config key must consist of alphanumeric characters"));
        let old = json!({"immutable": true, "data": {"a": "1"}});
        let new = json!({"immutable": true, "data": {"a": "2"}});
        let errs = validate_immutable(&new, &old, &["data", "binaryData"]);
        assert_eq!(
            errs[0].to_string(),
            "data: Forbidden: field is immutable when `immutable` is set"
        );
    }
}
