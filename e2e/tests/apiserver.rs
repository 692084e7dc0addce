//! End-to-end tests of the API server with the real kubectl (v1.37).
//!
//! Every expected string is what kubectl v1.37 prints against a real
//! kube-apiserver: client-side text from kubectl's source (pkg/cmd/...,
//! pkg/describe, pkg/cmd/util/helpers.go), server messages from
//! k8s.io/apiserver and k8s.io/apimachinery (validation, conflicts, field
//! selectors, strict decoding).
//!
//! Each test starts its own cluster (start-up is well under a second) and
//! groups related assertions, to keep the suite short on 2 cores.

use e2e::{describe_field, eventually, text, Cluster, Table};
use std::time::Duration;

const WATCH_TIMEOUT: Duration = Duration::from_secs(20);

const WEB_SVC: &str = r#"apiVersion: v1
kind: Service
metadata:
  name: web
  labels:
    app: web
spec:
  selector:
    app: web
  ports:
  - name: http
    port: 80
    targetPort: 8080
  - name: https
    port: 443
    targetPort: 8443
"#;

/// Lines of `out`, trimmed, without empty ones.
fn lines(out: &str) -> Vec<String> {
    out.lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

/// `kubectl get KIND NAME -o json`, parsed.
fn get_json(c: &Cluster, args: &[&str]) -> serde_json::Value {
    let mut a = vec!["get"];
    a.extend_from_slice(args);
    a.extend_from_slice(&["-o", "json"]);
    let out = c.kubectl_ok(&a);
    serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("kubectl {a:?} printed no JSON ({e}): {out}"))
}

fn resource_version(obj: &serde_json::Value) -> u64 {
    let rv = obj["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or_else(|| panic!("no metadata.resourceVersion in {obj}"));
    rv.parse()
        .unwrap_or_else(|_| panic!("resourceVersion {rv:?} is not a decimal revision"))
}

fn is_in_service_cidr(ip: &str) -> bool {
    // Default --service-cidr 127.96.0.0/16.
    match ip.parse::<std::net::Ipv4Addr>() {
        Ok(a) => a.octets()[0] == 127 && a.octets()[1] == 96,
        Err(_) => false,
    }
}

// ---------------------------------------------------------------------------
// Discovery and namespaces
// ---------------------------------------------------------------------------

#[test]
fn discovery_lists_resources_with_real_columns() {
    let c = Cluster::start();
    let out = c.kubectl_ok(["api-resources"]);
    let t = Table::parse(&out);
    assert_eq!(
        t.header,
        ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"],
        "{out}"
    );
    // (name, shortnames, apiVersion, namespaced, kind) as kube-apiserver serves them.
    let expected = [
        ("configmaps", "cm", "v1", "true", "ConfigMap"),
        ("endpoints", "ep", "v1", "true", "Endpoints"),
        ("events", "ev", "v1", "true", "Event"),
        ("namespaces", "ns", "v1", "false", "Namespace"),
        ("nodes", "no", "v1", "false", "Node"),
        ("pods", "po", "v1", "true", "Pod"),
        ("secrets", "", "v1", "true", "Secret"),
        ("serviceaccounts", "sa", "v1", "true", "ServiceAccount"),
        ("services", "svc", "v1", "true", "Service"),
        ("deployments", "deploy", "apps/v1", "true", "Deployment"),
        ("replicasets", "rs", "apps/v1", "true", "ReplicaSet"),
        ("leases", "", "coordination.k8s.io/v1", "true", "Lease"),
        (
            "endpointslices",
            "",
            "discovery.k8s.io/v1",
            "true",
            "EndpointSlice",
        ),
        ("events", "ev", "events.k8s.io/v1", "true", "Event"),
    ];
    for (name, short, api, namespaced, kind) in expected {
        let row = t
            .rows
            .iter()
            .find(|r| r[0] == name && r[2] == api)
            .unwrap_or_else(|| panic!("api-resources has no {name} in {api}:\n{out}"));
        assert_eq!(
            row,
            &[name, short, api, namespaced, kind],
            "api-resources row for {name} ({api}):\n{out}"
        );
    }

    let versions = lines(&c.kubectl_ok(["api-versions"]));
    for gv in [
        "v1",
        "apps/v1",
        "coordination.k8s.io/v1",
        "discovery.k8s.io/v1",
        "events.k8s.io/v1",
    ] {
        assert!(
            versions.iter().any(|v| v == gv),
            "api-versions lacks {gv}: {versions:?}"
        );
    }

    // Categories and namespaced filter, as `kubectl get all` relies on.
    let all = lines(&c.kubectl_ok(["api-resources", "--categories=all", "-o", "name"]));
    for r in ["pods", "services", "deployments.apps", "replicasets.apps"] {
        assert!(
            all.iter().any(|x| x == r),
            "category all lacks {r}: {all:?}"
        );
    }
    assert!(
        !all.iter().any(|x| x == "configmaps"),
        "configmaps is not in category all: {all:?}"
    );
    let cluster_scoped =
        lines(&c.kubectl_ok(["api-resources", "--namespaced=false", "-o", "name"]));
    assert!(
        cluster_scoped.iter().any(|x| x == "namespaces"),
        "{cluster_scoped:?}"
    );
    assert!(
        cluster_scoped.iter().any(|x| x == "nodes"),
        "{cluster_scoped:?}"
    );
    assert!(
        !cluster_scoped.iter().any(|x| x == "pods"),
        "{cluster_scoped:?}"
    );

    // Legacy discovery documents.
    let api: serde_json::Value =
        serde_json::from_str(&c.kubectl_ok(["get", "--raw", "/api"])).unwrap();
    assert_eq!(api["kind"], "APIVersions", "{api}");
    assert_eq!(api["versions"], serde_json::json!(["v1"]), "{api}");
    let v1: serde_json::Value =
        serde_json::from_str(&c.kubectl_ok(["get", "--raw", "/api/v1"])).unwrap();
    assert_eq!(v1["kind"], "APIResourceList", "{v1}");
    assert_eq!(v1["groupVersion"], "v1", "{v1}");
    let svc = v1["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "services")
        .unwrap_or_else(|| panic!("no services in /api/v1: {v1}"));
    assert_eq!(svc["kind"], "Service");
    assert_eq!(svc["namespaced"], true);
    assert_eq!(svc["shortNames"], serde_json::json!(["svc"]));
    let groups: serde_json::Value =
        serde_json::from_str(&c.kubectl_ok(["get", "--raw", "/apis"])).unwrap();
    assert_eq!(groups["kind"], "APIGroupList", "{groups}");
    let names: Vec<&str> = groups["groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|g| g["name"].as_str())
        .collect();
    for g in [
        "apps",
        "coordination.k8s.io",
        "discovery.k8s.io",
        "events.k8s.io",
    ] {
        assert!(names.contains(&g), "/apis lacks group {g}: {names:?}");
    }
}

#[test]
fn default_namespaces_exist_and_are_active() {
    let c = Cluster::start();
    let out = c.kubectl_ok(["get", "ns"]);
    let t = Table::parse(&out);
    assert_eq!(t.header, ["NAME", "STATUS", "AGE"], "{out}");
    for ns in ["default", "kube-node-lease", "kube-public", "kube-system"] {
        let row = t.row("NAME", ns);
        assert_eq!(t.cell(row, "STATUS"), "Active", "{out}");
    }
    // The apiserver labels every namespace with its name.
    let out = c.kubectl_ok(["get", "ns", "kube-system", "--show-labels"]);
    let t = Table::parse(&out);
    assert_eq!(t.header, ["NAME", "STATUS", "AGE", "LABELS"], "{out}");
    assert_eq!(
        t.cell(t.row("NAME", "kube-system"), "LABELS"),
        "kubernetes.io/metadata.name=kube-system",
        "{out}"
    );
    assert_eq!(
        c.kubectl_ok(["get", "ns", "default", "-o", "jsonpath={.status.phase}"]),
        "Active"
    );

    // Create, list, get a namespace; cluster-scoped objects have no namespace.
    assert_eq!(
        c.kubectl_ok(["create", "namespace", "team-a"]),
        "namespace/team-a created\n"
    );
    let ns = get_json(&c, &["ns", "team-a"]);
    assert_eq!(ns["status"]["phase"], "Active", "{ns}");
    assert!(ns["metadata"].get("namespace").is_none(), "{ns}");
    assert_eq!(
        ns["metadata"]["labels"]["kubernetes.io/metadata.name"], "team-a",
        "{ns}"
    );
    assert_eq!(
        c.kubectl_err(["get", "ns", "nope"]).trim(),
        r#"Error from server (NotFound): namespaces "nope" not found"#
    );

    // A namespace being deleted takes no new content (NamespaceLifecycle
    // admission); a finalizer on a ConfigMap holds team-a in Terminating.
    c.kubectl_stdin_ok(["apply", "-f", "-"], HELD_CONFIGMAP);
    c.kubectl_ok(["delete", "ns", "team-a", "--wait=false"]);
    eventually(WATCH_TIMEOUT, "team-a to be Terminating", || {
        let phase = c.kubectl_ok(["get", "ns", "team-a", "-o", "jsonpath={.status.phase}"]);
        (phase == "Terminating").then_some(())
    });
    let err = c.kubectl_err(["create", "configmap", "late", "-n", "team-a"]);
    assert!(
        err.contains(r#"configmaps "late" is forbidden: unable to create new content in namespace team-a because it is being terminated"#),
        "{err}"
    );
    c.kubectl_ok([
        "patch",
        "configmap",
        "held",
        "-n",
        "team-a",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ]);
    eventually(WATCH_TIMEOUT, "team-a to be gone", || {
        let out = c.kubectl(["get", "ns", "team-a"]);
        text(&out.stderr).contains("NotFound").then_some(())
    });
    // Created again, it takes content at once.
    c.kubectl_ok(["create", "namespace", "team-a"]);
    assert_eq!(
        c.kubectl_ok(["create", "configmap", "late", "-n", "team-a"]),
        "configmap/late created\n"
    );
}

const HELD_CONFIGMAP: &str = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: held
  namespace: team-a
  finalizers:
  - example.com/hold
"#;

// ---------------------------------------------------------------------------
// Auth, health, raw HTTP errors
// ---------------------------------------------------------------------------

#[test]
fn health_endpoints_are_public_and_the_api_needs_a_token() {
    assert!(
        e2e::curl_available(),
        "these tests need curl (apt-get install -y curl)"
    );
    let c = Cluster::start();
    for path in ["/readyz", "/healthz", "/livez"] {
        let r = c.curl("GET", path, None, None);
        assert_eq!(
            (r.status, r.body.as_str()),
            (200, "ok"),
            "GET {path} without a token"
        );
    }
    let r = c.curl("GET", "/version", None, None);
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["major"], "1", "{v}");
    assert!(
        v["gitVersion"]
            .as_str()
            .is_some_and(|s| s.starts_with("v1.")),
        "{v}"
    );

    // No token, a wrong token: 401 with a Status body.
    for token in [None, Some("not-the-token")] {
        let r = c.curl("GET", "/api/v1/namespaces", token, None);
        assert_eq!(r.status, 401, "token {token:?}: {}", r.body);
        let s = r.json();
        assert_eq!(s["kind"], "Status", "{s}");
        assert_eq!(s["apiVersion"], "v1", "{s}");
        assert_eq!(s["status"], "Failure", "{s}");
        assert_eq!(s["message"], "Unauthorized", "{s}");
        assert_eq!(s["reason"], "Unauthorized", "{s}");
        assert_eq!(s["code"], 401, "{s}");
    }
    let r = c.curl_auth("GET", "/api/v1/namespaces", None);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["kind"], "NamespaceList");

    // kubectl with a wrong token.
    let err = c.kubectl_err(["--token=not-the-token", "get", "ns"]);
    assert!(
        err.contains("error: You must be logged in to the server ("),
        "kubectl with a bad token:\n{err}"
    );
}

#[test]
fn malformed_and_unknown_fields_are_bad_requests() {
    let c = Cluster::start();
    let token = c.token();
    // Truncated JSON.
    let r = c.curl(
        "POST",
        "/api/v1/namespaces/default/configmaps",
        Some(&token),
        Some((
            "application/json",
            r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"#,
        )),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    let s = r.json();
    assert_eq!(s["kind"], "Status", "{s}");
    assert_eq!(s["status"], "Failure", "{s}");
    assert_eq!(s["reason"], "BadRequest", "{s}");
    assert_eq!(s["code"], 400, "{s}");
    assert!(s["message"].as_str().is_some_and(|m| !m.is_empty()), "{s}");
    // Not JSON at all.
    let r = c.curl(
        "POST",
        "/api/v1/namespaces/default/configmaps",
        Some(&token),
        Some(("application/json", "this is not json")),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json()["kind"], "Status");
    // Nothing was created.
    assert_eq!(
        c.kubectl_ok(["get", "cm", "-l", "e2e=malformed", "-o", "name"]),
        ""
    );

    // kubectl validates strictly on the server by default.
    let err = c.kubectl_stdin_err(
        ["create", "-f", "-"],
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: strict\ndata:\n  a: b\nspec:\n  bogus: 1\n",
    );
    assert_eq!(
        err.trim(),
        r#"Error from server (BadRequest): error when creating "STDIN": ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "spec""#
    );
    c.kubectl_err(["get", "cm", "strict"]);
}

#[test]
fn invalid_objects_get_the_real_invalid_message() {
    let c = Cluster::start();
    let err = c.kubectl_stdin_err(
        ["create", "-f", "-"],
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Bad_Name\ndata:\n  a: b\n",
    );
    assert_eq!(
        err.trim(),
        r#"The ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"#
    );

    let err = c.kubectl_stdin_err(
        ["create", "-f", "-"],
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: badlabel\n  labels:\n    env: \"-nope-\"\n",
    );
    assert_eq!(
        err.trim(),
        r#"The ConfigMap "badlabel" is invalid: metadata.labels: Invalid value: "-nope-": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"#
    );

    // A namespace that does not exist.
    let err = c.kubectl_stdin_err(
        ["create", "-n", "ghost", "-f", "-"],
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
    );
    assert_eq!(
        err.trim(),
        r#"Error from server (NotFound): error when creating "STDIN": namespaces "ghost" not found"#
    );
    assert_eq!(
        c.kubectl_ok([
            "get",
            "cm",
            "-A",
            "--field-selector",
            "metadata.name=Bad_Name",
            "-o",
            "name"
        ]),
        ""
    );
}

// ---------------------------------------------------------------------------
// Services
// ---------------------------------------------------------------------------

#[test]
fn services_create_get_describe_delete() {
    let c = Cluster::start();
    assert_eq!(
        c.kubectl_stdin_ok(["create", "-f", "-"], WEB_SVC),
        "service/web created\n"
    );

    let out = c.kubectl_ok(["get", "svc", "web"]);
    let t = Table::parse(&out);
    assert_eq!(
        t.header,
        [
            "NAME",
            "TYPE",
            "CLUSTER-IP",
            "EXTERNAL-IP",
            "PORT(S)",
            "AGE"
        ],
        "{out}"
    );
    let row = t.row("NAME", "web");
    assert_eq!(t.cell(row, "TYPE"), "ClusterIP", "{out}");
    let ip = t.cell(row, "CLUSTER-IP").to_string();
    assert!(
        is_in_service_cidr(&ip),
        "CLUSTER-IP {ip} not in 127.96.0.0/16:\n{out}"
    );
    assert_eq!(t.cell(row, "EXTERNAL-IP"), "<none>", "{out}");
    assert_eq!(t.cell(row, "PORT(S)"), "80/TCP,443/TCP", "{out}");

    let out = c.kubectl_ok(["get", "svc", "web", "-o", "wide"]);
    let t = Table::parse(&out);
    assert_eq!(
        t.header,
        [
            "NAME",
            "TYPE",
            "CLUSTER-IP",
            "EXTERNAL-IP",
            "PORT(S)",
            "AGE",
            "SELECTOR"
        ],
        "{out}"
    );
    assert_eq!(t.cell(t.row("NAME", "web"), "SELECTOR"), "app=web", "{out}");

    // Defaults the apiserver fills in.
    let svc = get_json(&c, &["svc", "web"]);
    assert_eq!(svc["spec"]["type"], "ClusterIP", "{svc}");
    assert_eq!(svc["spec"]["sessionAffinity"], "None", "{svc}");
    assert_eq!(svc["spec"]["ipFamilyPolicy"], "SingleStack", "{svc}");
    assert_eq!(
        svc["spec"]["ipFamilies"],
        serde_json::json!(["IPv4"]),
        "{svc}"
    );
    assert_eq!(svc["spec"]["internalTrafficPolicy"], "Cluster", "{svc}");
    assert_eq!(svc["spec"]["clusterIP"], ip.as_str(), "{svc}");
    assert_eq!(svc["spec"]["clusterIPs"], serde_json::json!([ip]), "{svc}");
    assert_eq!(svc["spec"]["ports"][0]["protocol"], "TCP", "{svc}");
    assert_eq!(svc["spec"]["ports"][1]["targetPort"], 8443, "{svc}");

    let out = c.kubectl_ok(["describe", "svc", "web"]);
    for (k, v) in [
        ("Name", "web"),
        ("Namespace", "default"),
        ("Labels", "app=web"),
        ("Annotations", "<none>"),
        ("Selector", "app=web"),
        ("Type", "ClusterIP"),
        ("IP Family Policy", "SingleStack"),
        ("IP Families", "IPv4"),
        ("IP", ip.as_str()),
        ("IPs", ip.as_str()),
        ("Port", "http 80/TCP"),
        ("TargetPort", "8080/TCP"),
        ("Session Affinity", "None"),
        ("Internal Traffic Policy", "Cluster"),
    ] {
        assert_eq!(
            describe_field(&out, k).as_deref(),
            Some(v),
            "describe svc web, {k}:\n{out}"
        );
    }
    let ports: Vec<&str> = out.lines().filter(|l| l.starts_with("Port:")).collect();
    assert_eq!(ports.len(), 2, "{out}");
    assert!(
        ports[1]
            .split_whitespace()
            .eq(["Port:", "https", "443/TCP"]),
        "{out}"
    );

    // Errors for missing and duplicate objects.
    assert_eq!(
        c.kubectl_err(["get", "svc", "nope"]).trim(),
        r#"Error from server (NotFound): services "nope" not found"#
    );
    assert_eq!(
        c.kubectl_err(["delete", "svc", "nope"]).trim(),
        r#"Error from server (NotFound): services "nope" not found"#
    );
    assert_eq!(
        c.kubectl_stdin_err(["create", "-f", "-"], WEB_SVC).trim(),
        r#"Error from server (AlreadyExists): error when creating "STDIN": services "web" already exists"#
    );

    // A second service gets a different ClusterIP; list shows both.
    c.kubectl_stdin_ok(
        ["create", "-f", "-"],
        &WEB_SVC.replace("name: web\n  labels", "name: api\n  labels"),
    );
    let out = c.kubectl_ok(["get", "svc", "-l", "app=web"]);
    let t = Table::parse(&out);
    assert_eq!(t.column("NAME"), ["api", "web"], "{out}");
    let ips = t.column("CLUSTER-IP");
    assert_ne!(ips[0], ips[1], "{out}");
    assert!(is_in_service_cidr(&ips[0]), "{out}");

    assert_eq!(
        c.kubectl_ok(["delete", "svc", "web"]),
        "service \"web\" deleted from default namespace\n"
    );
    assert_eq!(
        c.kubectl_err(["get", "svc", "web"]).trim(),
        r#"Error from server (NotFound): services "web" not found"#
    );
    assert_eq!(
        c.kubectl_ok(["get", "svc", "-l", "app=web", "-o", "name"]),
        "service/api\n"
    );
}

#[test]
fn apply_client_side_creates_updates_and_prunes_fields() {
    let c = Cluster::start();
    assert_eq!(c.apply(WEB_SVC), "service/web created\n");
    assert_eq!(c.apply(WEB_SVC), "service/web unchanged\n");
    let svc = get_json(&c, &["svc", "web"]);
    let last = svc["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
        .as_str()
        .unwrap_or_else(|| panic!("no last-applied-configuration annotation: {svc}"));
    let last: serde_json::Value = serde_json::from_str(last).unwrap();
    assert_eq!(last["metadata"]["name"], "web");
    let ip = svc["spec"]["clusterIP"].as_str().unwrap().to_string();

    // Drop the https port, change a label: the 3-way strategic merge patch
    // deletes the port (merge key "port") and keeps the allocated ClusterIP.
    let v2 = r#"apiVersion: v1
kind: Service
metadata:
  name: web
  labels:
    app: web
    tier: front
spec:
  selector:
    app: web
  ports:
  - name: http
    port: 80
    targetPort: 8081
"#;
    assert_eq!(c.apply(v2), "service/web configured\n");
    let svc = get_json(&c, &["svc", "web"]);
    let ports = svc["spec"]["ports"].as_array().unwrap();
    assert_eq!(ports.len(), 1, "{svc}");
    assert_eq!(ports[0]["port"], 80);
    assert_eq!(ports[0]["targetPort"], 8081);
    assert_eq!(svc["metadata"]["labels"]["tier"], "front");
    assert_eq!(
        svc["spec"]["clusterIP"],
        ip.as_str(),
        "ClusterIP must survive apply"
    );
    assert_eq!(
        c.kubectl_ok(["get", "svc", "web", "-o", "jsonpath={.spec.ports[*].port}"]),
        "80"
    );

    // ConfigMap: removing a key from the manifest removes it from the object.
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  a: \"1\"\n  b: \"2\"\n";
    assert_eq!(c.apply(cm), "configmap/settings created\n");
    assert_eq!(
        c.apply(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  a: \"1\"\n"
        ),
        "configmap/settings configured\n"
    );
    let got = get_json(&c, &["cm", "settings"]);
    assert_eq!(got["data"], serde_json::json!({"a": "1"}), "{got}");

    // --dry-run=server changes nothing.
    assert_eq!(
        c.kubectl_stdin_ok(["apply", "--dry-run=server", "-f", "-"], cm),
        "configmap/settings configured (server dry run)\n"
    );
    assert_eq!(
        get_json(&c, &["cm", "settings"])["data"],
        serde_json::json!({"a": "1"})
    );
}

#[test]
fn server_side_apply_owns_fields_and_reports_conflicts() {
    let c = Cluster::start();
    let v1 = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  color: blue\n  size: L\n";
    assert_eq!(
        c.kubectl_stdin_ok(["apply", "--server-side", "-f", "-"], v1),
        "configmap/ssa serverside-applied\n"
    );
    // Same manager, changed value: no conflict.
    let v2 = v1.replace("size: L", "size: XL");
    assert_eq!(
        c.kubectl_stdin_ok(["apply", "--server-side", "-f", "-"], &v2),
        "configmap/ssa serverside-applied\n"
    );
    // Another manager changing a field owned by "kubectl": conflict.
    let other = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  color: red\n";
    let err = c.kubectl_stdin_err(
        ["apply", "--server-side", "--field-manager=other", "-f", "-"],
        other,
    );
    assert!(
        err.starts_with(
            "error: Apply failed with 1 conflict: conflict with \"kubectl\": .data.color\n\
             Please review the fields above--they currently have other managers. Here\n\
             are the ways you can resolve this warning:\n"
        ),
        "kubectl apply --server-side conflict:\n{err}"
    );
    assert!(err.contains("--force-conflicts"), "{err}");
    assert_eq!(
        c.kubectl_ok(["get", "cm", "ssa", "-o", "jsonpath={.data.color}"]),
        "blue"
    );

    // --force-conflicts takes the field over.
    assert_eq!(
        c.kubectl_stdin_ok(
            [
                "apply",
                "--server-side",
                "--field-manager=other",
                "--force-conflicts",
                "-f",
                "-"
            ],
            other,
        ),
        "configmap/ssa serverside-applied\n"
    );
    let cm = get_json(&c, &["cm", "ssa", "--show-managed-fields"]);
    assert_eq!(
        cm["data"],
        serde_json::json!({"color": "red", "size": "XL"}),
        "{cm}"
    );
    let managed = cm["metadata"]["managedFields"]
        .as_array()
        .expect("managedFields");
    let entry = |m: &str| {
        managed
            .iter()
            .find(|e| e["manager"] == m)
            .unwrap_or_else(|| panic!("no managedFields entry of {m}: {cm}"))
    };
    assert_eq!(entry("other")["operation"], "Apply");
    assert_eq!(entry("other")["fieldsType"], "FieldsV1");
    assert!(
        entry("other")["fieldsV1"]["f:data"]
            .get("f:color")
            .is_some(),
        "{cm}"
    );
    assert!(
        entry("kubectl")["fieldsV1"]["f:data"]
            .get("f:color")
            .is_none(),
        "{cm}"
    );
    assert!(
        entry("kubectl")["fieldsV1"]["f:data"]
            .get("f:size")
            .is_some(),
        "{cm}"
    );

    // A field the applier stops specifying is removed if nobody else owns it.
    let v3 = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata: {}\n";
    c.kubectl_stdin_ok(["apply", "--server-side", "-f", "-"], v3);
    assert_eq!(
        get_json(&c, &["cm", "ssa"])["data"],
        serde_json::json!({"color": "red"})
    );

    // Conflict with an Update manager (kubectl create) names its API version.
    c.kubectl_ok(["create", "configmap", "made", "--from-literal=color=blue"]);
    let err = c.kubectl_stdin_err(
        ["apply", "--server-side", "-f", "-"],
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: made\ndata:\n  color: green\n",
    );
    assert!(
        err.starts_with(
            "error: Apply failed with 1 conflict: conflict with \"kubectl-create\" using v1: .data.color\n"
        ),
        "{err}"
    );

    // Server-side apply creates a service too, and re-applying is a no-op.
    assert_eq!(
        c.kubectl_stdin_ok(["apply", "--server-side", "-f", "-"], WEB_SVC),
        "service/web serverside-applied\n"
    );
    let rv = resource_version(&get_json(&c, &["svc", "web"]));
    c.kubectl_stdin_ok(["apply", "--server-side", "-f", "-"], WEB_SVC);
    assert_eq!(
        resource_version(&get_json(&c, &["svc", "web"])),
        rv,
        "a no-op server-side apply must not write"
    );
}

#[test]
fn patch_json_merge_and_strategic() {
    let c = Cluster::start();
    c.kubectl_stdin_ok(["create", "-f", "-"], WEB_SVC);

    // Strategic merge patch of one port (merge key "port") keeps the other.
    assert_eq!(
        c.kubectl_ok([
            "patch",
            "svc",
            "web",
            "-p",
            r#"{"spec":{"ports":[{"port":443,"targetPort":9443}]}}"#
        ]),
        "service/web patched\n"
    );
    let svc = get_json(&c, &["svc", "web"]);
    let ports = svc["spec"]["ports"].as_array().unwrap();
    assert_eq!(ports.len(), 2, "{svc}");
    assert_eq!(ports[0]["name"], "http");
    assert_eq!(ports[0]["targetPort"], 8080);
    assert_eq!(ports[1]["name"], "https");
    assert_eq!(ports[1]["targetPort"], 9443);

    // JSON patch.
    assert_eq!(
        c.kubectl_ok([
            "patch",
            "svc",
            "web",
            "--type=json",
            "-p",
            r#"[{"op":"replace","path":"/spec/ports/0/targetPort","value":8081},{"op":"add","path":"/metadata/labels/tier","value":"front"}]"#
        ]),
        "service/web patched\n"
    );
    let svc = get_json(&c, &["svc", "web"]);
    assert_eq!(svc["spec"]["ports"][0]["targetPort"], 8081);
    assert_eq!(svc["metadata"]["labels"]["tier"], "front");

    // Merge patch on a configmap: add, change, delete keys; a no-op patch
    // leaves the object alone and kubectl says so.
    c.kubectl_ok([
        "create",
        "configmap",
        "x",
        "--from-literal=color=blue",
        "--from-literal=size=L",
    ]);
    assert_eq!(
        c.kubectl_ok([
            "patch",
            "cm",
            "x",
            "--type=merge",
            "-p",
            r#"{"data":{"color":"red","size":null,"shape":"round"}}"#
        ]),
        "configmap/x patched\n"
    );
    assert_eq!(
        get_json(&c, &["cm", "x"])["data"],
        serde_json::json!({"color": "red", "shape": "round"})
    );
    let rv = resource_version(&get_json(&c, &["cm", "x"]));
    assert_eq!(
        c.kubectl_ok([
            "patch",
            "cm",
            "x",
            "--type=merge",
            "-p",
            r#"{"data":{"color":"red"}}"#
        ]),
        "configmap/x patched (no change)\n"
    );
    assert_eq!(resource_version(&get_json(&c, &["cm", "x"])), rv);

    // Strategic patch of one container (merge key "name") keeps the other.
    c.kubectl_stdin_ok(["create", "-f", "-"], &pod_manifest("p"));
    assert_eq!(
        c.kubectl_ok([
            "patch",
            "pod",
            "p",
            "-p",
            r#"{"spec":{"containers":[{"name":"side","image":"registry.invalid/e2e/side:2"}]}}"#
        ]),
        "pod/p patched\n"
    );
    assert_eq!(
        c.kubectl_ok([
            "get",
            "pod",
            "p",
            "-o",
            "jsonpath={.spec.containers[*].image}"
        ]),
        "registry.invalid/e2e/main:1 registry.invalid/e2e/side:2"
    );

    // Patching a missing object.
    assert_eq!(
        c.kubectl_err(["patch", "svc", "nope", "-p", "{}"]).trim(),
        r#"Error from server (NotFound): services "nope" not found"#
    );
}

#[test]
fn label_and_annotate() {
    let c = Cluster::start();
    c.kubectl_stdin_ok(["create", "-f", "-"], WEB_SVC);
    assert_eq!(
        c.kubectl_ok(["label", "svc", "web", "env=prod"]),
        "service/web labeled\n"
    );
    assert_eq!(
        c.kubectl_err(["label", "svc", "web", "env=dev"]).trim(),
        "error: 'env' already has a value (prod), and --overwrite is false"
    );
    assert_eq!(
        c.kubectl_ok(["label", "svc", "web", "env=dev", "--overwrite"]),
        "service/web labeled\n"
    );
    let out = c.kubectl_ok(["get", "svc", "web", "--show-labels"]);
    let t = Table::parse(&out);
    assert_eq!(t.header.last().map(String::as_str), Some("LABELS"), "{out}");
    assert_eq!(
        t.cell(t.row("NAME", "web"), "LABELS"),
        "app=web,env=dev",
        "{out}"
    );
    assert_eq!(
        c.kubectl_ok(["label", "svc", "web", "env-"]),
        "service/web unlabeled\n"
    );
    assert_eq!(
        c.kubectl_ok(["get", "svc", "web", "-o", "jsonpath={.metadata.labels}"]),
        r#"{"app":"web"}"#
    );
    assert_eq!(
        c.kubectl_ok(["annotate", "svc", "web", "owner=team-a"]),
        "service/web annotated\n"
    );
    assert_eq!(
        c.kubectl_ok([
            "get",
            "svc",
            "web",
            "-o",
            "jsonpath={.metadata.annotations.owner}"
        ]),
        "team-a"
    );

    // Labels on pods, endpoints and configmaps too.
    c.kubectl_stdin_ok(["create", "-f", "-"], &pod_manifest("p"));
    assert_eq!(
        c.kubectl_ok(["label", "pod", "p", "tier=front"]),
        "pod/p labeled\n"
    );
    c.kubectl_ok(["create", "configmap", "x", "--from-literal=a=b"]);
    assert_eq!(
        c.kubectl_ok(["label", "cm", "x", "tier=front"]),
        "configmap/x labeled\n"
    );
    assert_eq!(
        c.kubectl_ok(["get", "pod,cm", "-l", "tier=front", "-o", "name"]),
        "pod/p\nconfigmap/x\n"
    );
}

// ---------------------------------------------------------------------------
// Output formats
// ---------------------------------------------------------------------------

#[test]
fn output_formats() {
    let c = Cluster::start();
    assert_eq!(
        c.kubectl_ok(["create", "configmap", "x", "--from-literal=color=blue"]),
        "configmap/x created\n"
    );

    let yaml = c.kubectl_ok(["get", "cm", "x", "-o", "yaml"]);
    assert!(
        yaml.starts_with("apiVersion: v1\ndata:\n  color: blue\nkind: ConfigMap\nmetadata:\n  creationTimestamp: \""),
        "-o yaml:\n{yaml}"
    );
    for line in [
        "  name: x\n",
        "  namespace: default\n",
        "  resourceVersion: \"",
        "  uid: ",
    ] {
        assert!(yaml.contains(line), "-o yaml lacks {line:?}:\n{yaml}");
    }
    assert!(
        !yaml.contains("managedFields"),
        "managed fields are hidden by default:\n{yaml}"
    );

    let json = c.kubectl_ok(["get", "cm", "x", "-o", "json"]);
    assert!(
        json.starts_with("{\n    \"apiVersion\": \"v1\",\n"),
        "-o json:\n{json}"
    );
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["kind"], "ConfigMap");
    assert_eq!(v["data"]["color"], "blue");
    let uid = v["metadata"]["uid"].as_str().unwrap();
    assert_eq!(uid.len(), 36, "uid {uid}");
    let ts = v["metadata"]["creationTimestamp"].as_str().unwrap();
    assert!(
        ts.len() == 20 && ts.ends_with('Z') && &ts[10..11] == "T",
        "creationTimestamp {ts}"
    );
    resource_version(&v);

    let list: serde_json::Value = serde_json::from_str(&c.kubectl_ok([
        "get",
        "cm",
        "-l",
        "e2e!=none",
        "--field-selector",
        "metadata.name=x",
        "-o",
        "json",
    ]))
    .unwrap();
    assert_eq!(list["kind"], "List");
    assert_eq!(list["apiVersion"], "v1");
    assert_eq!(list["items"][0]["metadata"]["name"], "x");

    assert_eq!(
        c.kubectl_ok(["get", "cm", "x", "-o", "jsonpath={.data.color}"]),
        "blue"
    );
    assert_eq!(
        c.kubectl_ok(["get", "cm", "x", "-o", "name"]),
        "configmap/x\n"
    );
    assert_eq!(
        c.kubectl_ok([
            "get",
            "cm",
            "x",
            "-o",
            "go-template={{.metadata.name}}:{{.data.color}}"
        ]),
        "x:blue"
    );

    let out = c.kubectl_ok([
        "get",
        "cm",
        "x",
        "-o",
        "custom-columns=NAME:.metadata.name,COLOR:.data.color,NS:.metadata.namespace",
    ]);
    assert_eq!(
        lines(&out),
        ["NAME   COLOR   NS", "x      blue    default"],
        "{out}"
    );

    let out = c.kubectl_ok(["get", "cm", "x"]);
    let t = Table::parse(&out);
    assert_eq!(t.header, ["NAME", "DATA", "AGE"], "{out}");
    assert_eq!(t.cell(t.row("NAME", "x"), "DATA"), "1", "{out}");
    let age = t.cell(t.row("NAME", "x"), "AGE");
    assert!(
        age.ends_with('s') && age[..age.len() - 1].parse::<u32>().is_ok(),
        "AGE {age}:\n{out}"
    );

    c.kubectl_ok(["label", "cm", "x", "b=2", "a=1"]);
    let out = c.kubectl_ok(["get", "cm", "x", "--show-labels"]);
    let t = Table::parse(&out);
    assert_eq!(t.header, ["NAME", "DATA", "AGE", "LABELS"], "{out}");
    assert_eq!(t.cell(t.row("NAME", "x"), "LABELS"), "a=1,b=2", "{out}");
    let out = c.kubectl_ok(["get", "cm", "x", "-L", "a"]);
    let t = Table::parse(&out);
    assert_eq!(t.header, ["NAME", "DATA", "AGE", "A"], "{out}");
    assert_eq!(t.cell(t.row("NAME", "x"), "A"), "1", "{out}");

    // No headers, and the empty list message on stderr.
    let out = c.kubectl_ok(["get", "cm", "x", "--no-headers"]);
    assert!(out.starts_with("x "), "{out}");
    let o = c.kubectl(["get", "svc", "-l", "app=none"]);
    assert!(o.status.success());
    assert_eq!(text(&o.stdout), "");
    assert_eq!(
        text(&o.stderr),
        "No resources found in default namespace.\n"
    );

    // Server-side Table through the raw API.
    let r = c.curl_args(
        "GET",
        "/api/v1/namespaces/default/configmaps/x",
        Some(&c.token()),
        None,
        &["-H", "Accept: application/json;as=Table;v=v1;g=meta.k8s.io"],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let table = r.json();
    assert_eq!(table["kind"], "Table", "{table}");
    assert_eq!(table["apiVersion"], "meta.k8s.io/v1", "{table}");
    let cols: Vec<&str> = table["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(cols, ["Name", "Data", "Age"], "{table}");
    assert_eq!(table["rows"][0]["cells"][0], "x", "{table}");
    assert_eq!(table["rows"][0]["cells"][1], 1, "{table}");
}

// ---------------------------------------------------------------------------
// ConfigMaps, Secrets, Pods, Endpoints
// ---------------------------------------------------------------------------

#[test]
fn configmaps_and_secrets_crud() {
    let c = Cluster::start();
    assert_eq!(
        c.kubectl_ok(["create", "configmap", "x", "--from-literal=color=blue"]),
        "configmap/x created\n"
    );
    assert_eq!(
        c.kubectl_err(["create", "configmap", "x", "--from-literal=color=red"])
            .trim(),
        r#"error: failed to create configmap: configmaps "x" already exists"#
    );
    let out = c.kubectl_ok(["describe", "cm", "x"]);
    assert_eq!(
        out,
        "Name:         x\n\
         Namespace:    default\n\
         Labels:       <none>\n\
         Annotations:  <none>\n\
         \n\
         Data\n\
         ====\n\
         color:\n\
         ----\n\
         blue\n\
         \n\
         \n\
         BinaryData\n\
         ====\n\
         \n\
         Events:  <none>\n",
        "kubectl describe cm x"
    );

    // kubectl edit through an editor that rewrites the file.
    let mut edit = c.kubectl_cmd(["edit", "cm", "x"]);
    edit.env("KUBE_EDITOR", "sed -i -e s/color:\\ blue/color:\\ green/");
    let o = e2e::run_with_timeout(&mut edit, None, e2e::COMMAND_TIMEOUT);
    assert!(o.status.success(), "kubectl edit: {}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "configmap/x edited\n");
    assert_eq!(
        c.kubectl_ok(["get", "cm", "x", "-o", "jsonpath={.data.color}"]),
        "green"
    );

    // Replace without a resourceVersion is an unconditional update.
    assert_eq!(
        c.kubectl_stdin_ok(
            ["replace", "-f", "-"],
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  color: black\n"
        ),
        "configmap/x replaced\n"
    );
    assert_eq!(
        c.kubectl_ok(["get", "cm", "x", "-o", "jsonpath={.data.color}"]),
        "black"
    );

    // Secrets: stringData is folded into base64 data; type defaults to Opaque.
    assert_eq!(
        c.kubectl_ok([
            "create",
            "secret",
            "generic",
            "s",
            "--from-literal=user=admin"
        ]),
        "secret/s created\n"
    );
    assert_eq!(
        c.kubectl_ok(["get", "secret", "s", "-o", "jsonpath={.data.user}"]),
        "YWRtaW4="
    );
    let out = c.kubectl_ok(["get", "secret", "s"]);
    let t = Table::parse(&out);
    assert_eq!(t.header, ["NAME", "TYPE", "DATA", "AGE"], "{out}");
    let row = t.row("NAME", "s");
    assert_eq!(
        (t.cell(row, "TYPE"), t.cell(row, "DATA")),
        ("Opaque", "1"),
        "{out}"
    );
    c.kubectl_stdin_ok(
        ["apply", "-f", "-"],
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s2\nstringData:\n  token: abc\n",
    );
    let s2 = get_json(&c, &["secret", "s2"]);
    assert_eq!(s2["type"], "Opaque", "{s2}");
    assert_eq!(s2["data"], serde_json::json!({"token": "YWJj"}), "{s2}");
    assert!(s2.get("stringData").is_none(), "{s2}");

    assert_eq!(
        c.kubectl_ok(["delete", "cm", "x"]),
        "configmap \"x\" deleted from default namespace\n"
    );
    assert_eq!(
        c.kubectl_ok(["delete", "secret", "s", "s2"]),
        "secret \"s\" deleted from default namespace\nsecret \"s2\" deleted from default namespace\n"
    );
    assert_eq!(
        c.kubectl_err(["get", "cm", "x"]).trim(),
        r#"Error from server (NotFound): configmaps "x" not found"#
    );
}

fn pod_manifest(name: &str) -> String {
    // An unknown scheduler keeps the pod unscheduled (Pending), so deletion
    // is immediate and nothing tries to run it.
    format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: {name}
  labels:
    app: web
spec:
  schedulerName: e2e-unscheduled
  containers:
  - name: main
    image: registry.invalid/e2e/main:1
  - name: side
    image: registry.invalid/e2e/side:1
"#
    )
}

#[test]
fn pods_crud() {
    let c = Cluster::start();
    assert_eq!(
        c.kubectl_stdin_ok(["create", "-f", "-"], &pod_manifest("p")),
        "pod/p created\n"
    );
    let out = c.kubectl_ok(["get", "pods"]);
    let t = Table::parse(&out);
    assert_eq!(
        t.header,
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
        "{out}"
    );
    let row = t.row("NAME", "p");
    assert_eq!(
        (
            t.cell(row, "READY"),
            t.cell(row, "STATUS"),
            t.cell(row, "RESTARTS")
        ),
        ("0/2", "Pending", "0"),
        "{out}"
    );
    let out = c.kubectl_ok(["get", "pod", "p", "-o", "wide"]);
    let t = Table::parse(&out);
    assert_eq!(
        t.header,
        [
            "NAME",
            "READY",
            "STATUS",
            "RESTARTS",
            "AGE",
            "IP",
            "NODE",
            "NOMINATED NODE",
            "READINESS GATES"
        ],
        "{out}"
    );
    let row = t.row("NAME", "p");
    assert_eq!(t.cell(row, "NODE"), "<none>", "{out}");
    assert_eq!(t.cell(row, "IP"), "<none>", "{out}");

    // Defaults the apiserver fills in.
    let pod = get_json(&c, &["pod", "p"]);
    assert_eq!(pod["status"]["phase"], "Pending", "{pod}");
    assert_eq!(pod["spec"]["restartPolicy"], "Always", "{pod}");
    assert_eq!(pod["spec"]["dnsPolicy"], "ClusterFirst", "{pod}");
    assert_eq!(pod["spec"]["terminationGracePeriodSeconds"], 30, "{pod}");
    assert_eq!(
        pod["spec"]["containers"][0]["imagePullPolicy"], "IfNotPresent",
        "{pod}"
    );
    assert_eq!(
        pod["spec"]["containers"][0]["terminationMessagePath"], "/dev/termination-log",
        "{pod}"
    );

    let out = c.kubectl_ok(["describe", "pod", "p"]);
    assert_eq!(describe_field(&out, "Name").as_deref(), Some("p"), "{out}");
    assert_eq!(
        describe_field(&out, "Namespace").as_deref(),
        Some("default"),
        "{out}"
    );
    assert_eq!(
        describe_field(&out, "Status").as_deref(),
        Some("Pending"),
        "{out}"
    );
    assert!(out.contains("\nContainers:\n  main:\n"), "{out}");

    // Field selectors pods support.
    assert_eq!(
        c.kubectl_ok([
            "get",
            "pods",
            "--field-selector",
            "spec.schedulerName=e2e-unscheduled,status.phase=Pending",
            "-o",
            "name"
        ]),
        "pod/p\n"
    );
    let o = c.kubectl(["get", "pods", "--field-selector", "status.phase=Running"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(
        text(&o.stderr),
        "No resources found in default namespace.\n"
    );
    assert_eq!(
        c.kubectl_err(["get", "pods", "--field-selector", "foo=bar"])
            .trim(),
        r#"Error from server (BadRequest): Unable to find "/v1, Resource=pods" that match label selector "", field selector "foo=bar": field label not supported: foo"#
    );

    // Immutable pod fields.
    let err = c.kubectl_err([
        "patch",
        "pod",
        "p",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/spec/containers/0/name","value":"renamed"}]"#,
    ]);
    assert!(
        err.starts_with("The Pod \"p\" is invalid: ")
            && err.contains("spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`"),
        "{err}"
    );

    assert_eq!(
        c.kubectl_ok(["delete", "pod", "p"]),
        "pod \"p\" deleted from default namespace\n"
    );
    assert_eq!(
        c.kubectl_err(["get", "pod", "p"]).trim(),
        r#"Error from server (NotFound): pods "p" not found"#
    );
}

#[test]
fn endpoints_crud() {
    let c = Cluster::start();
    let ep = r#"apiVersion: v1
kind: Endpoints
metadata:
  name: ext
  labels:
    app: ext
subsets:
- addresses:
  - ip: 192.0.2.10
  - ip: 192.0.2.11
  ports:
  - name: http
    port: 8080
    protocol: TCP
"#;
    let o = c.kubectl_stdin(["create", "-f", "-"], ep);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "endpoints/ext created\n");

    // Every read of v1 Endpoints carries the deprecation warning (1.33+).
    let o = c.kubectl(["get", "endpoints", "ext"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(
        text(&o.stderr),
        "Warning: v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice\n"
    );
    let out = text(&o.stdout);
    let t = Table::parse(&out);
    assert_eq!(t.header, ["NAME", "ENDPOINTS", "AGE"], "{out}");
    assert_eq!(
        t.cell(t.row("NAME", "ext"), "ENDPOINTS"),
        "192.0.2.10:8080,192.0.2.11:8080",
        "{out}"
    );

    // More than three endpoints are summarised.
    assert_eq!(
        c.kubectl_ok([
            "patch",
            "ep",
            "ext",
            "--type=json",
            "-p",
            r#"[{"op":"add","path":"/subsets/0/addresses/-","value":{"ip":"192.0.2.12"}},{"op":"add","path":"/subsets/0/addresses/-","value":{"ip":"192.0.2.13"}}]"#
        ]),
        "endpoints/ext patched\n"
    );
    let out = c.kubectl_ok(["get", "ep", "ext"]);
    let t = Table::parse(&out);
    assert_eq!(
        t.cell(t.row("NAME", "ext"), "ENDPOINTS"),
        "192.0.2.10:8080,192.0.2.11:8080,192.0.2.12:8080 + 1 more...",
        "{out}"
    );

    // Apply an update (client-side), label, delete.
    let o = c.kubectl_stdin(["apply", "-f", "-"], &ep.replace("8080", "9090"));
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).starts_with("endpoints/ext configured"),
        "{}",
        text(&o.stdout)
    );
    assert_eq!(
        c.kubectl_ok([
            "get",
            "ep",
            "ext",
            "-o",
            "jsonpath={.subsets[0].ports[0].port}"
        ]),
        "9090"
    );
    assert_eq!(
        c.kubectl_ok(["label", "ep", "ext", "tier=db"]),
        "endpoints/ext labeled\n"
    );
    assert_eq!(
        c.kubectl_ok(["get", "ep", "-l", "tier=db", "-o", "name"]),
        "endpoints/ext\n"
    );

    let invalid = c.kubectl_stdin_err(
        ["create", "-f", "-"],
        &ep.replace("name: ext", "name: bad")
            .replace("192.0.2.10", "not-an-ip"),
    );
    assert!(
        invalid.contains("The Endpoints \"bad\" is invalid: ")
            && invalid.contains("subsets[0].addresses[0].ip: Invalid value: \"not-an-ip\": "),
        "{invalid}"
    );
    c.kubectl_err(["get", "ep", "bad"]);

    assert_eq!(
        c.kubectl_ok(["delete", "endpoints", "ext"]),
        "endpoints \"ext\" deleted from default namespace\n"
    );
    assert_eq!(
        c.kubectl_err(["get", "ep", "ext"])
            .lines()
            .last()
            .unwrap_or(""),
        r#"Error from server (NotFound): endpoints "ext" not found"#
    );
}

// ---------------------------------------------------------------------------
// Concurrency control, watch, persistence
// ---------------------------------------------------------------------------

#[test]
fn stale_resource_version_update_is_a_conflict() {
    let c = Cluster::start();
    c.kubectl_ok(["create", "configmap", "x", "--from-literal=v=1"]);
    let old = get_json(&c, &["cm", "x"]);
    let old_rv = resource_version(&old);
    c.kubectl_ok([
        "patch",
        "cm",
        "x",
        "--type=merge",
        "-p",
        r#"{"data":{"v":"2"}}"#,
    ]);
    let new_rv = resource_version(&get_json(&c, &["cm", "x"]));
    assert!(
        new_rv > old_rv,
        "patch must move the resourceVersion forward ({old_rv} -> {new_rv})"
    );

    // Replace with the old resourceVersion in the manifest.
    let mut stale = old.clone();
    stale["data"]["v"] = "3".into();
    let err = c.kubectl_stdin_err(["replace", "-f", "-"], &stale.to_string());
    assert_eq!(
        err.trim(),
        r#"Error from server (Conflict): error when replacing "STDIN": Operation cannot be fulfilled on configmaps "x": the object has been modified; please apply your changes to the latest version and try again"#
    );
    assert_eq!(
        c.kubectl_ok(["get", "cm", "x", "-o", "jsonpath={.data.v}"]),
        "2"
    );

    // The same through the raw API: 409 with a Status body.
    let r = c.curl_auth(
        "PUT",
        "/api/v1/namespaces/default/configmaps/x",
        Some(("application/json", &stale.to_string())),
    );
    assert_eq!(r.status, 409, "{}", r.body);
    let s = r.json();
    assert_eq!(s["kind"], "Status", "{s}");
    assert_eq!(s["reason"], "Conflict", "{s}");
    assert_eq!(s["code"], 409, "{s}");
    assert_eq!(s["details"]["name"], "x", "{s}");
    assert_eq!(s["details"]["kind"], "configmaps", "{s}");
    assert_eq!(
        s["message"],
        r#"Operation cannot be fulfilled on configmaps "x": the object has been modified; please apply your changes to the latest version and try again"#
    );

    // With the current resourceVersion it goes through.
    let mut fresh = get_json(&c, &["cm", "x"]);
    fresh["data"]["v"] = "3".into();
    assert_eq!(
        c.kubectl_stdin_ok(["replace", "-f", "-"], &fresh.to_string()),
        "configmap/x replaced\n"
    );
    assert_eq!(
        c.kubectl_ok(["get", "cm", "x", "-o", "jsonpath={.data.v}"]),
        "3"
    );
}

#[test]
fn watch_shows_updates() {
    let c = Cluster::start();
    c.kubectl_ok(["create", "configmap", "w", "--from-literal=a=1"]);

    let mut watch = c.kubectl_spawn(["get", "cm", "w", "-w"]);
    let header = watch.expect_line(WATCH_TIMEOUT, "the header", |l| l.starts_with("NAME"));
    assert!(
        header.split_whitespace().eq(["NAME", "DATA", "AGE"]),
        "{header}"
    );
    watch.expect_line(WATCH_TIMEOUT, "the initial row w 1", |l| {
        l.split_whitespace().take(2).eq(["w", "1"])
    });
    // kubectl watches a single object from resourceVersion 0 and hides the
    // synthetic ADDED event, so an update racing with the start of the watch
    // is not shown (as against any apiserver): update until one shows.
    let mut shown = None;
    for keys in 2..=6 {
        c.kubectl_ok([
            "patch",
            "cm",
            "w",
            "--type=merge",
            "-p",
            &format!(r#"{{"data":{{"k{keys}":"v"}}}}"#),
        ]);
        let want = keys.to_string();
        if let Some(l) = watch.try_line(Duration::from_secs(4), |l| {
            l.split_whitespace().take(2).eq(["w", want.as_str()])
        }) {
            shown = Some(l);
            break;
        }
    }
    assert!(
        shown.is_some(),
        "kubectl get -w showed no update:\n{}\nstderr: {}",
        watch.seen().join("\n"),
        watch.stderr()
    );
    watch.kill();

    // With event types, across the namespace: ADDED, MODIFIED, DELETED.
    let mut watch = c.kubectl_spawn([
        "get",
        "cm",
        "-l",
        "e2e=watch",
        "-w",
        "--output-watch-events",
    ]);
    c.kubectl_stdin_ok(
        ["apply", "-f", "-"],
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: w2\n  labels:\n    e2e: watch\ndata:\n  a: \"1\"\n",
    );
    watch.expect_line(WATCH_TIMEOUT, "ADDED w2", |l| {
        l.split_whitespace().take(3).eq(["ADDED", "w2", "1"])
    });
    c.kubectl_ok(["label", "cm", "w2", "extra=yes"]);
    watch.expect_line(WATCH_TIMEOUT, "MODIFIED w2", |l| {
        l.split_whitespace().take(2).eq(["MODIFIED", "w2"])
    });
    c.kubectl_ok(["delete", "cm", "w2"]);
    watch.expect_line(WATCH_TIMEOUT, "DELETED w2", |l| {
        l.split_whitespace().take(2).eq(["DELETED", "w2"])
    });
    let header = &watch.seen()[0];
    assert!(
        header
            .split_whitespace()
            .eq(["EVENT", "NAME", "DATA", "AGE"]),
        "{:?}",
        watch.seen()
    );
    watch.kill();

    // A watch from a resourceVersion through the raw API replays later events.
    let rv = resource_version(&get_json(&c, &["cm", "w"]));
    c.kubectl_ok([
        "patch",
        "cm",
        "w",
        "--type=merge",
        "-p",
        r#"{"data":{"c":"3"}}"#,
    ]);
    let r = c.curl_args(
        "GET",
        &format!("/api/v1/namespaces/default/configmaps?watch=true&resourceVersion={rv}&timeoutSeconds=1&fieldSelector=metadata.name%3Dw"),
        Some(&c.token()),
        None,
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let events: Vec<serde_json::Value> = r
        .body
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("watch event is not JSON ({e}): {l}"))
        })
        .collect();
    assert_eq!(events.len(), 1, "{}", r.body);
    assert_eq!(events[0]["type"], "MODIFIED");
    assert_eq!(events[0]["object"]["data"]["c"], "3");
    assert!(resource_version(&events[0]["object"]) > rv);
}

#[test]
fn restart_keeps_objects_and_resource_versions_grow() {
    let mut c = Cluster::start();
    c.kubectl_ok(["create", "namespace", "keep"]);
    c.kubectl_ok([
        "create",
        "configmap",
        "a",
        "-n",
        "keep",
        "--from-literal=k=v",
    ]);
    c.kubectl_stdin_ok(["create", "-n", "keep", "-f", "-"], WEB_SVC);
    let cm = get_json(&c, &["cm", "a", "-n", "keep"]);
    let svc = get_json(&c, &["svc", "web", "-n", "keep"]);
    let max_rv = resource_version(&cm).max(resource_version(&svc));

    c.restart();
    let cm2 = get_json(&c, &["cm", "a", "-n", "keep"]);
    let svc2 = get_json(&c, &["svc", "web", "-n", "keep"]);
    assert_eq!(cm2["metadata"]["uid"], cm["metadata"]["uid"]);
    assert_eq!(
        cm2["metadata"]["resourceVersion"],
        cm["metadata"]["resourceVersion"]
    );
    assert_eq!(cm2["data"], cm["data"]);
    assert_eq!(svc2["spec"]["clusterIP"], svc["spec"]["clusterIP"]);
    assert_eq!(
        c.kubectl_ok(["get", "ns", "keep", "-o", "jsonpath={.status.phase}"]),
        "Active"
    );

    // A write after the restart gets a larger resourceVersion.
    c.kubectl_ok([
        "patch",
        "cm",
        "a",
        "-n",
        "keep",
        "--type=merge",
        "-p",
        r#"{"data":{"k":"w"}}"#,
    ]);
    let rv = resource_version(&get_json(&c, &["cm", "a", "-n", "keep"]));
    assert!(
        rv > max_rv,
        "resourceVersion after restart {rv} <= {max_rv}"
    );
    c.kubectl_ok(["create", "configmap", "b", "-n", "keep"]);
    let rv_b = resource_version(&get_json(&c, &["cm", "b", "-n", "keep"]));
    assert!(rv_b > rv, "{rv_b} <= {rv}");

    // A second service after the restart does not reuse the first's ClusterIP.
    c.kubectl_stdin_ok(
        ["create", "-n", "keep", "-f", "-"],
        &WEB_SVC.replace("name: web\n  labels", "name: api\n  labels"),
    );
    let ip2 = get_json(&c, &["svc", "api", "-n", "keep"])["spec"]["clusterIP"].clone();
    assert_ne!(ip2, svc["spec"]["clusterIP"]);

    // A write that was acknowledged survives kill -9.
    c.kubectl_ok([
        "create",
        "configmap",
        "durable",
        "-n",
        "keep",
        "--from-literal=x=y",
    ]);
    c.kill9();
    c.start_again();
    assert_eq!(
        c.kubectl_ok([
            "get",
            "cm",
            "durable",
            "-n",
            "keep",
            "-o",
            "jsonpath={.data.x}"
        ]),
        "y"
    );
    let rv_after = resource_version(&get_json(&c, &["cm", "durable", "-n", "keep"]));
    c.kubectl_ok(["label", "cm", "durable", "-n", "keep", "n=1"]);
    assert!(resource_version(&get_json(&c, &["cm", "durable", "-n", "keep"])) > rv_after);
}

// ---------------------------------------------------------------------------
// Selectors, pagination, namespace deletion
// ---------------------------------------------------------------------------

#[test]
fn label_and_field_selectors() {
    let c = Cluster::start();
    for (name, app, env) in [
        ("a", "web", "a"),
        ("b", "web", "b"),
        ("c", "db", "c"),
        ("d", "web", ""),
    ] {
        let mut labels = format!("    app: {app}\n    e2e: sel\n");
        if !env.is_empty() {
            labels.push_str(&format!("    env: {env}\n"));
        }
        c.kubectl_stdin_ok(
            ["create", "-f", "-"],
            &format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  labels:\n{labels}"
            ),
        );
    }
    let names = |args: &[&str]| -> Vec<String> {
        let mut a = vec!["get", "cm", "-o", "name"];
        a.extend_from_slice(args);
        lines(&c.kubectl_ok(&a))
    };
    assert_eq!(
        names(&["-l", "app=web"]),
        ["configmap/a", "configmap/b", "configmap/d"]
    );
    assert_eq!(names(&["-l", "app=web,env=b"]), ["configmap/b"]);
    assert_eq!(
        names(&["-l", "env in (a,b)"]),
        ["configmap/a", "configmap/b"]
    );
    assert_eq!(
        names(&["-l", "e2e=sel,env notin (a)"]),
        ["configmap/b", "configmap/c", "configmap/d"]
    );
    assert_eq!(names(&["-l", "e2e=sel,app!=web"]), ["configmap/c"]);
    assert_eq!(
        names(&["-l", "env"]),
        ["configmap/a", "configmap/b", "configmap/c"]
    );
    assert_eq!(names(&["-l", "e2e=sel,!env"]), ["configmap/d"]);
    assert_eq!(
        names(&["--field-selector", "metadata.name=c"]),
        ["configmap/c"]
    );
    assert_eq!(
        names(&["-l", "e2e=sel", "--field-selector", "metadata.name!=a"]),
        ["configmap/b", "configmap/c", "configmap/d"]
    );
    assert_eq!(
        names(&["-l", "app=web", "--field-selector", "metadata.name=c"]),
        Vec::<String>::new()
    );
    assert_eq!(
        names(&[
            "-A",
            "--field-selector",
            "metadata.namespace=default,metadata.name=a"
        ]),
        ["configmap/a"]
    );

    // An unsupported field is a 400 from the server.
    assert_eq!(
        c.kubectl_err(["get", "cm", "--field-selector", "foo=bar"])
            .trim(),
        r#"Error from server (BadRequest): Unable to find "/v1, Resource=configmaps" that match label selector "", field selector "foo=bar": "foo" is not a known field selector: only "metadata.name", "metadata.namespace""#
    );
    // Services also select on spec.type.
    c.kubectl_stdin_ok(["create", "-f", "-"], WEB_SVC);
    assert_eq!(
        lines(&c.kubectl_ok([
            "get",
            "svc",
            "--field-selector",
            "spec.type=ClusterIP,metadata.name=web",
            "-o",
            "name"
        ])),
        ["service/web"]
    );

    // Delete by label selector.
    assert_eq!(
        c.kubectl_ok(["delete", "cm", "-l", "env in (a,b)"]),
        "configmap \"a\" deleted from default namespace\nconfigmap \"b\" deleted from default namespace\n"
    );
    assert_eq!(names(&["-l", "e2e=sel"]), ["configmap/c", "configmap/d"]);
}

#[test]
fn list_pagination_with_limit_and_continue() {
    let c = Cluster::start();
    c.kubectl_ok(["create", "namespace", "pg"]);
    let all: Vec<String> = (0..7).map(|i| format!("cm-{i}")).collect();
    let manifest: String = all
        .iter()
        .map(|n| format!("---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {n}\n  labels:\n    e2e: page\n"))
        .collect();
    let created = c.kubectl_stdin_ok(["create", "-n", "pg", "-f", "-"], &manifest);
    assert_eq!(lines(&created).len(), 7, "{created}");

    // kubectl pages with --chunk-size and still shows everything.
    let out = c.kubectl_ok([
        "get",
        "cm",
        "-n",
        "pg",
        "-l",
        "e2e=page",
        "--chunk-size=2",
        "-o",
        "name",
    ]);
    let want: Vec<String> = all.iter().map(|n| format!("configmap/{n}")).collect();
    assert_eq!(lines(&out), want);

    // Raw limit/continue.
    let mut got = Vec::new();
    let mut cont = String::new();
    let mut pages = 0;
    loop {
        let mut path =
            "/api/v1/namespaces/pg/configmaps?labelSelector=e2e%3Dpage&limit=3".to_string();
        if !cont.is_empty() {
            path.push_str("&continue=");
            path.push_str(&cont);
        }
        let page: serde_json::Value =
            serde_json::from_str(&c.kubectl_ok(["get", "--raw", &path])).unwrap();
        assert_eq!(page["kind"], "ConfigMapList", "{page}");
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 3, "{page}");
        got.extend(
            items
                .iter()
                .map(|i| i["metadata"]["name"].as_str().unwrap().to_string()),
        );
        pages += 1;
        cont = page["metadata"]["continue"]
            .as_str()
            .unwrap_or("")
            .to_string();
        if cont.is_empty() {
            break;
        }
        assert!(pages < 10, "pagination does not end");
    }
    assert_eq!(got, all);
    assert_eq!(pages, 3);
}

#[test]
fn deleting_a_namespace_removes_its_contents() {
    let c = Cluster::start();
    assert_eq!(
        c.kubectl_ok(["create", "namespace", "team"]),
        "namespace/team created\n"
    );
    c.kubectl_ok([
        "create",
        "configmap",
        "cfg",
        "-n",
        "team",
        "--from-literal=a=b",
    ]);
    c.kubectl_ok([
        "create",
        "secret",
        "generic",
        "sec",
        "-n",
        "team",
        "--from-literal=a=b",
    ]);
    c.kubectl_stdin_ok(["create", "-n", "team", "-f", "-"], WEB_SVC);
    c.kubectl_stdin_ok(["create", "-n", "team", "-f", "-"], &pod_manifest("p"));
    // An object of the same name elsewhere must survive.
    c.kubectl_ok(["create", "configmap", "cfg", "--from-literal=a=b"]);

    assert_eq!(
        c.kubectl_ok(["delete", "namespace", "team", "--timeout=30s"]),
        "namespace \"team\" deleted\n"
    );
    // kubectl waited for the namespace to be gone.
    assert_eq!(
        c.kubectl_err(["get", "ns", "team"]).trim(),
        r#"Error from server (NotFound): namespaces "team" not found"#
    );
    for kind in ["configmaps", "secrets", "services", "pods"] {
        let o = c.kubectl(["get", kind, "-n", "team", "-o", "name"]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        assert_eq!(text(&o.stdout), "", "{kind} left in deleted namespace team");
    }
    let o = c.kubectl(["get", "cm", "cfg", "-n", "team"]);
    assert!(!o.status.success());
    assert_eq!(
        c.kubectl_ok(["get", "cm", "cfg", "-o", "name"]),
        "configmap/cfg\n"
    );

    // The name can be used again.
    eventually(
        Duration::from_secs(30),
        "namespace team to be creatable again",
        || {
            c.kubectl(["create", "namespace", "team"])
                .status
                .success()
                .then_some(())
        },
    );
    assert_eq!(
        c.kubectl_ok(["get", "cm", "-n", "team", "-l", "e2e=none", "-o", "name"]),
        ""
    );

    // The default namespaces cannot be deleted.
    let err = c.kubectl_err(["delete", "namespace", "default"]);
    assert_eq!(
        err.trim(),
        r#"Error from server (Forbidden): namespaces "default" is forbidden: this namespace may not be deleted"#
    );
}

/// Plain lists are served from the stored bytes (no decoding); they must be
/// the very objects a get returns. `as=PartialObjectMetadata(List)` (client-go
/// metadata informers, kube-rs `metadata_watcher`) gives metadata only.
#[test]
fn lists_match_gets_and_metadata_only_reads() {
    let c = Cluster::start();
    for name in ["m1", "m2"] {
        let o = c.kubectl(["create", "configmap", name, "--from-literal=k=v\"quoted\""]);
        assert!(o.status.success(), "{}", text(&o.stderr));
    }
    let o = c.kubectl(["label", "configmap", "m2", "tier=back"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let token = c.token();
    let get = |path: &str, accept: &str| {
        let r = c.curl_args(
            "GET",
            path,
            Some(&token),
            None,
            &["-H", &format!("Accept: {accept}")],
        );
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        r.json()
    };
    let list = get("/api/v1/namespaces/default/configmaps", "application/json");
    assert_eq!(list["kind"], "ConfigMapList", "{list}");
    let items = list["items"].as_array().expect("items");
    let names: Vec<&str> = items
        .iter()
        .filter_map(|i| i["metadata"]["name"].as_str())
        .collect();
    assert!(names.contains(&"m1") && names.contains(&"m2"), "{list}");
    for item in items {
        let name = item["metadata"]["name"].as_str().unwrap_or_default();
        let one = get(
            &format!("/api/v1/namespaces/default/configmaps/{name}"),
            "application/json",
        );
        assert_eq!(*item, one, "list item and get differ for {name}");
    }

    let partial = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";
    let check_partial = |list: &serde_json::Value, expect: &[&str]| {
        assert_eq!(list["kind"], "PartialObjectMetadataList", "{list}");
        assert_eq!(list["apiVersion"], "meta.k8s.io/v1", "{list}");
        let items = list["items"].as_array().expect("items");
        let mut names = Vec::new();
        for item in items {
            assert_eq!(item["kind"], "PartialObjectMetadata", "{item}");
            assert!(item.get("data").is_none(), "metadata only: {item}");
            assert!(resource_version(item) > 0, "{item}");
            names.push(
                item["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            );
        }
        for e in expect {
            assert!(names.iter().any(|n| n == e), "{e} missing from {list}");
        }
        names
    };
    // Everything (served from stored bytes) and a selection (decoded).
    check_partial(
        &get("/api/v1/namespaces/default/configmaps", partial),
        &["m1", "m2"],
    );
    let selected = check_partial(
        &get(
            "/api/v1/namespaces/default/configmaps?labelSelector=tier%3Dback",
            partial,
        ),
        &["m2"],
    );
    assert_eq!(selected, ["m2"]);
    let one = get(
        "/api/v1/namespaces/default/configmaps/m2",
        "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1",
    );
    assert_eq!(one["kind"], "PartialObjectMetadata", "{one}");
    assert_eq!(one["metadata"]["labels"]["tier"], "back", "{one}");
    assert!(one.get("data").is_none(), "{one}");

    // `omitManagedFields=true` (what the components' caches ask for): the
    // same list, each item without managedFields, whether it is written
    // from the stored bytes (everything) or decoded (a selection), as
    // objects or as metadata.
    for (query, accept) in [
        ("", "application/json"),
        ("labelSelector=tier%3Dback&", "application/json"),
        ("", partial),
    ] {
        let path = format!("/api/v1/namespaces/default/configmaps?{query}");
        let mut expected = get(&path, accept);
        let lean = get(&format!("{path}omitManagedFields=true"), accept);
        for item in expected["items"].as_array_mut().expect("items") {
            let meta = item["metadata"].as_object_mut().expect("metadata");
            assert!(meta.remove("managedFields").is_some(), "{path}: {meta:?}");
        }
        assert_eq!(lean, expected, "{path} {accept}");
    }

    // A write asked for metadata answers with metadata.
    let r = c.curl_args(
        "PATCH",
        "/api/v1/namespaces/default/configmaps/m1",
        Some(&token),
        Some((
            "application/merge-patch+json",
            r#"{"metadata":{"labels":{"x":"y"}}}"#,
        )),
        &[
            "-H",
            "Accept: application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1",
        ],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let patched = r.json();
    assert_eq!(patched["kind"], "PartialObjectMetadata", "{patched}");
    assert_eq!(patched["metadata"]["labels"]["x"], "y", "{patched}");
    assert!(patched.get("data").is_none(), "{patched}");

    // Watch events carry metadata only too.
    let rv = resource_version(&patched);
    let o = c.kubectl(["label", "configmap", "m2", "tier=front", "--overwrite"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let r = c.curl_args(
        "GET",
        &format!("/api/v1/namespaces/default/configmaps?watch=true&resourceVersion={rv}&timeoutSeconds=1"),
        Some(&token),
        None,
        &["-H", "Accept: application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let event: serde_json::Value = r
        .body
        .lines()
        .find(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("watch event is JSON"))
        .expect("one event");
    assert_eq!(event["type"], "MODIFIED", "{event}");
    assert_eq!(event["object"]["kind"], "PartialObjectMetadata", "{event}");
    assert_eq!(
        event["object"]["metadata"]["labels"]["tier"], "front",
        "{event}"
    );
    assert!(event["object"].get("data").is_none(), "{event}");
}
