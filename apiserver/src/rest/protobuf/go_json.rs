//! A decoded protobuf message, in the serde form of its generated type, made
//! into the JSON kube-apiserver's own decoding gives.
//!
//! Go's generated marshallers write every non-pointer field, zero or not,
//! and pointer fields only when set; the JSON encoding of the same Go value
//! leaves zero scalars of `omitempty` fields out and keeps structs. So a zero
//! scalar from the wire means "unset", unless its Go field is a pointer whose
//! zero value means something (`replicas: 0`, `gracePeriodSeconds: 0`,
//! `automountServiceAccountToken: false`): those are kept, by JSON name.
//! Set messages are kept even when empty, as Go's JSON keeps structs. Bytes
//! become base64 and embedded raw JSON (RawExtension, FieldsV1, JSON) is
//! parsed, as in JSON.

use base64::Engine;
use serde_json::{Map, Value};

/// JSON names of Go pointer fields whose zero value differs from unset.
const POINTER_ZERO_MEANINGFUL: &[&str] = &[
    "activeDeadlineSeconds",
    "allocateLoadBalancerNodePorts",
    "allowPrivilegeEscalation",
    "automountServiceAccountToken",
    "averageUtilization",
    "backoffLimit",
    "backoffLimitPerIndex",
    "completions",
    "defaultMode",
    "deletionGracePeriodSeconds",
    "enableServiceLinks",
    "expirationSeconds",
    "failedJobsHistoryLimit",
    "fsGroup",
    "gracePeriodSeconds",
    "hostUsers",
    "leaseDurationSeconds",
    "leaseTransitions",
    "maxFailedIndexes",
    "maxSurge",
    "maxUnavailable",
    "minAvailable",
    "minReplicas",
    "mode",
    "orphanDependents",
    "parallelism",
    "progressDeadlineSeconds",
    "ready",
    "replicas",
    "revisionHistoryLimit",
    "runAsGroup",
    "runAsNonRoot",
    "runAsUser",
    "serving",
    "stabilizationWindowSeconds",
    "startingDeadlineSeconds",
    "successfulJobsHistoryLimit",
    "suspend",
    "targetCPUUtilizationPercentage",
    "terminating",
    "terminationGracePeriodSeconds",
    "tolerationSeconds",
    "ttlSecondsAfterFinished",
];

/// JSON names of Go `*string` fields where `""` differs from unset
/// (`storageClassName: ""` asks for no class, unset for the default one).
const POINTER_EMPTY_STRING_MEANINGFUL: &[&str] = &["storageClassName"];

/// Map-typed fields: their entries are kept whatever their value.
const MAP_FIELDS: &[&str] = &[
    "allocatable",
    "allocatedResources",
    "annotations",
    "attributes",
    "binaryData",
    "capacity",
    "data",
    "extra",
    "hard",
    "labels",
    "limits",
    "matchLabels",
    "nodeSelector",
    "overhead",
    "parameters",
    "requests",
    "selector",
    "stringData",
    "used",
    "volumeAttributes",
];

/// Singular `bytes` fields (base64 in JSON).
const BYTES_FIELDS: &[&str] = &["caBundle", "certificate", "request"];

/// How Go's protobuf encoder writes the zero time.
const ZERO_TIME: &str = "1970-01-01T00:00:00Z";

/// The serde JSON of `kind`'s generated type as kube-apiserver reads it.
pub fn normalize(kind: &str, serde: Value) -> Value {
    match serde {
        Value::Object(map) => Value::Object(structure(kind, map)),
        other => other,
    }
}

/// Go structs embedded with `json:",inline"`: a message field in protobuf,
/// their fields sit in the parent object in JSON (Volume's VolumeSource,
/// Probe's ProbeHandler, IngressRule's IngressRuleValue, ...).
const INLINE_FIELDS: &[&str] = &[
    "volumeSource",
    "persistentVolumeSource",
    "handler",
    "ingressRuleValue",
    "ephemeralContainerCommon",
    "deviceConfiguration",
];

/// A message: its set fields by JSON name, inline members flattened.
fn structure(kind: &str, map: Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, value) in map {
        let key = json_name(key, &value);
        match field(kind, &key, value) {
            Some(Value::Object(inner)) if INLINE_FIELDS.contains(&key.as_str()) => {
                out.extend(inner);
            }
            Some(v) => {
                out.insert(key, v);
            }
            None => {}
        }
    }
    out
}

/// A field's value, or None where Go's JSON leaves it out.
fn field(kind: &str, key: &str, value: Value) -> Option<Value> {
    let keep_zero = POINTER_ZERO_MEANINGFUL.contains(&key);
    match value {
        Value::Null => None,
        Value::Bool(false) if !keep_zero => None,
        Value::Number(n) if n.as_f64() == Some(0.0) && !keep_zero => None,
        Value::String(s) if s == ZERO_TIME => None,
        Value::String(s) if s.is_empty() && !POINTER_EMPTY_STRING_MEANINGFUL.contains(&key) => None,
        Value::Array(items) if items.is_empty() => None,
        Value::Array(items) if BYTES_FIELDS.contains(&key) => Some(base64(&items)),
        Value::Array(items) => Some(Value::Array(
            items.into_iter().map(|v| element(kind, v)).collect(),
        )),
        Value::Object(map) if raw_json(&map).is_some() => raw_json(&map),
        Value::Object(map) if MAP_FIELDS.contains(&key) && is_string_keyed_map(kind, key) => {
            (!map.is_empty()).then(|| map_field(kind, key, map))
        }
        Value::Object(map) => Some(message(kind, map)),
        other => Some(other),
    }
}

/// `selector` is a map on Services and ReplicationControllers, a
/// LabelSelector elsewhere; `data` is bytes on Secrets, strings elsewhere.
fn is_string_keyed_map(kind: &str, key: &str) -> bool {
    key != "selector" || matches!(kind, "Service" | "ReplicationController")
}

fn map_field(kind: &str, key: &str, map: Map<String, Value>) -> Value {
    let bytes = key == "binaryData" || (key == "data" && kind == "Secret");
    Value::Object(
        map.into_iter()
            .map(|(k, v)| match v {
                Value::Array(items) if bytes => (k, base64(&items)),
                Value::Object(m) => (k, message(kind, m)),
                other => (k, other),
            })
            .collect(),
    )
}

/// A list item: kept whatever its value.
fn element(kind: &str, value: Value) -> Value {
    match value {
        Value::Object(map) => message(kind, map),
        other => other,
    }
}

/// A nested message, or the JSON form of a wrapper type.
fn message(kind: &str, map: Map<String, Value>) -> Value {
    if let Some(raw) = raw_json(&map) {
        return raw;
    }
    if let Some(v) = schema_wrapper(kind, &map) {
        return v;
    }
    Value::Object(structure(kind, map))
}

/// RawExtension, FieldsV1 and JSON: `{raw: <bytes>}` holding JSON text.
fn raw_json(map: &Map<String, Value>) -> Option<Value> {
    if map.len() != 1 {
        return None;
    }
    let items = map.get("raw")?.as_array()?;
    let bytes: Vec<u8> = items
        .iter()
        .map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
        .collect::<Option<_>>()?;
    serde_json::from_slice(&bytes).ok()
}

/// JSONSchemaPropsOrArray / OrBool / OrStringArray: the one set member.
fn schema_wrapper(kind: &str, map: &Map<String, Value>) -> Option<Value> {
    const MEMBERS: &[&str] = &["schema", "jSONSchemas", "allows", "property"];
    let is_wrapper = !map.is_empty()
        && map.keys().all(|k| MEMBERS.contains(&k.as_str()))
        && !map.get("schema").is_some_and(Value::is_string);
    if !is_wrapper {
        return None;
    }
    let set = |k: &str| map.get(k).filter(|v| !v.is_null());
    if let Some(Value::Object(s)) = set("schema") {
        return Some(Value::Object(structure(kind, s.clone())));
    }
    if let Some(Value::Array(a)) =
        set("jSONSchemas").filter(|a| a.as_array().is_some_and(|a| !a.is_empty()))
    {
        return Some(Value::Array(
            a.iter().map(|v| element(kind, v.clone())).collect(),
        ));
    }
    if let Some(Value::Array(a)) =
        set("property").filter(|a| a.as_array().is_some_and(|a| !a.is_empty()))
    {
        return Some(Value::Array(a.clone()));
    }
    Some(set("allows").cloned().unwrap_or(Value::Bool(false)))
}

fn base64(items: &[Value]) -> Value {
    let bytes: Vec<u8> = items
        .iter()
        .filter_map(Value::as_u64)
        .filter_map(|b| u8::try_from(b).ok())
        .collect();
    Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// The JSON name of a generated field: Rust keywords lose the `_` the
/// generator added (`type_`), and JSONSchemaProps' `$ref`, `$schema` and
/// `x-kubernetes-*` get their JSON spelling back.
fn json_name(key: String, value: &Value) -> String {
    match key.as_str() {
        "ref_" => "$ref".into(),
        "schema" if value.is_string() => "$schema".into(),
        k if k.starts_with("xKubernetes") => kebab(k),
        k => k.strip_suffix('_').unwrap_or(k).to_string(),
    }
}

/// `xKubernetesListMapKeys` -> `x-kubernetes-list-map-keys`.
fn kebab(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 8);
    for c in camel.chars() {
        if c.is_ascii_uppercase() {
            out.push('-');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn schema_field_names() {
        assert_eq!(
            kebab("xKubernetesPreserveUnknownFields"),
            "x-kubernetes-preserve-unknown-fields"
        );
        assert_eq!(json_name("type_".into(), &json!("x")), "type");
        assert_eq!(json_name("ref_".into(), &json!("x")), "$ref");
    }

    #[test]
    fn inline_members_are_flattened() {
        let pod = serde_json::json!({"spec": {
            "volumes": [{"name": "v", "volumeSource": {"emptyDir": {}}}],
            "containers": [{"name": "c", "readinessProbe": {"handler": {"exec": {"command": ["true"]}}, "periodSeconds": 5}}]
        }});
        assert_eq!(
            normalize("Pod", pod),
            serde_json::json!({"spec": {
                "volumes": [{"name": "v", "emptyDir": {}}],
                "containers": [{"name": "c", "readinessProbe": {"exec": {"command": ["true"]}, "periodSeconds": 5}}]
            }})
        );
        let ingress = serde_json::json!({"spec": {"rules": [{"host": "a", "ingressRuleValue": {"http": {"paths": []}}}]}});
        assert_eq!(
            normalize("Ingress", ingress),
            serde_json::json!({"spec": {"rules": [{"host": "a", "http": {}}]}})
        );
        // RuntimeClass.handler is a string, not an embedded struct.
        let rc = serde_json::json!({"handler": "runc"});
        assert_eq!(normalize("RuntimeClass", rc.clone()), rc);
    }

    #[test]
    fn raw_extensions_are_parsed() {
        let raw: Vec<Value> = br#"{"a":1}"#.iter().map(|b| json!(b)).collect();
        let v = normalize("ControllerRevision", json!({"data": {"raw": raw}}));
        assert_eq!(v, json!({"data": {"a": 1}}));
    }
}
