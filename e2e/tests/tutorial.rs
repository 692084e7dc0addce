//! The seed tutorials' first scenario, end to end with the real kubectl:
//! a Deployment of nginx, exposed as a Service, answering through its
//! ClusterIP from the host and from a busybox pod.

use e2e::{eventually, Cluster};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

fn http_get(addr: &str) -> Option<String> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"GET / HTTP/1.0\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

#[test]
fn deployment_exposed_as_a_service_serves_nginx() {
    let c = Cluster::start();
    assert_eq!(
        c.kubectl_ok([
            "create",
            "deployment",
            "learning-app",
            "--image=nginx",
            "--replicas=3"
        ]),
        "deployment.apps/learning-app created\n"
    );
    c.kubectl_ok([
        "rollout",
        "status",
        "deployment/learning-app",
        "--timeout=60s",
    ]);
    let ips = c.kubectl_ok([
        "get",
        "pods",
        "-l",
        "app=learning-app",
        "-o",
        "jsonpath={.items[*].status.podIP}",
    ]);
    let ips: Vec<&str> = ips.split_whitespace().collect();
    assert_eq!(ips.len(), 3, "{ips:?}");
    let mut distinct = ips.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 3, "pod IPs must differ: {ips:?}");
    // Each pod answers on its own IP.
    let page = eventually(WAIT, "nginx on a pod IP", || {
        http_get(&format!("{}:80", ips[0]))
    });
    assert!(page.contains("Welcome to nginx!"), "{page}");

    assert_eq!(
        c.kubectl_ok([
            "expose",
            "deployment",
            "learning-app",
            "--port=80",
            "--name=learning-service"
        ]),
        "service/learning-service exposed\n"
    );
    eventually(WAIT, "three endpoints", || {
        let eps = c.kubectl_ok([
            "get",
            "endpointslices",
            "-l",
            "kubernetes.io/service-name=learning-service",
            "-o",
            "jsonpath={.items[*].endpoints[*].addresses[0]}",
        ]);
        (eps.split_whitespace().count() == 3).then_some(())
    });
    let ip = c.kubectl_ok([
        "get",
        "service",
        "learning-service",
        "-o",
        "jsonpath={.spec.clusterIP}",
    ]);
    let page = eventually(WAIT, "nginx through the ClusterIP", || {
        http_get(&format!("{ip}:80")).filter(|p| p.contains("Welcome to nginx!"))
    });
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");

    // From inside the cluster: a busybox pod fetches the page, and its log shows it.
    c.kubectl_ok([
        "run",
        "test-pod",
        "--image=busybox",
        "--restart=Never",
        "--",
        "wget",
        "-qO-",
        &ip,
    ]);
    eventually(WAIT, "the busybox pod to complete", || {
        let phase = c.kubectl_ok(["get", "pod", "test-pod", "-o", "jsonpath={.status.phase}"]);
        (phase == "Succeeded").then_some(())
    });
    assert!(c
        .kubectl_ok(["logs", "test-pod"])
        .contains("Welcome to nginx!"));

    // Scaling is followed by the endpoints.
    c.kubectl_ok(["scale", "deployment", "learning-app", "--replicas=1"]);
    eventually(WAIT, "one endpoint", || {
        let eps = c.kubectl_ok([
            "get",
            "endpoints",
            "learning-service",
            "-o",
            "jsonpath={.subsets[*].addresses[*].ip}",
        ]);
        (eps.split_whitespace().count() == 1).then_some(())
    });
}
