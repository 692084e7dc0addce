//! get and list.

use super::codec::{respond, Format};
use super::object_store::{Continue, ObjectStore, Page};
use super::partial_metadata::{self, PartialObjectMetadata};
use super::raw_json::{RawForm, OMIT_MANAGED_FIELDS};
use super::request::{Query, RequestInfo};
use super::selected_list;
use super::selection::Selection;
use super::status::{ApiError, ApiResult};
use super::table_convert::to_table;
use super::ApiState;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use http::StatusCode;
use serde_json::{json, Value};

pub async fn get(st: &ApiState, ri: &RequestInfo, format: Format) -> ApiResult<Response> {
    let obj = st
        .store
        .get(ri.def, ri.namespace.as_deref(), ri.name())
        .await?;
    Ok(render_one(ri, obj, format))
}

/// Renders one object in the negotiated format.
pub fn render_one(ri: &RequestInfo, obj: Value, format: Format) -> Response {
    match format {
        Format::Table(inc) => {
            let rv = obj
                .pointer("/metadata/resourceVersion")
                .cloned()
                .unwrap_or(json!(""));
            let table = to_table(
                ri.def,
                std::slice::from_ref(&obj),
                inc,
                json!({"resourceVersion": rv}),
                true,
            );
            respond(StatusCode::OK, &table, format)
        }
        Format::Metadata => respond(StatusCode::OK, &PartialObjectMetadata::of(&obj), format),
        _ => respond(StatusCode::OK, &obj, format),
    }
}

/// kube-apiserver's message when a continue token's revision was compacted.
const CONTINUE_EXPIRED: &str = "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.";

/// Continue tokens carry the last key and the list's revision.
fn encode_continue(key: &str, rev: u64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
        serde_json::to_vec(&json!({"v": "meta.k8s.io/v1", "rv": rev, "start": key}))
            .unwrap_or_default(),
    )
}

fn decode_continue(token: &str) -> ApiResult<(String, u64)> {
    let bad =
        || ApiError::bad_request("continue key is not valid: illegal base64 data at input byte 0");
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.trim_end_matches('='))
        .map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
    let start = v.get("start").and_then(Value::as_str).ok_or_else(bad)?;
    Ok((
        start.to_string(),
        v.get("rv").and_then(Value::as_u64).unwrap_or(0),
    ))
}

pub async fn list(
    st: &ApiState,
    ri: &RequestInfo,
    q: &Query,
    format: Format,
) -> ApiResult<Response> {
    let sel = Selection::from_query(ri.def, q)?;
    let limit: usize = match q.get("limit") {
        Some(l) => l
            .parse()
            .map_err(|_| ApiError::bad_request(format!("invalid limit: {l}")))?,
        None => 0,
    };
    let start = match q.get("continue") {
        Some(tok) => {
            let (key, revision) = decode_continue(tok)?;
            if !key.starts_with(&ri.def.key_prefix(ri.namespace.as_deref())) {
                return Err(ApiError::bad_request(
                    "continue key is not valid: key does not belong to this list",
                ));
            }
            Some(Continue {
                after: key,
                revision,
            })
        }
        None => None,
    };
    let continued = start.is_some();
    let gone = |e: ApiError| match e.code {
        // The first page's revision was compacted (etcd): the snapshot is gone.
        StatusCode::GONE if continued => ApiError::gone(CONTINUE_EXPIRED),
        _ => e,
    };
    let raw = matches!(format, Format::Json | Format::Metadata);
    let omit_managed_fields = q.flag(OMIT_MANAGED_FIELDS);
    if raw && sel.is_everything() && ri.def.strategy.served_as_stored() {
        let form = RawForm {
            metadata_only: format == Format::Metadata,
            omit_managed_fields,
        };
        let page = st
            .store
            .list_raw(ri.def, ri.namespace.as_deref(), start, limit, form)
            .await
            .map_err(gone)?;
        return Ok(raw_list(
            ri,
            &page,
            page.items.iter().map(Vec::as_slice),
            format,
        ));
    }
    if selected_list::applies(ri, format) {
        let page = selected_list::list(st, ri, &sel, start, limit, format, omit_managed_fields)
            .await
            .map_err(gone)?;
        return Ok(selected_list::respond(ri, &page, format));
    }
    let mut page = st
        .store
        .list(ri.def, ri.namespace.as_deref(), start, limit, |o| {
            sel.matches(o)
        })
        .await
        .map_err(gone)?;
    if omit_managed_fields {
        page.items.iter_mut().for_each(remove_managed_fields);
    }
    let response = render_page(ri, &page, format);
    // Freeing thousands of JSON trees takes a while; the client need not wait.
    if page.items.len() >= super::parallel::PARALLEL_MIN {
        tokio::task::spawn_blocking(move || drop(page));
    }
    Ok(response)
}

/// Renders a page of objects as a list, a Table or partial metadata.
pub(super) fn render_page(ri: &RequestInfo, page: &Page, format: Format) -> Response {
    let list_meta = list_meta(page);
    match format {
        Format::Table(inc) => respond(
            StatusCode::OK,
            &to_table(ri.def, &page.items, inc, list_meta, true),
            format,
        ),
        Format::Metadata => {
            let items: Vec<_> = page.items.iter().map(PartialObjectMetadata::of).collect();
            respond(
                StatusCode::OK,
                &List::new(ri, format, list_meta, &items),
                format,
            )
        }
        _ => respond(
            StatusCode::OK,
            &List::new(ri, format, list_meta, &page.items),
            format,
        ),
    }
}

/// Drops `metadata.managedFields` from a decoded object ([`OMIT_MANAGED_FIELDS`]).
pub(super) fn remove_managed_fields(obj: &mut Value) {
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
}

/// A list's metadata: its resourceVersion and, if more follows, the continue token.
pub(super) fn list_meta<T>(page: &Page<T>) -> Value {
    let mut meta = json!({ "resourceVersion": page.revision.to_string() });
    if let Some(after) = &page.continue_after {
        meta["continue"] = json!(encode_continue(after, page.revision));
    }
    meta
}

/// A JSON list of `items`, objects already encoded as served, with the
/// metadata of `page`.
pub(super) fn raw_list<'a, T>(
    ri: &RequestInfo,
    page: &Page<T>,
    items: impl Iterator<Item = &'a [u8]> + Clone,
    format: Format,
) -> Response {
    let (kind, api_version) = list_type(ri, format);
    let mut body = format!(
        "{{\"kind\":{},\"apiVersion\":{},\"metadata\":{},\"items\":[",
        Value::from(kind),
        Value::from(api_version),
        list_meta(page)
    )
    .into_bytes();
    // Sized once: growing a body of 10k objects by doubling copied it over
    // and over.
    body.reserve(items.clone().map(|i| i.len() + 1).sum::<usize>() + 2);
    for (i, item) in items.enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(item);
    }
    body.extend_from_slice(b"]}");
    (
        StatusCode::OK,
        [(http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

/// The kind and apiVersion of a list response in `format`.
fn list_type(ri: &RequestInfo, format: Format) -> (String, String) {
    match format {
        Format::Metadata => (
            partial_metadata::LIST_KIND.to_string(),
            partial_metadata::API_VERSION.to_string(),
        ),
        _ => (format!("{}List", ri.def.kind), ri.def.api_version()),
    }
}

/// A list response, serialized without copying its items.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct List<'a, T: serde::Serialize> {
    kind: String,
    api_version: String,
    metadata: Value,
    items: &'a [T],
}

impl<'a, T: serde::Serialize> List<'a, T> {
    fn new(ri: &RequestInfo, format: Format, metadata: Value, items: &'a [T]) -> Self {
        let (kind, api_version) = list_type(ri, format);
        List {
            kind,
            api_version,
            metadata,
            items,
        }
    }
}

/// All objects matching a selection (for deletecollection and internal use).
pub async fn select_all(
    store: &ObjectStore,
    ri: &RequestInfo,
    sel: &Selection,
) -> ApiResult<Vec<Value>> {
    Ok(store
        .list(ri.def, ri.namespace.as_deref(), None, 0, |o| sel.matches(o))
        .await?
        .items)
}
