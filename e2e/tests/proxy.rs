//! The service proxy with real pods (agnhost netexec, builtin) and real
//! sockets on loopback: ClientIP affinity keeps one backend, a UDP port
//! answers, each port of a multi-port Service reaches its own container port,
//! and scaling 3 -> 1 under load fails no request. The proxy's `/healthz`
//! and `/metrics` (kube-proxy's) follow a Service being created.

use e2e::{eventually, Cluster};
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(60);

const APP: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata: {name: netexec}
spec:
  replicas: 3
  selector: {matchLabels: {app: netexec}}
  template:
    metadata: {labels: {app: netexec}}
    spec:
      containers:
      - name: netexec
        image: registry.k8s.io/e2e-test-images/agnhost:2.53
        args: [netexec, --http-port=8080, --udp-port=8081]
        # As on a real cluster, a short preStop keeps a terminating pod
        # serving while the endpoints and the proxy drop it, so scaling
        # down under load loses no request.
        lifecycle: {preStop: {exec: {command: [sleep, "1"]}}}
        ports:
        - {name: http, containerPort: 8080}
        - {name: udp, containerPort: 8081, protocol: UDP}
      - name: hostname
        image: registry.k8s.io/e2e-test-images/agnhost:2.53
        args: [serve-hostname, --port=9376]
---
apiVersion: v1
kind: Service
metadata: {name: multi}
spec:
  selector: {app: netexec}
  ports:
  - {name: http, port: 80, targetPort: http}
  - {name: udp, port: 81, targetPort: udp, protocol: UDP}
  - {name: serve-hostname, port: 82, targetPort: 9376}
---
apiVersion: v1
kind: Service
metadata: {name: sticky}
spec:
  selector: {app: netexec}
  sessionAffinity: ClientIP
  ports: [{port: 80, targetPort: 8080}]
"#;

/// GET `path` over HTTP/1.0; the body.
fn http_get(addr: &str, path: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(s, "GET {path} HTTP/1.0\r\n\r\n")?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    match out.split_once("\r\n\r\n") {
        Some((head, body)) if head.starts_with("HTTP/1.") && head.contains(" 200 ") => {
            Ok(body.to_string())
        }
        _ => Err(std::io::Error::other(format!("bad reply: {out:?}"))),
    }
}

fn udp_ask(addr: &str, msg: &str) -> std::io::Result<String> {
    let s = UdpSocket::bind("127.0.0.1:0")?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    s.send_to(msg.as_bytes(), addr)?;
    let mut buf = [0u8; 256];
    let (n, _) = s.recv_from(&mut buf)?;
    Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
}

fn cluster_ip(c: &Cluster, svc: &str) -> String {
    c.kubectl_ok(["get", "svc", svc, "-o", "jsonpath={.spec.clusterIP}"])
}

fn pod_names(c: &Cluster) -> BTreeSet<String> {
    c.kubectl_ok([
        "get",
        "pods",
        "-l",
        "app=netexec",
        "-o",
        "jsonpath={.items[*].metadata.name}",
    ])
    .split_whitespace()
    .map(str::to_string)
    .collect()
}

/// Hostnames answering `n` requests through `addr`.
fn hostnames(addr: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|_| http_get(addr, "/hostname").expect("a reply through the Service"))
        .collect()
}

#[test]
fn affinity_udp_multi_port_and_scale_down_without_failures() {
    let c = Cluster::start();
    c.apply(APP);
    c.kubectl_ok(["rollout", "status", "deployment/netexec", "--timeout=60s"]);
    let pods = pod_names(&c);
    assert_eq!(pods.len(), 3, "{pods:?}");
    let multi = cluster_ip(&c, "multi");
    let sticky = cluster_ip(&c, "sticky");

    // Every replica is reachable once all three endpoints are programmed.
    let http = format!("{multi}:80");
    eventually(WAIT, "all three replicas behind the Service", || {
        let seen: BTreeSet<String> = (0..40)
            .filter_map(|_| http_get(&http, "/hostname").ok())
            .collect();
        (seen == pods).then_some(())
    });

    // Multi-port: each Service port reaches its own container port.
    let echo = http_get(&http, "/echo?msg=through-port-80").expect("port 80");
    assert_eq!(echo, "through-port-80");
    let served = http_get(&format!("{multi}:82"), "/").expect("port 82 (serve-hostname)");
    assert!(pods.contains(&served), "{served} not in {pods:?}");

    // UDP: the netexec UDP server answers through the Service's UDP port.
    let udp = format!("{multi}:81");
    let name = eventually(WAIT, "a UDP reply", || udp_ask(&udp, "hostname").ok());
    assert!(pods.contains(&name), "{name} not in {pods:?}");
    assert_eq!(
        udp_ask(&udp, "echo over-udp").expect("udp echo"),
        "over-udp"
    );

    // ClientIP affinity: one client, one backend, request after request.
    let sticky_addr = format!("{sticky}:80");
    eventually(WAIT, "the sticky Service to answer", || {
        http_get(&sticky_addr, "/hostname").ok()
    });
    let answers: BTreeSet<String> = hostnames(&sticky_addr, 30).into_iter().collect();
    assert_eq!(answers.len(), 1, "ClientIP affinity broke: {answers:?}");
    // Without affinity the same client is spread (3 backends, 30 picks).
    let spread: BTreeSet<String> = hostnames(&http, 30).into_iter().collect();
    assert!(
        spread.len() > 1,
        "no spreading without affinity: {spread:?}"
    );

    // Scale 3 -> 1 under steady load: no request fails, and once the
    // endpoints settle only the survivor answers.
    let load = {
        let http = http.clone();
        std::thread::spawn(move || {
            let until = Instant::now() + Duration::from_secs(8);
            let (mut ok, mut failed) = (0usize, Vec::new());
            while Instant::now() < until {
                match http_get(&http, "/hostname") {
                    Ok(_) => ok += 1,
                    Err(e) => failed.push(e.to_string()),
                }
            }
            (ok, failed)
        })
    };
    std::thread::sleep(Duration::from_millis(500));
    c.kubectl_ok(["scale", "deployment/netexec", "--replicas=1"]);
    let (ok, failed) = load.join().expect("load thread");
    assert!(
        failed.is_empty(),
        "{} of {} requests failed: {:?}",
        failed.len(),
        ok + failed.len(),
        &failed[..failed.len().min(5)]
    );
    assert!(ok > 50, "too few requests went through: {ok}");
    let survivor = eventually(WAIT, "one pod left", || {
        let p = pod_names(&c);
        (p.len() == 1).then(|| p.into_iter().next().unwrap_or_default())
    });
    eventually(WAIT, "only the survivor answering", || {
        let seen: BTreeSet<String> = hostnames(&http, 10).into_iter().collect();
        (seen.len() == 1 && seen.contains(&survivor)).then_some(())
    });
}

const WEB: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: netexec
        image: registry.k8s.io/e2e-test-images/agnhost:2.53
        args: [netexec, --http-port=8080]
"#;

/// The value of the sample `name` (no labels) in a Prometheus exposition.
fn sample(text: &str, name: &str) -> f64 {
    let prefix = format!("{name} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no sample {name} in\n{text}"))
}

const SYNCS: &str = "kubeproxy_sync_proxy_rules_duration_seconds_count";
const PROGRAMMED: &str = "kubeproxy_network_programming_duration_seconds_count";
const SERVICE_CHANGES: &str = "kubeproxy_sync_proxy_rules_service_changes_total";
const LAST_SYNC: &str = "kubeproxy_sync_proxy_rules_last_timestamp_seconds";

#[test]
fn healthz_and_metrics_follow_a_new_service() {
    let status = format!("127.0.0.1:{}", e2e::free_port());
    let c = Cluster::start_with_args(&["--proxy-metrics-bind-address", &status]);

    // kube-proxy's health check: 200 and the two times, once rules are synced.
    let health = http_get(&status, "/healthz").expect("/healthz answers 200");
    let health: serde_json::Value = serde_json::from_str(&health).expect("JSON health");
    assert!(health["lastUpdated"].is_string(), "{health}");
    assert!(health["currentTime"].is_string(), "{health}");

    let before = http_get(&status, "/metrics").expect("/metrics answers 200");
    assert!(
        before.contains("# TYPE kubeproxy_network_programming_duration_seconds histogram"),
        "{before}"
    );
    assert!(sample(&before, SYNCS) >= 1.0, "the first sync is counted");

    c.apply(WEB);
    c.kubectl_ok(["rollout", "status", "deployment/web", "--timeout=60s"]);
    c.kubectl_ok([
        "expose",
        "deployment/web",
        "--port=80",
        "--target-port=8080",
    ]);
    let web = format!("{}:80", cluster_ip(&c, "web"));
    eventually(WAIT, "the new Service to forward", || {
        http_get(&web, "/hostname").ok()
    });

    // The Service and its EndpointSlice were synced, and the slice's
    // change-to-programmed latency was observed.
    let after = eventually(WAIT, "the programming latency to be observed", || {
        let m = http_get(&status, "/metrics").ok()?;
        (sample(&m, PROGRAMMED) > sample(&before, PROGRAMMED)).then_some(m)
    });
    assert!(sample(&after, SYNCS) > sample(&before, SYNCS), "{after}");
    assert!(
        sample(&after, SERVICE_CHANGES) > sample(&before, SERVICE_CHANGES),
        "{after}"
    );
    assert!(
        sample(&after, LAST_SYNC) >= sample(&before, LAST_SYNC),
        "{after}"
    );
    assert!(http_get(&status, "/healthz").is_ok(), "still healthy");
}
