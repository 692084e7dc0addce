//! autoscaling/v1 HorizontalPodAutoscalers: served from the autoscaling/v2
//! storage, converted on the way in and out as kube-apiserver converts
//! between the versions (`pkg/apis/autoscaling/v1/conversion.go`).
//!
//! v1 knows one target, CPU utilisation. What v2 holds beyond it travels in
//! annotations so that a v1 round trip loses nothing: the other metrics,
//! the scaling behaviour and the status conditions (kube uses the same
//! annotation names; mkube keeps their values in the v2 JSON form).

use crate::registry::{catalog, Ctx, Strategy};
use crate::validation::field_error::FieldError;
use serde_json::{json, Map, Value};

const METRICS: &str = "autoscaling.alpha.kubernetes.io/metrics";
const CURRENT_METRICS: &str = "autoscaling.alpha.kubernetes.io/current-metrics";
const BEHAVIOR: &str = "autoscaling.alpha.kubernetes.io/behavior";
const CONDITIONS: &str = "autoscaling.alpha.kubernetes.io/conditions";
const V1: &str = "autoscaling/v1";
const V2: &str = "autoscaling/v2";

pub struct HpaV1Strategy;

/// The autoscaling/v2 strategy, which owns defaults and validation.
fn v2() -> &'static dyn Strategy {
    catalog()
        .lookup("autoscaling", "v2", "horizontalpodautoscalers")
        .map(|d| d.strategy)
        .unwrap_or(&crate::registry::DefaultStrategy)
}

impl Strategy for HpaV1Strategy {
    fn default(&self, obj: &mut Value, ctx: &Ctx) {
        let mut as_v2 = v1_to_v2(obj.clone());
        v2().default(&mut as_v2, ctx);
        *obj = v2_to_v1(as_v2);
    }

    fn validate_create(&self, obj: &Value, ctx: &Ctx) -> Vec<FieldError> {
        v2().validate_create(&v1_to_v2(obj.clone()), ctx)
    }

    fn validate_update(&self, new: &Value, old: &Value, ctx: &Ctx) -> Vec<FieldError> {
        v2().validate_update(&v1_to_v2(new.clone()), &v1_to_v2(old.clone()), ctx)
    }

    fn storage_group(&self) -> Option<&'static str> {
        Some("autoscaling")
    }

    fn stored_form(&self, obj: Value) -> Value {
        v1_to_v2(obj)
    }

    fn served_form(&self, obj: Value) -> Value {
        v2_to_v1(obj)
    }

    fn served_as_stored(&self) -> bool {
        false
    }
}

/// Whether a v2 metric is the CPU utilisation target v1 can express.
fn is_cpu_utilization(m: &Value) -> bool {
    m.get("type").and_then(Value::as_str) == Some("Resource")
        && m.pointer("/resource/name").and_then(Value::as_str) == Some("cpu")
        && m.pointer("/resource/target/type").and_then(Value::as_str) == Some("Utilization")
}

fn is_cpu_current(m: &Value) -> bool {
    m.get("type").and_then(Value::as_str) == Some("Resource")
        && m.pointer("/resource/name").and_then(Value::as_str) == Some("cpu")
}

fn annotations(obj: &mut Value) -> Option<&mut Map<String, Value>> {
    let meta = obj.as_object_mut()?.entry("metadata").or_insert(json!({}));
    let ann = meta
        .as_object_mut()?
        .entry("annotations")
        .or_insert(json!({}));
    if ann.is_null() {
        *ann = json!({});
    }
    ann.as_object_mut()
}

/// Moves `value` into annotation `key` as JSON (nothing when absent/empty).
fn stash(obj: &mut Value, key: &str, value: Option<Value>) {
    let keep = value.filter(|v| !v.is_null() && v.as_array().is_none_or(|a| !a.is_empty()));
    let Some(v) = keep else { return };
    if let Some(ann) = annotations(obj) {
        ann.insert(key.to_string(), Value::String(v.to_string()));
    }
}

/// Takes annotation `key` out of `obj`, parsed.
fn unstash(obj: &mut Value, key: &str) -> Option<Value> {
    let ann = obj
        .pointer_mut("/metadata/annotations")
        .and_then(Value::as_object_mut)?;
    let raw = ann.remove(key)?;
    if ann.is_empty() {
        if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("annotations");
        }
    }
    serde_json::from_str(raw.as_str()?).ok()
}

/// An autoscaling/v2 object in its autoscaling/v1 form.
pub fn v2_to_v1(mut obj: Value) -> Value {
    let Some(map) = obj.as_object_mut() else {
        return obj;
    };
    map.insert("apiVersion".into(), json!(V1));
    let mut spec = map.remove("spec").unwrap_or(json!({}));
    let mut status = map.remove("status");
    let metrics = spec
        .as_object_mut()
        .and_then(|s| s.remove("metrics"))
        .and_then(|m| m.as_array().cloned())
        .unwrap_or_default();
    let (cpu, others): (Vec<Value>, Vec<Value>) = metrics.into_iter().partition(is_cpu_utilization);
    if let Some(u) = cpu
        .first()
        .and_then(|m| m.pointer("/resource/target/averageUtilization"))
    {
        spec["targetCPUUtilizationPercentage"] = u.clone();
    }
    let behavior = spec.as_object_mut().and_then(|s| s.remove("behavior"));
    let mut current_others = None;
    let mut conditions = None;
    if let Some(st) = status.as_mut().and_then(Value::as_object_mut) {
        let current = st
            .remove("currentMetrics")
            .and_then(|m| m.as_array().cloned())
            .unwrap_or_default();
        let (cpu_now, rest): (Vec<Value>, Vec<Value>) =
            current.into_iter().partition(is_cpu_current);
        if let Some(u) = cpu_now
            .first()
            .and_then(|m| m.pointer("/resource/current/averageUtilization"))
        {
            st.insert("currentCPUUtilizationPercentage".into(), u.clone());
        }
        current_others = Some(Value::Array(rest));
        conditions = st.remove("conditions");
        st.entry("currentReplicas").or_insert(json!(0));
    }
    map.insert("spec".into(), spec);
    if let Some(st) = status {
        map.insert("status".into(), st);
    }
    stash(&mut obj, METRICS, Some(Value::Array(others)));
    stash(&mut obj, CURRENT_METRICS, current_others);
    stash(&mut obj, BEHAVIOR, behavior);
    stash(&mut obj, CONDITIONS, conditions);
    obj
}

/// An autoscaling/v1 object in its autoscaling/v2 form.
pub fn v1_to_v2(mut obj: Value) -> Value {
    let others = unstash(&mut obj, METRICS);
    let current_others = unstash(&mut obj, CURRENT_METRICS);
    let behavior = unstash(&mut obj, BEHAVIOR);
    let conditions = unstash(&mut obj, CONDITIONS);
    let Some(map) = obj.as_object_mut() else {
        return obj;
    };
    map.insert("apiVersion".into(), json!(V2));
    let mut spec = map.remove("spec").unwrap_or(json!({}));
    let mut metrics = Vec::new();
    if let Some(u) = spec
        .as_object_mut()
        .and_then(|s| s.remove("targetCPUUtilizationPercentage"))
        .filter(|u| !u.is_null())
    {
        metrics.push(json!({"type": "Resource", "resource": {
            "name": "cpu", "target": {"type": "Utilization", "averageUtilization": u}}}));
    }
    if let Some(Value::Array(rest)) = others {
        metrics.extend(rest);
    }
    if !metrics.is_empty() {
        spec["metrics"] = Value::Array(metrics);
    }
    if let Some(b) = behavior {
        spec["behavior"] = b;
    }
    map.insert("spec".into(), spec);
    if let Some(st) = map.get_mut("status").and_then(Value::as_object_mut) {
        let mut current = Vec::new();
        if let Some(u) = st
            .remove("currentCPUUtilizationPercentage")
            .filter(|u| !u.is_null())
        {
            current.push(json!({"type": "Resource", "resource": {
                "name": "cpu", "current": {"averageUtilization": u}}}));
        }
        if let Some(Value::Array(rest)) = current_others {
            current.extend(rest);
        }
        if !current.is_empty() {
            st.insert("currentMetrics".into(), Value::Array(current));
        }
        if let Some(c) = conditions {
            st.insert("conditions".into(), c);
        }
    }
    obj
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v2_object() -> Value {
        json!({
            "apiVersion": V2, "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "minReplicas": 1, "maxReplicas": 5,
                "metrics": [
                    {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}}},
                    {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "100Mi"}}}
                ],
                "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300}}
            },
            "status": {
                "currentReplicas": 2, "desiredReplicas": 2,
                "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 40}}}],
                "conditions": [{"type": "AbleToScale", "status": "True"}]
            }
        })
    }

    #[test]
    fn v1_shows_the_cpu_target_and_keeps_the_rest_in_annotations() {
        let v1 = v2_to_v1(v2_object());
        assert_eq!(v1["apiVersion"], V1);
        assert_eq!(v1["spec"]["targetCPUUtilizationPercentage"], 60);
        assert!(v1["spec"].get("metrics").is_none());
        assert_eq!(v1["status"]["currentCPUUtilizationPercentage"], 40);
        let ann = v1["metadata"]["annotations"].as_object().unwrap();
        assert!(ann[METRICS].as_str().unwrap().contains("memory"));
        assert!(ann.contains_key(BEHAVIOR) && ann.contains_key(CONDITIONS));
    }

    #[test]
    fn a_round_trip_through_v1_loses_nothing() {
        assert_eq!(v1_to_v2(v2_to_v1(v2_object())), v2_object());
    }

    #[test]
    fn a_v1_object_without_a_target_has_no_metrics() {
        let v1 = json!({"apiVersion": V1, "kind": "HorizontalPodAutoscaler", "metadata": {"name": "a"},
            "spec": {"maxReplicas": 3, "scaleTargetRef": {"kind": "Deployment", "name": "a"}}});
        let v2 = v1_to_v2(v1);
        assert!(v2["spec"].get("metrics").is_none());
        assert!(v2["metadata"].get("annotations").is_none());
    }
}
