//! watch: a chunked stream of `{"type": ..., "object": ...}` lines.
//!
//! Semantics follow kube-apiserver: without a resourceVersion (or "0") the
//! stream starts with ADDED events for the current state; with one, it
//! resumes after it (410 Gone if that is older than the retained window);
//! `sendInitialEvents=true` sends the state, then a BOOKMARK annotated
//! `k8s.io/initial-events-end`; bookmarks keep idle watchers' revisions fresh.

use super::codec::Format;
use super::object_store::{set_resource_version, ObjectStore};
use super::partial_metadata::{self, PartialObjectMetadata};
use super::raw_json::{RawForm, OMIT_MANAGED_FIELDS};
use super::read::remove_managed_fields;
use super::request::{Query, RequestInfo};
use super::selection::Selection;
use super::status::{ApiError, ApiResult};
use super::table_convert::to_table;
use super::ApiState;
use crate::storage::{Event, EventKind, Revision, WatchEnd};
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::header;
use serde_json::{json, Value};
use std::time::Duration;
use tokio::sync::mpsc;

const BOOKMARK_EVERY: Duration = Duration::from_secs(5);
/// Default server-side watch timeout (kube-apiserver picks 30-60 minutes).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);

pub async fn watch(
    st: &ApiState,
    ri: &RequestInfo,
    q: &Query,
    format: Format,
) -> ApiResult<Response> {
    let mut sel_query = q.clone();
    if let Some(name) = &ri.name {
        // GET .../name?watch=1 is a watch on that one object.
        sel_query.set("fieldSelector", format!("metadata.name={name}"));
    }
    let sel = Selection::from_query(ri.def, &sel_query)?;
    let bookmarks = q.flag("allowWatchBookmarks");
    let send_initial = q.flag("sendInitialEvents");
    if send_initial && !bookmarks {
        return Err(ApiError::new(
            http::StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid",
            "ListOptions.meta.k8s.io \"\" is invalid: allowWatchBookmarks: Forbidden: sendInitialEvents requires setting allowWatchBookmarks to true",
        ));
    }
    let rv: Option<Revision> = match q.get("resourceVersion") {
        None | Some("0") => None,
        Some(s) => Some(
            s.parse()
                .map_err(|_| ApiError::bad_request(format!("invalid resource version: {s}")))?,
        ),
    };
    let timeout = q
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_TIMEOUT);

    // Initial state, when asked for (or implied by an unset resourceVersion).
    let prefix = ri.def.key_prefix(ri.namespace.as_deref());
    let omit_managed_fields = q.flag(OMIT_MANAGED_FIELDS);
    let raw = raw_form(ri.def, &sel, format, omit_managed_fields);
    let (initial, after) = if rv.is_none() || send_initial {
        initial_lines(st, ri, &sel, raw, format, omit_managed_fields).await?
    } else {
        (Vec::new(), rv.unwrap_or_default())
    };
    let mut receiver = st.store.storage.watch(&prefix, after)?;

    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(64);
    let enc = Encoder::new(ri.def, format);
    let storage = st.store.storage.clone();
    tokio::spawn(async move {
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        for line in initial {
            if tx.send(Ok(line)).await.is_err() {
                return;
            }
        }
        let mut last_rv = after;
        if send_initial {
            let bm = enc.bookmark(last_rv, true);
            if tx.send(Ok(bm)).await.is_err() {
                return;
            }
        }
        let mut ticker = tokio::time::interval(BOOKMARK_EVERY);
        ticker.tick().await;
        loop {
            tokio::select! {
                _ = &mut deadline => return,
                _ = tx.closed() => return,
                _ = ticker.tick(), if bookmarks => {
                    // Only advance to revisions whose events this watcher has seen.
                    let head = storage.watch_revision();
                    if receiver.is_caught_up() && head > last_rv {
                        last_rv = head;
                    }
                    if tx.send(Ok(enc.bookmark(last_rv, false))).await.is_err() {
                        return;
                    }
                }
                ev = receiver.recv() => {
                    let ev = match ev {
                        Ok(ev) => ev,
                        Err(WatchEnd::Lagged) | Err(WatchEnd::Closed) => return,
                    };
                    last_rv = ev.kv.mod_revision;
                    let line = match raw {
                        Some(form) => raw_event_line(form, &ev),
                        None => translate(enc.def, &ev, &sel).map(|(kind, mut obj)| {
                            if omit_managed_fields {
                                remove_managed_fields(&mut obj);
                            }
                            enc.line(kind, &obj)
                        }),
                    };
                    let Some(line) = line else { continue };
                    if tx.send(Ok(line)).await.is_err() {
                        return;
                    }
                }
            }
        }
    });
    let content_type = "application/json;stream=watch";
    let body = Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx));
    Ok(([(header::CONTENT_TYPE, content_type)], body).into_response())
}

/// The watch's first events (the current state, for a watch without a
/// resourceVersion or with `sendInitialEvents`) as lines, and the revision
/// they are at.
async fn initial_lines(
    st: &ApiState,
    ri: &RequestInfo,
    sel: &Selection,
    raw: Option<RawForm>,
    format: Format,
    omit_managed_fields: bool,
) -> ApiResult<(Vec<Bytes>, Revision)> {
    let ns = ri.namespace.as_deref();
    if let Some(form) = raw {
        let page = st.store.list_raw(ri.def, ns, None, 0, form).await?;
        let lines = page.items.iter().map(|obj| line_of("ADDED", obj)).collect();
        return Ok((lines, page.revision));
    }
    let mut page = st
        .store
        .list(ri.def, ns, None, 0, |o| sel.matches(o))
        .await?;
    if omit_managed_fields {
        page.items.iter_mut().for_each(remove_managed_fields);
    }
    let enc = Encoder::new(ri.def, format);
    let lines = page.items.iter().map(|o| enc.line("ADDED", o)).collect();
    Ok((lines, page.revision))
}

/// Watches that need no decoding: every object of a resource served as
/// stored, as JSON or as metadata. Their events are the stored bytes with
/// the resourceVersion spliced in (`raw_json`), where decoding, selecting
/// and re-encoding each event for each watcher was most of a write's cost
/// with several informers on one resource.
fn raw_form(
    def: &crate::registry::ResourceDef,
    sel: &Selection,
    format: Format,
    omit_managed_fields: bool,
) -> Option<RawForm> {
    if !sel.is_everything() || !def.strategy.served_as_stored() {
        return None;
    }
    let metadata_only = match format {
        Format::Json => false,
        Format::Metadata => true,
        _ => return None,
    };
    Some(RawForm {
        metadata_only,
        omit_managed_fields,
    })
}

/// The line of a raw watch for a storage event: every object is selected,
/// so a put is ADDED when nothing was there before and MODIFIED otherwise,
/// and a delete carries the last value at the delete's revision.
fn raw_event_line(form: RawForm, ev: &Event) -> Option<Bytes> {
    let kind = match (ev.kind, ev.prev.is_some()) {
        (EventKind::Put, false) => "ADDED",
        (EventKind::Put, true) => "MODIFIED",
        (EventKind::Delete, _) => "DELETED",
    };
    let mut obj = Vec::with_capacity(ev.kv.value.len() + 32);
    if let Err(e) = form.write(&ev.kv.value, ev.kv.mod_revision, &mut obj) {
        tracing::warn!(key = %ev.kv.key, error = %e, "stored object is not JSON; not sent to watchers");
        return None;
    }
    Some(line_of(kind, &obj))
}

/// `{"type":KIND,"object":OBJ}` and a newline, around an encoded object.
fn line_of(kind: &str, obj: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(obj.len() + 32);
    out.extend_from_slice(b"{\"type\":\"");
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b"\",\"object\":");
    out.extend_from_slice(obj);
    out.extend_from_slice(b"}\n");
    Bytes::from(out)
}

/// Maps a storage event to a watch event for this selection: objects moving
/// into the selection are ADDED, out of it DELETED.
fn translate(
    def: &crate::registry::ResourceDef,
    ev: &Event,
    sel: &Selection,
) -> Option<(&'static str, Value)> {
    let decode = |kv| ObjectStore::decode(def, kv).ok();
    match ev.kind {
        EventKind::Put => {
            let new = decode(&ev.kv)?;
            let now_in = sel.matches(&new);
            let was_in = ev
                .prev
                .as_ref()
                .and_then(decode)
                .is_some_and(|p| sel.matches(&p));
            match (was_in, now_in) {
                (false, true) => Some(("ADDED", new)),
                (true, true) => Some(("MODIFIED", new)),
                (true, false) => Some(("DELETED", new)),
                (false, false) => None,
            }
        }
        EventKind::Delete => {
            let mut old = decode(&ev.kv)?;
            set_resource_version(&mut old, ev.kv.mod_revision);
            sel.matches(&old).then_some(("DELETED", old))
        }
    }
}

/// One line of a watch stream, serialized without copying the object.
#[derive(serde::Serialize)]
struct WatchLine<'a, T: serde::Serialize> {
    #[serde(rename = "type")]
    kind: &'a str,
    object: &'a T,
}

struct Encoder {
    def: &'static crate::registry::ResourceDef,
    def_kind: &'static str,
    api_version: String,
    format: Format,
}

impl Encoder {
    fn new(def: &'static crate::registry::ResourceDef, format: Format) -> Self {
        Encoder {
            def_kind: def.kind,
            api_version: def.api_version(),
            format,
            def,
        }
    }

    fn line(&self, kind: &str, obj: &Value) -> Bytes {
        let mut out = match self.format {
            Format::Table(inc) => {
                let rv = obj
                    .pointer("/metadata/resourceVersion")
                    .cloned()
                    .unwrap_or(json!(""));
                let table = to_table(
                    self.def,
                    std::slice::from_ref(obj),
                    inc,
                    json!({"resourceVersion": rv}),
                    true,
                );
                serde_json::to_vec(&WatchLine {
                    kind,
                    object: &table,
                })
            }
            Format::Metadata => serde_json::to_vec(&WatchLine {
                kind,
                object: &PartialObjectMetadata::of(obj),
            }),
            _ => serde_json::to_vec(&WatchLine { kind, object: obj }),
        }
        .unwrap_or_default();
        out.push(b'\n');
        Bytes::from(out)
    }

    fn bookmark(&self, rv: Revision, initial_end: bool) -> Bytes {
        let mut meta = json!({"resourceVersion": rv.to_string()});
        if initial_end {
            meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let object = match self.format {
            Format::Table(_) => {
                json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta, "columnDefinitions": [], "rows": []})
            }
            Format::Metadata => json!({
                "kind": partial_metadata::KIND,
                "apiVersion": partial_metadata::API_VERSION,
                "metadata": meta,
            }),
            _ => json!({"kind": self.def_kind, "apiVersion": self.api_version, "metadata": meta}),
        };
        let mut out =
            serde_json::to_vec(&json!({"type": "BOOKMARK", "object": object})).unwrap_or_default();
        out.push(b'\n');
        Bytes::from(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::catalog;
    use crate::rest::object_store::SideEffects;
    use crate::storage::{DynStorage, SledStore};

    fn lines_equal(raw: &Bytes, decoded: &Bytes) {
        let parse = |b: &Bytes| -> Value { serde_json::from_slice(b).expect("a JSON line") };
        assert_eq!(parse(raw), parse(decoded));
        assert!(raw.ends_with(b"\n"), "{raw:?}");
    }

    /// The stored-bytes lines of unselected JSON and metadata watches say
    /// exactly what decoding each event and encoding it would: ADDED, then
    /// MODIFIED, then DELETED with the last value at the delete's revision.
    #[tokio::test]
    async fn raw_event_lines_match_the_decoding_path() {
        let dir = tempfile::tempdir().unwrap();
        let storage: DynStorage = SledStore::open(dir.path()).unwrap();
        let store = ObjectStore {
            storage: storage.clone(),
        };
        let def = catalog().lookup("", "v1", "configmaps").unwrap();
        let everything = Selection::from_query(def, &Query::default()).unwrap();
        let form = |format, omit| raw_form(def, &everything, format, omit);
        assert_eq!(form(Format::Yaml, false), None);
        let forms = [
            (Format::Json, false),
            (Format::Metadata, false),
            (Format::Json, true),
            (Format::Metadata, true),
        ];

        let mut events = storage.watch(&def.key_prefix(Some("default")), 0).unwrap();
        let cm = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "namespace": "default", "uid": "u1", "labels": {"a": "b"},
                         "managedFields": [{"manager": "kubectl", "operation": "Update"}]},
            "data": {"k": "v"}});
        let created = store.create(def, cm, SideEffects::default()).await.unwrap();
        let mut changed = created.clone();
        changed["data"]["k"] = serde_json::json!("w");
        let rv = created["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let updated = store
            .update(def, changed, rv, SideEffects::default())
            .await
            .unwrap();
        let rv = updated["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        store
            .delete(def, updated, rv, SideEffects::default())
            .await
            .unwrap();

        for expected in ["ADDED", "MODIFIED", "DELETED"] {
            let ev = events.recv().await.expect("an event");
            let (kind, obj) = translate(def, &ev, &everything).expect("selected");
            assert_eq!(kind, expected);
            assert!(obj["metadata"].get("managedFields").is_some());
            for (format, omit) in forms {
                let raw = raw_event_line(form(format, omit).expect("served as stored"), &ev)
                    .expect("a line");
                let mut obj = obj.clone();
                if omit {
                    remove_managed_fields(&mut obj);
                }
                lines_equal(&raw, &Encoder::new(def, format).line(kind, &obj));
            }
        }
    }
}
