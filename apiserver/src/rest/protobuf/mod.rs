//! Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`).
//!
//! client-go's typed clients send every request body as protobuf (since
//! 1.32), and never fall back to JSON for a body: object creates and updates,
//! `DeleteOptions` on delete and deletecollection, `Scale`, `Binding`,
//! `Eviction`, `TokenRequest`. The envelope is the magic `k8s\0` followed by a
//! `runtime.Unknown` carrying apiVersion/kind and the raw message.
//!
//! The raw message is parsed with the generated type of its kind (the
//! `k8s-rs-pb` crate, from the API's `generated.proto` files; see [`kinds`])
//! and turned into the JSON kube-apiserver's own decoding would give (see
//! [`go_json`]).

mod go_json;
mod kinds;

use k8s_rs_pb::apimachinery::pkg::runtime::Unknown;
use protobuf::Message;
use serde_json::{json, Value};

pub use kinds::{is_registered, KINDS};

const MAGIC: &[u8] = b"k8s\0";

/// Decodes a protobuf body into a JSON object with apiVersion and kind set.
pub fn decode(body: &[u8]) -> Result<Value, String> {
    let envelope = body.strip_prefix(MAGIC).ok_or_else(|| {
        "provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]"
            .to_string()
    })?;
    let unknown = Unknown::parse_from_bytes(envelope)
        .map_err(|e| format!("error decoding protobuf envelope: {e}"))?;
    let api_version = unknown.typeMeta.apiVersion.clone().unwrap_or_default();
    let kind = unknown.typeMeta.kind.clone().unwrap_or_default();
    if let Some(enc) = unknown.contentEncoding.as_deref().filter(|e| !e.is_empty()) {
        return Err(format!("unsupported protobuf content encoding {enc:?}"));
    }
    let serde = kinds::decode_typed(&api_version, &kind, unknown.raw()).ok_or_else(|| {
        format!("no kind \"{kind}\" is registered for version \"{api_version}\"")
    })??;
    let mut out = go_json::normalize(&kind, serde);
    if let Some(map) = out.as_object_mut() {
        map.insert("apiVersion".into(), json!(api_version));
        map.insert("kind".into(), json!(kind));
    }
    Ok(out)
}

/// Wraps a message in the envelope client-go sends (for tests and clients).
#[cfg(test)]
pub fn encode(api_version: &str, kind: &str, message: &impl Message) -> Vec<u8> {
    let mut unknown = Unknown::new();
    unknown.typeMeta.mut_or_insert_default().apiVersion = Some(api_version.into());
    unknown.typeMeta.mut_or_insert_default().kind = Some(kind.into());
    unknown.raw = Some(message.write_to_bytes().unwrap_or_default());
    let mut body = MAGIC.to_vec();
    body.extend(unknown.write_to_bytes().unwrap_or_default());
    body
}

#[cfg(test)]
mod tests;
