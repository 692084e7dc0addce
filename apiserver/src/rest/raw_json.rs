//! Serving stored objects without decoding them. A plain JSON list of
//! thousands of objects (every informer's initial list) spent most of its
//! time building JSON trees only to print them again unchanged; the one
//! change a stored object needs before it is served is its
//! `metadata.resourceVersion`, which is spliced in here, keeping every other
//! byte and the field order as stored.

use super::partial_metadata;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::borrow::Cow;
use std::fmt;

/// A JSON object's members in order, values left unparsed.
struct Members<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some(entry) = map.next_entry::<Cow<'de, str>, &'de RawValue>()? {
                    out.push(entry);
                }
                Ok(Members(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// The query parameter (an mkube extension, `omitManagedFields=true`) with
/// which a list or watch leaves `metadata.managedFields` out of the objects
/// it serves. The in-process components' caches never read managedFields,
/// which are often half of an object's bytes; decoding them only to drop
/// them was the largest part of their start-up lists. kube-apiserver ignores
/// the parameter, so a client that sends it works against either.
pub const OMIT_MANAGED_FIELDS: &str = "omitManagedFields";

/// How a stored object is served without decoding it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RawForm {
    /// As a meta.k8s.io/v1 PartialObjectMetadata rather than the object.
    pub metadata_only: bool,
    /// Without `metadata.managedFields` ([`OMIT_MANAGED_FIELDS`]).
    pub omit_managed_fields: bool,
}

impl RawForm {
    /// Appends the stored object `raw` in this form to `out`, with
    /// `metadata.resourceVersion` set to `rev`.
    pub fn write(self, raw: &[u8], rev: u64, out: &mut Vec<u8>) -> serde_json::Result<()> {
        match self.metadata_only {
            true => partial_metadata_of(raw, rev, self.omit_managed_fields, out),
            false => object_with_resource_version(raw, rev, self.omit_managed_fields, out),
        }
    }
}

/// Appends the stored object `raw` to `out` with `metadata.resourceVersion`
/// set to `rev` (where decoding and re-encoding would put it: in place, or
/// as the last metadata member). Objects without a metadata object are
/// copied unchanged, as the decoding path leaves them.
pub fn write_with_resource_version(
    raw: &[u8],
    rev: u64,
    out: &mut Vec<u8>,
) -> serde_json::Result<()> {
    object_with_resource_version(raw, rev, false, out)
}

fn object_with_resource_version(
    raw: &[u8],
    rev: u64,
    omit_managed_fields: bool,
    out: &mut Vec<u8>,
) -> serde_json::Result<()> {
    let top: Members = serde_json::from_slice(raw)?;
    let Some(meta) = metadata(&top) else {
        out.extend_from_slice(raw);
        return Ok(());
    };
    out.push(b'{');
    for (i, (key, value)) in top.0.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        serde_json::to_writer(&mut *out, key)?;
        out.push(b':');
        match key == "metadata" {
            true => write_metadata(&meta, rev, omit_managed_fields, out)?,
            false => out.extend_from_slice(value.get().as_bytes()),
        }
    }
    out.push(b'}');
    Ok(())
}

/// Decodes a stored object without its `metadata.managedFields`, for work
/// that only reads it (selecting, printing Table cells): managedFields are
/// often the larger part of an object, and nothing but their owners reads
/// them, so decoding and freeing them was most of a selected list's cost.
pub fn decode_without_managed_fields(raw: &[u8]) -> serde_json::Result<Value> {
    use serde::de::DeserializeSeed;
    let mut de = serde_json::Deserializer::from_slice(raw);
    let obj = SkipAt {
        path: &["metadata", "managedFields"],
    }
    .deserialize(&mut de)?;
    de.end()?;
    Ok(obj)
}

/// A JSON value read with the member at `path` (below this object) left out.
struct SkipAt<'p> {
    path: &'p [&'p str],
}

impl<'de> serde::de::DeserializeSeed<'de> for SkipAt<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        match self.path {
            [] => Value::deserialize(d),
            _ => d.deserialize_any(self),
        }
    }
}

impl<'de> Visitor<'de> for SkipAt<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let Some((first, rest)) = self.path.split_first() else {
            return Value::deserialize(serde::de::value::MapAccessDeserializer::new(map));
        };
        let mut out = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if key != *first {
                out.insert(key, map.next_value()?);
            } else if rest.is_empty() {
                map.next_value::<serde::de::IgnoredAny>()?;
            } else {
                let value = map.next_value_seed(SkipAt { path: rest })?;
                out.insert(key, value);
            }
        }
        Ok(Value::Object(out))
    }

    // Anything but an object is kept whole, as plain decoding would.
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
}

/// Appends the stored object `raw` as a meta.k8s.io/v1 PartialObjectMetadata
/// with `metadata.resourceVersion` set to `rev`.
pub fn write_partial_metadata(raw: &[u8], rev: u64, out: &mut Vec<u8>) -> serde_json::Result<()> {
    partial_metadata_of(raw, rev, false, out)
}

fn partial_metadata_of(
    raw: &[u8],
    rev: u64,
    omit_managed_fields: bool,
    out: &mut Vec<u8>,
) -> serde_json::Result<()> {
    let top: Members = serde_json::from_slice(raw)?;
    let meta = metadata(&top).unwrap_or(Members(Vec::new()));
    out.extend_from_slice(
        format!(
            "{{\"kind\":\"{}\",\"apiVersion\":\"{}\",\"metadata\":",
            partial_metadata::KIND,
            partial_metadata::API_VERSION
        )
        .as_bytes(),
    );
    write_metadata(&meta, rev, omit_managed_fields, out)?;
    out.push(b'}');
    Ok(())
}

/// The members of the object's metadata, if it is an object.
fn metadata<'a>(top: &Members<'a>) -> Option<Members<'a>> {
    let (_, raw) = top.0.iter().find(|(k, _)| k == "metadata")?;
    serde_json::from_str::<Members>(raw.get()).ok()
}

/// Writes the metadata members with the resourceVersion set to `rev`, and
/// without managedFields if asked.
fn write_metadata(
    meta: &Members,
    rev: u64,
    omit_managed_fields: bool,
    out: &mut Vec<u8>,
) -> serde_json::Result<()> {
    let version = format!("\"{rev}\"");
    let has_version = meta.0.iter().any(|(k, _)| k == "resourceVersion");
    let members = meta
        .0
        .iter()
        .filter(|(k, _)| !(omit_managed_fields && k == "managedFields"))
        .map(|(k, v)| match k == "resourceVersion" {
            true => (k.as_ref(), version.as_str()),
            false => (k.as_ref(), v.get()),
        });
    let appended = (!has_version).then_some(("resourceVersion", version.as_str()));
    out.push(b'{');
    for (j, (key, value)) in members.chain(appended).enumerate() {
        if j > 0 {
            out.push(b',');
        }
        serde_json::to_writer(&mut *out, key)?;
        out.push(b':');
        out.extend_from_slice(value.as_bytes());
    }
    out.push(b'}');
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    /// What the decoding path serves for the same stored bytes.
    fn decoded(raw: &[u8], rev: u64) -> Vec<u8> {
        let mut v: Value = serde_json::from_slice(raw).unwrap();
        crate::rest::object_store::set_resource_version(&mut v, rev);
        serde_json::to_vec(&v).unwrap()
    }

    fn spliced(raw: &[u8], rev: u64) -> Vec<u8> {
        let mut out = Vec::new();
        write_with_resource_version(raw, rev, &mut out).unwrap();
        out
    }

    #[test]
    fn same_bytes_as_decoding_and_reencoding() {
        let cases = [
            json!({"apiVersion": "v1", "kind": "Service",
                   "metadata": {"name": "web", "namespace": "default", "labels": {"a/b": "c\"d"},
                                "annotations": {"k": "line\nbreak \u{e9}"}},
                   "spec": {"ports": [{"port": 80}], "selector": {"app": "web"}}}),
            json!({"metadata": {}, "data": {"x": "1"}}),
            json!({"kind": "Odd", "metadata": "not an object"}),
            json!({"kind": "NoMetadata"}),
            // A stored resourceVersion is replaced, not duplicated.
            json!({"metadata": {"name": "x", "resourceVersion": "7"}}),
        ];
        for case in cases {
            let raw = serde_json::to_vec(&case).unwrap();
            assert_eq!(
                String::from_utf8(spliced(&raw, 42)).unwrap(),
                String::from_utf8(decoded(&raw, 42)).unwrap()
            );
        }
    }

    #[test]
    fn decoding_without_managed_fields_keeps_everything_else() {
        let with = json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}],
                         "labels": {"managedFields": "a label, kept"}},
            "spec": {"managedFields": "not metadata, kept", "ports": [{"port": 80}]}});
        let mut without = with.clone();
        without["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("managedFields");
        let raw = serde_json::to_vec(&with).unwrap();
        assert_eq!(decode_without_managed_fields(&raw).unwrap(), without);
        for odd in [
            json!({"metadata": "not an object"}),
            json!([1, 2]),
            json!({"kind": "X"}),
        ] {
            let raw = serde_json::to_vec(&odd).unwrap();
            assert_eq!(decode_without_managed_fields(&raw).unwrap(), odd);
        }
        assert!(decode_without_managed_fields(b"{\"metadata\": {").is_err());
        assert!(decode_without_managed_fields(b"{} trailing").is_err());
    }

    /// `omitManagedFields` serves exactly the object (or metadata) without
    /// its managedFields, and nothing else changes.
    #[test]
    fn forms_without_managed_fields() {
        let obj = json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}],
                         "labels": {"managedFields": "a label, kept"}, "resourceVersion": "3"},
            "spec": {"managedFields": "not metadata, kept"}});
        let raw = serde_json::to_vec(&obj).unwrap();
        for metadata_only in [false, true] {
            let written = |omit_managed_fields| {
                let mut out = Vec::new();
                let form = RawForm {
                    metadata_only,
                    omit_managed_fields,
                };
                form.write(&raw, 8, &mut out).unwrap();
                serde_json::from_slice::<Value>(&out).unwrap()
            };
            let mut expected = written(false);
            assert!(expected["metadata"].get("managedFields").is_some());
            expected["metadata"]
                .as_object_mut()
                .unwrap()
                .remove("managedFields");
            assert_eq!(written(true), expected);
            assert_eq!(expected["metadata"]["resourceVersion"], "8");
        }
    }

    #[test]
    fn corrupt_records_are_errors_not_panics() {
        let mut out = Vec::new();
        assert!(write_with_resource_version(b"{\"metadata\": ", 1, &mut out).is_err());
        assert!(write_with_resource_version(b"[1,2]", 1, &mut out).is_err());
    }

    #[test]
    fn partial_metadata_as_the_decoding_path_serves_it() {
        let obj = json!({"apiVersion": "v1", "kind": "Service",
                         "metadata": {"name": "web", "namespace": "default", "uid": "u1",
                                      "ownerReferences": [{"kind": "X", "name": "x", "uid": "u0"}]},
                         "spec": {"selector": {"app": "web"}}});
        let raw = serde_json::to_vec(&obj).unwrap();
        let mut out = Vec::new();
        write_partial_metadata(&raw, 9, &mut out).unwrap();
        let mut served = obj.clone();
        crate::rest::object_store::set_resource_version(&mut served, 9);
        let expected = serde_json::to_vec(
            &crate::rest::partial_metadata::PartialObjectMetadata::of(&served),
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            String::from_utf8(expected).unwrap()
        );
    }
}
