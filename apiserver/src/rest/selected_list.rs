//! Lists that select or print (label and field selectors, Tables for
//! `kubectl get`, metadata lists of part of a resource), for resources served
//! as stored.
//!
//! Each stored object is decoded once without its managedFields, which
//! neither selectors nor printers read, tested against the selection, its
//! Table cells printed, and what the response embeds (the object, or its
//! metadata) written from the stored bytes with the resourceVersion spliced
//! in — all on the list's worker threads. Only the bytes to send are kept;
//! the decoded trees never reach the request's thread, where building,
//! serializing and freeing 10k of them was most of a Table list's time.

use super::codec::{Format, IncludeObject};
use super::object_store::{Continue, Page};
use super::raw_json::{self, RawForm};
use super::read::{list_meta, raw_list};
use super::request::RequestInfo;
use super::selection::Selection;
use super::status::{ApiError, ApiResult};
use super::ApiState;
use crate::storage::KeyValue;
use crate::table::printer_for;
use axum::response::{IntoResponse, Response};
use http::StatusCode;

/// One selected object, ready to be written.
pub struct Selected {
    /// Whether the selection kept it.
    matched: bool,
    /// Its Table cells (Table lists only), as JSON.
    cells: Vec<u8>,
    /// What the response embeds: the object, its PartialObjectMetadata, or
    /// nothing (a Table without objects).
    embedded: Vec<u8>,
}

/// What each item of `format` carries: the object or its metadata written
/// from the stored bytes, or nothing (a Table without objects).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Embed {
    Raw(RawForm),
    Nothing,
}

impl Embed {
    fn of(format: Format, omit_managed_fields: bool) -> Option<Self> {
        let raw = |metadata_only| {
            Some(Embed::Raw(RawForm {
                metadata_only,
                omit_managed_fields,
            }))
        };
        match format {
            Format::Json | Format::Table(IncludeObject::Object) => raw(false),
            Format::Metadata | Format::Table(IncludeObject::Metadata) => raw(true),
            Format::Table(IncludeObject::None) => Some(Embed::Nothing),
            Format::Yaml => None,
        }
    }
}

/// Whether a list in `format` can take this path: the resource is served
/// as stored (no conversion between API versions) and the response is JSON.
pub fn applies(ri: &RequestInfo, format: Format) -> bool {
    ri.def.strategy.served_as_stored() && Embed::of(format, false).is_some()
}

/// One page of the objects `sel` keeps, converted for `format`.
pub async fn list(
    st: &ApiState,
    ri: &RequestInfo,
    sel: &Selection,
    start: Option<Continue>,
    limit: usize,
    format: Format,
    omit_managed_fields: bool,
) -> ApiResult<Page<Selected>> {
    let embed = Embed::of(format, omit_managed_fields).unwrap_or(Embed::Raw(RawForm {
        metadata_only: false,
        omit_managed_fields,
    }));
    let printer =
        matches!(format, Format::Table(_)).then(|| printer_for(ri.def.group, ri.def.plural));
    let now = chrono::Utc::now();
    let convert = |kv: &KeyValue| -> ApiResult<Selected> {
        let corrupt =
            |e: serde_json::Error| ApiError::internal(format!("decoding {}: {e}", kv.key));
        let obj = raw_json::decode_without_managed_fields(&kv.value).map_err(corrupt)?;
        if !sel.matches(&obj) {
            return Ok(Selected {
                matched: false,
                cells: Vec::new(),
                embedded: Vec::new(),
            });
        }
        let cells = match printer {
            Some(p) => serde_json::to_vec(&p.cells(&obj, now)).map_err(ApiError::internal)?,
            None => Vec::new(),
        };
        let mut embedded = Vec::new();
        if let Embed::Raw(form) = embed {
            form.write(&kv.value, kv.mod_revision, &mut embedded)
                .map_err(corrupt)?;
        }
        Ok(Selected {
            matched: true,
            cells,
            embedded,
        })
    };
    st.store
        .list_with(
            ri.def,
            ri.namespace.as_deref(),
            start,
            limit,
            convert,
            |s| s.matched,
        )
        .await
}

/// The response for a page from [`list`].
pub fn respond(ri: &RequestInfo, page: &Page<Selected>, format: Format) -> Response {
    match format {
        Format::Table(_) => table(ri, page),
        _ => raw_list(ri, page, page.items.iter().map(|s| &s.embedded[..]), format),
    }
}

/// A meta.k8s.io/v1 Table written from printed cells and embedded bytes, in
/// the member order of the Table kube-apiserver serves.
fn table(ri: &RequestInfo, page: &Page<Selected>) -> Response {
    let columns = printer_for(ri.def.group, ri.def.plural).columns();
    let head = serde_json::to_vec(&columns).map(|columns| {
        let mut body = format!(
            "{{\"kind\":\"Table\",\"apiVersion\":\"meta.k8s.io/v1\",\"metadata\":{},\"columnDefinitions\":",
            list_meta(page)
        )
        .into_bytes();
        body.extend_from_slice(&columns);
        body
    });
    let mut body = match head {
        Ok(body) => body,
        Err(e) => return ApiError::internal(e).into_response(),
    };
    body.extend_from_slice(b",\"rows\":[");
    for (i, row) in page.items.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(b"{\"cells\":");
        body.extend_from_slice(&row.cells);
        if !row.embedded.is_empty() {
            body.extend_from_slice(b",\"object\":");
            body.extend_from_slice(&row.embedded);
        }
        body.push(b'}');
    }
    body.extend_from_slice(b"]}");
    (
        StatusCode::OK,
        [(http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ApiConfig;
    use crate::registry::catalog;
    use crate::registry::service::ranges::Allocators;
    use crate::rest::object_store::{ObjectStore, SideEffects};
    use crate::rest::request::Query;
    use crate::rest::table_convert::to_table;
    use crate::storage::SledStore;
    use http_body_util::BodyExt;
    use serde_json::{json, Value};

    /// A store holding three Services: created years ago (so that their AGE
    /// cells cannot change while the test runs), two with managedFields.
    async fn state() -> (tempfile::TempDir, ApiState) {
        let dir = tempfile::tempdir().unwrap();
        let config = ApiConfig::default();
        let st = ApiState {
            store: ObjectStore {
                storage: SledStore::open(dir.path()).unwrap(),
            },
            allocators: Allocators::new((&config).into()),
            config,
            agent_token: None,
            namespaces: Default::default(),
            token_signer: None,
        };
        let def = services();
        for (name, app, managed) in [("a", "web", true), ("b", "db", true), ("c", "web", false)] {
            let mut svc = json!({"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}"),
                             "labels": {"app": app}, "creationTimestamp": "2020-01-01T00:00:00Z"},
                "spec": {"type": "ClusterIP", "clusterIP": "127.96.0.9", "clusterIPs": ["127.96.0.9"],
                         "selector": {"app": app}, "ports": [{"port": 80, "protocol": "TCP", "targetPort": 8080}]}});
            if managed {
                svc["metadata"]["managedFields"] = json!([{"manager": "kubectl", "operation": "Update",
                    "apiVersion": "v1", "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:spec": {"f:selector": {}}}}]);
            }
            st.store
                .create(def, svc, SideEffects::default())
                .await
                .unwrap();
        }
        (dir, st)
    }

    fn services() -> &'static crate::registry::ResourceDef {
        catalog().lookup("", "v1", "services").unwrap()
    }

    async fn body(resp: Response) -> String {
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    /// What the decoding path serves for the same request: every object
    /// decoded whole, selected, then printed or listed.
    async fn decoded(st: &ApiState, ri: &RequestInfo, sel: &Selection, format: Format) -> String {
        let page = st
            .store
            .list(ri.def, Some("default"), None, 0, |o| sel.matches(o))
            .await
            .unwrap();
        let meta = list_meta(&page);
        let bytes = match format {
            Format::Table(inc) => {
                serde_json::to_vec(&to_table(ri.def, &page.items, inc, meta, true))
            }
            Format::Metadata => serde_json::to_vec(&json!({
                "kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1",
                "metadata": meta,
                "items": page.items.iter().map(|o| json!({"kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"]})).collect::<Vec<Value>>(),
            })),
            _ => serde_json::to_vec(&json!({
                "kind": "ServiceList", "apiVersion": "v1", "metadata": meta, "items": page.items,
            })),
        };
        String::from_utf8(bytes.unwrap()).unwrap()
    }

    #[tokio::test]
    async fn serves_the_bytes_of_the_decoding_path() {
        let (_dir, st) = state().await;
        let ri = RequestInfo {
            def: services(),
            namespace: Some("default".into()),
            name: None,
            subresource: None,
        };
        let formats = [
            Format::Json,
            Format::Metadata,
            Format::Table(IncludeObject::None),
            Format::Table(IncludeObject::Metadata),
            Format::Table(IncludeObject::Object),
        ];
        for selector in [None, Some("app=web"), Some("app notin (web,db)")] {
            let mut q = Query::default();
            if let Some(s) = selector {
                q.set("labelSelector", s.to_string());
            }
            let sel = Selection::from_query(ri.def, &q).unwrap();
            for format in formats {
                let page = list(&st, &ri, &sel, None, 0, format, false).await.unwrap();
                let served = body(respond(&ri, &page, format)).await;
                let expected = decoded(&st, &ri, &sel, format).await;
                assert_eq!(served, expected, "{selector:?} as {format:?}");
                if format == Format::Table(IncludeObject::Object) {
                    assert_eq!(
                        served.contains("managedFields"),
                        selector != Some("app notin (web,db)"),
                        "embedded objects keep their managedFields"
                    );
                }
            }
        }
    }
}
