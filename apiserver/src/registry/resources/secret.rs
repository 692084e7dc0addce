//! Secrets.

use super::{default_field, field_at_path};
use crate::registry::{Ctx, Strategy};
use serde_json::{json, Value};

pub struct SecretStrategy;

impl Strategy for SecretStrategy {
    fn default(&self, obj: &mut Value, _ctx: &Ctx) {
        default_field(obj, "type", json!("Opaque"));
    }

    fn field(&self, obj: &Value, label: &str) -> Option<String> {
        (label == "type").then(|| field_at_path(obj, label))
    }

    fn field_labels(&self) -> &'static [&'static str] {
        &["type"]
    }
}
