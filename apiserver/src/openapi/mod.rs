//! OpenAPI documents: `/openapi/v3` (index and one document per group
//! version) and `/openapi/v2`.
//!
//! The documents describe every served path and operation with the
//! parameters kube-apiserver documents (notably `fieldValidation` and
//! `dryRun` on writes), and the `x-kubernetes-group-version-kind` and
//! `x-kubernetes-action` extensions clients rely on: kubectl decides from the
//! PATCH operation of a kind whether the server validates fields itself.

use crate::registry::ResourceDef;
use bytes::Bytes;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

pub struct OpenApi {
    v2: Bytes,
    v3_index: Bytes,
    v3_docs: BTreeMap<String, Bytes>,
}

fn gv_path(def: &ResourceDef) -> String {
    if def.group.is_empty() {
        format!("api/{}", def.version)
    } else {
        format!("apis/{}/{}", def.group, def.version)
    }
}

/// Schema name as kube-apiserver names definitions (`io.k8s.api.core.v1.Service`).
fn schema_name(def: &ResourceDef) -> String {
    let pkg = match def.group {
        "" => "core".to_string(),
        g => g.split('.').next().unwrap_or(g).to_string(),
    };
    format!("io.k8s.api.{pkg}.{}.{}", def.version, def.kind)
}

fn gvk(def: &ResourceDef) -> Value {
    json!({"group": def.group, "version": def.version, "kind": def.kind})
}

fn query_param(name: &str, description: &str, type_: &str) -> Value {
    json!({"name": name, "in": "query", "description": description, "schema": {"type": type_, "uniqueItems": true}})
}

fn write_params(patch: bool) -> Vec<Value> {
    let mut p = vec![
        query_param(
            "dryRun",
            "When present, indicates that modifications should not be persisted.",
            "string",
        ),
        query_param(
            "fieldManager",
            "Name of the actor making the change.",
            "string",
        ),
        query_param(
            "fieldValidation",
            "How the server treats unknown and duplicate fields: Ignore, Warn or Strict.",
            "string",
        ),
    ];
    if patch {
        p.push(query_param(
            "force",
            "Force apply requests, taking over conflicting fields.",
            "boolean",
        ));
    }
    p
}

fn list_params() -> Vec<Value> {
    ["allowWatchBookmarks", "watch", "sendInitialEvents"]
        .iter()
        .map(|n| query_param(n, "List/watch option.", "boolean"))
        .chain(
            [
                "continue",
                "fieldSelector",
                "labelSelector",
                "resourceVersion",
                "resourceVersionMatch",
            ]
            .iter()
            .map(|n| query_param(n, "List/watch option.", "string")),
        )
        .chain(
            ["limit", "timeoutSeconds"]
                .iter()
                .map(|n| query_param(n, "List/watch option.", "integer")),
        )
        .collect()
}

fn operation(
    def: &ResourceDef,
    action: &str,
    id: &str,
    params: Vec<Value>,
    body: Option<&str>,
    ref_prefix: &str,
) -> Value {
    let schema_ref = json!({"$ref": format!("{ref_prefix}{}", schema_name(def))});
    let mut op = json!({
        "operationId": id,
        "tags": [gv_path(def).replace('/', "_")],
        "parameters": params,
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": schema_ref.clone()}}}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": gvk(def),
    });
    if let Some(ct) = body {
        op["requestBody"] = json!({"required": true, "content": {ct: {"schema": schema_ref}}});
    }
    op
}

/// Paths of one resource (collection and item), namespaced or not.
fn resource_paths(def: &ResourceDef, ref_prefix: &str) -> Vec<(String, Value)> {
    let base = format!("/{}", gv_path(def));
    let scope = if def.namespaced {
        "/namespaces/{namespace}"
    } else {
        ""
    };
    let collection = format!("{base}{scope}/{}", def.plural);
    let item = format!("{collection}/{{name}}");
    let kind = def.kind;
    let mut out = vec![
        (
            collection.clone(),
            json!({
                "get": operation(def, "list", &format!("list{kind}"), list_params(), None, ref_prefix),
                "post": operation(def, "post", &format!("create{kind}"), write_params(false), Some("*/*"), ref_prefix),
                "delete": operation(def, "deletecollection", &format!("deletecollection{kind}"), list_params(), None, ref_prefix),
            }),
        ),
        (
            item,
            json!({
                "get": operation(def, "get", &format!("read{kind}"), vec![], None, ref_prefix),
                "put": operation(def, "put", &format!("replace{kind}"), write_params(false), Some("*/*"), ref_prefix),
                "patch": operation(def, "patch", &format!("patch{kind}"), write_params(true), Some("application/merge-patch+json"), ref_prefix),
                "delete": operation(def, "delete", &format!("delete{kind}"), write_params(false), None, ref_prefix),
            }),
        ),
    ];
    for sub in def
        .subresources
        .iter()
        .filter(|s| matches!(**s, "status" | "scale"))
    {
        out.push((
            format!("{collection}/{{name}}/{sub}"),
            json!({
                "get": operation(def, "get", &format!("read{kind}{sub}"), vec![], None, ref_prefix),
                "put": operation(def, "put", &format!("replace{kind}{sub}"), write_params(false), Some("*/*"), ref_prefix),
                "patch": operation(def, "patch", &format!("patch{kind}{sub}"), write_params(true), Some("application/merge-patch+json"), ref_prefix),
            }),
        ));
    }
    out
}

/// A permissive object schema carrying the GVK, for each kind.
fn kind_schema(def: &ResourceDef) -> Value {
    json!({
        "type": "object",
        "description": format!("{} ({}).", def.kind, def.api_version()),
        "x-kubernetes-preserve-unknown-fields": true,
        "x-kubernetes-group-version-kind": [gvk(def)],
    })
}

impl OpenApi {
    pub fn build(resources: &[ResourceDef]) -> OpenApi {
        let mut by_gv: BTreeMap<String, Vec<&ResourceDef>> = BTreeMap::new();
        for d in resources {
            by_gv.entry(gv_path(d)).or_default().push(d);
        }
        let mut v3_docs = BTreeMap::new();
        let mut index = Map::new();
        for (gv, defs) in &by_gv {
            let mut paths = Map::new();
            let mut schemas = Map::new();
            for d in defs {
                paths.extend(resource_paths(d, "#/components/schemas/"));
                schemas.insert(schema_name(d), kind_schema(d));
            }
            let doc = json!({
                "openapi": "3.0.0",
                "info": {"title": "mkube", "version": format!("v{}.{}", crate::discovery::VERSION_MAJOR, crate::discovery::VERSION_MINOR)},
                "paths": paths,
                "components": {"schemas": schemas},
            });
            let bytes = Bytes::from(serde_json::to_vec(&doc).unwrap_or_default());
            let hash = format!("{:016X}", fnv64(&bytes));
            index.insert(
                gv.clone(),
                json!({"serverRelativeURL": format!("/openapi/v3/{gv}?hash={hash}")}),
            );
            v3_docs.insert(gv.clone(), bytes);
        }
        let v3_index =
            Bytes::from(serde_json::to_vec(&json!({"paths": index})).unwrap_or_default());
        let mut v2_paths = Map::new();
        let mut v2_defs = Map::new();
        for d in resources {
            for (p, ops) in resource_paths(d, "#/definitions/") {
                v2_paths.insert(p, ops);
            }
            v2_defs.insert(schema_name(d), kind_schema(d));
        }
        let v2 = json!({
            "swagger": "2.0",
            "info": {"title": "mkube", "version": format!("v{}.{}", crate::discovery::VERSION_MAJOR, crate::discovery::VERSION_MINOR)},
            "paths": v2_paths,
            "definitions": v2_defs,
        });
        OpenApi {
            v2: Bytes::from(serde_json::to_vec(&v2).unwrap_or_default()),
            v3_index,
            v3_docs,
        }
    }

    pub fn v2(&self) -> &Bytes {
        &self.v2
    }

    pub fn v3_index(&self) -> &[u8] {
        &self.v3_index
    }

    pub fn v3_document(&self, path: &str) -> Option<&[u8]> {
        self.v3_docs.get(path.trim_matches('/')).map(|b| b.as_ref())
    }
}

/// FNV-1a, for the cache-busting `hash` of each document.
fn fnv64(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100000001b3)
    })
}
