//! Services end to end with the real kubectl: every type, the allocators,
//! validation messages, and traffic through ClusterIP, NodePort and
//! LoadBalancer addresses (real bytes through real sockets, on loopback).

use e2e::{eventually, Cluster, Table};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

/// The tutorial's three-port Service with named target ports.
const MULTI_PORT: &str = r#"apiVersion: v1
kind: Service
metadata:
  name: multi
spec:
  selector: {app: multi}
  ports:
  - name: http
    port: 80
    targetPort: web
  - name: https
    port: 443
    targetPort: web-tls
  - name: metrics
    port: 9090
    targetPort: 9090
"#;

#[test]
fn every_type_gets_the_right_defaults_and_allocations() {
    let c = Cluster::start();
    c.apply(MULTI_PORT);
    c.apply(
        r#"apiVersion: v1
kind: Service
metadata: {name: np}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080, nodePort: 30080}]
---
apiVersion: v1
kind: Service
metadata: {name: headless}
spec:
  clusterIP: None
  selector: {app: db}
  ports: [{port: 5432}]
---
apiVersion: v1
kind: Service
metadata: {name: ext}
spec:
  type: ExternalName
  externalName: database.example.com
---
apiVersion: v1
kind: Service
metadata: {name: sticky}
spec:
  selector: {app: web}
  sessionAffinity: ClientIP
  ports: [{port: 80}]
"#,
    );
    let table = Table::parse(&c.kubectl_ok(["get", "svc", "-o", "wide"]));
    assert_eq!(
        table.header,
        [
            "NAME",
            "TYPE",
            "CLUSTER-IP",
            "EXTERNAL-IP",
            "PORT(S)",
            "AGE",
            "SELECTOR"
        ]
    );
    let row = table.row("NAME", "multi");
    assert_eq!(table.cell(row, "TYPE"), "ClusterIP");
    assert_eq!(table.cell(row, "PORT(S)"), "80/TCP,443/TCP,9090/TCP");
    assert!(table.cell(row, "CLUSTER-IP").starts_with("127.96."));
    let np = table.row("NAME", "np");
    assert_eq!(table.cell(np, "PORT(S)"), "80:30080/TCP");
    let headless = table.row("NAME", "headless");
    assert_eq!(table.cell(headless, "CLUSTER-IP"), "None");
    let ext = table.row("NAME", "ext");
    assert_eq!(table.cell(ext, "EXTERNAL-IP"), "database.example.com");
    assert_eq!(table.cell(ext, "CLUSTER-IP"), "<none>");

    // Defaults as kube-apiserver sets them.
    assert_eq!(
        c.get_jsonpath(&["svc", "multi"], "{.spec.ports[0].protocol}"),
        "TCP"
    );
    assert_eq!(
        c.get_jsonpath(&["svc", "multi"], "{.spec.ports[1].targetPort}"),
        "web-tls"
    );
    assert_eq!(
        c.get_jsonpath(&["svc", "multi"], "{.spec.sessionAffinity}"),
        "None"
    );
    assert_eq!(
        c.get_jsonpath(&["svc", "multi"], "{.spec.ipFamilies[0]}"),
        "IPv4"
    );
    assert_eq!(
        c.get_jsonpath(&["svc", "multi"], "{.spec.internalTrafficPolicy}"),
        "Cluster"
    );
    assert_eq!(
        c.get_jsonpath(&["svc", "multi"], "{.spec.externalTrafficPolicy}"),
        ""
    );
    assert_eq!(
        c.get_jsonpath(&["svc", "np"], "{.spec.externalTrafficPolicy}"),
        "Cluster"
    );
    assert_eq!(
        c.get_jsonpath(
            &["svc", "sticky"],
            "{.spec.sessionAffinityConfig.clientIP.timeoutSeconds}"
        ),
        "10800"
    );
    assert_eq!(
        c.get_jsonpath(&["svc", "headless"], "{.spec.clusterIPs[0]}"),
        "None"
    );
    // The kubernetes Service holds the first address of the range.
    let first = c.get_jsonpath(&["svc", "kubernetes"], "{.spec.clusterIP}");
    assert!(first.ends_with(".1"), "kubernetes Service got {first}");
}

#[test]
fn rejections_carry_the_real_messages() {
    let c = Cluster::start();
    c.kubectl_ok([
        "create",
        "service",
        "nodeport",
        "first",
        "--tcp=80:8080",
        "--node-port=30080",
    ]);
    let dup = c.kubectl_err([
        "create",
        "service",
        "nodeport",
        "second",
        "--tcp=80:8080",
        "--node-port=30080",
    ]);
    assert!(
        dup.contains(r#"Service "second" is invalid: spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated"#),
        "{dup}"
    );
    let range = c.kubectl_err([
        "create",
        "service",
        "nodeport",
        "low",
        "--tcp=80:8080",
        "--node-port=80",
    ]);
    assert!(
        range.contains(
            "provided port is not in the valid range. The range of valid ports is 30000-32767"
        ),
        "{range}"
    );
    let ip = c.get_jsonpath(&["svc", "first"], "{.spec.clusterIP}");
    let taken = c.kubectl_err([
        "create",
        "service",
        "clusterip",
        "same-ip",
        "--tcp=80",
        &format!("--clusterip={ip}"),
    ]);
    assert!(
        taken.contains(&format!(
            "failed to allocate IP {ip}: provided IP is already allocated"
        )),
        "{taken}"
    );
    let outside = c.kubectl_err([
        "create",
        "service",
        "clusterip",
        "outside",
        "--tcp=80",
        "--clusterip=127.55.0.1",
    ]);
    assert!(outside.contains("is not in the valid range"), "{outside}");
    let port0 = c.kubectl_err(["create", "service", "clusterip", "zero", "--tcp=0:80"]);
    assert!(
        port0.contains(
            r#"spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive"#
        ),
        "{port0}"
    );
    // Several ports need names.
    let unnamed = c.kubectl_stdin_err(
        ["apply", "-f", "-"],
        "apiVersion: v1\nkind: Service\nmetadata: {name: two}\nspec:\n  ports: [{port: 80}, {port: 81}]\n",
    );
    assert!(
        unnamed.contains("spec.ports[0].name: Required value"),
        "{unnamed}"
    );
    // Nothing leaked: the rejected creates left the port free for no one else
    // but the first owner, and the IP range still serves new Services.
    c.kubectl_ok(["create", "service", "clusterip", "fine", "--tcp=80"]);
}

/// kube-apiserver's allocator gauges from `kubectl get --raw /metrics`:
/// (ClusterIPs handed out over every Service CIDR, NodePorts handed out).
fn allocated(c: &Cluster) -> (f64, f64) {
    let text = c.kubectl_ok(["get", "--raw", "/metrics"]);
    let value = |line: &str| line.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok());
    let ips = text
        .lines()
        .filter(|l| l.starts_with("kube_apiserver_clusterip_allocator_allocated_ips{cidr="))
        .filter_map(value)
        .sum();
    let ports = text
        .lines()
        .find(|l| l.starts_with("kube_apiserver_nodeport_allocator_allocated_ports "))
        .and_then(value)
        .unwrap_or_else(|| panic!("no NodePort gauge in /metrics:\n{text}"));
    (ips, ports)
}

#[test]
fn node_port_is_released_on_type_change_and_delete() {
    let c = Cluster::start();
    let (ips, ports) = allocated(&c);
    assert_eq!(ports, 0.0);
    assert!(
        ips >= 2.0,
        "the kubernetes and kube-dns Services hold ClusterIPs"
    );
    let unauthenticated = c.curl("GET", "/metrics", None, None);
    assert_eq!(unauthenticated.status, 401, "{}", unauthenticated.body);
    c.kubectl_ok([
        "create",
        "service",
        "nodeport",
        "a",
        "--tcp=80:8080",
        "--node-port=30081",
    ]);
    assert_eq!(allocated(&c), (ips + 1.0, 1.0));
    c.kubectl_ok([
        "patch",
        "svc",
        "a",
        "-p",
        r#"{"spec":{"type":"ClusterIP"}}"#,
    ]);
    assert_eq!(
        c.get_jsonpath(&["svc", "a"], "{.spec.ports[0].nodePort}"),
        ""
    );
    assert_eq!(allocated(&c), (ips + 1.0, 0.0), "the NodePort is released");
    c.kubectl_ok([
        "patch",
        "svc",
        "a",
        "-p",
        r#"{"spec":{"type":"ExternalName","externalName":"example.com","clusterIP":"","clusterIPs":null}}"#,
    ]);
    assert_eq!(allocated(&c), (ips, 0.0), "the ClusterIP is released");
    c.kubectl_ok([
        "create",
        "service",
        "nodeport",
        "b",
        "--tcp=80:8080",
        "--node-port=30081",
    ]);
    assert_eq!(allocated(&c), (ips + 1.0, 1.0));
    c.kubectl_ok(["delete", "svc", "b"]);
    assert_eq!(allocated(&c), (ips, 0.0), "delete releases the IP and port");
    c.kubectl_ok([
        "create",
        "service",
        "nodeport",
        "c",
        "--tcp=80:8080",
        "--node-port=30081",
    ]);
}

#[test]
fn concurrent_creates_for_one_node_port_yield_one_success() {
    let c = Cluster::start();
    let results: Vec<bool> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..20)
            .map(|i| {
                let c = &c;
                s.spawn(move || {
                    c.kubectl([
                        "create",
                        "service",
                        "nodeport",
                        &format!("race-{i}"),
                        "--tcp=80:8080",
                        "--node-port=30090",
                    ])
                    .status
                    .success()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(results.iter().filter(|ok| **ok).count(), 1, "{results:?}");
}

#[test]
fn allocations_survive_restart_and_kill() {
    let mut c = Cluster::start();
    c.kubectl_ok([
        "create",
        "service",
        "nodeport",
        "keep",
        "--tcp=80:8080",
        "--node-port=30100",
    ]);
    let ip = c.get_jsonpath(&["svc", "keep"], "{.spec.clusterIP}");
    c.kill9();
    c.start_again();
    assert_eq!(c.get_jsonpath(&["svc", "keep"], "{.spec.clusterIP}"), ip);
    let dup = c.kubectl_err([
        "create",
        "service",
        "nodeport",
        "again",
        "--tcp=80:8080",
        "--node-port=30100",
    ]);
    assert!(dup.contains("provided port is already allocated"), "{dup}");
    let taken = c.kubectl_err([
        "create",
        "service",
        "clusterip",
        "same",
        "--tcp=80",
        &format!("--clusterip={ip}"),
    ]);
    assert!(
        taken.contains("provided IP is already allocated"),
        "{taken}"
    );
    for i in 0..20 {
        c.kubectl_ok([
            "create",
            "service",
            "clusterip",
            &format!("n{i}"),
            "--tcp=80",
        ]);
        assert_ne!(
            c.get_jsonpath(&["svc", &format!("n{i}")], "{.spec.clusterIP}"),
            ip
        );
    }
}

/// A host TCP server answering every connection with `reply`.
fn serve(reply: &'static str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut buf = [0u8; 1024];
            let _ = conn.read(&mut buf);
            let _ = conn.write_all(
                format!(
                    "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{reply}",
                    reply.len()
                )
                .as_bytes(),
            );
        }
    });
    port
}

fn http_get(addr: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(b"GET / HTTP/1.0\r\n\r\n")?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

#[test]
fn traffic_flows_through_cluster_ip_node_port_and_load_balancer() {
    let c = Cluster::start();
    let backend = serve("hello from the backend");
    c.apply(&format!(
        r#"apiVersion: v1
kind: Service
metadata: {{name: manual}}
spec:
  type: LoadBalancer
  ports: [{{name: http, port: 80, targetPort: {backend}}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: manual-1
  labels: {{kubernetes.io/service-name: manual}}
addressType: IPv4
ports: [{{name: http, port: {backend}, protocol: TCP}}]
endpoints:
- addresses: ["127.0.0.1"]
  conditions: {{ready: true}}
"#
    ));
    let cluster_ip = c.get_jsonpath(&["svc", "manual"], "{.spec.clusterIP}");
    let node_port = c.get_jsonpath(&["svc", "manual"], "{.spec.ports[0].nodePort}");
    let lb_ip = eventually(WAIT, "a load-balancer address", || {
        Some(c.get_jsonpath(&["svc", "manual"], "{.status.loadBalancer.ingress[0].ip}"))
            .filter(|s| !s.is_empty())
    });
    let table = Table::parse(&c.kubectl_ok(["get", "svc", "manual"]));
    assert_eq!(
        table.cell(table.row("NAME", "manual"), "EXTERNAL-IP"),
        lb_ip
    );
    for addr in [
        format!("{cluster_ip}:80"),
        format!("{}:{node_port}", c.node_ip()),
        format!("{lb_ip}:80"),
    ] {
        let body = eventually(WAIT, &format!("a reply through {addr}"), || {
            http_get(&addr).ok().filter(|b| b.contains("hello"))
        });
        assert!(body.ends_with("hello from the backend"), "{body}");
    }
    // With no endpoint left, connections are refused at once, never hang.
    c.kubectl_ok(["delete", "endpointslice", "manual-1"]);
    eventually(WAIT, "the frontend to refuse", || {
        let started = std::time::Instant::now();
        let r = http_get(&format!("{cluster_ip}:80"));
        (started.elapsed() < Duration::from_secs(2) && r.map(|b| b.is_empty()).unwrap_or(true))
            .then_some(())
    });
}
