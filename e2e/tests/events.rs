//! Controller events reach `kubectl describe` and `kubectl get events`:
//! the controllers record through events.k8s.io/v1, kubectl reads core/v1
//! with an involvedObject field selector, and the API server serves both
//! from one stored object (as kube-apiserver does).

use e2e::{eventually, Cluster, Table};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

/// The "Events:" section of a `kubectl describe` output.
fn events_section(describe: &str) -> &str {
    describe
        .split_once("\nEvents:")
        .map(|(_, rest)| rest)
        .unwrap_or("")
}

#[test]
fn describe_and_get_events_show_controller_events() {
    let c = Cluster::start();
    c.kubectl_ok([
        "create",
        "deployment",
        "web",
        "--image=nginx",
        "--replicas=2",
    ]);
    let rs = eventually(WAIT, "the ReplicaSet", || {
        let name = c.kubectl_ok([
            "get",
            "rs",
            "-l",
            "app=web",
            "-o",
            "jsonpath={.items[0].metadata.name}",
        ]);
        (!name.is_empty()).then_some(name)
    });

    let describe = eventually(WAIT, "ScalingReplicaSet in describe deployment", || {
        let out = c.kubectl_ok(["describe", "deployment", "web"]);
        events_section(&out)
            .contains("ScalingReplicaSet")
            .then_some(out)
    });
    let events = events_section(&describe);
    assert!(
        events.contains(&format!("Scaled up replica set {rs} to 2 from 0")),
        "{describe}"
    );
    assert!(events.contains("deployment-controller"), "{describe}");
    assert!(events.contains("Normal"), "{describe}");

    let describe = eventually(WAIT, "SuccessfulCreate in describe rs", || {
        let out = c.kubectl_ok(["describe", "rs", &rs]);
        (events_section(&out).matches("SuccessfulCreate").count() == 2).then_some(out)
    });
    assert!(
        events_section(&describe).contains(&format!("Created pod: {rs}-")),
        "{describe}"
    );
    assert!(
        events_section(&describe).contains("replicaset-controller"),
        "{describe}"
    );

    // kubectl get events (core/v1, server-side table) lists both kinds.
    let table = Table::parse(&c.kubectl_ok(["get", "events"]));
    assert!(
        !table.rows_where("REASON", "ScalingReplicaSet").is_empty(),
        "{table:?}"
    );
    let created = table.rows_where("REASON", "SuccessfulCreate");
    assert_eq!(created.len(), 2, "{table:?}");
    assert_eq!(
        table.cell(created[0], "OBJECT"),
        format!("replicaset/{rs}"),
        "{table:?}"
    );

    // The same object through both APIs.
    let name = c.kubectl_ok([
        "get",
        "events",
        "--field-selector",
        "reason=ScalingReplicaSet",
        "-o",
        "jsonpath={.items[0].metadata.name}",
    ]);
    let raw = |path: String| -> serde_json::Value {
        serde_json::from_str(&c.kubectl_ok(["get", "--raw", &path])).expect("an Event as JSON")
    };
    let core = raw(format!("/api/v1/namespaces/default/events/{name}"));
    let v1 = raw(format!(
        "/apis/events.k8s.io/v1/namespaces/default/events/{name}"
    ));
    assert_eq!(core["apiVersion"], "v1");
    assert_eq!(v1["apiVersion"], "events.k8s.io/v1");
    assert_eq!(core["metadata"]["uid"], v1["metadata"]["uid"]);
    assert_eq!(core["involvedObject"], v1["regarding"]);
    assert_eq!(core["message"], v1["note"]);
    assert_eq!(core["reportingComponent"], v1["reportingController"]);
    let (core, v1) = (
        format!("{}/{}", core["involvedObject"]["name"], core["message"]),
        format!("{}/{}", v1["regarding"]["name"], v1["note"]),
    );
    assert_eq!(core, v1);
    assert!(
        core.starts_with("\"web\"/\"Scaled up replica set"),
        "{core}"
    );

    // A core/v1 event written by a client reads back through events.k8s.io/v1.
    c.apply(
        r#"apiVersion: v1
kind: Event
metadata: {name: hand-made, namespace: default}
involvedObject: {kind: Deployment, name: web, namespace: default}
reason: Poked
message: poked by hand
type: Normal
source: {component: tester}
count: 3
"#,
    );
    assert_eq!(
        c.kubectl_ok([
            "get",
            "events.v1.events.k8s.io",
            "hand-made",
            "-o",
            "jsonpath={.regarding.name} {.note} {.deprecatedSource.component} {.deprecatedCount}",
        ]),
        "web poked by hand tester 3"
    );
}
