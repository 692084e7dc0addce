//! Paths and operations of the served resources, laid out as kube-apiserver
//! lays out its own: collection, item, cluster-wide list, the deprecated
//! `watch/` paths and subresources, each operation tagged with
//! `x-kubernetes-action` and `x-kubernetes-group-version-kind`.
//!
//! What clients read from these:
//! - kubectl decides that the server validates fields itself (and so skips
//!   client-side schema validation and sends `fieldValidation=Strict`) when
//!   the PATCH operation tagged with the object's GVK lists a query parameter
//!   named `fieldValidation` among the *operation's* parameters. Any PATCH
//!   tagged with that GVK may be the one it looks at (Go map order), so every
//!   one of them (status, scale... too) carries it.
//! - `kubectl explain` finds the GVK on any operation of the resource's
//!   paths, then the component schema whose `x-kubernetes-group-version-kind`
//!   lists it.
//! - client-side `kubectl apply` computes a strategic merge patch from the
//!   OpenAPI v3 schema when the PATCH request body lists
//!   `application/strategic-merge-patch+json`. The schemas generated from
//!   k8s-openapi lack the `x-kubernetes-patch-merge-key` /
//!   `x-kubernetes-patch-strategy` extensions, and a patch computed without
//!   them replaces lists wholesale (a port removed from a manifest would stay
//!   on the server). So PATCH bodies list the other patch types only, and
//!   kubectl falls back to the patch metadata compiled into it, which is
//!   exact for built-in kinds. The server still accepts strategic merge
//!   patches.

use super::schemas::{
    Components, Format, API_RESOURCE_LIST, DELETE_OPTIONS, PATCH, STATUS, WATCH_EVENT,
};
use super::{Gvk, ResourceInfo};
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use serde_json::{json, Map, Value};

const JSON: &str = "application/json";
const YAML: &str = "application/yaml";
const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";
const JSON_WATCH: &str = "application/json;stream=watch";
const PROTOBUF_WATCH: &str = "application/vnd.kubernetes.protobuf;stream=watch";

const PRODUCES: &[&str] = &[JSON, YAML, PROTOBUF];
/// Lists and watches: the plain types, and the streams of watch events.
const PRODUCES_STREAM: &[&str] = &[JSON, YAML, PROTOBUF, JSON_WATCH, PROTOBUF_WATCH];
const PRODUCES_ANY: &[&str] = &["*/*"];
const PRODUCES_LOG: &[&str] = &["text/plain", JSON, YAML, PROTOBUF];
const CONSUMES_ANY: &[&str] = &["*/*"];
const CONSUMES_PATCH: &[&str] = &[
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/apply-patch+yaml",
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum In {
    Path,
    Query,
}

#[derive(Clone)]
struct Param {
    name: &'static str,
    location: In,
    ty: &'static str,
    description: String,
}

fn query(name: &'static str, ty: &'static str, description: &str) -> Param {
    Param {
        name,
        location: In::Query,
        ty,
        description: description.to_string(),
    }
}

fn path_param(name: &'static str, description: String) -> Param {
    Param {
        name,
        location: In::Path,
        ty: "string",
        description,
    }
}

fn pretty() -> Param {
    query(
        "pretty",
        "string",
        "If 'true', the response is pretty-printed.",
    )
}

fn namespace() -> Param {
    path_param(
        "namespace",
        "Namespace of the object: its name scope and authorization scope.".into(),
    )
}

fn name_of(kind: &str) -> Param {
    path_param("name", format!("name of the {kind}"))
}

fn list_params() -> Vec<Param> {
    vec![
        query("allowWatchBookmarks", "boolean", "Ask for BOOKMARK watch events, which carry only the latest resourceVersion. The server may not send them, at any interval; ignored when not watching."),
        query("continue", "string", "Token from the metadata.continue field of a previous paginated list response, asking for the next page. The other query parameters must be the same as in that request. A token that has expired is answered with 410 Gone."),
        query("fieldSelector", "string", "Return only the objects whose fields match this selector (e.g. metadata.name=foo). Default: every object."),
        query("labelSelector", "string", "Return only the objects whose labels match this selector. Default: every object."),
        query("limit", "integer", "Return at most this many items; when more remain, metadata.continue of the response holds the token for the next page. The server may return fewer items than the limit even when more remain."),
        query("resourceVersion", "string", "Which resource version the response may be served from; resourceVersionMatch tells how it is compared. Default: the most recent."),
        query("resourceVersionMatch", "string", "How resourceVersion applies to a list: Exact or NotOlderThan. Only valid together with resourceVersion."),
        query("sendInitialEvents", "boolean", "With watch=true, start the stream with ADDED events for the current state of the collection, then a BOOKMARK event annotated \"k8s.io/initial-events-end\": \"true\". Requires resourceVersionMatch=NotOlderThan."),
        query("timeoutSeconds", "integer", "End the list or watch call after this many seconds, whatever the activity."),
        query("watch", "boolean", "Stream changes (added, modified, deleted) to the selected objects instead of listing them, starting after resourceVersion."),
    ]
}

fn dry_run() -> Param {
    query("dryRun", "string", "When present, the request is processed through every stage but nothing is persisted. The only valid value is All; any other is an error.")
}

fn field_manager(patch: bool) -> Param {
    query(
        "fieldManager",
        "string",
        if patch {
            "Name of the actor making the change: at most 128 printable characters. Required for apply patches (application/apply-patch+yaml), optional for the other patch types."
        } else {
            "Name of the actor making the change: at most 128 printable characters."
        },
    )
}

fn field_validation() -> Param {
    query("fieldValidation", "string", "What the server does with unknown or duplicate fields in the request body. Ignore: drop them silently, keeping the last of duplicates. Warn (the default): drop them and add a warning header for each. Strict: reject the request with 400 BadRequest listing every unknown and duplicate field.")
}

fn write_params() -> Vec<Param> {
    vec![dry_run(), field_manager(false), field_validation()]
}

fn patch_params() -> Vec<Param> {
    vec![
        dry_run(),
        field_manager(true),
        field_validation(),
        query("force", "boolean", "Take over fields that other field managers own (apply patches only). Must be unset for the other patch types."),
    ]
}

fn delete_params() -> Vec<Param> {
    vec![
        dry_run(),
        query("gracePeriodSeconds", "integer", "Seconds to wait before the object is deleted: a non-negative integer, 0 meaning at once. Unset: the default of the kind."),
        query("ignoreStoreReadErrorWithClusterBreakingPotential", "boolean", "Delete an object that can no longer be read from storage (e.g. undecodable), skipping finalizers and admission. Can break workloads that rely on them; needs its own authorization."),
        query("orphanDependents", "boolean", "Deprecated, use propagationPolicy. true adds the \"orphan\" finalizer, false removes it. Not to be set together with propagationPolicy."),
        query("propagationPolicy", "string", "What the garbage collector does with dependents: Orphan leaves them, Background deletes them after the owner, Foreground deletes them before the owner. Default: per the object's finalizers and the kind."),
    ]
}

fn delete_collection_params() -> Vec<Param> {
    let mut params = delete_params();
    params.extend(
        list_params()
            .into_iter()
            .filter(|p| !matches!(p.name, "watch" | "allowWatchBookmarks")),
    );
    params
}

/// Schema of a request or response body.
#[derive(Clone)]
enum Body {
    Named(String),
    Text,
}

impl Body {
    fn render(&self, format: Format) -> Value {
        match self {
            Body::Named(name) => format.schema_ref(name),
            Body::Text => json!({ "type": "string" }),
        }
    }
}

struct Op {
    method: &'static str,
    id: String,
    description: String,
    action: &'static str,
    gvk: Option<Value>,
    params: Vec<Param>,
    request: Option<(Body, &'static [&'static str], bool)>,
    response: Body,
    codes: &'static [(&'static str, &'static str)],
    produces: &'static [&'static str],
}

const OK: &[(&str, &str)] = &[("200", "OK")];
const CREATED: &[(&str, &str)] = &[("200", "OK"), ("201", "Created"), ("202", "Accepted")];
const REPLACED: &[(&str, &str)] = &[("200", "OK"), ("201", "Created")];
const DELETED: &[(&str, &str)] = &[("200", "OK"), ("202", "Accepted")];

pub(super) struct PathItem {
    pub(super) path: String,
    params: Vec<Param>,
    ops: Vec<Op>,
}

impl PathItem {
    pub(super) fn render(&self, format: Format, tag: &str) -> Value {
        let mut item = Map::new();
        for op in &self.ops {
            item.insert(op.method.into(), render_op(op, format, tag));
        }
        if !self.params.is_empty() {
            item.insert("parameters".into(), render_params(&self.params, format));
        }
        Value::Object(item)
    }
}

fn render_params(params: &[Param], format: Format) -> Value {
    let mut sorted: Vec<&Param> = params.iter().collect();
    sorted.sort_by_key(|p| p.name);
    Value::Array(
        sorted
            .into_iter()
            .map(|p| {
                let location = if p.location == In::Path {
                    "path"
                } else {
                    "query"
                };
                let mut v = Map::new();
                v.insert("description".into(), p.description.clone().into());
                v.insert("in".into(), location.into());
                v.insert("name".into(), p.name.into());
                if p.location == In::Path {
                    v.insert("required".into(), true.into());
                }
                match format {
                    Format::V3 => {
                        v.insert(
                            "schema".into(),
                            json!({ "type": p.ty, "uniqueItems": true }),
                        );
                    }
                    Format::V2 => {
                        v.insert("type".into(), p.ty.into());
                        v.insert("uniqueItems".into(), true.into());
                    }
                }
                Value::Object(v)
            })
            .collect(),
    )
}

fn render_op(op: &Op, format: Format, tag: &str) -> Value {
    let mut v = Map::new();
    v.insert("description".into(), op.description.clone().into());
    if format == Format::V2 {
        let consumes = op.request.as_ref().map_or(CONSUMES_ANY, |(_, c, _)| *c);
        v.insert("consumes".into(), json!(consumes));
        v.insert("produces".into(), json!(op.produces));
        v.insert("schemes".into(), json!(["https"]));
    }
    v.insert("operationId".into(), op.id.clone().into());
    let mut params = render_params(&op.params, format);
    match (format, &op.request) {
        (Format::V2, Some((body, _, required))) => {
            if let Value::Array(list) = &mut params {
                list.insert(
                    0,
                    json!({
                        "in": "body",
                        "name": "body",
                        "required": required,
                        "schema": body.render(format),
                    }),
                );
            }
        }
        (Format::V3, Some((body, content_types, required))) => {
            let mut content = Map::new();
            for ct in content_types.iter() {
                content.insert((*ct).into(), json!({ "schema": body.render(format) }));
            }
            let mut request = Map::new();
            request.insert("content".into(), Value::Object(content));
            if *required {
                request.insert("required".into(), true.into());
            }
            v.insert("requestBody".into(), Value::Object(request));
        }
        _ => {}
    }
    if params.as_array().is_some_and(|p| !p.is_empty()) {
        v.insert("parameters".into(), params);
    }
    let mut responses = Map::new();
    for (code, description) in op.codes {
        let response = match format {
            Format::V2 => {
                json!({ "description": description, "schema": op.response.render(format) })
            }
            Format::V3 => {
                let mut content = Map::new();
                for ct in op.produces {
                    content.insert(
                        (*ct).into(),
                        json!({ "schema": op.response.render(format) }),
                    );
                }
                json!({ "description": description, "content": content })
            }
        };
        responses.insert((*code).into(), response);
    }
    responses.insert("401".into(), json!({ "description": "Unauthorized" }));
    v.insert("responses".into(), Value::Object(responses));
    v.insert("tags".into(), json!([tag]));
    v.insert("x-kubernetes-action".into(), op.action.into());
    if let Some(gvk) = &op.gvk {
        v.insert("x-kubernetes-group-version-kind".into(), gvk.clone());
    }
    Value::Object(v)
}

/// `apps` -> `Apps`, `rbac.authorization.k8s.io` -> `RbacAuthorization`,
/// core -> `Core`: the group as it appears in operation ids.
fn group_camel(group: &str) -> String {
    if group.is_empty() {
        return "Core".into();
    }
    let short = group.strip_suffix(".k8s.io").unwrap_or(group);
    short.split(['.', '-']).map(capitalize).collect()
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Tag of a group version, as kube-apiserver names it (`core_v1`,
/// `apps_v1`, `rbacAuthorization_v1`).
pub(super) fn tag(group: &str, version: &str) -> String {
    if group.is_empty() {
        return format!("core_{version}");
    }
    let short = group.strip_suffix(".k8s.io").unwrap_or(group);
    let mut parts = short.split(['.', '-']);
    let mut name = parts.next().unwrap_or_default().to_string();
    for p in parts {
        name.push_str(&capitalize(p));
    }
    format!("{name}_{version}")
}

/// `/api/v1` or `/apis/<group>/<version>`.
pub(super) fn gv_base(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("/api/{version}")
    } else {
        format!("/apis/{group}/{version}")
    }
}

/// `GET /api/v1/`: the resources of the group version.
pub(super) fn gv_root(group: &str, version: &str, c: &mut Components) -> PathItem {
    let schema = c.meta::<meta::APIResourceList>();
    debug_assert_eq!(schema, API_RESOURCE_LIST);
    PathItem {
        path: format!("{}/", gv_base(group, version)),
        params: vec![],
        ops: vec![Op {
            method: "get",
            id: format!(
                "get{}{}APIResources",
                group_camel(group),
                capitalize(version)
            ),
            description: "get available resources".into(),
            action: "get",
            gvk: None,
            params: vec![],
            request: None,
            response: Body::Named(schema),
            codes: OK,
            produces: PRODUCES,
        }],
    }
}

/// Every path of one resource, its subresources included.
/// Drops the operations of verbs the resource does not serve, and the
/// paths left without any.
fn keep_served_verbs(items: &mut Vec<PathItem>, verbs: &[&str]) {
    for item in items.iter_mut() {
        item.ops.retain(|op| {
            let verb = match op.action {
                "post" => "create",
                "put" => "update",
                "watchlist" => "watch",
                other => other,
            };
            verbs.contains(&verb)
        });
    }
    items.retain(|item| !item.ops.is_empty());
}

pub(super) fn resource_paths(r: &ResourceInfo, c: &mut Components) -> Vec<PathItem> {
    let gvk = Gvk {
        group: r.group,
        version: r.version,
        kind: r.kind,
    };
    let kind = r.kind;
    let object = c.kind(gvk);
    let list = c.list(gvk);
    let status = c.meta::<meta::Status>();
    let delete_options = c.meta::<meta::DeleteOptions>();
    let patch = c.meta::<meta::Patch>();
    let watch_event = c.meta::<meta::WatchEvent<()>>();
    debug_assert_eq!(
        (status.as_str(), delete_options.as_str()),
        (STATUS, DELETE_OPTIONS)
    );
    debug_assert_eq!((patch.as_str(), watch_event.as_str()), (PATCH, WATCH_EVENT));

    let g = group_camel(r.group);
    let v = capitalize(r.version);
    let ns = if r.namespaced { "Namespaced" } else { "" };
    let base = gv_base(r.group, r.version);
    let scope = if r.namespaced {
        "/namespaces/{namespace}"
    } else {
        ""
    };
    let collection = format!("{base}{scope}/{}", r.plural);
    let item = format!("{collection}/{{name}}");
    let scope_params = || -> Vec<Param> {
        if r.namespaced {
            vec![namespace()]
        } else {
            vec![]
        }
    };
    let op = |method,
              id: String,
              description: String,
              action,
              params,
              request,
              response: &str,
              codes,
              produces| Op {
        method,
        id,
        description,
        action,
        gvk: Some(gvk.to_value()),
        params,
        request,
        response: Body::Named(response.to_string()),
        codes,
        produces,
    };
    let patch_body = || Some((Body::Named(patch.clone()), CONSUMES_PATCH, true));
    let object_body = || Some((Body::Named(object.clone()), CONSUMES_ANY, true));
    let delete_body = || Some((Body::Named(delete_options.clone()), CONSUMES_ANY, false));

    let mut out = Vec::new();
    out.push(PathItem {
        path: collection.clone(),
        params: [scope_params(), vec![pretty()]].concat(),
        ops: vec![
            op(
                "get",
                format!("list{g}{v}{ns}{kind}"),
                format!("list or watch objects of kind {kind}"),
                "list",
                list_params(),
                None,
                &list,
                OK,
                PRODUCES_STREAM,
            ),
            op(
                "post",
                format!("create{g}{v}{ns}{kind}"),
                format!("create a {kind}"),
                "post",
                write_params(),
                object_body(),
                &object,
                CREATED,
                PRODUCES,
            ),
            op(
                "delete",
                format!("delete{g}{v}Collection{ns}{kind}"),
                format!("delete collection of {kind}"),
                "deletecollection",
                delete_collection_params(),
                delete_body(),
                &status,
                OK,
                PRODUCES,
            ),
        ],
    });
    out.push(PathItem {
        path: item.clone(),
        params: [vec![name_of(kind)], scope_params(), vec![pretty()]].concat(),
        ops: vec![
            op(
                "get",
                format!("read{g}{v}{ns}{kind}"),
                format!("read the specified {kind}"),
                "get",
                vec![],
                None,
                &object,
                OK,
                PRODUCES,
            ),
            op(
                "put",
                format!("replace{g}{v}{ns}{kind}"),
                format!("replace the specified {kind}"),
                "put",
                write_params(),
                object_body(),
                &object,
                REPLACED,
                PRODUCES,
            ),
            op(
                "patch",
                format!("patch{g}{v}{ns}{kind}"),
                format!("partially update the specified {kind}"),
                "patch",
                patch_params(),
                patch_body(),
                &object,
                REPLACED,
                PRODUCES,
            ),
            op(
                "delete",
                format!("delete{g}{v}{ns}{kind}"),
                format!("delete a {kind}"),
                "delete",
                delete_params(),
                delete_body(),
                &status,
                DELETED,
                PRODUCES,
            ),
        ],
    });
    if r.namespaced {
        out.push(PathItem {
            path: format!("{base}/{}", r.plural),
            params: [list_params(), vec![pretty()]].concat(),
            ops: vec![op(
                "get",
                format!("list{g}{v}{kind}ForAllNamespaces"),
                format!("list or watch objects of kind {kind}"),
                "list",
                vec![],
                None,
                &list,
                OK,
                PRODUCES_STREAM,
            )],
        });
    }
    let deprecated = "deprecated: use the 'watch' parameter with a list operation instead";
    out.push(PathItem {
        path: format!("{base}/watch{scope}/{}", r.plural),
        params: [list_params(), scope_params(), vec![pretty()]].concat(),
        ops: vec![op(
            "get",
            format!("watch{g}{v}{ns}{kind}List"),
            format!("watch individual changes to a list of {kind}. {deprecated}."),
            "watchlist",
            vec![],
            None,
            &watch_event,
            OK,
            PRODUCES_STREAM,
        )],
    });
    let watch_one = format!(
        "watch changes to an object of kind {kind}. {deprecated}, \
         filtered to a single item with the 'fieldSelector' parameter."
    );
    out.push(PathItem {
        path: format!("{base}/watch{scope}/{}/{{name}}", r.plural),
        params: [
            list_params(),
            vec![name_of(kind)],
            scope_params(),
            vec![pretty()],
        ]
        .concat(),
        ops: vec![op(
            "get",
            format!("watch{g}{v}{ns}{kind}"),
            watch_one,
            "watch",
            vec![],
            None,
            &watch_event,
            OK,
            PRODUCES_STREAM,
        )],
    });
    if r.namespaced {
        out.push(PathItem {
            path: format!("{base}/watch/{}", r.plural),
            params: [list_params(), vec![pretty()]].concat(),
            ops: vec![op(
                "get",
                format!("watch{g}{v}{kind}ListForAllNamespaces"),
                format!("watch individual changes to a list of {kind}. {deprecated}."),
                "watchlist",
                vec![],
                None,
                &watch_event,
                OK,
                PRODUCES_STREAM,
            )],
        });
    }

    keep_served_verbs(&mut out, r.verbs);
    for sub in r.subresources {
        let path = format!("{item}/{sub}");
        let item_params = || [vec![name_of(kind)], scope_params(), vec![pretty()]].concat();
        match *sub {
            // Subresources that read and write the object itself.
            "status" | "ephemeralcontainers" | "resize" => {
                let suffix = match *sub {
                    "status" => "Status",
                    "ephemeralcontainers" => "EphemeralContainers",
                    _ => "Resize",
                };
                let what = format!("{sub} of the specified {kind}");
                out.push(PathItem {
                    path,
                    params: item_params(),
                    ops: vec![
                        op(
                            "get",
                            format!("read{g}{v}{ns}{kind}{suffix}"),
                            format!("read {what}"),
                            "get",
                            vec![],
                            None,
                            &object,
                            OK,
                            PRODUCES,
                        ),
                        op(
                            "put",
                            format!("replace{g}{v}{ns}{kind}{suffix}"),
                            format!("replace {what}"),
                            "put",
                            write_params(),
                            object_body(),
                            &object,
                            REPLACED,
                            PRODUCES,
                        ),
                        op(
                            "patch",
                            format!("patch{g}{v}{ns}{kind}{suffix}"),
                            format!("partially update {what}"),
                            "patch",
                            patch_params(),
                            patch_body(),
                            &object,
                            REPLACED,
                            PRODUCES,
                        ),
                    ],
                });
            }
            "scale" => {
                let scale_gvk = Gvk {
                    group: "autoscaling",
                    version: "v1",
                    kind: "Scale",
                };
                let scale = c.kind(scale_gvk);
                let what = format!("scale of the specified {kind}");
                let with = |mut o: Op| {
                    o.gvk = Some(scale_gvk.to_value());
                    o
                };
                out.push(PathItem {
                    path,
                    params: item_params(),
                    ops: vec![
                        with(op(
                            "get",
                            format!("read{g}{v}{ns}{kind}Scale"),
                            format!("read {what}"),
                            "get",
                            vec![],
                            None,
                            &scale,
                            OK,
                            PRODUCES,
                        )),
                        with(op(
                            "put",
                            format!("replace{g}{v}{ns}{kind}Scale"),
                            format!("replace {what}"),
                            "put",
                            write_params(),
                            Some((Body::Named(scale.clone()), CONSUMES_ANY, true)),
                            &scale,
                            REPLACED,
                            PRODUCES,
                        )),
                        with(op(
                            "patch",
                            format!("patch{g}{v}{ns}{kind}Scale"),
                            format!("partially update {what}"),
                            "patch",
                            patch_params(),
                            patch_body(),
                            &scale,
                            REPLACED,
                            PRODUCES,
                        )),
                    ],
                });
            }
            "finalize" => {
                out.push(PathItem {
                    path,
                    params: item_params(),
                    ops: vec![op(
                        "put",
                        format!("replace{g}{v}{ns}{kind}Finalize"),
                        format!("replace finalize of the specified {kind}"),
                        "put",
                        write_params(),
                        object_body(),
                        &object,
                        REPLACED,
                        PRODUCES,
                    )],
                });
            }
            // Subresources that create an object of another kind.
            "binding" | "eviction" | "token" => {
                let (sub_gvk, suffix) = match *sub {
                    "binding" => (
                        Gvk {
                            group: "",
                            version: "v1",
                            kind: "Binding",
                        },
                        "Binding",
                    ),
                    "eviction" => (
                        Gvk {
                            group: "policy",
                            version: "v1",
                            kind: "Eviction",
                        },
                        "Eviction",
                    ),
                    _ => (
                        Gvk {
                            group: "authentication.k8s.io",
                            version: "v1",
                            kind: "TokenRequest",
                        },
                        "Token",
                    ),
                };
                let schema = c.kind(sub_gvk);
                let mut create = op(
                    "post",
                    format!("create{g}{v}{ns}{kind}{suffix}"),
                    format!("create {} of a {kind}", sub_gvk.kind),
                    "post",
                    write_params(),
                    Some((Body::Named(schema.clone()), CONSUMES_ANY, true)),
                    &schema,
                    CREATED,
                    PRODUCES,
                );
                create.gvk = Some(sub_gvk.to_value());
                out.push(PathItem {
                    path,
                    params: [vec![name_of(sub_gvk.kind)], scope_params(), vec![pretty()]].concat(),
                    ops: vec![create],
                });
            }
            "log" => {
                let mut read = op(
                    "get",
                    format!("read{g}{v}{ns}{kind}Log"),
                    format!("read log of the specified {kind}"),
                    "get",
                    log_params(),
                    None,
                    &object,
                    OK,
                    PRODUCES_LOG,
                );
                read.response = Body::Text;
                out.push(PathItem {
                    path,
                    params: item_params(),
                    ops: vec![read],
                });
            }
            "exec" | "attach" | "portforward" => {
                let (options, suffix, params) = match *sub {
                    "exec" => (format!("{kind}ExecOptions"), "Exec", stream_params(true)),
                    "attach" => (
                        format!("{kind}AttachOptions"),
                        "Attach",
                        stream_params(false),
                    ),
                    _ => (
                        format!("{kind}PortForwardOptions"),
                        "Portforward",
                        vec![query(
                            "ports",
                            "integer",
                            "Ports to forward; required for WebSocket streams.",
                        )],
                    ),
                };
                let connect = json!({ "group": r.group, "kind": options, "version": r.version });
                let ops = ["get", "post"]
                    .into_iter()
                    .map(|method| {
                        connect_op(
                            method,
                            format!("connect{g}{v}{}{ns}{kind}{suffix}", capitalize(method)),
                            format!(
                                "connect {} requests to {sub} of {kind}",
                                method.to_uppercase()
                            ),
                            connect.clone(),
                            params.clone(),
                        )
                    })
                    .collect();
                out.push(PathItem {
                    path,
                    params: [vec![name_of(&options)], scope_params()].concat(),
                    ops,
                });
            }
            "proxy" => {
                let options = format!("{kind}ProxyOptions");
                let connect = json!({ "group": r.group, "kind": options, "version": r.version });
                for with_path in [false, true] {
                    let suffix = if with_path { "ProxyWithPath" } else { "Proxy" };
                    let ops = PROXY_METHODS
                        .iter()
                        .map(|method| {
                            let params = if with_path {
                                vec![]
                            } else {
                                vec![query("path", "string", "Path of the URL to proxy to.")]
                            };
                            connect_op(
                                method,
                                format!("connect{g}{v}{}{ns}{kind}{suffix}", capitalize(method)),
                                format!(
                                    "connect {} requests to proxy of {kind}",
                                    method.to_uppercase()
                                ),
                                connect.clone(),
                                params,
                            )
                        })
                        .collect();
                    let mut params = [vec![name_of(&options)], scope_params()].concat();
                    let path = if with_path {
                        params.push(path_param(
                            "path",
                            "Path to send to the proxied target.".into(),
                        ));
                        format!("{item}/proxy/{{path}}")
                    } else {
                        format!("{item}/proxy")
                    };
                    out.push(PathItem { path, params, ops });
                }
            }
            _ => {}
        }
    }
    out
}

const PROXY_METHODS: &[&str] = &["delete", "get", "head", "options", "patch", "post", "put"];

fn connect_op(
    method: &'static str,
    id: String,
    description: String,
    gvk: Value,
    params: Vec<Param>,
) -> Op {
    Op {
        method,
        id,
        description,
        action: "connect",
        gvk: Some(gvk),
        params,
        request: None,
        response: Body::Text,
        codes: OK,
        produces: PRODUCES_ANY,
    }
}

fn stream_params(exec: bool) -> Vec<Param> {
    let mut params = vec![
        query(
            "container",
            "string",
            "Container to connect to; defaults to the only container of the pod.",
        ),
        query(
            "stderr",
            "boolean",
            "Redirect the standard error stream of the container.",
        ),
        query(
            "stdin",
            "boolean",
            "Redirect the standard input stream of the container.",
        ),
        query(
            "stdout",
            "boolean",
            "Redirect the standard output stream of the container.",
        ),
        query(
            "tty",
            "boolean",
            "Allocate a terminal; stderr is then merged into stdout.",
        ),
    ];
    if exec {
        params.push(query(
            "command",
            "string",
            "Command to run, one argument per parameter; not run in a shell.",
        ));
    }
    params
}

fn log_params() -> Vec<Param> {
    vec![
        query(
            "container",
            "string",
            "Container whose log to read; defaults to the only container of the pod.",
        ),
        query(
            "follow",
            "boolean",
            "Keep the stream open and send new log lines as they are written.",
        ),
        query(
            "insecureSkipTLSVerifyBackend",
            "boolean",
            "Do not verify the serving certificate of the node agent the log is read from.",
        ),
        query(
            "limitBytes",
            "integer",
            "Stop after this many bytes of log; the last line may be incomplete.",
        ),
        query(
            "previous",
            "boolean",
            "Read the log of the previous, terminated instance of the container.",
        ),
        query(
            "sinceSeconds",
            "integer",
            "Only lines newer than this many seconds; not with sinceTime.",
        ),
        query(
            "stream",
            "string",
            "Which stream: All (the default), Stdout or Stderr. Not together with tailLines.",
        ),
        query("tailLines", "integer", "Only the last N lines of the log."),
        query(
            "timestamps",
            "boolean",
            "Prefix every line with its RFC3339 timestamp.",
        ),
    ]
}
