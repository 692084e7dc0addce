//! Events (core/v1 and events.k8s.io/v1 share storage semantics here).

use super::field_at_path;
use crate::registry::Strategy;
use serde_json::Value;

pub struct EventStrategy;

const FIELDS: &[&str] = &[
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
    "regarding.kind",
    "regarding.namespace",
    "regarding.name",
    "regarding.uid",
];

impl Strategy for EventStrategy {
    fn field(&self, obj: &Value, label: &str) -> Option<String> {
        match label {
            "source" => Some(field_at_path(obj, "source.component")),
            l if FIELDS.contains(&l) => Some(field_at_path(obj, l)),
            _ => None,
        }
    }

    fn field_labels(&self) -> &'static [&'static str] {
        FIELDS
    }
}
