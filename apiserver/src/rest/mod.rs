//! The kubectl-compatible REST surface: one generic handler for every resource.

pub mod admission;
pub mod binding;
pub mod codec;
pub mod component_status;
pub mod delete;
pub mod eviction;
pub mod http_proxy;
pub mod meta;
pub mod namespace_lifecycle;
pub mod node_proxy;
pub mod object_store;
pub mod parallel;
pub mod partial_metadata;
pub mod patch_apply;
pub mod protobuf;
pub mod raw_json;
pub mod read;
pub mod request;
pub mod review;
pub mod scale;
pub mod selected_list;
pub mod selection;
pub mod status;
pub mod table_convert;
pub mod token_request;
pub mod typed;
pub mod watch;
pub mod write;

use crate::config::ApiConfig;
use crate::registry::ResourceDef;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::Method;
use object_store::ObjectStore;
use request::{parse_path, Query};
use serde_json::Value;
use status::{ApiError, ApiResult};
use std::sync::Arc;

/// Request bodies larger than this get 413, as kube-apiserver's limit.
pub const MAX_BODY: usize = 3 * 1024 * 1024;

pub struct ApiState {
    pub store: ObjectStore,
    pub config: ApiConfig,
    /// Credentials the API server presents to node agents.
    pub agent_token: Option<String>,
    /// ClusterIP and NodePort allocators (an index over the allocation keys).
    pub allocators: crate::registry::service::ranges::Allocators,
    /// Namespaces known to be open, for [`ApiState::check_namespace_open`].
    pub namespaces: namespace_lifecycle::OpenNamespaces,
    /// Signs service-account tokens (`serviceaccounts/token`).
    pub token_signer: Option<Arc<crate::service_account_token::TokenSigner>>,
}

pub type SharedState = Arc<ApiState>;

impl ApiState {
    pub fn ctx(&self) -> crate::registry::Ctx<'_> {
        crate::registry::Ctx {
            config: &self.config,
            allocators: &self.allocators,
        }
    }

    /// Stores a write with the strategy's side effects in one transaction,
    /// running the strategy's commit or abort actions after.
    pub async fn store_write(
        &self,
        def: &'static ResourceDef,
        pending: crate::registry::Pending,
        write: StoreWrite,
    ) -> ApiResult<Value> {
        let side = pending.side_effects.clone();
        let result = match write {
            StoreWrite::Create(obj) => self.store.create(def, obj, side).await,
            StoreWrite::Update(obj, rev) => self.store.update(def, obj, rev, side).await,
            StoreWrite::Delete(obj, rev) => self.store.delete(def, obj, rev, side).await,
        };
        match &result {
            Ok(_) => pending.commit(),
            Err(_) => pending.abort(),
        }
        result
    }

    /// New objects may not land in a missing or terminating namespace.
    pub async fn check_namespace_open(&self, def: &ResourceDef, obj: &Value) -> ApiResult<()> {
        if !def.namespaced {
            return Ok(());
        }
        let ns = meta::meta_str(obj, "namespace").unwrap_or("default");
        if self.namespaces.is_open(ns) {
            return Ok(());
        }
        let ns_def = crate::registry::catalog()
            .lookup("", "v1", "namespaces")
            .ok_or_else(|| ApiError::internal("namespaces not served"))?;
        let Some(nsobj) = self.store.try_get(ns_def, None, ns).await? else {
            return Err(ApiError::not_found(ns_def.target(), ns));
        };
        if nsobj.pointer("/metadata/deletionTimestamp").is_some() {
            return Err(ApiError::forbidden(
                def.target(),
                meta::meta_str(obj, "name").unwrap_or_default(),
                &format!(
                    "unable to create new content in namespace {ns} because it is being terminated"
                ),
            ));
        }
        Ok(())
    }
}

/// The storage operation of a write; the object comes back stamped with
/// the write's revision.
pub enum StoreWrite {
    Create(Value),
    Update(Value, u64),
    Delete(Value, u64),
}

/// Entry point for every `/api/...` and `/apis/...` resource request.
pub async fn handle(State(st): State<SharedState>, req: Request) -> Response {
    let deprecated = deprecation_warning(req.uri().path());
    let resp = match dispatch(&st, req).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    match deprecated {
        Some(w) => write::with_warnings(resp, &[w.to_string()]),
        None => resp,
    }
}

/// The warning kube-apiserver attaches to deprecated APIs.
fn deprecation_warning(path: &str) -> Option<&'static str> {
    let is_endpoints = path.starts_with("/api/v1/")
        && (path.ends_with("/endpoints")
            || path.contains("/endpoints/")
            || path == "/api/v1/endpoints");
    is_endpoints
        .then_some("v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice")
}

async fn dispatch(st: &ApiState, req: Request) -> ApiResult<Response> {
    let ri = parse_path(req.uri().path())?;
    if matches!(
        ri.subresource.as_deref(),
        Some("exec" | "attach" | "portforward")
    ) {
        return node_proxy::stream(st, &ri, req).await;
    }
    if ri.subresource.as_deref() == Some("proxy") {
        return http_proxy::proxy(st, &ri, req).await;
    }
    let (parts, body) = req.into_parts();
    let mut q = Query::parse(parts.uri.query());
    if q.get("fieldManager").is_none() {
        // kube-apiserver names the manager after the client's User-Agent.
        let agent = parts
            .headers
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .and_then(|ua| ua.split('/').next())
            .filter(|a| !a.is_empty())
            .unwrap_or("unknown")
            .to_string();
        q.set("fieldManager", agent);
    }
    let format = codec::negotiate(&parts.headers, q.get("includeObject"))?;
    let body = read_body(body).await?;
    let is_watch = q.flag("watch");
    if ri.subresource.is_none() {
        let verb = verb_of(&parts.method, ri.name.is_some(), is_watch);
        if !ri.def.allows(verb) {
            return Err(ApiError::method_not_allowed());
        }
    }
    if let Some(resp) = special(st, &ri, &parts, &body, format).await {
        return resp;
    }
    match (&parts.method, ri.name.is_some(), ri.subresource.as_deref()) {
        (&Method::GET, false, _) if is_watch => watch::watch(st, &ri, &q, format).await,
        (&Method::GET, true, None) if is_watch => watch::watch(st, &ri, &q, format).await,
        (&Method::GET, false, _) => read::list(st, &ri, &q, format).await,
        (
            &Method::GET,
            true,
            None | Some("status" | "approval" | "ephemeralcontainers" | "resize"),
        ) => read::get(st, &ri, format).await,
        (&Method::GET, true, Some("scale")) => {
            let obj = st
                .store
                .get(ri.def, ri.namespace.as_deref(), ri.name())
                .await?;
            Ok(codec::respond(
                http::StatusCode::OK,
                &scale::to_scale(ri.def, &obj),
                codec::Format::Json,
            ))
        }
        (&Method::POST, false, _) => {
            write::create(st, &ri, &q, &parts.headers, &body, format).await
        }
        (&Method::POST, true, Some("binding")) => {
            binding::bind(st, &ri, &parts.headers, &body).await
        }
        (&Method::POST, true, Some("eviction")) => {
            eviction::evict(st, &ri, &q, &parts.headers, &body).await
        }
        (&Method::POST, true, Some("token")) => {
            token_request::create(st, &ri, &parts.headers, &body).await
        }
        (&Method::GET, true, Some("log")) => node_proxy::pod_log(st, &ri, &q).await,
        (&Method::PUT, true, Some(sub)) if !write::UPDATABLE.contains(&sub) => {
            Err(ApiError::method_not_allowed())
        }
        (&Method::PUT, true, _) => write::update(st, &ri, &q, &parts.headers, &body, format).await,
        (&Method::PATCH, true, Some(sub)) if !write::PATCHABLE.contains(&sub) => {
            Err(ApiError::method_not_allowed())
        }
        (&Method::PATCH, true, _) => write::patch(st, &ri, &q, &parts.headers, &body, format).await,
        (&Method::DELETE, true, None) => {
            delete::delete(st, &ri, &q, &parts.headers, &body, format).await
        }
        (&Method::DELETE, false, _) => {
            delete::delete_collection(st, &ri, &q, &parts.headers, &body).await
        }
        _ => Err(ApiError::method_not_allowed()),
    }
}

/// The RBAC verb of a request to a resource (not a subresource).
fn verb_of(method: &Method, named: bool, watch: bool) -> &'static str {
    match (method, named) {
        (&Method::GET, _) if watch => "watch",
        (&Method::GET, true) => "get",
        (&Method::GET, false) => "list",
        (&Method::POST, _) => "create",
        (&Method::PUT, _) => "update",
        (&Method::PATCH, _) => "patch",
        (&Method::DELETE, true) => "delete",
        (&Method::DELETE, false) => "deletecollection",
        _ => "",
    }
}

/// Resources that are not stored objects: reviews answered on create,
/// component statuses computed on read, and the namespace's bindings.
async fn special(
    st: &ApiState,
    ri: &request::RequestInfo,
    parts: &http::request::Parts,
    body: &[u8],
    format: codec::Format,
) -> Option<ApiResult<Response>> {
    use crate::registry::Special;
    let resp = match ri.def.special {
        Special::None => return None,
        Special::ComponentStatuses if ri.name.is_some() => {
            component_status::get(st, ri, format).await
        }
        Special::ComponentStatuses => component_status::list(st, ri, format).await,
        Special::Bindings => binding::bind_from_body(st, ri, &parts.headers, body).await,
        _ => review::create(st, ri, &parts.headers, body),
    };
    Some(resp)
}

async fn read_body(body: Body) -> ApiResult<bytes::Bytes> {
    axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| ApiError::too_large())
}
