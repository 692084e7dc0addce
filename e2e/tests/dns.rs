//! Cluster DNS end to end: the `coredns` builtin pod that `mkube up`
//! creates, answering through the kube-dns ClusterIP to busybox pods
//! (`kubectl run ... -- nslookup X`, then `kubectl logs`) and to `dig` on
//! the host. Only names inside the cluster domain are asked, so no query
//! leaves the machine. Needs root (port 53 on the pod IP) and `dig`
//! (Debian `bind9-dnsutils`, installed by .ci/run).

use e2e::{eventually, Cluster};
use std::process::Command;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

/// The kube-dns ClusterIP, once the coredns pod is ready.
fn cluster_dns(c: &Cluster) -> String {
    c.kubectl_ok([
        "wait",
        "-n",
        "kube-system",
        "--for=condition=Ready",
        "pod",
        "-l",
        "k8s-app=kube-dns",
        "--timeout=60s",
    ]);
    c.kubectl_ok([
        "get",
        "service",
        "-n",
        "kube-system",
        "kube-dns",
        "-o",
        "jsonpath={.spec.clusterIP}",
    ])
}

/// `dig @server ARGS +short` (or the whole output without `+short` in
/// `args`).
fn dig(server: &str, args: &[&str]) -> String {
    let out = Command::new("dig")
        .arg(format!("@{server}"))
        .args(["+time=2", "+tries=2"])
        .args(args)
        .output()
        .expect("dig (Debian package bind9-dnsutils) must be installed");
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// Runs a busybox pod to completion: (phase, logs).
fn run_busybox(c: &Cluster, name: &str, ns: &str, command: &[&str]) -> (String, String) {
    let mut args = vec![
        "run",
        name,
        "-n",
        ns,
        "--image=busybox",
        "--restart=Never",
        "--",
    ];
    args.extend_from_slice(command);
    c.kubectl_ok(args);
    let phase = eventually(WAIT, &format!("pod {name} to finish"), || {
        let p = c.kubectl_ok([
            "get",
            "pod",
            name,
            "-n",
            ns,
            "-o",
            "jsonpath={.status.phase}",
        ]);
        matches!(p.as_str(), "Succeeded" | "Failed").then_some(p)
    });
    (phase, c.kubectl_ok(["logs", name, "-n", ns]))
}

fn cluster_ip(c: &Cluster, ns: &str, name: &str) -> String {
    c.kubectl_ok([
        "get",
        "service",
        name,
        "-n",
        ns,
        "-o",
        "jsonpath={.spec.clusterIP}",
    ])
}

#[test]
fn service_names_resolve_from_busybox_pods() {
    let c = Cluster::start();
    let dns = cluster_dns(&c);
    // The tenth address of the cluster's service range.
    let range = c.kubectl_ok([
        "get",
        "service",
        "kubernetes",
        "-o",
        "jsonpath={.spec.clusterIP}",
    ]);
    let prefix = range.rsplit_once('.').unwrap().0;
    assert_eq!(dns, format!("{prefix}.10"));

    // The add-on looks as in a kubeadm cluster.
    let pods = c.kubectl_ok(["get", "pods", "-n", "kube-system", "-l", "k8s-app=kube-dns"]);
    assert!(
        pods.contains("coredns-") && pods.contains("1/1") && pods.contains("Running"),
        "{pods}"
    );
    let svc = c.kubectl_ok(["get", "service", "-n", "kube-system", "kube-dns"]);
    assert!(svc.contains("53/UDP,53/TCP"), "{svc}");
    let logs = c.kubectl_ok(["logs", "-n", "kube-system", "-l", "k8s-app=kube-dns"]);
    assert!(
        logs.contains(".:53") && logs.contains("cluster.local"),
        "{logs}"
    );

    c.kubectl_ok([
        "create",
        "deployment",
        "learning-app",
        "--image=nginx",
        "--replicas=2",
    ]);
    c.kubectl_ok([
        "expose",
        "deployment",
        "learning-app",
        "--port=80",
        "--name=learning-service",
    ]);
    c.kubectl_ok(["create", "namespace", "shared-services"]);
    c.kubectl_ok([
        "create",
        "service",
        "clusterip",
        "database",
        "-n",
        "shared-services",
        "--tcp=5432:5432",
    ]);
    let web_ip = cluster_ip(&c, "default", "learning-service");
    let db_ip = cluster_ip(&c, "shared-services", "database");

    for (i, name) in [
        "learning-service",
        "learning-service.default",
        "learning-service.default.svc",
        "learning-service.default.svc.cluster.local",
    ]
    .iter()
    .enumerate()
    {
        let (phase, out) = run_busybox(&c, &format!("lookup-{i}"), "default", &["nslookup", name]);
        assert_eq!(phase, "Succeeded", "{name}: {out}");
        assert_eq!(
            out,
            format!(
                "Server:\t\t{dns}\nAddress:\t{dns}:53\n\nName:\tlearning-service.default.svc.cluster.local\nAddress: {web_ip}\n\n"
            ),
            "{name}"
        );
    }

    // Across namespaces, from a pod in another one.
    let (phase, out) = run_busybox(
        &c,
        "cross",
        "shared-services",
        &["nslookup", "learning-service.default"],
    );
    assert_eq!(phase, "Succeeded", "{out}");
    assert!(out.contains(&format!("Address: {web_ip}")), "{out}");
    let (_, out) = run_busybox(
        &c,
        "cross-2",
        "default",
        &["nslookup", "database.shared-services"],
    );
    assert!(
        out.contains("Name:\tdatabase.shared-services.svc.cluster.local\n"),
        "{out}"
    );
    assert!(out.contains(&format!("Address: {db_ip}")), "{out}");

    // A Service that does not exist.
    let (phase, out) = run_busybox(
        &c,
        "missing",
        "default",
        &["nslookup", "no-such-service.default.svc.cluster.local"],
    );
    assert_eq!(phase, "Failed", "{out}");
    assert!(
        out.contains("** server can't find no-such-service.default.svc.cluster.local: NXDOMAIN"),
        "{out}"
    );
    let full = dig(&dns, &["no-such-service.default.svc.cluster.local"]);
    assert!(full.contains("status: NXDOMAIN"), "{full}");
    assert!(
        full.contains("SOA\tns.dns.cluster.local. hostmaster.cluster.local."),
        "{full}"
    );
    // A name that exists without records of the type: NOERROR, no answer.
    let nodata = dig(
        &dns,
        &["learning-service.default.svc.cluster.local", "AAAA"],
    );
    assert!(
        nodata.contains("status: NOERROR") && nodata.contains("ANSWER: 0"),
        "{nodata}"
    );

    // The tutorial's check: wget by name, through DNS and the ClusterIP.
    eventually(WAIT, "two endpoints", || {
        let eps = c.kubectl_ok([
            "get",
            "endpoints",
            "learning-service",
            "-o",
            "jsonpath={.subsets[*].addresses[*].ip}",
        ]);
        (eps.split_whitespace().count() == 2).then_some(())
    });
    let (phase, out) = run_busybox(
        &c,
        "fetch",
        "default",
        &["wget", "-qO-", "learning-service"],
    );
    assert_eq!(phase, "Succeeded", "{out}");
    assert!(out.contains("Welcome to nginx!"), "{out}");

    // Host side, UDP and TCP, answers with TTL 5.
    let udp = dig(
        &dns,
        &[
            "learning-service.default.svc.cluster.local",
            "+noall",
            "+answer",
        ],
    );
    assert_eq!(
        udp.trim(),
        format!("learning-service.default.svc.cluster.local. 5 IN A {web_ip}")
    );
    let tcp = dig(
        &dns,
        &[
            "+tcp",
            "+short",
            "database.shared-services.svc.cluster.local",
        ],
    );
    assert_eq!(tcp.trim(), db_ip);
}

const HEADLESS: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: database-headless}
spec:
  clusterIP: None
  selector: {app: database}
  ports: [{name: pg, port: 5432, targetPort: 5432, protocol: TCP}]
---
apiVersion: v1
kind: Pod
metadata: {name: web-0, labels: {app: database}}
spec: {hostname: web-0, subdomain: database-headless, containers: [{name: c, image: registry.k8s.io/pause:3.10}]}
---
apiVersion: v1
kind: Pod
metadata: {name: web-1, labels: {app: database}}
spec: {hostname: web-1, subdomain: database-headless, containers: [{name: c, image: registry.k8s.io/pause:3.10}]}
---
apiVersion: v1
kind: Pod
metadata: {name: web-2, labels: {app: database}}
spec: {hostname: web-2, subdomain: database-headless, containers: [{name: c, image: registry.k8s.io/pause:3.10}]}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: database}
  ports: [{name: http, port: 80, protocol: TCP}]
---
apiVersion: v1
kind: Service
metadata: {name: db-alias}
spec: {type: ExternalName, externalName: web.default.svc.cluster.local}
"#;

fn pod_ip(c: &Cluster, name: &str) -> String {
    c.kubectl_ok(["get", "pod", name, "-o", "jsonpath={.status.podIP}"])
}

fn sorted_lines(s: &str) -> Vec<String> {
    let mut v: Vec<String> = s
        .lines()
        .map(str::to_string)
        .filter(|l| !l.is_empty())
        .collect();
    v.sort();
    v
}

#[test]
fn headless_srv_external_name_and_reverse() {
    let c = Cluster::start();
    let dns = cluster_dns(&c);
    c.apply(HEADLESS);
    c.kubectl_ok([
        "wait",
        "--for=condition=Ready",
        "pod",
        "-l",
        "app=database",
        "--timeout=60s",
    ]);
    let ips: Vec<String> = ["web-0", "web-1", "web-2"]
        .iter()
        .map(|p| pod_ip(&c, p))
        .collect();
    let mut expected = ips.clone();
    expected.sort();

    // One A record per ready pod, from the host and from a pod.
    let got = eventually(WAIT, "three headless records", || {
        let got = sorted_lines(&dig(
            &dns,
            &["+short", "database-headless.default.svc.cluster.local"],
        ));
        (got == expected).then_some(got)
    });
    assert_eq!(got, expected);
    let (phase, out) = run_busybox(
        &c,
        "headless",
        "default",
        &["nslookup", "database-headless"],
    );
    assert_eq!(phase, "Succeeded", "{out}");
    for ip in &ips {
        assert!(
            out.contains(&format!(
                "Name:\tdatabase-headless.default.svc.cluster.local\nAddress: {ip}\n"
            )),
            "{out}"
        );
    }
    // Pods with hostname + subdomain have their own names.
    let (phase, out) = run_busybox(
        &c,
        "member",
        "default",
        &["nslookup", "web-0.database-headless"],
    );
    assert_eq!(phase, "Succeeded", "{out}");
    assert!(
        out.contains(&format!(
            "Name:\tweb-0.database-headless.default.svc.cluster.local\nAddress: {}\n",
            ips[0]
        )),
        "{out}"
    );

    // SRV for the named port: one per endpoint for headless, the Service for ClusterIP.
    let srv = sorted_lines(&dig(
        &dns,
        &[
            "+short",
            "SRV",
            "_pg._tcp.database-headless.default.svc.cluster.local",
        ],
    ));
    assert_eq!(
        srv,
        vec![
            "0 33 5432 web-0.database-headless.default.svc.cluster.local.",
            "0 33 5432 web-1.database-headless.default.svc.cluster.local.",
            "0 33 5432 web-2.database-headless.default.svc.cluster.local.",
        ]
    );
    let srv = dig(
        &dns,
        &["+short", "SRV", "_http._tcp.web.default.svc.cluster.local"],
    );
    assert_eq!(srv.trim(), "0 100 80 web.default.svc.cluster.local.");

    // ExternalName: the CNAME, then the target's address.
    let web_ip = cluster_ip(&c, "default", "web");
    let (phase, out) = run_busybox(&c, "alias", "default", &["nslookup", "db-alias"]);
    assert_eq!(phase, "Succeeded", "{out}");
    assert!(
        out.contains(
            "db-alias.default.svc.cluster.local\tcanonical name = web.default.svc.cluster.local\n"
        ),
        "{out}"
    );
    assert!(out.contains(&format!("Address: {web_ip}\n")), "{out}");

    // PTR for a ClusterIP and a headless endpoint; the schema version.
    assert_eq!(
        dig(&dns, &["+short", "-x", &web_ip]).trim(),
        "web.default.svc.cluster.local."
    );
    assert_eq!(
        dig(&dns, &["+short", "-x", &ips[1]]).trim(),
        "web-1.database-headless.default.svc.cluster.local."
    );
    assert_eq!(
        dig(&dns, &["+short", "TXT", "dns-version.cluster.local"]).trim(),
        "\"1.1.0\""
    );
    // Pod A records from the dashed address.
    let dashed = ips[2].replace('.', "-");
    assert_eq!(
        dig(
            &dns,
            &["+short", &format!("{dashed}.default.pod.cluster.local")]
        )
        .trim(),
        ips[2]
    );

    // A pod going away leaves the answer.
    c.kubectl_ok(["delete", "pod", "web-2", "--wait=false"]);
    eventually(WAIT, "two headless records", || {
        let got = sorted_lines(&dig(
            &dns,
            &["+short", "database-headless.default.svc.cluster.local"],
        ));
        (got.len() == 2 && !got.contains(&ips[2])).then_some(())
    });
}

#[test]
fn a_service_created_after_the_pod_resolves_and_host_processes_see_the_pod_resolv_conf() {
    let c = Cluster::start();
    let dns = cluster_dns(&c);
    // The pod starts before the Service exists and keeps asking for it
    // until an address comes back. (nslookup's own exit status is not
    // enough: like busybox's, it succeeds on NOERROR without records, which
    // a Service created between its A and AAAA queries gives for AAAA.)
    c.kubectl_ok([
        "run",
        "waiter",
        "--image=busybox",
        "--restart=Never",
        "--",
        "sh",
        "-c",
        "until nslookup late-service | grep -q '^Name:'; do sleep 0.2; done; nslookup late-service",
    ]);
    c.kubectl_ok([
        "wait",
        "--for=condition=Ready",
        "pod",
        "waiter",
        "--timeout=60s",
    ]);
    c.kubectl_ok([
        "create",
        "service",
        "clusterip",
        "late-service",
        "--tcp=80:80",
    ]);
    let ip = cluster_ip(&c, "default", "late-service");
    // From the host: already there when kubectl returned.
    eventually(Duration::from_secs(5), "late-service in DNS", || {
        (dig(&dns, &["+short", "late-service.default.svc.cluster.local"]).trim() == ip)
            .then_some(())
    });
    eventually(WAIT, "the waiting pod to resolve it", || {
        let p = c.kubectl_ok(["get", "pod", "waiter", "-o", "jsonpath={.status.phase}"]);
        (p == "Succeeded").then_some(())
    });
    let out = c.kubectl_ok(["logs", "waiter"]);
    assert!(
        out.contains(&format!(
            "Name:\tlate-service.default.svc.cluster.local\nAddress: {ip}\n"
        )),
        "{out}"
    );

    // A pod's resolv.conf: ClusterFirst by default, None + dnsConfig as given.
    c.apply(
        r#"
apiVersion: v1
kind: Pod
metadata: {name: custom-dns}
spec:
  restartPolicy: Never
  dnsPolicy: None
  dnsConfig: {nameservers: ["127.0.0.9"], searches: ["example.test"], options: [{name: ndots, value: "2"}]}
  containers: [{name: c, image: busybox, command: ["cat", "/etc/resolv.conf"]}]
"#,
    );
    // Host processes get the pod's files in their own mount namespace.
    let (phase, out) = run_busybox(&c, "default-dns", "default", &["cat", "/etc/resolv.conf"]);
    assert_eq!(phase, "Succeeded", "{out}");
    assert_eq!(
            out,
            format!("search default.svc.cluster.local svc.cluster.local cluster.local\nnameserver {dns}\noptions ndots:5\n")
        );
    eventually(WAIT, "custom-dns to finish", || {
        let p = c.kubectl_ok(["get", "pod", "custom-dns", "-o", "jsonpath={.status.phase}"]);
        (p == "Succeeded").then_some(())
    });
    assert_eq!(
        c.kubectl_ok(["logs", "custom-dns"]),
        "search example.test\nnameserver 127.0.0.9\noptions ndots:2\n"
    );
    // The host's resolver library resolves Service names inside the pod.
    let (phase, out) = run_busybox(
        &c,
        "getent",
        "default",
        &["getent", "hosts", "late-service"],
    );
    assert_eq!(phase, "Succeeded", "{out}");
    assert!(out.starts_with(&format!("{ip} ")), "{out}");
}
