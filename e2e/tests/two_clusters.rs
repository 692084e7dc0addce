//! Two `mkube up` on one machine: the second never shares the first's
//! addresses. Given no range flags it takes free ranges and says which;
//! given the first's ranges it refuses to start and names the flags; on the
//! first's data dir it refuses and says a cluster runs there.
//!
//! These clusters run on mkube's default ranges, registered in a claims
//! directory of the test's own (`MKUBE_CLAIMS_DIR`), so the rest of the
//! suite and the machine's own clusters are not involved.

use e2e::{mkube_bin, text, Cluster};
use std::process::Command;

#[test]
fn a_second_cluster_takes_free_ranges_or_refuses_clearly() {
    let claims = tempfile::tempdir().unwrap();
    let first = Cluster::start_unisolated(&[], claims.path());
    assert_eq!(
        first.get_jsonpath(&["service", "kubernetes"], "{.spec.clusterIP}"),
        "127.96.0.1"
    );

    // No range flags: free ranges, printed before the ready line.
    let mut second = Cluster::start_unisolated(&[], claims.path());
    let log = second.log_tail(200);
    let expected = "this cluster uses --service-cidr 127.97.0.0/16 --cluster-cidr \
                    127.65.0.0/16 --lb-ip-range 127.33.0.0/16 --node-ip 127.0.2.1";
    assert!(log.contains(expected), "{log}");
    assert!(
        log.contains(&first.data_dir().display().to_string()),
        "{log}"
    );
    let svc = |c: &Cluster, name: &str| {
        c.get_jsonpath(
            &[
                "service",
                name,
                "-n",
                if name == "kube-dns" {
                    "kube-system"
                } else {
                    "default"
                },
            ],
            "{.spec.clusterIP}",
        )
    };
    assert_eq!(svc(&second, "kubernetes"), "127.97.0.1");
    assert_eq!(svc(&second, "kube-dns"), "127.97.0.10");
    assert_eq!(
        second.get_jsonpath(&["nodes"], "{.items[0].spec.podCIDR}"),
        "127.65.0.0/24"
    );

    // Restarted, it keeps its recorded ranges (its Services hold them).
    second.restart();
    assert_eq!(svc(&second, "kubernetes"), "127.97.0.1");

    // The first cluster's ranges given as flags: refused, naming the flags.
    let third = tempfile::tempdir().unwrap();
    let out = Command::new(mkube_bin())
        .args(["up", "--port", &e2e::free_port().to_string(), "--data-dir"])
        .arg(third.path())
        .args([
            "--service-cidr",
            "127.96.0.0/16",
            "--cluster-cidr",
            "127.50.0.0/16",
        ])
        .env("MKUBE_CLAIMS_DIR", claims.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("--service-cidr 127.96.0.0/16 overlaps 127.96.0.0/16 of the mkube cluster running with data dir"),
        "{err}"
    );
    assert!(
        err.contains("--service-cidr, --cluster-cidr, --lb-ip-range, --node-ip"),
        "{err}"
    );
    assert!(
        !err.contains("--cluster-cidr 127.50.0.0/16 overlaps"),
        "{err}"
    );

    // The first cluster's data dir: refused, pointing at the running one.
    let out = Command::new(mkube_bin())
        .args(["up", "--port", &e2e::free_port().to_string(), "--data-dir"])
        .arg(first.data_dir())
        .env("MKUBE_CLAIMS_DIR", claims.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("a cluster is already running with data dir"),
        "{err}"
    );
    let out = Command::new(mkube_bin())
        .args(["up", "--detach", "--data-dir"])
        .arg(first.data_dir())
        .env("MKUBE_CLAIMS_DIR", claims.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("already running"));
    // ... and the first cluster still answers.
    first.kubectl_ok(["get", "ns"]);
}
