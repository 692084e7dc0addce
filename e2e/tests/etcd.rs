//! Several API servers on one etcd are one cluster (issue #9): a three-member
//! etcd on 127.0.0.1 ports, two `mkube apiserver` processes, two leader-elected
//! `mkube controllers`, driven with the real kubectl. Skipped (with a printed
//! reason) where no etcd binary is installed; CI installs Debian's etcd-server.

use e2e::etcd::{Component, EtcdCluster};
use e2e::{eventually, Cluster};
use std::collections::HashSet;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

/// Two API servers on `etcd`, sharing one Service range (as the API servers
/// of one real cluster share `--service-cidr`).
fn two_api_servers(etcd: &EtcdCluster, prefix: &str, n: u8) -> (Cluster, Cluster) {
    let servers = etcd.endpoints();
    let (services, pods) = (
        format!("127.97.{n}.0/24"),
        format!("127.{}.0.0/16", 180 + n),
    );
    let flags = [
        "--etcd-servers",
        servers.as_str(),
        "--etcd-prefix",
        prefix,
        "--service-cidr",
        &services,
        "--cluster-cidr",
        &pods,
    ];
    let a = Cluster::start_apiserver(&flags);
    let b = Cluster::start_apiserver(&flags);
    (a, b)
}

/// A `kubectl get --watch --output-watch-events` line: `ADDED  NAME ...`.
fn added(line: &str, name: &str) -> bool {
    let mut cols = line.split_whitespace();
    cols.next() == Some("ADDED") && cols.next() == Some(name)
}

fn cluster_ips(c: &Cluster) -> Vec<String> {
    c.kubectl_ok([
        "get",
        "services",
        "-l",
        "batch=race",
        "-o",
        "jsonpath={range .items[*]}{.spec.clusterIP}{\"\\n\"}{end}",
    ])
    .lines()
    .map(str::to_string)
    .filter(|l| !l.is_empty())
    .collect()
}

#[test]
fn two_api_servers_on_three_etcd_members_are_one_cluster() {
    let Some(mut etcd) = EtcdCluster::start(3) else {
        return;
    };
    let (mut a, b) = two_api_servers(&etcd, "/e2e-one-cluster", 1);

    // A write through A reaches a watch on B.
    let mut watch = b.kubectl_spawn(["get", "configmaps", "--watch", "--output-watch-events"]);
    a.kubectl_ok(["create", "configmap", "through-a", "--from-literal=k=v"]);
    watch.expect_line(WAIT, "ADDED through-a on B", |l| added(l, "through-a"));
    assert_eq!(
        b.kubectl_ok(["get", "configmap", "through-a", "-o", "jsonpath={.data.k}"]),
        "v"
    );

    // 50 concurrent Service creates split across A and B: 50 distinct ClusterIPs.
    std::thread::scope(|s| {
        for i in 0..50 {
            let c = if i % 2 == 0 { &a } else { &b };
            s.spawn(move || {
                let name = format!("race-{i}");
                c.kubectl_ok(["create", "service", "clusterip", &name, "--tcp=80:8080"]);
                c.kubectl_ok(["label", "service", &name, "batch=race"]);
            });
        }
    });
    let ips = cluster_ips(&b);
    assert_eq!(ips.len(), 50, "{ips:?}");
    let distinct: HashSet<&String> = ips.iter().collect();
    assert_eq!(distinct.len(), 50, "duplicate ClusterIPs: {ips:?}");
    assert_eq!(cluster_ips(&a).len(), 50);
    // A requested IP one API server holds is refused by the other.
    let taken = &ips[0];
    let err = a.kubectl_err([
        "create",
        "service",
        "clusterip",
        "dup",
        "--tcp=80",
        &format!("--clusterip={taken}"),
    ]);
    assert!(err.contains("provided IP is already allocated"), "{err}");

    // One etcd member dies: both API servers keep reading and writing, and
    // the watch on B keeps delivering.
    etcd.kill_member(0);
    for (c, name) in [(&a, "after-kill-a"), (&b, "after-kill-b")] {
        eventually(WAIT, "a write after an etcd member died", || {
            let out = c.kubectl(["create", "configmap", name]);
            // A write that timed out during etcd's leader election may still
            // have committed; the retry then finds it.
            (out.status.success() || e2e::text(&out.stderr).contains("already exists"))
                .then_some(())
        });
    }
    watch.expect_line(WAIT, "ADDED after-kill-a on B", |l| {
        added(l, "after-kill-a")
    });
    // Every read succeeds at once: requests that went to the dead member are
    // sent again to a live one.
    for _ in 0..10 {
        for c in [&a, &b] {
            assert!(c
                .kubectl_ok(["get", "configmaps", "-o", "name"])
                .contains("after-kill-a"));
        }
    }

    // API server A dies: B's clients (its watch included) do not notice.
    a.kill9();
    b.kubectl_ok(["create", "configmap", "after-a-died"]);
    watch.expect_line(WAIT, "ADDED after-a-died on B", |l| {
        added(l, "after-a-died")
    });
}

/// Whether a controllers process has started leading.
fn leader_of(c: &Component) -> bool {
    c.log().contains("became leader")
}

/// The Lease's holder; empty while there is no Lease (or no holder).
fn holder(c: &Cluster) -> String {
    let out = c.kubectl([
        "get",
        "lease",
        "-n",
        "kube-system",
        "mkube-controllers",
        "-o",
        "jsonpath={.spec.holderIdentity}",
    ]);
    e2e::text(&out.stdout).trim().to_string()
}

fn controllers(c: &Cluster, name: &str) -> Component {
    let log = c.data_dir().join(format!("{name}.log"));
    Component::spawn(
        name,
        &[
            "controllers".into(),
            "--kubeconfig".into(),
            c.kubeconfig().display().to_string(),
            "--lb-ip-range".into(),
            "127.241.0.0/24".into(),
            "--leader-elect-lease-duration".into(),
            "4".into(),
        ],
        &log,
    )
}

fn nodeagent(c: &Cluster, name: &str, ip: &str, pod_cidr: &str) -> Component {
    let dir = c.data_dir().join(name);
    Component::spawn(
        name,
        &[
            "nodeagent".into(),
            "--kubeconfig".into(),
            c.kubeconfig().display().to_string(),
            "--data-dir".into(),
            dir.display().to_string(),
            "--agent-token".into(),
            c.token(),
            "--node-name".into(),
            name.into(),
            "--node-ip".into(),
            ip.into(),
            "--pod-cidr".into(),
            pod_cidr.into(),
        ],
        &c.data_dir().join(format!("{name}.log")),
    )
}

fn endpoint_ips(c: &Cluster, service: &str) -> usize {
    c.kubectl_ok([
        "get",
        "endpoints",
        service,
        "-o",
        "jsonpath={.subsets[*].addresses[*].ip}",
    ])
    .split_whitespace()
    .count()
}

fn replicasets_of(c: &Cluster, app: &str) -> usize {
    c.kubectl_ok([
        "get",
        "replicasets",
        "-l",
        &format!("app={app}"),
        "-o",
        "name",
    ])
    .lines()
    .filter(|l| !l.is_empty())
    .count()
}

#[test]
fn one_controller_process_leads_and_the_other_takes_over() {
    let Some(etcd) = EtcdCluster::start(3) else {
        return;
    };
    let (a, b) = two_api_servers(&etcd, "/e2e-leader", 2);
    let _node = nodeagent(&b, "etcd-node-b", "127.1.252.1", "127.182.1.0/24");
    let mut first = controllers(&a, "controllers-a");
    let mut second = controllers(&b, "controllers-b");

    let leader_id = eventually(WAIT, "a Lease holder", || {
        Some(holder(&a)).filter(|h| !h.is_empty())
    });
    // Exactly one process acts.
    let first_leads = eventually(WAIT, "one controller to start leading", || {
        match (leader_of(&first), leader_of(&second)) {
            (true, false) => Some(true),
            (false, true) => Some(false),
            _ => None,
        }
    });
    let (active, standby) = if first_leads {
        (&mut first, &mut second)
    } else {
        (&mut second, &mut first)
    };
    a.kubectl_ok([
        "create",
        "deployment",
        "before",
        "--image=nginx",
        "--replicas=1",
    ]);
    a.kubectl_ok(["expose", "deployment", "before", "--port=80"]);
    eventually(WAIT, "the leader to create the ReplicaSet", || {
        (replicasets_of(&b, "before") == 1).then_some(())
    });
    eventually(
        Duration::from_secs(40),
        "an endpoint for the running pod",
        || (endpoint_ips(&b, "before") == 1).then_some(()),
    );
    assert!(!leader_of(standby), "the standby acted:\n{}", standby.log());

    // The leader dies without releasing the Lease: the standby takes over
    // once the lease duration (4 s) has passed, and then does the work.
    active.kill9();
    eventually(
        Duration::from_secs(30),
        "the standby to take the Lease",
        || {
            let h = holder(&b);
            (!h.is_empty() && h != leader_id).then_some(())
        },
    );
    // Taking the Lease comes just before the log line that says so.
    eventually(
        Duration::from_secs(10),
        "the standby to log that it leads",
        || leader_of(standby).then_some(()),
    );
    b.kubectl_ok([
        "create",
        "deployment",
        "after",
        "--image=nginx",
        "--replicas=1",
    ]);
    eventually(WAIT, "the new leader to create the ReplicaSet", || {
        (replicasets_of(&a, "after") == 1).then_some(())
    });
    // Endpoints still follow pods under the new leader.
    a.kubectl_ok(["scale", "deployment", "before", "--replicas=2"]);
    eventually(
        Duration::from_secs(40),
        "two endpoints after scaling",
        || (endpoint_ips(&a, "before") == 2).then_some(()),
    );
}

fn names(list: &serde_json::Value) -> Vec<String> {
    list["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i["metadata"]["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn list_pages_read_one_snapshot_until_etcd_compacts_it() {
    let Some(etcd) = EtcdCluster::start(1) else {
        return;
    };
    let servers = etcd.endpoints();
    let a = Cluster::start_apiserver(&["--etcd-servers", &servers]);
    for name in ["a1", "a2", "a3"] {
        a.kubectl_ok(["create", "configmap", name]);
    }
    let path = "/api/v1/namespaces/default/configmaps";
    let first = a.curl_auth("GET", &format!("{path}?limit=2"), None);
    assert_eq!(first.status, 200, "{}", first.body);
    let first = first.json();
    assert_eq!(names(&first), ["a1", "a2"]);
    let token = first["metadata"]["continue"]
        .as_str()
        .expect("a continue token")
        .to_string();

    // Changes after the first page do not show in the following pages.
    a.kubectl_ok(["create", "configmap", "zz-late"]);
    a.kubectl_ok(["delete", "configmap", "a3"]);
    let rest = a.curl_auth("GET", &format!("{path}?limit=10&continue={token}"), None);
    assert_eq!(rest.status, 200, "{}", rest.body);
    let rest_names = names(&rest.json());
    assert!(rest_names.contains(&"a3".to_string()), "{rest_names:?}");
    assert!(
        !rest_names.contains(&"zz-late".to_string()),
        "{rest_names:?}"
    );
    assert_eq!(
        rest.json()["metadata"]["resourceVersion"],
        first["metadata"]["resourceVersion"]
    );

    // Once etcd compacts that revision the token has expired: 410, relist.
    let now: u64 = a
        .kubectl_ok([
            "create",
            "configmap",
            "marker",
            "-o",
            "jsonpath={.metadata.resourceVersion}",
        ])
        .parse()
        .expect("a numeric resourceVersion");
    etcd.compact(now);
    let expired = a.curl_auth("GET", &format!("{path}?limit=10&continue={token}"), None);
    assert_eq!(expired.status, 410, "{}", expired.body);
    let status = expired.json();
    assert_eq!(status["reason"], "Expired", "{status}");
    assert!(
        status["message"]
            .as_str()
            .is_some_and(|m| m.contains("continue parameter is too old")),
        "{status}"
    );
    let relist = a.kubectl_ok(["get", "configmaps", "-o", "name"]);
    assert!(
        relist.contains("configmap/zz-late") && !relist.contains("configmap/a3"),
        "{relist}"
    );

    // An API server started after the compaction replays etcd's history from
    // the compacted revision on: a watch from there gets what followed it, a
    // watch from before it is 410 Gone.
    a.kubectl_ok(["create", "configmap", "after-compaction"]);
    let b = Cluster::start_apiserver(&["--etcd-servers", &servers]);
    let watch = |rv: &str| {
        b.curl_auth(
            "GET",
            &format!("{path}?watch=1&resourceVersion={rv}&timeoutSeconds=2"),
            None,
        )
    };
    let replayed = watch(&now.to_string());
    assert_eq!(replayed.status, 200, "{}", replayed.body);
    assert!(
        replayed.body.contains("\"ADDED\"") && replayed.body.contains("after-compaction"),
        "{}",
        replayed.body
    );
    let first_rv = first["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or_default();
    let gone = watch(first_rv);
    assert!(
        gone.status == 410 || gone.body.contains("\"code\":410"),
        "{} {}",
        gone.status,
        gone.body
    );
}

fn resource_versions(c: &Cluster, names: &[&str]) -> Vec<u64> {
    names
        .iter()
        .map(|n| {
            c.kubectl_ok([
                "get",
                "configmap",
                n,
                "-o",
                "jsonpath={.metadata.resourceVersion}",
            ])
            .parse()
            .expect("a numeric resourceVersion")
        })
        .collect()
}

fn migrate(args: &[&str]) {
    let out = e2e::run_with_timeout(
        std::process::Command::new(e2e::mkube_bin())
            .arg("migrate")
            .args(args),
        None,
        Duration::from_secs(60),
    );
    assert!(
        out.status.success(),
        "mkube migrate {args:?} failed:\n{}{}",
        e2e::text(&out.stdout),
        e2e::text(&out.stderr)
    );
}

#[test]
fn migrate_a_data_dir_into_etcd_and_back() {
    /// One Service range for the three API servers that serve this data.
    const RANGE: &str = "127.97.9.0/24";
    let Some(etcd) = EtcdCluster::start(1) else {
        return;
    };
    let servers = etcd.endpoints();
    // Written out of name order, so revision order differs from key order.
    let names = ["m-3", "m-1", "m-2"];
    // `--etcd-servers=` keeps these on sled even under MKUBE_E2E_ETCD.
    let mut sled = Cluster::start_apiserver(&["--etcd-servers=", "--service-cidr", RANGE]);
    for n in names {
        sled.kubectl_ok([
            "create",
            "configmap",
            n,
            &format!("--from-literal=name={n}"),
        ]);
    }
    sled.kubectl_ok(["create", "service", "clusterip", "kept", "--tcp=80"]);
    let ip = sled.kubectl_ok(["get", "service", "kept", "-o", "jsonpath={.spec.clusterIP}"]);
    assert!(sled.stop().success());
    let from = sled.data_dir().display().to_string();
    migrate(&[
        "--from-data-dir",
        &from,
        "--to-etcd",
        &servers,
        "--etcd-prefix",
        "/migrated",
    ]);

    let on_etcd = Cluster::start_apiserver(&[
        "--etcd-servers",
        &servers,
        "--etcd-prefix",
        "/migrated",
        "--service-cidr",
        RANGE,
    ]);
    let revs = resource_versions(&on_etcd, &names);
    assert!(
        revs[0] < revs[1] && revs[1] < revs[2],
        "order lost: {revs:?}"
    );
    assert_eq!(
        on_etcd.kubectl_ok(["get", "configmap", "m-2", "-o", "jsonpath={.data.name}"]),
        "m-2"
    );
    assert_eq!(
        on_etcd.kubectl_ok(["get", "service", "kept", "-o", "jsonpath={.spec.clusterIP}"]),
        ip
    );
    // The migrated allocation still holds: the IP cannot be taken again.
    let err = on_etcd.kubectl_err([
        "create",
        "service",
        "clusterip",
        "thief",
        "--tcp=80",
        &format!("--clusterip={ip}"),
    ]);
    assert!(err.contains("provided IP is already allocated"), "{err}");
    // Migrating into a store that holds objects is refused.
    let refused = e2e::run_with_timeout(
        std::process::Command::new(e2e::mkube_bin()).args([
            "migrate",
            "--from-data-dir",
            &from,
            "--to-etcd",
            &servers,
            "--etcd-prefix",
            "/migrated",
        ]),
        None,
        Duration::from_secs(60),
    );
    assert!(!refused.status.success());
    assert!(e2e::text(&refused.stderr).contains("already holds objects"));

    // And back into a fresh data dir.
    let back = tempfile::Builder::new()
        .prefix("mkube-e2e-")
        .tempdir()
        .unwrap();
    let back_dir = back.path().display().to_string();
    migrate(&[
        "--from-etcd",
        &servers,
        "--etcd-prefix",
        "/migrated",
        "--to-data-dir",
        &back_dir,
    ]);
    let mut sled_again =
        Cluster::start_apiserver_in(back, &["--etcd-servers=", "--service-cidr", RANGE]);
    let revs = resource_versions(&sled_again, &names);
    assert!(
        revs[0] < revs[1] && revs[1] < revs[2],
        "order lost: {revs:?}"
    );
    assert_eq!(
        sled_again.kubectl_ok(["get", "service", "kept", "-o", "jsonpath={.spec.clusterIP}"]),
        ip
    );
    assert!(sled_again.stop().success());
}

#[test]
fn api_server_reaches_etcd_over_tls_with_a_client_certificate() {
    let Some(etcd) = EtcdCluster::start_tls(1) else {
        return;
    };
    let tls = etcd.tls().expect("TLS files");
    let servers = etcd.endpoints();
    assert!(servers.starts_with("https://"), "{servers}");
    let (ca, cert, key) = (
        tls.ca.display().to_string(),
        tls.client_cert.display().to_string(),
        tls.client_key.display().to_string(),
    );
    let a = Cluster::start_apiserver(&[
        "--etcd-servers",
        &servers,
        "--etcd-cafile",
        &ca,
        "--etcd-certfile",
        &cert,
        "--etcd-keyfile",
        &key,
    ]);
    a.kubectl_ok(["create", "configmap", "over-tls", "--from-literal=k=v"]);
    assert_eq!(
        a.kubectl_ok(["get", "configmap", "over-tls", "-o", "jsonpath={.data.k}"]),
        "v"
    );
}
