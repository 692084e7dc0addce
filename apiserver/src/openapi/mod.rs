//! OpenAPI documents: `/openapi/v2` (Swagger 2.0), the `/openapi/v3` index
//! and one OpenAPI 3.0 document per group version (`/openapi/v3/api/v1`,
//! `/openapi/v3/apis/apps/v1`...).
//!
//! Component schemas are generated from k8s-openapi's `schemars::JsonSchema`
//! implementations (its `schemars` feature), so they carry the upstream names
//! (`io.k8s.api.core.v1.Service`) and descriptions; [`schemas`] adds the
//! `x-kubernetes-group-version-kind` extension and the list types. [`paths`]
//! lays out the operations of every served resource as kube-apiserver does,
//! with the query parameters clients look for (`fieldValidation`, `dryRun`),
//! and explains which parts kubectl reads.
//!
//! Everything is built once, serialized, and served as bytes: build the
//! [`OpenApi`] lazily (first request) or at start-up, and keep it. The v2
//! document's protobuf form ([`gnostic_v2`], what client-go's
//! `OpenAPISchema()` reads) is encoded from its JSON on the first request for
//! it; [`serve_v2`] picks the form by `Accept`.

mod gnostic_v2;
mod paths;
mod schemas;
pub mod serve_v2;

use bytes::Bytes;
use schemas::{Components, Format, DELETE_OPTIONS, STATUS, WATCH_EVENT};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// A served resource, as the documents need it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResourceInfo {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub namespaced: bool,
    /// Served subresources: `status`, `scale`, `finalize`, `binding`,
    /// `eviction`, `token`, `log`, `exec`, `attach`, `portforward`, `proxy`,
    /// `ephemeralcontainers`, `resize`. Others are left out of the documents.
    pub subresources: &'static [&'static str],
    /// Verbs served on the resource itself; operations of other verbs are
    /// left out (review kinds are create-only, componentstatuses get/list).
    pub verbs: &'static [&'static str],
}

impl From<&ResourceInfo> for ResourceInfo {
    fn from(r: &ResourceInfo) -> ResourceInfo {
        *r
    }
}

impl From<&crate::registry::ResourceDef> for ResourceInfo {
    fn from(d: &crate::registry::ResourceDef) -> ResourceInfo {
        ResourceInfo {
            group: d.group,
            version: d.version,
            kind: d.kind,
            plural: d.plural,
            namespaced: d.namespaced,
            subresources: d.subresources,
            verbs: d.verbs,
        }
    }
}

/// Group, version and kind, as the `x-kubernetes-group-version-kind`
/// extension spells them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Gvk {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
}

impl Gvk {
    fn to_value(self) -> Value {
        json!({ "group": self.group, "kind": self.kind, "version": self.version })
    }
}

/// The documents, serialized once; serving them is a clone of [`Bytes`].
pub struct OpenApi {
    v2: Bytes,
    /// Content hash of the v2 JSON: the `ETag` of both of its forms.
    v2_hash: String,
    /// The v2 document as gnostic's `openapi.v2.Document`, encoded on first
    /// use (most clients never ask); `None` if the JSON could not be read.
    v2_protobuf: OnceLock<Option<Bytes>>,
    /// When the documents were built: their `Last-Modified`.
    built_at: chrono::DateTime<chrono::Utc>,
    v3_index: Bytes,
    /// Group-version path (`api/v1`, `apis/apps/v1`) -> (document, hash).
    v3_docs: BTreeMap<String, (Bytes, String)>,
}

impl OpenApi {
    /// Builds every document for `resources` (a slice of [`ResourceInfo`],
    /// or of the registry's resource definitions).
    pub fn build<'a, R>(resources: &'a [R]) -> OpenApi
    where
        &'a R: Into<ResourceInfo>,
    {
        let resources: Vec<ResourceInfo> = resources.iter().map(Into::into).collect();
        build(&resources)
    }

    /// `/openapi/v2`: Swagger 2.0, every group version in one document.
    pub fn v2(&self) -> &Bytes {
        &self.v2
    }

    /// Upper-case hex hash of the v2 JSON, for the `ETag` of either form.
    pub fn v2_hash(&self) -> &str {
        &self.v2_hash
    }

    /// When the documents were built.
    pub fn built_at(&self) -> chrono::DateTime<chrono::Utc> {
        self.built_at
    }

    /// `/openapi/v2` in protobuf: gnostic's `openapi.v2.Document`, encoded
    /// from the JSON on the first call and kept. Values the message has no
    /// place for are logged once and left out.
    pub fn v2_protobuf(&self) -> Option<&Bytes> {
        self.v2_protobuf
            .get_or_init(|| {
                let doc: Value = match serde_json::from_slice(&self.v2) {
                    Ok(doc) => doc,
                    Err(e) => {
                        tracing::error!(error = %e, "reading the OpenAPI v2 JSON to encode it in protobuf");
                        return None;
                    }
                };
                let encoded = gnostic_v2::encode_document(&doc);
                for skipped in &encoded.skipped {
                    tracing::warn!(value = %skipped, "OpenAPI v2 protobuf: left out a value the message has no place for");
                }
                tracing::debug!(bytes = encoded.bytes.len(), "encoded the OpenAPI v2 document in protobuf");
                Some(Bytes::from(encoded.bytes))
            })
            .as_ref()
    }

    /// `/openapi/v3`: `{"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=..."}}}`.
    pub fn v3_index(&self) -> &[u8] {
        &self.v3_index
    }

    /// `/openapi/v3/<path>` with `path` like `api/v1` or `apis/apps/v1`
    /// (surrounding slashes ignored); `None` for an unknown group version.
    pub fn v3_document(&self, path: &str) -> Option<&[u8]> {
        self.v3_docs
            .get(path.trim_matches('/'))
            .map(|(doc, _)| doc.as_ref())
    }

    /// The `hash` the index advertises for a document, for an `ETag`: a
    /// request whose `hash` query parameter equals it may be answered with
    /// `Cache-Control: public, immutable`, as kube-apiserver does.
    pub fn v3_hash(&self, path: &str) -> Option<&str> {
        self.v3_docs
            .get(path.trim_matches('/'))
            .map(|(_, hash)| hash.as_str())
    }
}

/// Group versions in the order their first resource appears.
fn group_versions(
    resources: &[ResourceInfo],
) -> Vec<(&'static str, &'static str, Vec<ResourceInfo>)> {
    let mut out: Vec<(&str, &str, Vec<ResourceInfo>)> = Vec::new();
    for r in resources {
        match out
            .iter_mut()
            .find(|(g, v, _)| *g == r.group && *v == r.version)
        {
            Some((_, _, list)) => list.push(*r),
            None => out.push((r.group, r.version, vec![*r])),
        }
    }
    out
}

fn gv_key(group: &str, version: &str) -> String {
    paths::gv_base(group, version)
        .trim_start_matches('/')
        .to_string()
}

/// `Status`, `DeleteOptions` and `WatchEvent` carry the kinds they are in
/// kube-apiserver's documents: core/v1, and the document's group versions.
fn tag_meta_kinds(c: &mut Components, gvs: &[(&'static str, &'static str)]) {
    c.tag_meta(
        STATUS,
        Gvk {
            group: "",
            version: "v1",
            kind: "Status",
        },
    );
    for (schema, kind) in [
        (DELETE_OPTIONS, "DeleteOptions"),
        (WATCH_EVENT, "WatchEvent"),
    ] {
        c.tag_meta(
            schema,
            Gvk {
                group: "",
                version: "v1",
                kind,
            },
        );
        for &(group, version) in gvs {
            c.tag_meta(
                schema,
                Gvk {
                    group,
                    version,
                    kind,
                },
            );
        }
    }
}

fn info() -> Value {
    json!({ "title": "Kubernetes", "version": "unversioned" })
}

fn bearer_token() -> Value {
    json!({
        "BearerToken": {
            "description": "Bearer Token authentication",
            "type": "apiKey",
            "name": "authorization",
            "in": "header",
        }
    })
}

fn v3_document(group: &'static str, version: &'static str, resources: &[ResourceInfo]) -> Value {
    let mut c = Components::new(Format::V3);
    let tag = paths::tag(group, version);
    let mut items = vec![paths::gv_root(group, version, &mut c)];
    for r in resources {
        items.extend(paths::resource_paths(r, &mut c));
    }
    let paths: BTreeMap<String, Value> = items
        .iter()
        .map(|i| (i.path.clone(), i.render(Format::V3, &tag)))
        .collect();
    tag_meta_kinds(&mut c, &[(group, version)]);
    json!({
        "openapi": "3.0.0",
        "info": info(),
        "paths": paths.into_iter().collect::<Map<String, Value>>(),
        "components": { "schemas": c.finish(), "securitySchemes": bearer_token() },
        "security": [{ "BearerToken": [] }],
    })
}

fn v2_document(gvs: &[(&'static str, &'static str, Vec<ResourceInfo>)]) -> Value {
    let mut c = Components::new(Format::V2);
    let mut paths = BTreeMap::new();
    for (group, version, resources) in gvs {
        let tag = paths::tag(group, version);
        let mut items = vec![paths::gv_root(group, version, &mut c)];
        for r in resources {
            items.extend(paths::resource_paths(r, &mut c));
        }
        for i in items {
            paths.insert(i.path.clone(), i.render(Format::V2, &tag));
        }
    }
    let pairs: Vec<(&'static str, &'static str)> = gvs.iter().map(|(g, v, _)| (*g, *v)).collect();
    tag_meta_kinds(&mut c, &pairs);
    json!({
        "swagger": "2.0",
        "info": info(),
        "paths": paths.into_iter().collect::<Map<String, Value>>(),
        "definitions": c.finish(),
        "securityDefinitions": bearer_token(),
        "security": [{ "BearerToken": [] }],
    })
}

fn to_bytes(doc: &Value) -> Bytes {
    // Serializing a `Value` cannot fail (string keys only).
    Bytes::from(serde_json::to_vec(doc).unwrap_or_default())
}

fn build(resources: &[ResourceInfo]) -> OpenApi {
    let gvs = group_versions(resources);
    let mut v3_docs = BTreeMap::new();
    let mut index = Map::new();
    for (group, version, list) in &gvs {
        let key = gv_key(group, version);
        let bytes = to_bytes(&v3_document(group, version, list));
        let hash = content_hash(&bytes);
        index.insert(
            key.clone(),
            json!({ "serverRelativeURL": format!("/openapi/v3/{key}?hash={hash}") }),
        );
        v3_docs.insert(key, (bytes, hash));
    }
    let v2 = to_bytes(&v2_document(&gvs));
    OpenApi {
        v2_hash: content_hash(&v2),
        v2,
        v2_protobuf: OnceLock::new(),
        built_at: chrono::Utc::now(),
        v3_index: to_bytes(&json!({ "paths": index })),
        v3_docs,
    }
}

/// 128-bit content hash (two FNV-1a 64 lanes), upper-case hex: changes
/// whenever a document changes, so cached copies are never stale.
fn content_hash(data: &[u8]) -> String {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let (mut a, mut b) = (0xcbf2_9ce4_8422_2325u64, 0x6c62_272e_07bb_0142u64);
    for &byte in data {
        a = (a ^ u64::from(byte)).wrapping_mul(PRIME);
        b = (b ^ u64::from(byte.rotate_left(3)))
            .wrapping_mul(PRIME)
            .rotate_left(5);
    }
    format!("{a:016X}{b:016X}")
}

#[cfg(test)]
mod tests;
