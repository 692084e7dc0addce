use super::{OpenApi, ResourceInfo};
use serde_json::Value;

const fn res(
    group: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
    subresources: &'static [&'static str],
) -> ResourceInfo {
    ResourceInfo {
        group,
        version: "v1",
        kind,
        plural,
        namespaced,
        subresources,
        verbs: crate::registry::STORED_VERBS,
    }
}

const SERVED: &[ResourceInfo] = &[
    res(
        "",
        "Namespace",
        "namespaces",
        false,
        &["status", "finalize"],
    ),
    res(
        "",
        "Pod",
        "pods",
        true,
        &[
            "status",
            "binding",
            "log",
            "exec",
            "attach",
            "portforward",
            "proxy",
            "eviction",
        ],
    ),
    res("", "Service", "services", true, &["status", "proxy"]),
    res("", "Endpoints", "endpoints", true, &[]),
    res("", "Node", "nodes", false, &["status", "proxy"]),
    res("", "Event", "events", true, &[]),
    res("", "ConfigMap", "configmaps", true, &[]),
    res("", "Secret", "secrets", true, &[]),
    res("", "ServiceAccount", "serviceaccounts", true, &["token"]),
    res(
        "discovery.k8s.io",
        "EndpointSlice",
        "endpointslices",
        true,
        &[],
    ),
    res("coordination.k8s.io", "Lease", "leases", true, &[]),
    res(
        "apps",
        "Deployment",
        "deployments",
        true,
        &["status", "scale"],
    ),
    res(
        "apps",
        "ReplicaSet",
        "replicasets",
        true,
        &["status", "scale"],
    ),
    res("events.k8s.io", "Event", "events", true, &[]),
];

fn parse(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("document is JSON")
}

fn gv_path(r: &ResourceInfo) -> String {
    if r.group.is_empty() {
        format!("api/{}", r.version)
    } else {
        format!("apis/{}/{}", r.group, r.version)
    }
}

fn gvk(r: &ResourceInfo) -> Value {
    serde_json::json!({ "group": r.group, "kind": r.kind, "version": r.version })
}

/// Follows `$ref` (directly or through a one-element `allOf`) within `doc`.
fn resolve<'a>(doc: &'a Value, schema: &'a Value, prefix: &str) -> &'a Value {
    let target = schema
        .get("$ref")
        .or_else(|| schema.pointer("/allOf/0/$ref"))
        .and_then(Value::as_str);
    match target {
        Some(r) => {
            let pointer = r.strip_prefix('#').expect("local reference");
            let resolved = doc
                .pointer(pointer)
                .unwrap_or_else(|| panic!("{r} does not resolve (prefix {prefix})"));
            resolve(doc, resolved, prefix)
        }
        None => schema,
    }
}

#[test]
fn service_schema_describes_spec_ports_and_carries_its_gvk() {
    let api = OpenApi::build(SERVED);
    let index = parse(api.v3_index());
    let url = index["paths"]["api/v1"]["serverRelativeURL"]
        .as_str()
        .expect("api/v1 in the index");
    assert!(url.starts_with("/openapi/v3/api/v1?hash="), "{url}");
    assert!(index["paths"]["apis/apps/v1"]["serverRelativeURL"].is_string());

    let doc = parse(api.v3_document("api/v1").expect("api/v1 document"));
    assert_eq!(doc["openapi"], "3.0.0");
    let schemas = &doc["components"]["schemas"];
    let service = &schemas["io.k8s.api.core.v1.Service"];
    assert!(service["description"]
        .as_str()
        .is_some_and(|d| !d.is_empty()));
    assert_eq!(
        service["x-kubernetes-group-version-kind"],
        serde_json::json!([{ "group": "", "kind": "Service", "version": "v1" }])
    );
    // `metadata` is optional on the wire, whatever Rust's type says.
    assert!(service
        .get("required")
        .is_none_or(|r| !r.as_array().unwrap().contains(&"metadata".into())));

    let spec = resolve(
        &doc,
        &service["properties"]["spec"],
        "#/components/schemas/",
    );
    let ports = &spec["properties"]["ports"];
    assert!(
        ports["description"]
            .as_str()
            .is_some_and(|d| d.contains("port")),
        "{ports}"
    );
    assert_eq!(ports["type"], "array");
    let port = resolve(&doc, &ports["items"], "#/components/schemas/");
    assert!(port["properties"]["port"]["description"].is_string());
    assert!(port["required"]
        .as_array()
        .unwrap()
        .contains(&"port".into()));
    assert!(port["properties"]["targetPort"]["description"].is_string());

    let list = &schemas["io.k8s.api.core.v1.ServiceList"];
    assert_eq!(
        list["x-kubernetes-group-version-kind"][0]["kind"],
        "ServiceList"
    );

    // The same in Swagger 2.0.
    let v2 = parse(api.v2());
    assert_eq!(v2["swagger"], "2.0");
    let service = &v2["definitions"]["io.k8s.api.core.v1.Service"];
    assert_eq!(
        service["x-kubernetes-group-version-kind"][0]["kind"],
        "Service"
    );
    let spec = resolve(&v2, &service["properties"]["spec"], "#/definitions/");
    assert!(spec["properties"]["ports"]["description"].is_string());
}

/// kubectl's check for server-side field validation: in the document of the
/// object's group version, the (any) PATCH operation tagged with its GVK must
/// list `fieldValidation` among the operation's own parameters.
#[test]
fn every_patch_of_a_kind_offers_field_validation() {
    let api = OpenApi::build(SERVED);
    let v2 = parse(api.v2());
    for r in SERVED {
        let doc = parse(api.v3_document(&gv_path(r)).unwrap());
        for (label, doc) in [("v3", &doc), ("v2", &v2)] {
            let mut found = 0;
            for (path, item) in doc["paths"].as_object().unwrap() {
                let Some(patch) = item.get("patch") else {
                    continue;
                };
                if patch["x-kubernetes-group-version-kind"] != gvk(r) {
                    continue;
                }
                found += 1;
                let params = patch["parameters"].as_array().unwrap();
                for wanted in ["fieldValidation", "dryRun", "fieldManager", "force"] {
                    assert!(
                        params
                            .iter()
                            .any(|p| p["name"] == wanted && p["in"] == "query"),
                        "{label} {path}: no {wanted}"
                    );
                }
            }
            assert!(found > 0, "{label}: no PATCH for {}", r.kind);
        }
    }
}

/// `kubectl explain` finds the GVK on an operation of the resource's paths,
/// then the component schema whose GVK list holds it.
#[test]
fn explain_finds_every_kind() {
    let api = OpenApi::build(SERVED);
    for r in SERVED {
        let doc = parse(api.v3_document(&gv_path(r)).unwrap());
        let prefix = if r.group.is_empty() {
            "/api".to_string()
        } else {
            format!("/apis/{}", r.group)
        };
        let candidates = [
            format!("{prefix}/{}/{}", r.version, r.plural),
            format!(
                "{prefix}/{}/namespaces/{{namespace}}/{}",
                r.version, r.plural
            ),
        ];
        let found = candidates.iter().find_map(|p| {
            doc["paths"]
                .get(p)?
                .get("get")?
                .get("x-kubernetes-group-version-kind")
        });
        assert_eq!(found, Some(&gvk(r)), "{}", r.kind);
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        let holders: Vec<_> = schemas
            .values()
            .filter(|s| {
                s["x-kubernetes-group-version-kind"]
                    .as_array()
                    .is_some_and(|l| l.contains(&gvk(r)))
            })
            .collect();
        assert_eq!(holders.len(), 1, "{}", r.kind);
        assert!(holders[0]["properties"]["metadata"].is_object());
    }
}

fn walk(v: &Value, doc: &Value, prefix: &str, where_: &str) {
    match v {
        Value::Object(o) => {
            if let Some(Value::String(r)) = o.get("$ref") {
                assert!(r.starts_with(prefix), "{where_}: {r}");
                assert!(
                    doc.pointer(&r[1..]).is_some(),
                    "{where_}: {r} does not resolve"
                );
            }
            assert!(
                !o.contains_key("nullable") || prefix.contains("components"),
                "{where_}: nullable in v2"
            );
            assert!(
                !o.contains_key("$defs") && !o.contains_key("$schema"),
                "{where_}"
            );
            for (k, child) in o {
                if k == "properties" {
                    // Property names are not schema keywords.
                    for (name, prop) in child.as_object().unwrap() {
                        walk(prop, doc, prefix, &format!("{where_}.{name}"));
                    }
                    continue;
                }
                if k == "type" && !where_.contains("x-kubernetes") {
                    assert!(child.is_string(), "{where_}: type {child}");
                }
                walk(child, doc, prefix, &format!("{where_}/{k}"));
            }
        }
        Value::Array(a) => a.iter().for_each(|c| walk(c, doc, prefix, where_)),
        _ => {}
    }
}

#[test]
fn references_resolve_and_types_are_plain() {
    let api = OpenApi::build(SERVED);
    let index = parse(api.v3_index());
    for (gv, entry) in index["paths"].as_object().unwrap() {
        let url = entry["serverRelativeURL"].as_str().unwrap();
        let hash = url.split("?hash=").nth(1).unwrap();
        assert_eq!(api.v3_hash(gv), Some(hash));
        let doc = parse(api.v3_document(&format!("/{gv}/")).unwrap());
        walk(&doc, &doc, "#/components/schemas/", gv);
    }
    let v2 = parse(api.v2());
    walk(&v2, &v2, "#/definitions/", "v2");
    assert!(api.v3_document("apis/apps/v2").is_none());
    assert!(api.v3_document("apis/batch/v1").is_none());
}

#[test]
fn builds_from_the_registry() {
    let api = OpenApi::build(crate::registry::catalog().all());
    assert!(api.v3_document("api/v1").is_some());
}
