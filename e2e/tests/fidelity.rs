//! What real clients and a second cluster on the machine used to trip on:
//! client-go's protobuf bodies (helm, kubectl's typed commands), `kubectl
//! drain` through pods/eviction, pod IPs reused at
//! once, two clusters fighting over one set of addresses, and requests lost
//! while a Deployment scales down.

use e2e::{text, Cluster};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

/// A chart with a ConfigMap, a Deployment, a Service and the kinds charts
/// carry beside them (Role, RoleBinding, PDB, HPA, Ingress): helm stores each
/// release revision in a Secret through client-go's typed (protobuf) client.
fn write_chart(dir: &Path, greeting: &str) {
    std::fs::create_dir_all(dir.join("templates")).unwrap();
    std::fs::write(
        dir.join("Chart.yaml"),
        "apiVersion: v2\nname: demo\nversion: 0.1.0\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("values.yaml"),
        format!("greeting: {greeting}\nreplicas: 1\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join("templates/all.yaml"),
        r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-config
data:
  greeting: {{ .Values.greeting | quote }}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-web
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels: {app: {{ .Release.Name }}-web}
  template:
    metadata:
      labels: {app: {{ .Release.Name }}-web}
    spec:
      containers:
      - name: web
        image: nginx
---
apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}-web
spec:
  selector: {app: {{ .Release.Name }}-web}
  ports:
  - port: 80
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: {{ .Release.Name }}-reader
rules:
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get, list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: {{ .Release.Name }}-reader
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: {{ .Release.Name }}-reader}
subjects:
- {kind: ServiceAccount, name: default, namespace: {{ .Release.Namespace }}}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ .Release.Name }}-web
spec:
  maxUnavailable: 1
  selector:
    matchLabels: {app: {{ .Release.Name }}-web}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ .Release.Name }}-web
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: {{ .Release.Name }}-web}
  minReplicas: 1
  maxReplicas: 3
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {{ .Release.Name }}-web
spec:
  rules:
  - host: demo.example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service:
            name: {{ .Release.Name }}-web
            port: {number: 80}
"#,
    )
    .unwrap();
}

fn helm(c: &Cluster, args: &[&str]) -> std::process::Output {
    let out = std::process::Command::new(e2e::helm_path())
        .args(args)
        .env("KUBECONFIG", c.kubeconfig())
        .env("HELM_CACHE_HOME", c.data_dir().join("helm/cache"))
        .env("HELM_CONFIG_HOME", c.data_dir().join("helm/config"))
        .env("HELM_DATA_HOME", c.data_dir().join("helm/data"))
        .output()
        .expect("running helm");
    assert!(
        out.status.success(),
        "helm {args:?} failed\n--- stdout:\n{}--- stderr:\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    out
}

#[test]
fn helm_installs_upgrades_and_uninstalls_a_release() {
    let c = Cluster::start();
    let chart = c.data_dir().join("chart");
    write_chart(&chart, "hello");
    let chart = chart.to_string_lossy().into_owned();
    helm(
        &c,
        &["install", "demo", &chart, "--wait", "--timeout", "60s"],
    );
    assert_eq!(
        c.get_jsonpath(&["configmap", "demo-config"], "{.data.greeting}"),
        "hello"
    );
    let secrets = c.kubectl_ok(["get", "secrets", "-l", "owner=helm", "-o", "name"]);
    assert_eq!(secrets.trim(), "secret/sh.helm.release.v1.demo.v1");
    let extras = c.kubectl_ok(["get", "roles,rolebindings,pdb,hpa,ingress", "-o", "name"]);
    for made in [
        "role.rbac.authorization.k8s.io/demo-reader",
        "rolebinding.rbac.authorization.k8s.io/demo-reader",
        "poddisruptionbudget.policy/demo-web",
        "horizontalpodautoscaler.autoscaling/demo-web",
        "ingress.networking.k8s.io/demo-web",
    ] {
        assert!(extras.contains(made), "{made} not installed:\n{extras}");
    }

    helm(&c, &["upgrade", "demo", &chart, "--set", "greeting=again"]);
    assert_eq!(
        c.get_jsonpath(&["configmap", "demo-config"], "{.data.greeting}"),
        "again"
    );
    let list = text(&helm(&c, &["list", "-o", "json"]).stdout);
    assert!(list.contains("\"revision\":\"2\""), "{list}");

    // The release Secrets' DELETE carries a protobuf DeleteOptions.
    let out = helm(&c, &["uninstall", "demo", "--wait", "--timeout", "60s"]);
    let said = text(&out.stdout) + &text(&out.stderr);
    assert!(said.contains("release \"demo\" uninstalled"), "{said}");
    assert!(!said.contains("Failed to purge"), "{said}");
    let left = c.kubectl_ok([
        "get",
        "secrets,configmaps,deployments,services,roles,pdb,hpa,ingress",
        "-o",
        "name",
    ]);
    for gone in [
        "sh.helm.release",
        "demo-config",
        "demo-web",
        "demo-reader",
        "demo-migrate",
    ] {
        assert!(!left.contains(gone), "{gone} left after uninstall:\n{left}");
    }
}

/// kubectl's typed commands send protobuf bodies; -v=8 shows the headers.
fn assert_sent_protobuf(verbose: &str, what: &str) {
    assert!(
        verbose.contains("Content-Type: application/vnd.kubernetes.protobuf"),
        "{what}: no protobuf request body in kubectl -v=8 output:\n{verbose}"
    );
}

#[test]
fn kubectl_drain_evicts_pods_through_the_eviction_subresource() {
    let c = Cluster::start();
    c.deploy("web", "nginx", 2);
    let node = c.kubectl_ok(["get", "nodes", "-o", "jsonpath={.items[0].metadata.name}"]);
    let out = c.kubectl([
        "drain",
        &node,
        "--ignore-daemonsets",
        "--pod-selector=app=web",
        "--timeout=60s",
        "-v=8",
    ]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "drain failed:\n{stderr}");
    // kubectl finds pods/eviction (policy/v1) in discovery and evicts,
    // rather than falling back to deletes. (It sends the Eviction as JSON;
    // protobuf Evictions are decoded by the same path, see
    // apiserver/src/rest/protobuf/tests.rs.)
    assert_eq!(stderr.matches("/eviction\" headers").count(), 2, "{stderr}");
    assert!(!stderr.contains("verb=\"DELETE\""), "{stderr}");
    let stdout = text(&out.stdout);
    assert_eq!(stdout.matches("evicted").count(), 2, "{stdout}");
    assert!(stdout.contains(&format!("node/{node} drained")), "{stdout}");
    // Cordoned: the replacements stay Pending until the node is uncordoned.
    c.kubectl_ok(["uncordon", &node]);
    c.kubectl_ok(["rollout", "status", "deployment/web", "--timeout=60s"]);

    // An eviction whose name does not match the URL is refused.
    let wrong = c.curl_auth(
        "POST",
        "/api/v1/namespaces/default/pods/nope/eviction",
        Some((
            "application/json",
            r#"{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"other"}}"#,
        )),
    );
    assert_eq!(wrong.status, 400, "{}", wrong.body);
    assert!(
        wrong
            .body
            .contains("name in URL does not match name in Eviction object"),
        "{}",
        wrong.body
    );
}

#[test]
fn kubectl_typed_creates_send_protobuf_that_arrives_intact() {
    let c = Cluster::start();
    let cases: &[&[&str]] = &[
        &["create", "namespace", "team-a"],
        &["create", "configmap", "cfg", "--from-literal=a=1"],
        &[
            "create",
            "secret",
            "generic",
            "pw",
            "--from-literal=p=s3cret",
        ],
        &["create", "serviceaccount", "robot"],
        &[
            "create",
            "deployment",
            "web",
            "--image=nginx",
            "--replicas=0",
        ],
        &["create", "service", "clusterip", "web", "--tcp=80:8080"],
        &["create", "service", "nodeport", "np", "--tcp=80:8080"],
    ];
    for args in cases {
        let mut full: Vec<&str> = args.to_vec();
        full.push("-v=8");
        let out = c.kubectl(&full);
        let stderr = text(&out.stderr);
        assert!(out.status.success(), "kubectl {args:?}:\n{stderr}");
        assert_sent_protobuf(&stderr, &args.join(" "));
    }
    // What arrived is what was meant (decoded from protobuf, not guessed).
    assert_eq!(c.get_jsonpath(&["secret", "pw"], "{.data.p}"), "czNjcmV0");
    assert_eq!(
        c.get_jsonpath(&["deployment", "web"], "{.spec.replicas}"),
        "0"
    );
    assert_eq!(
        c.get_jsonpath(&["service", "web"], "{.spec.ports[0].targetPort}"),
        "8080"
    );
    assert_eq!(
        c.get_jsonpath(&["service", "np"], "{.spec.type}"),
        "NodePort"
    );
    // kubectl scale sends the Scale subresource.
    c.kubectl_ok(["scale", "deployment/web", "--replicas=1"]);
    assert_eq!(
        c.get_jsonpath(&["deployment", "web"], "{.spec.replicas}"),
        "1"
    );
}

#[test]
fn a_replaced_pod_gets_a_new_ip() {
    let c = Cluster::start();
    c.deploy("web", "nginx", 1);
    let ip_of = |selector: &str| {
        c.kubectl_ok([
            "get",
            "pods",
            "-l",
            selector,
            "-o",
            "jsonpath={.items[*].status.podIP}",
        ])
    };
    let mut seen = vec![ip_of("app=web")];
    assert!(!seen[0].is_empty());
    for _ in 0..3 {
        c.kubectl_ok(["delete", "pods", "-l", "app=web", "--wait=true"]);
        c.kubectl_ok(["rollout", "status", "deployment/web", "--timeout=60s"]);
        let deadline = Instant::now() + Duration::from_secs(30);
        let ip = loop {
            let ip = ip_of("app=web");
            if !ip.is_empty() && !ip.contains(' ') {
                break ip;
            }
            assert!(Instant::now() < deadline, "no single pod IP: {ip:?}");
            std::thread::sleep(Duration::from_millis(100));
        };
        assert!(
            !seen.contains(&ip),
            "the replacement pod reuses {ip} (earlier: {seen:?})"
        );
        seen.push(ip);
    }
}

/// One HTTP/1.0 request through `addr`; Err says how it failed.
fn get(addr: SocketAddr) -> Result<(), String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok();
    s.write_all(b"GET / HTTP/1.0\r\nHost: web\r\n\r\n")
        .map_err(|e| format!("write: {e}"))?;
    let mut reply = Vec::new();
    s.read_to_end(&mut reply)
        .map_err(|e| format!("read: {e}"))?;
    let reply = String::from_utf8_lossy(&reply);
    if reply.starts_with("HTTP/1.1 200") || reply.starts_with("HTTP/1.0 200") {
        Ok(())
    } else {
        Err(format!("reply: {:?}", reply.lines().next()))
    }
}

#[test]
fn scaling_down_drops_no_request_through_the_cluster_ip() {
    let c = Cluster::start();
    c.deploy("web", "nginx", 3);
    c.kubectl_ok(["expose", "deployment", "web", "--port=80"]);
    let ip = c.get_jsonpath(&["service", "web"], "{.spec.clusterIP}");
    let addr: SocketAddr = format!("{ip}:80").parse().unwrap();
    let mut failures = Vec::new();
    for round in 0..6 {
        c.kubectl_ok(["scale", "deployment/web", "--replicas=3"]);
        c.kubectl_ok(["rollout", "status", "deployment/web", "--timeout=60s"]);
        e2e::eventually(Duration::from_secs(20), "3 ready endpoints", || {
            let ips = c.get_jsonpath(&["endpoints", "web"], "{.subsets[*].addresses[*].ip}");
            (ips.split_whitespace().count() == 3).then_some(())
        });
        let load = std::thread::spawn(move || {
            (0..300)
                .filter_map(|i| get(addr).err().map(|e| format!("request {i}: {e}")))
                .collect::<Vec<_>>()
        });
        std::thread::sleep(Duration::from_millis(50));
        c.kubectl_ok(["scale", "deployment/web", "--replicas=1"]);
        for f in load.join().unwrap() {
            failures.push(format!("round {round}, {f}"));
        }
    }
    assert!(
        failures.is_empty(),
        "failed requests:\n{}",
        failures.join("\n")
    );
}
