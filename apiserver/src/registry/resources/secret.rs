//! Secrets.

use super::{default_field, field_at_path};
use crate::registry::{Ctx, Strategy};
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

    fn field(&self, obj: &Value, label: &str) -> Option<String> {
        (label == "type").then(|| field_at_path(obj, label))
    }

    fn field_labels(&self) -> &'static [&'static str] {
        &["type"]
    }
}
