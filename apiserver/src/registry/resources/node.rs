//! Nodes.

use super::field_at_path;
use crate::registry::Strategy;
use serde_json::Value;

pub struct NodeStrategy;

impl Strategy for NodeStrategy {
    fn field(&self, obj: &Value, label: &str) -> Option<String> {
        match label {
            // An absent `unschedulable` is false, as the Go zero value.
            "spec.unschedulable" => Some(
                obj.pointer("/spec/unschedulable")
                    .and_then(Value::as_bool)
                    .unwrap_or(false)
                    .to_string(),
            ),
            _ => None,
        }
        .or_else(|| (label == "metadata.uid").then(|| field_at_path(obj, label)))
    }

    fn field_labels(&self) -> &'static [&'static str] {
        &["spec.unschedulable"]
    }
}
