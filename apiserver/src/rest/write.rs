//! create, update (PUT), patch: decode, default, validate, store — the write
//! path every resource shares, with per-resource hooks from its strategy.

use super::codec::{content_type, decode_body, respond_object, Format};
use super::meta::{
    self, bump_generation, check_namespace, check_type_meta, keep_server_fields, meta_str,
};
use super::object_store::resource_version;
use super::patch_apply::{apply_patch, PatchKind};
use super::request::{Query, RequestInfo};
use super::status::{ApiError, ApiResult};
use super::typed::{normalize, FieldValidation};
use super::ApiState;
use super::StoreWrite;
use crate::registry::{ResourceDef, WriteOp};
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use serde_json::{json, Value};

/// Writes retry on a concurrent change when the client set no precondition,
/// as kube-apiserver's GuaranteedUpdate does.
const MAX_RETRIES: usize = 8;

pub async fn create(
    st: &ApiState,
    ri: &RequestInfo,
    q: &Query,
    headers: &HeaderMap,
    body: &[u8],
    format: Format,
) -> ApiResult<Response> {
    let def = ri.def;
    let mut obj = decode_body(headers, body, def.kind, &def.api_version())?;
    check_type_meta(def, &mut obj)?;
    let (obj, warnings) = normalize(def, obj, FieldValidation::parse(q.get("fieldValidation"))?)?;
    let created = create_object(st, def, ri.namespace.as_deref(), obj, q).await?;
    let resp = respond_object(StatusCode::CREATED, &created, format);
    Ok(with_warnings(resp, &warnings))
}

/// Adds `Warning: 299 - "..."` headers, which kubectl prints as warnings.
pub fn with_warnings(mut resp: Response, warnings: &[String]) -> Response {
    for w in warnings {
        let text = format!("299 - {}", serde_json::to_string(w).unwrap_or_default());
        if let Ok(v) = http::HeaderValue::from_str(&text) {
            resp.headers_mut().append(http::header::WARNING, v);
        }
    }
    resp
}

fn unchanged(new: &Value, current: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
            m.remove("resourceVersion");
        }
        v
    };
    strip(new) == strip(current)
}

/// How a write records field ownership in managedFields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tracking {
    /// An ordinary write: the manager owns what it changed (operation Update).
    Update,
    /// Server-side apply already recorded ownership (operation Apply).
    Applied,
}

/// The field manager of a request: `fieldManager`, or the client's name
/// from its User-Agent (set by the dispatcher).
pub fn field_manager(q: &Query) -> String {
    q.get("fieldManager").unwrap_or("unknown").to_string()
}

pub async fn create_object(
    st: &ApiState,
    def: &'static ResourceDef,
    ns: Option<&str>,
    mut obj: Value,
    q: &Query,
) -> ApiResult<Value> {
    check_type_meta(def, &mut obj)?;
    check_namespace(def, &mut obj, ns)?;
    meta::prepare_create(&mut obj);
    if def.has_status() && def.kind != "Node" {
        // Status is written by controllers through the status subresource.
        obj.as_object_mut().map(|m| m.remove("status"));
    }
    let ctx = st.ctx();
    if obj.pointer("/metadata/managedFields").is_none() {
        let now = meta::now_rfc3339();
        crate::patch::record_update(
            def.kind,
            None,
            &mut obj,
            &field_manager(q),
            &def.api_version(),
            &now,
            None,
        );
    }
    def.strategy.default(&mut obj, &ctx);
    let name = meta_str(&obj, "name").unwrap_or_default().to_string();
    let errs = meta::validate_meta(def, &obj);
    if !errs.is_empty() {
        return Err(ApiError::invalid(def.target(), &name, &errs));
    }
    let dry_run = q.dry_run()?;
    st.check_namespace_open(def, &obj).await?;
    super::admission::admit_create(st, def, &mut obj).await?;
    let mut attempt = 1;
    loop {
        // Allocation comes before validation, as kube-apiserver's BeginCreate
        // precedes its validation: the validated object carries its ClusterIPs.
        let mut obj = obj.clone();
        let pending = def.strategy.begin_write(WriteOp::Create(&mut obj), &ctx)?;
        let errs = def.strategy.validate_create(&obj, &ctx);
        if !errs.is_empty() {
            pending.abort();
            return Err(ApiError::invalid(def.target(), &name, &errs));
        }
        // Validating admission charges quotas: once, whatever the retries.
        if attempt == 1 {
            if let Err(e) = super::admission::validate_create(st, def, &obj, dry_run).await {
                pending.abort();
                return Err(e);
            }
        }
        if dry_run {
            pending.abort();
            return Ok(obj);
        }
        match st.store_write(def, pending, StoreWrite::Create(obj)).await {
            Err(e) if is_allocation_race(&e) && attempt < CREATE_ATTEMPTS => attempt += 1,
            result => return result,
        }
    }
}

/// How often a create is tried when another API server took the ClusterIP or
/// NodePort it picked at the same moment.
const CREATE_ATTEMPTS: u32 = 5;

/// A create fails with Conflict (not AlreadyExists) only when an allocation
/// key it compared was taken concurrently; picking again resolves it.
fn is_allocation_race(e: &ApiError) -> bool {
    e.code == http::StatusCode::CONFLICT && e.reason == "Conflict"
}

/// PUT: replace the object (or its status/scale/finalizers).
pub async fn update(
    st: &ApiState,
    ri: &RequestInfo,
    q: &Query,
    headers: &HeaderMap,
    body: &[u8],
    format: Format,
) -> ApiResult<Response> {
    let def = ri.def;
    let (kind, api_version) = match ri.subresource.as_deref() {
        Some("scale") => ("Scale", "autoscaling/v1".to_string()),
        _ => (def.kind, def.api_version()),
    };
    let mut body_obj = decode_body(headers, body, kind, &api_version)?;
    let mut warnings = Vec::new();
    if ri.subresource.as_deref() != Some("scale") {
        check_type_meta(def, &mut body_obj)?;
        let (normalized, w) = normalize(
            def,
            body_obj,
            FieldValidation::parse(q.get("fieldValidation"))?,
        )?;
        body_obj = normalized;
        warnings = w;
        check_namespace(def, &mut body_obj, ri.namespace.as_deref())?;
    }
    let body_name = meta_str(&body_obj, "name").unwrap_or_default();
    if body_name != ri.name() {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({})",
            ri.name()
        )));
    }
    let precondition = resource_version(&body_obj)?;
    let existing = st
        .store
        .try_get(def, ri.namespace.as_deref(), ri.name())
        .await?;
    if existing.is_none() && ri.subresource.is_none() {
        if !def.allow_create_on_update {
            return Err(ApiError::not_found(def.target(), ri.name()));
        }
        let created = create_object(st, def, ri.namespace.as_deref(), body_obj, q).await?;
        let resp = respond_object(StatusCode::CREATED, &created, format);
        return Ok(with_warnings(resp, &warnings));
    }
    let sub = ri.subresource.clone();
    let updated = guaranteed_update(st, ri, q, precondition, Tracking::Update, move |current| {
        Ok(merge_subresource(sub.as_deref(), current, body_obj.clone()))
    })
    .await?;
    Ok(with_warnings(
        render_written(ri, updated, format),
        &warnings,
    ))
}

/// PATCH in any of the four patch types.
pub async fn patch(
    st: &ApiState,
    ri: &RequestInfo,
    q: &Query,
    headers: &HeaderMap,
    body: &[u8],
    format: Format,
) -> ApiResult<Response> {
    let def = ri.def;
    let ct = content_type(headers);
    let kind =
        PatchKind::from_content_type(&ct).ok_or_else(|| ApiError::unsupported_media_type(&ct))?;
    let patch: Value = match kind {
        PatchKind::Apply => serde_yaml::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?,
        _ => serde_json::from_slice(body).map_err(|e| {
            ApiError::bad_request(format!(
                "error decoding patch: {}",
                super::codec::json_error(&e)
            ))
        })?,
    };
    let existing = st
        .store
        .try_get(def, ri.namespace.as_deref(), ri.name())
        .await?;
    if existing.is_none() {
        if kind == PatchKind::Apply && ri.subresource.is_none() {
            let mut obj = super::patch_apply::apply(
                def.kind,
                None,
                &patch,
                &field_manager(q),
                q.flag("force"),
            )?;
            let created = create_object(
                st,
                def,
                ri.namespace.as_deref(),
                {
                    meta::meta_mut(&mut obj).insert("name".into(), json!(ri.name()));
                    obj
                },
                q,
            )
            .await?;
            return Ok(respond_object(StatusCode::CREATED, &created, format));
        }
        return Err(ApiError::not_found(def.target(), ri.name()));
    }
    let precondition = resource_version(&patch).ok().flatten();
    let sub = ri.subresource.clone();
    let manager = field_manager(q);
    let tracking = if kind == PatchKind::Apply {
        Tracking::Applied
    } else {
        Tracking::Update
    };
    let force = q.flag("force");
    let mode = FieldValidation::parse(q.get("fieldValidation"))?;
    let warnings = std::sync::Mutex::new(Vec::new());
    let updated = guaranteed_update(st, ri, q, precondition, tracking, |current| {
        let view = subresource_view(sub.as_deref(), current);
        let patched = apply_patch(def.kind, kind, &view, &patch, force, &manager)?;
        let merged = merge_subresource(sub.as_deref(), current, patched);
        let (normalized, w) = normalize(def, merged, mode)?;
        *warnings.lock().unwrap_or_else(|p| p.into_inner()) = w;
        Ok(normalized)
    })
    .await?;
    let warnings = warnings.into_inner().unwrap_or_else(|p| p.into_inner());
    Ok(with_warnings(
        render_written(ri, updated, format),
        &warnings,
    ))
}

fn render_written(ri: &RequestInfo, obj: Value, format: Format) -> Response {
    if ri.subresource.as_deref() == Some("scale") {
        let scale = super::scale::to_scale(ri.def, &obj);
        return respond_object(StatusCode::OK, &scale, format);
    }
    respond_object(StatusCode::OK, &obj, format)
}

/// What a client sees (and patches) at a subresource.
fn subresource_view(sub: Option<&str>, current: &Value) -> Value {
    match sub {
        Some("scale") => super::scale::to_scale_any(current),
        _ => current.clone(),
    }
}

/// Subresources PUT can replace.
pub const UPDATABLE: &[&str] = &[
    "status",
    "scale",
    "finalize",
    "approval",
    "ephemeralcontainers",
    "resize",
];
/// Subresources PATCH can change.
pub const PATCHABLE: &[&str] = &[
    "status",
    "scale",
    "approval",
    "ephemeralcontainers",
    "resize",
];

/// `pods/resize` changes the containers' resources and resize policies,
/// nothing else (`ResizeStrategy` in `pkg/registry/core/pod/strategy.go`).
fn resized(current: &Value, sent: &Value) -> Value {
    let mut out = current.clone();
    let sent_containers = sent.pointer("/spec/containers").and_then(Value::as_array);
    let Some(containers) = out
        .pointer_mut("/spec/containers")
        .and_then(Value::as_array_mut)
    else {
        return out;
    };
    for c in containers.iter_mut() {
        let name = c.get("name").cloned();
        let Some(new) =
            sent_containers.and_then(|list| list.iter().find(|n| n.get("name") == name.as_ref()))
        else {
            continue;
        };
        for field in ["resources", "resizePolicy"] {
            match new.get(field) {
                Some(v) => c[field] = v.clone(),
                None => {
                    c.as_object_mut().map(|m| m.remove(field));
                }
            }
        }
    }
    out
}

/// Builds the new object from the current one and what the client sent to a subresource.
fn merge_subresource(sub: Option<&str>, current: &Value, sent: Value) -> Value {
    match sub {
        None => sent,
        Some("status") => {
            let mut out = current.clone();
            out["status"] = sent.get("status").cloned().unwrap_or(json!({}));
            out
        }
        Some("scale") => {
            let mut out = current.clone();
            let replicas = sent.pointer("/spec/replicas").cloned().unwrap_or(json!(0));
            out["spec"]["replicas"] = replicas;
            out
        }
        Some("approval") => {
            // CertificateSigningRequests' approval writes only the conditions.
            let mut out = current.clone();
            let conditions = sent.pointer("/status/conditions").cloned();
            if !out.get("status").is_some_and(Value::is_object) {
                out["status"] = json!({});
            }
            out["status"]["conditions"] = conditions.unwrap_or(json!([]));
            out
        }
        Some("ephemeralcontainers") => {
            let mut out = current.clone();
            out["spec"]["ephemeralContainers"] = sent
                .pointer("/spec/ephemeralContainers")
                .cloned()
                .unwrap_or(json!([]));
            out
        }
        Some("resize") => resized(current, &sent),
        Some("finalize") => {
            let mut out = current.clone();
            out["spec"]["finalizers"] = sent
                .pointer("/spec/finalizers")
                .cloned()
                .unwrap_or(json!([]));
            out
        }
        Some(_) => sent,
    }
}

/// Read-modify-write with optimistic concurrency. `mutate` gets the current
/// object and returns the desired one; server-owned fields are restored,
/// defaults and validation applied, and the write is retried on a concurrent
/// change unless the client gave a resourceVersion precondition.
pub async fn guaranteed_update(
    st: &ApiState,
    ri: &RequestInfo,
    q: &Query,
    precondition: Option<u64>,
    tracking: Tracking,
    mutate: impl Fn(&Value) -> ApiResult<Value>,
) -> ApiResult<Value> {
    let def = ri.def;
    let ctx = st.ctx();
    for _ in 0..MAX_RETRIES {
        let current = st
            .store
            .get(def, ri.namespace.as_deref(), ri.name())
            .await?;
        let current_rv = resource_version(&current)?.unwrap_or_default();
        if let Some(p) = precondition {
            if p != current_rv {
                return Err(ApiError::conflict(def.target(), ri.name()));
            }
        }
        let mut new = mutate(&current)?;
        if !new.is_object() {
            return Err(ApiError::bad_request(
                "the patched object is not a JSON object",
            ));
        }
        check_type_meta(def, &mut new)?;
        keep_server_fields(&mut new, &current);
        if meta_str(&new, "name") != Some(ri.name()) {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({}) does not match the name on the URL ({})",
                meta_str(&new, "name").unwrap_or_default(),
                ri.name()
            )));
        }
        if def.has_status() && ri.subresource.is_none() {
            // The main resource cannot change status; the status subresource only status.
            match current.get("status") {
                Some(s) => new["status"] = s.clone(),
                None => {
                    new.as_object_mut().map(|m| m.remove("status"));
                }
            }
        }
        if tracking == Tracking::Update {
            crate::patch::record_update(
                def.kind,
                Some(&current),
                &mut new,
                &field_manager(q),
                &def.api_version(),
                &meta::now_rfc3339(),
                ri.subresource.as_deref(),
            );
        }
        def.strategy.default(&mut new, &ctx);
        bump_generation(&mut new, &current);
        let meta_errs = meta::validate_meta(def, &new);
        if !meta_errs.is_empty() {
            return Err(ApiError::invalid(def.target(), ri.name(), &meta_errs));
        }
        let dry_run = q.dry_run()?;
        // A write that changes nothing is not stored (the resourceVersion
        // stays, so clients report "no change"), as kube-apiserver does.
        if unchanged(&new, &current) {
            return Ok(current);
        }
        // An object being deleted goes once its last finalizer is removed.
        let going = super::delete::ready_to_go(&new);
        let pending = if going {
            def.strategy.begin_write(WriteOp::Delete(&new), &ctx)?
        } else {
            def.strategy.begin_write(
                WriteOp::Update {
                    old: &current,
                    new: &mut new,
                    subresource: ri.subresource.as_deref(),
                },
                &ctx,
            )?
        };
        let errs = def.strategy.validate_update(&new, &current, &ctx);
        if !errs.is_empty() {
            pending.abort();
            return Err(ApiError::invalid(def.target(), ri.name(), &errs));
        }
        if ri.subresource.is_none() && !going {
            if let Err(e) = super::admission::validate_update(st, def, &new).await {
                pending.abort();
                return Err(e);
            }
        }
        if dry_run {
            pending.abort();
            return Ok(new);
        }
        let result = if going {
            st.store_write(def, pending, StoreWrite::Delete(new, current_rv))
                .await
        } else {
            st.store_write(def, pending, StoreWrite::Update(new, current_rv))
                .await
        };
        match result {
            Err(e) if e.reason == "Conflict" && precondition.is_none() => continue,
            other => return other,
        }
    }
    Err(ApiError::conflict(def.target(), ri.name()))
}
