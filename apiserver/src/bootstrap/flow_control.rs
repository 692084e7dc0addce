//! The API Priority and Fairness configuration kube-apiserver maintains:
//! the mandatory `exempt` and `catch-all` priority levels and flow schemas
//! and the suggested ones (`k8s.io/apiserver/pkg/apis/flowcontrol/bootstrap`).
//! mkube does not queue requests by them; they are served so that tools
//! reading them (`kubectl get flowschemas`, dashboards) see a real cluster.

use serde_json::{json, Value};

/// Marks objects the API server keeps up to date.
const AUTO_UPDATE: &str = "apf.kubernetes.io/autoupdate-spec";

const ALL_AUTHENTICATED: &str = "system:authenticated";
const ALL_UNAUTHENTICATED: &str = "system:unauthenticated";

/// (name, nominal concurrency shares, lendable percent, queues, hand size,
/// queue length limit) of the limited priority levels; `catch-all` rejects
/// instead of queueing.
const LIMITED_LEVELS: &[(&str, i64, i64, i64, i64, i64)] = &[
    ("system", 30, 33, 64, 6, 50),
    ("node-high", 40, 25, 64, 6, 50),
    ("leader-election", 10, 0, 16, 4, 50),
    ("workload-high", 40, 50, 128, 6, 50),
    ("workload-low", 100, 90, 128, 6, 50),
    ("global-default", 20, 50, 128, 6, 50),
];

fn meta(name: &str) -> Value {
    json!({"name": name, "annotations": {AUTO_UPDATE: "true"}})
}

pub fn priority_levels() -> Vec<Value> {
    let mut out = vec![
        level(
            "exempt",
            json!({"type": "Exempt", "exempt": {"nominalConcurrencyShares": 0, "lendablePercent": 0}}),
        ),
        level(
            "catch-all",
            json!({"type": "Limited", "limited": {"nominalConcurrencyShares": 5, "lendablePercent": 0,
                   "limitResponse": {"type": "Reject"}}}),
        ),
    ];
    out.extend(
        LIMITED_LEVELS
            .iter()
            .map(|&(name, shares, lendable, queues, hand, limit)| {
                level(
                    name,
                    json!({"type": "Limited", "limited": {
                        "nominalConcurrencyShares": shares, "lendablePercent": lendable,
                        "limitResponse": {"type": "Queue", "queuing": {
                            "queues": queues, "handSize": hand, "queueLengthLimit": limit}}}}),
                )
            }),
    );
    out
}

fn level(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "flowcontrol.apiserver.k8s.io/v1", "kind": "PriorityLevelConfiguration",
           "metadata": meta(name), "spec": spec})
}

fn group(name: &str) -> Value {
    json!({"kind": "Group", "group": {"name": name}})
}

fn user(name: &str) -> Value {
    json!({"kind": "User", "user": {"name": name}})
}

fn kube_system_sa(name: &str) -> Value {
    json!({"kind": "ServiceAccount", "serviceAccount": {"name": name, "namespace": "kube-system"}})
}

/// Rules matching every request of the subjects.
fn everything(subjects: Vec<Value>) -> Value {
    json!({
        "subjects": subjects,
        "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"],
                           "clusterScope": true, "namespaces": ["*"]}],
        "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
    })
}

fn rule(
    verbs: &[&str],
    groups: &[&str],
    resources: &[&str],
    namespaces: &[&str],
    cluster: bool,
) -> Value {
    let mut r = json!({"verbs": verbs, "apiGroups": groups, "resources": resources, "clusterScope": cluster});
    if !namespaces.is_empty() {
        r["namespaces"] = json!(namespaces);
    }
    r
}

fn schema(name: &str, level: &str, precedence: i64, by: Option<&str>, rules: Vec<Value>) -> Value {
    let mut spec = json!({"priorityLevelConfiguration": {"name": level},
                          "matchingPrecedence": precedence, "rules": rules});
    if let Some(by) = by {
        spec["distinguisherMethod"] = json!({"type": by});
    }
    json!({"apiVersion": "flowcontrol.apiserver.k8s.io/v1", "kind": "FlowSchema",
           "metadata": meta(name), "spec": spec})
}

pub fn flow_schemas() -> Vec<Value> {
    let leader_rules = |ns: &[&str]| {
        vec![
            rule(
                &["get", "create", "update"],
                &[""],
                &["endpoints", "configmaps"],
                ns,
                false,
            ),
            rule(
                &["get", "create", "update"],
                &["coordination.k8s.io"],
                &["leases"],
                &["*"],
                false,
            ),
        ]
    };
    let mut leader_subjects = vec![
        user("system:kube-controller-manager"),
        user("system:kube-scheduler"),
    ];
    leader_subjects.push(kube_system_sa("*"));
    let mut system_leader = json!({"subjects": leader_subjects});
    system_leader["resourceRules"] = json!(leader_rules(&["kube-system"]));
    let mut workload_leader = json!({"subjects": [kube_system_sa("*")]});
    workload_leader["resourceRules"] = json!(leader_rules(&["*"]));
    let node_high = json!({
        "subjects": [group("system:nodes")],
        "resourceRules": [
            rule(&["*"], &[""], &["nodes", "nodes/status"], &[], true),
            rule(&["*"], &["coordination.k8s.io"], &["leases"], &["*"], false),
        ],
    });
    let probes = json!({
        "subjects": [group(ALL_UNAUTHENTICATED), group(ALL_AUTHENTICATED)],
        "nonResourceRules": [{"verbs": ["get"], "nonResourceURLs": ["/healthz", "/readyz", "/livez"]}],
    });
    let endpoint_controller = json!({
        "subjects": [user("system:kube-controller-manager"), kube_system_sa("endpoint-controller")],
        "resourceRules": [rule(&["get", "create", "update"], &[""], &["endpoints"], &["*"], false)],
    });
    let everyone = || vec![group(ALL_UNAUTHENTICATED), group(ALL_AUTHENTICATED)];
    vec![
        schema(
            "exempt",
            "exempt",
            1,
            None,
            vec![everything(vec![group("system:masters")])],
        ),
        schema("probes", "exempt", 2, None, vec![probes]),
        schema(
            "system-leader-election",
            "leader-election",
            100,
            Some("ByUser"),
            vec![system_leader],
        ),
        schema(
            "endpoint-controller",
            "workload-high",
            150,
            Some("ByUser"),
            vec![endpoint_controller],
        ),
        schema(
            "workload-leader-election",
            "leader-election",
            200,
            Some("ByUser"),
            vec![workload_leader],
        ),
        schema(
            "system-node-high",
            "node-high",
            400,
            Some("ByUser"),
            vec![node_high],
        ),
        schema(
            "system-nodes",
            "system",
            500,
            Some("ByUser"),
            vec![everything(vec![group("system:nodes")])],
        ),
        schema(
            "kube-controller-manager",
            "workload-high",
            800,
            Some("ByNamespace"),
            vec![everything(vec![user("system:kube-controller-manager")])],
        ),
        schema(
            "kube-scheduler",
            "workload-high",
            800,
            Some("ByNamespace"),
            vec![everything(vec![user("system:kube-scheduler")])],
        ),
        schema(
            "kube-system-service-accounts",
            "workload-high",
            900,
            Some("ByNamespace"),
            vec![everything(vec![kube_system_sa("*")])],
        ),
        schema(
            "service-accounts",
            "workload-low",
            9000,
            Some("ByUser"),
            vec![everything(vec![group("system:serviceaccounts")])],
        ),
        schema(
            "global-default",
            "global-default",
            9900,
            Some("ByUser"),
            vec![everything(everyone())],
        ),
        schema(
            "catch-all",
            "catch-all",
            10000,
            Some("ByUser"),
            vec![everything(everyone())],
        ),
    ]
}
