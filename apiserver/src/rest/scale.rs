//! The scale subresource (autoscaling/v1 Scale) of deployments,
//! replicasets, statefulsets and replicationcontrollers.

use super::selection::label_selector_string;
use crate::registry::ResourceDef;
use serde_json::{json, Value};

pub fn to_scale(_def: &ResourceDef, obj: &Value) -> Value {
    to_scale_any(obj)
}

/// The selector of a Scale: a LabelSelector's string form, or for a
/// ReplicationController (whose selector is a plain map) `k=v,...`.
fn selector_of(obj: &Value) -> String {
    let Some(sel) = obj.pointer("/spec/selector") else {
        return String::new();
    };
    let is_label_selector =
        sel.get("matchLabels").is_some() || sel.get("matchExpressions").is_some();
    if is_label_selector || obj.get("kind").and_then(Value::as_str) != Some("ReplicationController")
    {
        return label_selector_string(sel);
    }
    label_selector_string(&json!({ "matchLabels": sel }))
}

pub fn to_scale_any(obj: &Value) -> Value {
    let meta = obj.get("metadata").cloned().unwrap_or_else(|| json!({}));
    let selector = selector_of(obj);
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": meta.get("name"),
            "namespace": meta.get("namespace"),
            "uid": meta.get("uid"),
            "resourceVersion": meta.get("resourceVersion"),
            "creationTimestamp": meta.get("creationTimestamp"),
        },
        "spec": {"replicas": obj.pointer("/spec/replicas").cloned().unwrap_or(json!(0))},
        "status": {
            "replicas": obj.pointer("/status/replicas").cloned().unwrap_or(json!(0)),
            "selector": selector,
        }
    })
}
