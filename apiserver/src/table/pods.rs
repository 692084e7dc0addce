//! Pods: NAME READY STATUS RESTARTS AGE, wide IP NODE NOMINATED NODE READINESS GATES.
//!
//! STATUS follows kube-apiserver's aggregation: the phase (or status.reason),
//! overridden by SchedulingGated, by init container progress or failure
//! (`Init:1/3`, `Init:CrashLoopBackOff`, `Init:ExitCode:1`), then by the
//! waiting/terminated reason of the regular containers (`ContainerCreating`,
//! `CrashLoopBackOff`, `ErrImagePull`, `Completed`, `ExitCode:2`, ...), with
//! `Terminating` / `Unknown` (NodeLost) for pods being deleted. Restartable
//! init containers (sidecars) count towards READY and RESTARTS.

use super::{
    age_cell, age_col, arr_at, bool_at, col, get, get_obj, int_at, is_deleting, name_cell,
    name_col, since, str_at, time_at, wide, Column, Printer,
};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use std::collections::HashMap;

const READY_DESC: &str = "Ready containers out of all.";
const STATUS_DESC: &str = "Status.";
const RESTARTS_DESC: &str = "Container restarts and when the last one was.";
const IP_DESC: &str = "Address of the pod.";
const NODE_DESC: &str = "Node the pod runs on.";
const NOMINATED_DESC: &str = "Node nominated by preemption.";
const GATES_DESC: &str = "Readiness gates and their state.";

/// status.reason set by the node lifecycle controller for pods on unreachable nodes.
const NODE_UNREACHABLE_REASON: &str = "NodeLost";

pub struct PodPrinter;

impl Printer for PodPrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            col("Ready", "string", READY_DESC),
            col("Status", "string", STATUS_DESC),
            col("Restarts", "string", RESTARTS_DESC),
            age_col(),
            wide("IP", "string", IP_DESC),
            wide("Node", "string", NODE_DESC),
            wide("Nominated Node", "string", NOMINATED_DESC),
            wide("Readiness Gates", "string", GATES_DESC),
        ]
    }

    fn cells(&self, obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
        let s = summarize(obj);
        let restarts = match s.last_restart {
            Some(t) if s.restarts != 0 => format!("{} ({} ago)", s.restarts, since(Some(t), now)),
            _ => s.restarts.to_string(),
        };

        // status.podIP wins over status.podIPs[0] (v1 -> internal conversion).
        let mut pod_ip = str_at(obj, "/status/podIP");
        if pod_ip.is_empty() {
            pod_ip = str_at(obj, "/status/podIPs/0/ip");
        }
        let or_none = |s: &str| {
            if s.is_empty() {
                "<none>".to_string()
            } else {
                s.to_string()
            }
        };

        vec![
            name_cell(obj),
            Value::from(format!("{}/{}", s.ready, s.total)),
            Value::from(s.reason),
            Value::from(restarts),
            age_cell(obj, now),
            Value::from(or_none(pod_ip)),
            Value::from(or_none(str_at(obj, "/spec/nodeName"))),
            Value::from(or_none(str_at(obj, "/status/nominatedNodeName"))),
            Value::from(readiness_gates(obj)),
        ]
    }
}

/// The row conditions kube-apiserver attaches to a pod row: a `Completed`
/// condition for pods that succeeded or failed, none otherwise.
pub fn row_conditions(obj: &Value) -> Vec<Value> {
    match str_at(obj, "/status/phase") {
        "Succeeded" => vec![json!({
            "type": "Completed",
            "status": "True",
            "reason": "Succeeded",
            "message": "The pod has completed successfully.",
        })],
        "Failed" => vec![json!({
            "type": "Completed",
            "status": "True",
            "reason": "Failed",
            "message": "The pod failed.",
        })],
        _ => Vec::new(),
    }
}

struct Summary {
    ready: i64,
    total: usize,
    reason: String,
    restarts: i64,
    last_restart: Option<DateTime<Utc>>,
}

fn is_restartable(c: Option<&&Value>) -> bool {
    c.is_some_and(|c| str_at(c, "/restartPolicy") == "Always")
}

/// The later of `cur` and the `lastState.terminated.finishedAt` of `status`.
fn later_restart(cur: Option<DateTime<Utc>>, status: &Value) -> Option<DateTime<Utc>> {
    match get_obj(status, "/lastState/terminated") {
        Some(t) => cur.max(time_at(t, "/finishedAt")),
        None => cur,
    }
}

fn has_condition(obj: &Value, type_: &str) -> bool {
    arr_at(obj, "/status/conditions")
        .iter()
        .any(|c| str_at(c, "/type") == type_ && str_at(c, "/status") == "True")
}

/// Whether the first `Initialized` condition is True.
fn initialized(obj: &Value) -> bool {
    arr_at(obj, "/status/conditions")
        .iter()
        .find(|c| str_at(c, "/type") == "Initialized")
        .is_some_and(|c| str_at(c, "/status") == "True")
}

fn summarize(obj: &Value) -> Summary {
    let containers = arr_at(obj, "/spec/containers");
    let init_containers = arr_at(obj, "/spec/initContainers");
    let mut total = containers.len();
    let mut ready = 0i64;
    let mut restarts = 0i64;
    let mut sidecar_restarts = 0i64;
    let mut last_restart: Option<DateTime<Utc>> = None;
    let mut last_sidecar_restart: Option<DateTime<Utc>> = None;

    let phase = str_at(obj, "/status/phase");
    let status_reason = str_at(obj, "/status/reason");
    let mut reason = if status_reason.is_empty() {
        phase.to_string()
    } else {
        status_reason.to_string()
    };

    for c in arr_at(obj, "/status/conditions") {
        if str_at(c, "/type") == "PodScheduled" && str_at(c, "/reason") == "SchedulingGated" {
            reason = "SchedulingGated".to_string();
        }
    }

    // Init containers by name (a later duplicate replaces an earlier one).
    let mut by_name: HashMap<&str, &Value> = HashMap::new();
    for c in init_containers {
        by_name.insert(str_at(c, "/name"), c);
        if str_at(c, "/restartPolicy") == "Always" {
            total += 1;
        }
    }

    let mut initializing = false;
    for (i, cs) in arr_at(obj, "/status/initContainerStatuses")
        .iter()
        .enumerate()
    {
        let count = int_at(cs, "/restartCount");
        restarts += count;
        last_restart = later_restart(last_restart, cs);
        let sidecar = is_restartable(by_name.get(str_at(cs, "/name")));
        if sidecar {
            sidecar_restarts += count;
            last_sidecar_restart = later_restart(last_sidecar_restart, cs);
        }
        let terminated = get_obj(cs, "/state/terminated");
        let waiting = get_obj(cs, "/state/waiting");
        if let Some(t) = terminated {
            if int_at(t, "/exitCode") == 0 {
                continue;
            }
        }
        if sidecar && get(cs, "/started").and_then(Value::as_bool) == Some(true) {
            if bool_at(cs, "/ready") {
                ready += 1;
            }
            continue;
        }
        if let Some(t) = terminated {
            let r = str_at(t, "/reason");
            reason = if !r.is_empty() {
                format!("Init:{}", r)
            } else if int_at(t, "/signal") != 0 {
                format!("Init:Signal:{}", int_at(t, "/signal"))
            } else {
                format!("Init:ExitCode:{}", int_at(t, "/exitCode"))
            };
        } else if let Some(r) = waiting
            .map(|w| str_at(w, "/reason"))
            .filter(|r| !r.is_empty() && *r != "PodInitializing")
        {
            reason = format!("Init:{}", r);
        } else {
            reason = format!("Init:{}/{}", i, init_containers.len());
        }
        initializing = true;
        break;
    }

    if !initializing || initialized(obj) {
        restarts = sidecar_restarts;
        last_restart = last_sidecar_restart;
        let mut has_running = false;
        for cs in arr_at(obj, "/status/containerStatuses").iter().rev() {
            restarts += int_at(cs, "/restartCount");
            last_restart = later_restart(last_restart, cs);
            let waiting_reason = get_obj(cs, "/state/waiting").map(|w| str_at(w, "/reason"));
            let terminated = get_obj(cs, "/state/terminated");
            if let Some(r) = waiting_reason.filter(|r| !r.is_empty()) {
                reason = r.to_string();
            } else if let Some(t) = terminated {
                let r = str_at(t, "/reason");
                reason = if !r.is_empty() {
                    r.to_string()
                } else if int_at(t, "/signal") != 0 {
                    format!("Signal:{}", int_at(t, "/signal"))
                } else {
                    format!("ExitCode:{}", int_at(t, "/exitCode"))
                };
            } else if bool_at(cs, "/ready") && get_obj(cs, "/state/running").is_some() {
                has_running = true;
                ready += 1;
            }
        }
        // Some container still runs: the pod is not really completed.
        if reason == "Completed" && has_running {
            reason = if has_condition(obj, "Ready") {
                "Running".to_string()
            } else {
                "NotReady".to_string()
            };
        }
    }

    if is_deleting(obj) {
        if status_reason == NODE_UNREACHABLE_REASON {
            reason = "Unknown".to_string();
        } else if phase != "Failed" && phase != "Succeeded" {
            reason = "Terminating".to_string();
        }
    }

    Summary {
        ready,
        total,
        reason,
        restarts,
        last_restart,
    }
}

/// `true/total` over spec.readinessGates, or `<none>`.
fn readiness_gates(obj: &Value) -> String {
    let gates = arr_at(obj, "/spec/readinessGates");
    if gates.is_empty() {
        return "<none>".to_string();
    }
    let conditions = arr_at(obj, "/status/conditions");
    let satisfied = gates
        .iter()
        .filter(|g| {
            let t = str_at(g, "/conditionType");
            conditions
                .iter()
                .find(|c| str_at(c, "/type") == t)
                .is_some_and(|c| str_at(c, "/status") == "True")
        })
        .count();
    format!("{}/{}", satisfied, gates.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::testutil::{ago, now};

    fn cells(obj: &Value) -> Vec<Value> {
        PodPrinter.cells(obj, now())
    }

    fn status(obj: &Value) -> String {
        cells(obj)[2].as_str().unwrap().to_string()
    }

    fn pod(spec: Value, status: Value) -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "web-0", "namespace": "default", "creationTimestamp": ago(3 * 86400 + 4 * 3600)},
            "spec": spec,
            "status": status,
        })
    }

    fn running(name: &str, restarts: i64) -> Value {
        json!({
            "name": name, "ready": true, "restartCount": restarts, "started": true,
            "image": "nginx:1.25", "imageID": "", "containerID": "containerd://abc",
            "state": {"running": {"startedAt": ago(600)}}, "lastState": {}
        })
    }

    fn waiting(name: &str, reason: &str) -> Value {
        json!({
            "name": name, "ready": false, "restartCount": 0, "image": "nginx", "imageID": "",
            "state": {"waiting": {"reason": reason}}, "lastState": {}
        })
    }

    fn terminated(name: &str, reason: &str, exit: i64) -> Value {
        json!({
            "name": name, "ready": false, "restartCount": 0, "image": "busybox", "imageID": "",
            "state": {"terminated": {"reason": reason, "exitCode": exit, "finishedAt": ago(100)}},
            "lastState": {}
        })
    }

    #[test]
    fn columns() {
        let cols = PodPrinter.columns();
        let names: Vec<_> = cols.iter().map(|c| (c.name, c.type_, c.priority)).collect();
        assert_eq!(
            names,
            vec![
                ("Name", "string", 0),
                ("Ready", "string", 0),
                ("Status", "string", 0),
                ("Restarts", "string", 0),
                ("Age", "string", 0),
                ("IP", "string", 1),
                ("Node", "string", 1),
                ("Nominated Node", "string", 1),
                ("Readiness Gates", "string", 1),
            ]
        );
        assert_eq!(cols[0].format, "name");
    }

    #[test]
    fn running_pod_full_row() {
        let p = pod(
            json!({"nodeName": "node-1", "containers": [{"name": "nginx", "image": "nginx:1.25"}]}),
            json!({
                "phase": "Running",
                "podIP": "10.244.0.5",
                "podIPs": [{"ip": "10.244.0.5"}, {"ip": "fd00::5"}],
                "conditions": [
                    {"type": "Initialized", "status": "True"},
                    {"type": "Ready", "status": "True"},
                    {"type": "ContainersReady", "status": "True"},
                    {"type": "PodScheduled", "status": "True"}
                ],
                "containerStatuses": [running("nginx", 0)]
            }),
        );
        assert_eq!(
            cells(&p),
            vec![
                json!("web-0"),
                json!("1/1"),
                json!("Running"),
                json!("0"),
                json!("3d4h"),
                json!("10.244.0.5"),
                json!("node-1"),
                json!("<none>"),
                json!("<none>"),
            ]
        );
    }

    #[test]
    fn restarts_with_last_restart_time() {
        let mut c = running("app", 3);
        c["lastState"] =
            json!({"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": ago(125)}});
        let mut side = running("side", 1);
        side["lastState"] = json!({"terminated": {"exitCode": 137, "finishedAt": ago(3600)}});
        let p = pod(
            json!({"containers": [{"name": "app"}, {"name": "side"}]}),
            json!({"phase": "Running", "containerStatuses": [c, side]}),
        );
        let row = cells(&p);
        assert_eq!(row[1], json!("2/2"));
        assert_eq!(row[3], json!("4 (2m5s ago)"));
        // Restart counted, but no termination time known: plain number.
        let p = pod(
            json!({"containers": [{"name": "app"}]}),
            json!({"phase": "Running", "containerStatuses": [running("app", 2)]}),
        );
        assert_eq!(cells(&p)[3], json!("2"));
    }

    #[test]
    fn pending_and_waiting_reasons() {
        let p = pod(
            json!({"containers": [{"name": "a"}]}),
            json!({"phase": "Pending"}),
        );
        assert_eq!(status(&p), "Pending");
        assert_eq!(cells(&p)[1], json!("0/1"));

        for r in [
            "ContainerCreating",
            "ErrImagePull",
            "ImagePullBackOff",
            "CrashLoopBackOff",
        ] {
            let p = pod(
                json!({"containers": [{"name": "a"}]}),
                json!({"phase": "Pending", "containerStatuses": [waiting("a", r)]}),
            );
            assert_eq!(status(&p), r);
        }
        // The first container (checked last) wins.
        let p = pod(
            json!({"containers": [{"name": "a"}, {"name": "b"}]}),
            json!({"phase": "Running", "containerStatuses": [waiting("a", "CrashLoopBackOff"), running("b", 0)]}),
        );
        assert_eq!(status(&p), "CrashLoopBackOff");
        assert_eq!(cells(&p)[1], json!("1/2"));
    }

    #[test]
    fn scheduling_gated() {
        let p = pod(
            json!({"containers": [{"name": "a"}], "schedulingGates": [{"name": "x"}]}),
            json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]}),
        );
        assert_eq!(status(&p), "SchedulingGated");
    }

    #[test]
    fn completed_and_errors() {
        let p = pod(
            json!({"containers": [{"name": "job"}]}),
            json!({"phase": "Succeeded", "containerStatuses": [terminated("job", "Completed", 0)]}),
        );
        assert_eq!(status(&p), "Completed");
        assert_eq!(row_conditions(&p)[0]["reason"], json!("Succeeded"));

        let p = pod(
            json!({"containers": [{"name": "job"}]}),
            json!({"phase": "Failed", "containerStatuses": [terminated("job", "Error", 1)]}),
        );
        assert_eq!(status(&p), "Error");
        assert_eq!(row_conditions(&p)[0]["message"], json!("The pod failed."));

        let mut t = terminated("job", "", 2);
        let p = pod(
            json!({"containers": [{"name": "job"}]}),
            json!({"phase": "Failed", "containerStatuses": [t.clone()]}),
        );
        assert_eq!(status(&p), "ExitCode:2");
        t["state"]["terminated"]["signal"] = json!(9);
        let p = pod(
            json!({"containers": [{"name": "job"}]}),
            json!({"phase": "Failed", "containerStatuses": [t]}),
        );
        assert_eq!(status(&p), "Signal:9");
        assert!(row_conditions(&json!({"status": {"phase": "Running"}})).is_empty());
    }

    #[test]
    fn completed_with_running_container() {
        let spec = json!({"containers": [{"name": "a"}, {"name": "b"}]});
        let st = json!({
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "False"}],
            "containerStatuses": [terminated("a", "Completed", 0), running("b", 0)]
        });
        // Containers are walked last to first, so "a" (Completed) is the last reason.
        assert_eq!(status(&pod(spec.clone(), st.clone())), "NotReady");
        let mut st2 = st;
        st2["conditions"] = json!([{"type": "Ready", "status": "True"}]);
        assert_eq!(status(&pod(spec, st2)), "Running");
    }

    #[test]
    fn init_containers() {
        let spec = json!({
            "initContainers": [{"name": "init-a"}, {"name": "init-b"}, {"name": "init-c"}],
            "containers": [{"name": "app"}]
        });
        // First init done, second still running.
        let st = json!({
            "phase": "Pending",
            "initContainerStatuses": [
                terminated("init-a", "Completed", 0),
                {"name": "init-b", "ready": false, "restartCount": 0, "state": {"running": {"startedAt": ago(5)}}},
                waiting("init-c", "PodInitializing")
            ],
            "containerStatuses": [waiting("app", "PodInitializing")]
        });
        let p = pod(spec.clone(), st);
        assert_eq!(status(&p), "Init:1/3");
        assert_eq!(cells(&p)[1], json!("0/1"));

        // Failing init container.
        let mut failing = waiting("init-a", "CrashLoopBackOff");
        failing["restartCount"] = json!(4);
        failing["lastState"] = json!({"terminated": {"exitCode": 1, "finishedAt": ago(30)}});
        let p = pod(
            spec.clone(),
            json!({"phase": "Pending", "initContainerStatuses": [failing]}),
        );
        assert_eq!(status(&p), "Init:CrashLoopBackOff");
        assert_eq!(cells(&p)[3], json!("4 (30s ago)"));

        let p = pod(
            spec.clone(),
            json!({"phase": "Pending", "initContainerStatuses": [terminated("init-a", "Error", 1)]}),
        );
        assert_eq!(status(&p), "Init:Error");
        let p = pod(
            spec.clone(),
            json!({"phase": "Pending", "initContainerStatuses": [terminated("init-a", "", 3)]}),
        );
        assert_eq!(status(&p), "Init:ExitCode:3");
        let mut sig = terminated("init-a", "", 0);
        sig["state"]["terminated"]["exitCode"] = json!(143);
        sig["state"]["terminated"]["signal"] = json!(15);
        let p = pod(
            spec.clone(),
            json!({"phase": "Pending", "initContainerStatuses": [sig]}),
        );
        assert_eq!(status(&p), "Init:Signal:15");
        // No statuses yet at all: the phase.
        let p = pod(spec, json!({"phase": "Pending"}));
        assert_eq!(status(&p), "Pending");
    }

    #[test]
    fn sidecar_init_containers() {
        let spec = json!({
            "initContainers": [{"name": "proxy", "restartPolicy": "Always"}, {"name": "migrate"}],
            "containers": [{"name": "app"}]
        });
        let mut proxy = running("proxy", 2);
        proxy["lastState"] = json!({"terminated": {"exitCode": 1, "finishedAt": ago(5 * 3600)}});
        // Sidecar started, regular init still running.
        let p = pod(
            spec.clone(),
            json!({
                "phase": "Pending",
                "initContainerStatuses": [proxy.clone(), {"name": "migrate", "restartCount": 0, "state": {"running": {}}}],
                "containerStatuses": [waiting("app", "PodInitializing")]
            }),
        );
        let row = cells(&p);
        assert_eq!(row[1], json!("1/2"));
        assert_eq!(row[2], json!("Init:1/2"));
        assert_eq!(row[3], json!("2 (5h ago)"));

        // Initialized: sidecar restarts + app restarts, both ready.
        let p = pod(
            spec,
            json!({
                "phase": "Running",
                "conditions": [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "True"}],
                "initContainerStatuses": [proxy, terminated("migrate", "Completed", 0)],
                "containerStatuses": [running("app", 1)]
            }),
        );
        let row = cells(&p);
        assert_eq!(row[1], json!("2/2"));
        assert_eq!(row[2], json!("Running"));
        assert_eq!(row[3], json!("3 (5h ago)"));
    }

    #[test]
    fn terminating_and_node_lost() {
        let mut p = pod(
            json!({"containers": [{"name": "a"}]}),
            json!({"phase": "Running", "containerStatuses": [running("a", 0)]}),
        );
        p["metadata"]["deletionTimestamp"] = json!(ago(10));
        assert_eq!(status(&p), "Terminating");
        p["status"]["reason"] = json!("NodeLost");
        assert_eq!(status(&p), "Unknown");
        // A finished pod being deleted keeps its final status.
        let mut done = pod(
            json!({"containers": [{"name": "a"}]}),
            json!({"phase": "Succeeded", "containerStatuses": [terminated("a", "Completed", 0)]}),
        );
        done["metadata"]["deletionTimestamp"] = json!(ago(10));
        assert_eq!(status(&done), "Completed");
    }

    #[test]
    fn wide_columns() {
        let p = pod(
            json!({
                "containers": [{"name": "a"}],
                "readinessGates": [{"conditionType": "example.com/lb"}, {"conditionType": "example.com/dns"}]
            }),
            json!({
                "phase": "Pending",
                "nominatedNodeName": "node-2",
                "podIPs": [{"ip": "fd00::7"}],
                "conditions": [
                    {"type": "example.com/lb", "status": "True"},
                    {"type": "example.com/dns", "status": "False"}
                ]
            }),
        );
        let row = cells(&p);
        assert_eq!(
            row[5..],
            [
                json!("fd00::7"),
                json!("<none>"),
                json!("node-2"),
                json!("1/2")
            ]
        );
    }

    #[test]
    fn empty_and_malformed_objects() {
        let row = cells(&json!({}));
        assert_eq!(
            row,
            vec![
                json!(""),
                json!("0/0"),
                json!(""),
                json!("0"),
                json!("<unknown>"),
                json!("<none>"),
                json!("<none>"),
                json!("<none>"),
                json!("<none>"),
            ]
        );
        let weird = json!({
            "metadata": {"name": 5, "deletionTimestamp": null},
            "spec": {"containers": "nope", "initContainers": [null, 3]},
            "status": {"containerStatuses": [null, {"state": "x"}], "initContainerStatuses": [{}], "conditions": {}}
        });
        let row = cells(&weird);
        assert_eq!(row[0], json!(""));
        assert_eq!(row[2], json!("Init:0/2"));
    }
}
