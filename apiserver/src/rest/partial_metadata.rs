//! meta.k8s.io/v1 PartialObjectMetadata: an object reduced to its metadata,
//! served when a client asks for `as=PartialObjectMetadata` or
//! `as=PartialObjectMetadataList` (client-go's metadata informers, kube-rs's
//! `metadata_watcher`; the garbage collector's way to watch everything
//! without paying for whole objects).

use serde::Serialize;
use serde_json::Value;
use std::sync::OnceLock;

pub const KIND: &str = "PartialObjectMetadata";
pub const LIST_KIND: &str = "PartialObjectMetadataList";
pub const API_VERSION: &str = "meta.k8s.io/v1";

/// The metadata of an object, borrowed.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PartialObjectMetadata<'a> {
    kind: &'static str,
    api_version: &'static str,
    metadata: &'a Value,
}

impl<'a> PartialObjectMetadata<'a> {
    pub fn of(obj: &'a Value) -> Self {
        PartialObjectMetadata {
            kind: KIND,
            api_version: API_VERSION,
            metadata: obj.get("metadata").unwrap_or_else(|| empty_object()),
        }
    }
}

fn empty_object() -> &'static Value {
    static EMPTY: OnceLock<Value> = OnceLock::new();
    EMPTY.get_or_init(|| Value::Object(Default::default()))
}
