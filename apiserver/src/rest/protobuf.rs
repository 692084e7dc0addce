//! Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`).
//!
//! kubectl's typed commands (`create deployment|service|configmap|secret|
//! namespace|...`) send protobuf. The envelope is the magic `k8s\0` followed by
//! a `runtime.Unknown` carrying apiVersion/kind and the raw message. The
//! message is parsed with the generated protobuf types of the `k8s-rs-pb`
//! crate and turned into Kubernetes JSON through their serde implementations
//! (field names there are the API's JSON names); afterwards unset fields are
//! dropped (protobuf cannot tell unset from empty, as with kube-apiserver's own
//! decoding) and byte fields become base64 as in JSON.

use base64::Engine;
use k8s_rs_pb::api;
use protobuf::Message;
use serde_json::{json, Value};

const MAGIC: &[u8] = b"k8s\0";

/// Decodes a protobuf body into a JSON object with apiVersion and kind set.
pub fn decode(body: &[u8]) -> Result<Value, String> {
    let envelope = body.strip_prefix(MAGIC).ok_or_else(|| {
        "provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]"
            .to_string()
    })?;
    let unknown = k8s_rs_pb::apimachinery::pkg::runtime::Unknown::parse_from_bytes(envelope)
        .map_err(|e| format!("error decoding protobuf envelope: {e}"))?;
    let api_version = unknown.typeMeta.apiVersion.clone().unwrap_or_default();
    let kind = unknown.typeMeta.kind.clone().unwrap_or_default();
    let raw = unknown.raw.clone().unwrap_or_default();
    // The generated serializers panic on a few malformed values; a client
    // must get an error, never bring down the request.
    let decoded = std::panic::catch_unwind(|| typed_json(&api_version, &kind, &raw))
        .map_err(|_| format!("malformed protobuf {kind}"))??;
    let mut out = strip_unset(decoded).unwrap_or_else(|| json!({}));
    fix_bytes(&kind, &mut out);
    if let Some(map) = out.as_object_mut() {
        map.insert("apiVersion".into(), json!(api_version));
        map.insert("kind".into(), json!(kind));
    }
    Ok(out)
}

fn typed_json(api_version: &str, kind: &str, raw: &[u8]) -> Result<Value, String> {
    macro_rules! via {
        ($t:ty) => {{
            let msg = <$t>::parse_from_bytes(raw)
                .map_err(|e| format!("error decoding protobuf {kind}: {e}"))?;
            serde_json::to_value(&msg).map_err(|e| e.to_string())
        }};
    }
    match (api_version, kind) {
        ("v1", "Namespace") => via!(api::core::v1::Namespace),
        ("v1", "Pod") => via!(api::core::v1::Pod),
        ("v1", "Service") => via!(api::core::v1::Service),
        ("v1", "Endpoints") => via!(api::core::v1::Endpoints),
        ("v1", "Node") => via!(api::core::v1::Node),
        ("v1", "Event") => via!(api::core::v1::Event),
        ("v1", "ConfigMap") => via!(api::core::v1::ConfigMap),
        ("v1", "Secret") => via!(api::core::v1::Secret),
        ("v1", "ServiceAccount") => via!(api::core::v1::ServiceAccount),
        ("v1", "Binding") => via!(api::core::v1::Binding),
        ("apps/v1", "Deployment") => via!(api::apps::v1::Deployment),
        ("apps/v1", "ReplicaSet") => via!(api::apps::v1::ReplicaSet),
        ("discovery.k8s.io/v1", "EndpointSlice") => via!(api::discovery::v1::EndpointSlice),
        ("coordination.k8s.io/v1", "Lease") => via!(api::coordination::v1::Lease),
        ("events.k8s.io/v1", "Event") => via!(api::events::v1::Event),
        ("autoscaling/v1", "Scale") => via!(api::autoscaling::v1::Scale),
        _ => Err(format!(
            "no kind \"{kind}\" is registered for version \"{api_version}\""
        )),
    }
}

/// Fields whose zero value (0 / false) is meaningful: Go pointers, which the
/// protobuf encoder writes only when set.
const KEEP_ZERO: &[&str] = &[
    "replicas",
    "enableServiceLinks",
    "automountServiceAccountToken",
    "allocateLoadBalancerNodePorts",
];

/// Drops what Go's protobuf encoder writes for unset non-pointer fields (zero
/// values, the zero Time) and empty lists/maps, recursively; None when nothing
/// is left.
fn strip_unset(v: Value) -> Option<Value> {
    match v {
        Value::Null => None,
        Value::String(s) if s.is_empty() || s == "1970-01-01T00:00:00Z" => None,
        Value::Bool(false) => None,
        Value::Number(n) if n.as_f64() == Some(0.0) => None,
        Value::Array(a) => {
            let items: Vec<Value> = a.into_iter().filter_map(strip_unset).collect();
            (!items.is_empty()).then_some(Value::Array(items))
        }
        Value::Object(m) => {
            let map: serde_json::Map<String, Value> = m
                .into_iter()
                .filter_map(|(k, v)| {
                    let keep_zero = KEEP_ZERO.contains(&k.as_str())
                        && matches!(v, Value::Bool(false) | Value::Number(_));
                    let v = if keep_zero { Some(v) } else { strip_unset(v) };
                    v.map(|v| (json_key(k), v))
                })
                .collect();
            (!map.is_empty()).then_some(Value::Object(map))
        }
        other => Some(other),
    }
}

/// Generated Rust fields append `_` to keywords (`type_`); JSON has the plain name.
fn json_key(k: String) -> String {
    match k.as_str() {
        "type_" => "type".into(),
        _ => k,
    }
}

/// `bytes` fields serialize as number arrays; JSON carries them as base64.
fn fix_bytes(kind: &str, obj: &mut Value) {
    let fields: &[&str] = match kind {
        "Secret" => &["data"],
        "ConfigMap" => &["binaryData"],
        _ => &[],
    };
    for f in fields {
        let Some(map) = obj.get_mut(*f).and_then(Value::as_object_mut) else {
            continue;
        };
        for v in map.values_mut() {
            if let Some(arr) = v.as_array() {
                let bytes: Vec<u8> = arr
                    .iter()
                    .filter_map(|b| b.as_u64())
                    .map(|b| b as u8)
                    .collect();
                *v = json!(base64::engine::general_purpose::STANDARD.encode(bytes));
            }
        }
    }
}
