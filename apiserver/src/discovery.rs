//! API discovery: legacy (`/api`, `/apis`, per group-version resource lists)
//! and aggregated (`apidiscovery.k8s.io/v2`) documents, derived from the catalog.

use crate::registry::{catalog, ResourceDef};
use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use http::{header, HeaderMap, StatusCode};
use serde_json::{json, Value};

const AGGREGATED: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";
const AGGREGATED_BETA: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList";

pub const VERSION_MAJOR: &str = "1";
pub const VERSION_MINOR: &str = "37";

pub async fn version() -> Response {
    json_response(json!({
        "major": VERSION_MAJOR,
        "minor": VERSION_MINOR,
        "emulationMajor": VERSION_MAJOR,
        "emulationMinor": VERSION_MINOR,
        "gitVersion": format!("v{VERSION_MAJOR}.{VERSION_MINOR}.0+mkube-{}", env!("CARGO_PKG_VERSION")),
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "",
        "goVersion": "",
        "compiler": "rustc",
        "platform": format!("{}/{}", std::env::consts::OS, go_arch()),
    }))
}

fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

fn json_response(v: Value) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_vec(&v).unwrap_or_default(),
    )
        .into_response()
}

/// Which aggregated discovery version (if any) the client accepts.
fn wants_aggregated(headers: &HeaderMap) -> Option<&'static str> {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    for entry in accept.split(',') {
        let e: String = entry.chars().filter(|c| !c.is_whitespace()).collect();
        if e.starts_with("application/json")
            && e.contains("as=APIGroupDiscoveryList")
            && e.contains("g=apidiscovery.k8s.io")
        {
            if e.contains("v=v2beta1") {
                return Some(AGGREGATED_BETA);
            }
            if e.contains("v=v2") {
                return Some(AGGREGATED);
            }
        }
        if e.starts_with("application/json") && !e.contains("as=") {
            return None;
        }
    }
    None
}

pub async fn core_root(headers: HeaderMap) -> Response {
    if let Some(ct) = wants_aggregated(&headers) {
        return aggregated(&[""], ct);
    }
    json_response(json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": ""}],
    }))
}

pub async fn groups_root(headers: HeaderMap) -> Response {
    let groups: Vec<&str> = group_names();
    if let Some(ct) = wants_aggregated(&headers) {
        return aggregated(&groups, ct);
    }
    let items: Vec<Value> = groups.iter().map(|g| api_group(g)).collect();
    json_response(json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": items}))
}

/// The named groups, in discovery order.
fn group_names() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for (g, _) in catalog().group_versions() {
        if !g.is_empty() && !out.contains(&g) {
            out.push(g);
        }
    }
    out
}

/// An APIGroup: its versions, the preferred one first.
fn api_group(group: &str) -> Value {
    let versions: Vec<Value> = catalog()
        .versions_of(group)
        .into_iter()
        .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
        .collect();
    let preferred = versions.first().cloned().unwrap_or(Value::Null);
    json!({"name": group, "versions": versions, "preferredVersion": preferred})
}

pub async fn group(Path(group): Path<String>) -> Response {
    if !group_names().contains(&group.as_str()) {
        return crate::rest::status::ApiError::not_found_path().into_response();
    }
    let mut g = api_group(&group);
    g["kind"] = json!("APIGroup");
    g["apiVersion"] = json!("v1");
    json_response(g)
}

pub async fn core_v1() -> Response {
    resource_list("", "v1")
}

pub async fn group_version(Path((group, version)): Path<(String, String)>) -> Response {
    resource_list(&group, &version)
}

fn resources_of(group: &str, version: &str) -> Vec<&'static ResourceDef> {
    catalog()
        .all()
        .iter()
        .filter(|d| d.group == group && d.version == version)
        .collect()
}

fn resource_list(group: &str, version: &str) -> Response {
    let defs = resources_of(group, version);
    if defs.is_empty() {
        return crate::rest::status::ApiError::not_found_path().into_response();
    }
    let mut resources = Vec::new();
    for d in defs {
        let mut r = json!({
            "name": d.plural,
            "singularName": d.singular,
            "namespaced": d.namespaced,
            "kind": d.kind,
            "verbs": d.verbs(),
        });
        if !d.short_names.is_empty() {
            r["shortNames"] = json!(d.short_names);
        }
        if !d.categories.is_empty() {
            r["categories"] = json!(d.categories);
        }
        resources.push(r);
        for sub in d.subresources {
            let (kind, verbs) = subresource_shape(d, sub);
            let mut r = json!({
                "name": format!("{}/{}", d.plural, sub),
                "singularName": "",
                "namespaced": d.namespaced,
                "kind": kind,
                "verbs": verbs,
            });
            // A subresource whose kind lives in another group names it, as
            // kube-apiserver does (`kubectl drain` looks for policy/v1
            // Eviction here before it evicts rather than deletes).
            if let Some(g) = subresource_group(kind) {
                r["group"] = json!(g);
                r["version"] = json!("v1");
            }
            resources.push(r);
        }
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    json_response(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": gv,
        "resources": resources,
    }))
}

/// The group of a subresource kind served from another group's resource.
fn subresource_group(kind: &str) -> Option<&'static str> {
    match kind {
        "Scale" => Some("autoscaling"),
        "Eviction" => Some("policy"),
        "TokenRequest" => Some("authentication.k8s.io"),
        _ => None,
    }
}

fn subresource_shape(d: &ResourceDef, sub: &str) -> (&'static str, Vec<&'static str>) {
    match sub {
        "status" | "approval" | "ephemeralcontainers" | "resize" => {
            (d.kind, vec!["get", "patch", "update"])
        }
        "token" => ("TokenRequest", vec!["create"]),
        "scale" => ("Scale", vec!["get", "patch", "update"]),
        "finalize" => (d.kind, vec!["update"]),
        "binding" => ("Binding", vec!["create"]),
        "eviction" => ("Eviction", vec!["create"]),
        "log" => ("Pod", vec!["get"]),
        "exec" | "attach" => ("PodExecOptions", vec!["create", "get"]),
        "portforward" => ("PodPortForwardOptions", vec!["create", "get"]),
        "proxy" => (
            "ServiceProxyOptions",
            vec!["create", "delete", "get", "patch", "update"],
        ),
        _ => (d.kind, vec!["get"]),
    }
}

fn aggregated(groups: &[&str], content_type: &'static str) -> Response {
    let api_version = if content_type == AGGREGATED {
        "apidiscovery.k8s.io/v2"
    } else {
        "apidiscovery.k8s.io/v2beta1"
    };
    let items: Vec<Value> = groups
        .iter()
        .map(|g| {
            let versions: Vec<Value> = catalog()
                .versions_of(g)
                .into_iter()
                .map(|v| {
                    let resources: Vec<Value> = resources_of(g, v)
                        .into_iter()
                        .map(aggregated_resource)
                        .collect();
                    json!({"version": v, "resources": resources, "freshness": "Current"})
                })
                .collect();
            json!({
                "metadata": {"name": g, "creationTimestamp": null},
                "versions": versions,
            })
        })
        .collect();
    let body = json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": api_version,
        "metadata": {},
        "items": items,
    });
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, content_type)],
        serde_json::to_vec(&body).unwrap_or_default(),
    )
        .into_response()
}

fn aggregated_resource(d: &ResourceDef) -> Value {
    let subresources: Vec<Value> = d
        .subresources
        .iter()
        .map(|sub| {
            let (kind, verbs) = subresource_shape(d, sub);
            let (group, version) = match subresource_group(kind) {
                Some(g) => (g, "v1"),
                None => (d.group, d.version),
            };
            json!({"subresource": sub, "responseKind": {"group": group, "version": version, "kind": kind}, "verbs": verbs})
        })
        .collect();
    let mut r = json!({
        "resource": d.plural,
        "responseKind": {"group": d.group, "version": d.version, "kind": d.kind},
        "scope": if d.namespaced { "Namespaced" } else { "Cluster" },
        "singularResource": d.singular,
        "verbs": d.verbs(),
    });
    if !d.short_names.is_empty() {
        r["shortNames"] = json!(d.short_names);
    }
    if !d.categories.is_empty() {
        r["categories"] = json!(d.categories);
    }
    if !subresources.is_empty() {
        r["subresources"] = json!(subresources);
    }
    r
}
