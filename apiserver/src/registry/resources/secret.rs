//! Secrets.

use super::default_field;
use crate::registry::{Ctx, Strategy};
use crate::validation::field_error::FieldError;
use serde_json::{json, Value};

pub struct SecretStrategy;

/// `stringData` is write-only: its entries are merged into `data` (base64),
/// overriding existing keys, and it is never stored.
fn merge_string_data(obj: &mut Value) {
    use base64::Engine;
    let Some(string_data) = obj.as_object_mut().and_then(|m| m.remove("stringData")) else {
        return;
    };
    let Some(entries) = string_data.as_object() else {
        return;
    };
    if !obj.get("data").is_some_and(Value::is_object) {
        obj["data"] = json!({});
    }
    for (k, v) in entries {
        let text = v.as_str().unwrap_or_default();
        obj["data"][k] = json!(base64::engine::general_purpose::STANDARD.encode(text.as_bytes()));
    }
}

impl Strategy for SecretStrategy {
    fn default(&self, obj: &mut Value, _ctx: &Ctx) {
        default_field(obj, "type", json!("Opaque"));
        merge_string_data(obj);
    }

    fn validate_create(&self, obj: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        super::config_map::validate_keys(obj, "data")
    }

    fn validate_update(&self, new: &Value, old: &Value, ctx: &Ctx) -> Vec<FieldError> {
        let mut errs = self.validate_create(new, ctx);
        if new.get("type") != old.get("type") {
            errs.push(FieldError::invalid(
                "type",
                new.get("type").cloned().unwrap_or(Value::Null),
                "field is immutable",
            ));
        }
        errs.extend(super::config_map::validate_immutable(new, old, &["data"]));
        errs
    }
}
