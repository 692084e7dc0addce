//! Two node agents on one machine against one `mkube up`: a second
//! `mkube nodeagent` process with its own node IP in 127.0.0.0/8 and the pod
//! range the control plane allocates it.
//! `externalTrafficPolicy: Local` (a LoadBalancer Service, so it gets a
//! healthCheckNodePort) serves NodePort traffic only on the node
//! with a local endpoint and its healthCheckNodePort answers 200 there and
//! 503 elsewhere; when the second agent is killed its lease goes stale, the
//! node turns Unknown and tainted, and its pod leaves the ready endpoints;
//! a restarted agent brings all of it back.

use e2e::{eventually, mkube_bin, Background, Cluster};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);
const NODE_B: &str = "node-b";

const APP: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata: {name: local}
spec:
  replicas: 1
  selector: {matchLabels: {app: local}}
  template:
    metadata: {labels: {app: local}}
    spec:
      nodeSelector: {kubernetes.io/hostname: node-b}
      containers:
      - name: netexec
        image: registry.k8s.io/e2e-test-images/agnhost:2.53
        args: [netexec, --http-port=8080, --udp-port=-1]
---
apiVersion: v1
kind: Service
metadata: {name: local}
spec:
  type: LoadBalancer
  externalTrafficPolicy: Local
  selector: {app: local}
  ports: [{port: 80, targetPort: 8080}]
"#;

/// (status code, body) of a GET, or None when the connection fails or is reset.
fn get(addr: &str, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr.parse().ok()?, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let (head, body) = out.split_once("\r\n\r\n")?;
    let code = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((code, body.to_string()))
}

/// `localEndpoints` of a kube-proxy health check reply.
fn local_endpoints(body: &str) -> i64 {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.pointer("/localEndpoints").and_then(|n| n.as_i64()))
        .unwrap_or(-1)
}

/// The second /24 of the cluster CIDR the harness gives this cluster:
/// what the node IPAM controller hands node B (`mkube up`'s own node holds
/// the first).
fn second_pod_cidr(c: &Cluster) -> String {
    let cluster = c
        .isolation_args()
        .windows(2)
        .find(|w| w[0] == "--cluster-cidr")
        .map(|w| w[1].clone())
        .expect("the harness sets --cluster-cidr");
    let (net, _) = cluster.split_once(".0.0/").expect("a /16 cluster CIDR");
    format!("{net}.1.0/24")
}

fn start_agent(c: &Cluster, ip: &str) -> Background {
    let mut cmd = Command::new(mkube_bin());
    cmd.args(["nodeagent", "--kubeconfig"])
        .arg(c.kubeconfig())
        .args(["--node-name", NODE_B, "--node-ip", ip, "--data-dir"])
        .arg(c.data_dir().join(NODE_B))
        .args(["--agent-token", &c.token()])
        .env("MKUBE_LOG", "warn");
    let mut agent = Background::spawn(cmd);
    agent.expect_line(WAIT, "the second agent running", |l| {
        l.contains("node agent") && l.contains("is running")
    });
    agent
}

fn node_field(c: &Cluster, path: &str) -> String {
    c.kubectl_ok(["get", "node", NODE_B, "-o", &format!("jsonpath={path}")])
}

fn ready_endpoints(c: &Cluster) -> String {
    c.kubectl_ok([
        "get",
        "endpointslices",
        "-l",
        "kubernetes.io/service-name=local",
        "-o",
        "jsonpath={.items[*].endpoints[*].conditions.ready}",
    ])
}

#[test]
fn external_traffic_policy_local_and_node_lifecycle_with_two_agents() {
    // Agents renew their Lease every 10 s: the grace must exceed that.
    let c = Cluster::start_with_args(&["--node-monitor-grace-period=15s"]);
    // Node A is 127.1.N.1; node B takes 127.1.N.2.
    let ip_a = c.node_ip();
    let ip_b = match ip_a.rsplit_once('.') {
        Some((net, _)) => format!("{net}.2"),
        None => panic!("node IP {ip_a} is not IPv4"),
    };
    let mut agent = start_agent(&c, &ip_b);
    eventually(WAIT, "node-b Ready", || {
        (node_field(&c, r#"{.status.conditions[?(@.type=="Ready")].status}"#) == "True")
            .then_some(())
    });

    // The control plane gave node B its own pod range.
    assert_eq!(node_field(&c, "{.spec.podCIDR}"), second_pod_cidr(&c));

    c.apply(APP);
    c.kubectl_ok(["rollout", "status", "deployment/local", "--timeout=60s"]);
    let pod_node = c.kubectl_ok([
        "get",
        "pods",
        "-l",
        "app=local",
        "-o",
        "jsonpath={.items[0].spec.nodeName}",
    ]);
    assert_eq!(pod_node, NODE_B);
    let node_port = c.kubectl_ok([
        "get",
        "svc",
        "local",
        "-o",
        "jsonpath={.spec.ports[0].nodePort}",
    ]);
    let hc_port = c.kubectl_ok([
        "get",
        "svc",
        "local",
        "-o",
        "jsonpath={.spec.healthCheckNodePort}",
    ]);
    assert!(!hc_port.is_empty(), "no healthCheckNodePort allocated");

    // Node B has the endpoint: NodePort traffic is served, health is 200.
    let (code, body) = eventually(WAIT, "NodePort on node-b", || {
        get(&format!("{ip_b}:{node_port}"), "/hostname").filter(|(c, _)| *c == 200)
    });
    assert_eq!(code, 200);
    assert!(body.starts_with("local-"), "{body}");
    let (code, body) = eventually(WAIT, "health 200 on node-b", || {
        get(&format!("{ip_b}:{hc_port}"), "/healthz").filter(|(c, _)| *c == 200)
    });
    assert_eq!(code, 200);
    assert_eq!(local_endpoints(&body), 1, "{body}");
    // Node A has none: its NodePort drops the traffic, its health says 503.
    let (code, body) = eventually(WAIT, "health 503 on node-a", || {
        get(&format!("{ip_a}:{hc_port}"), "/healthz")
    });
    assert_eq!(code, 503, "{body}");
    assert_eq!(local_endpoints(&body), 0, "{body}");
    assert_eq!(get(&format!("{ip_a}:{node_port}"), "/hostname"), None);

    // Kill node B's agent: after the grace period the node is Unknown and
    // tainted, and its pod is no longer a ready endpoint.
    assert_eq!(ready_endpoints(&c), "true");
    agent.kill();
    eventually(WAIT, "node-b Unknown", || {
        (node_field(&c, r#"{.status.conditions[?(@.type=="Ready")].status}"#) == "Unknown")
            .then_some(())
    });
    assert_eq!(
        node_field(&c, r#"{.status.conditions[?(@.type=="Ready")].message}"#),
        "Kubelet stopped posting node status."
    );
    let taints = eventually(WAIT, "unreachable taints", || {
        let t = node_field(&c, "{.spec.taints[*].key}:{.spec.taints[*].effect}");
        t.contains("node.kubernetes.io/unreachable").then_some(t)
    });
    assert!(
        taints.contains("NoSchedule") && taints.contains("NoExecute"),
        "{taints}"
    );
    eventually(WAIT, "the pod out of the ready endpoints", || {
        (ready_endpoints(&c) == "false").then_some(())
    });
    let describe = c.kubectl_ok(["describe", "node", NODE_B]);
    assert!(describe.contains("NodeNotReady"), "{describe}");

    // The agent comes back: Ready, untainted, the pod serving again.
    let _agent = start_agent(&c, &ip_b);
    eventually(WAIT, "node-b Ready again", || {
        (node_field(&c, r#"{.status.conditions[?(@.type=="Ready")].status}"#) == "True")
            .then_some(())
    });
    eventually(WAIT, "taints removed", || {
        node_field(&c, "{.spec.taints[*].key}")
            .is_empty()
            .then_some(())
    });
    eventually(WAIT, "NodePort on node-b again", || {
        get(&format!("{ip_b}:{node_port}"), "/hostname").filter(|(c, _)| *c == 200)
    });
}
