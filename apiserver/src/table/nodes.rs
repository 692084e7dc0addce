//! Nodes: NAME STATUS ROLES AGE VERSION, wide INTERNAL-IP EXTERNAL-IP OS-IMAGE
//! KERNEL-VERSION CONTAINER-RUNTIME.

use super::{
    age_cell, age_col, arr_at, bool_at, col, name_cell, name_col, str_at, wide, Column, Printer,
};
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::BTreeSet;

const STATUS_DESC: &str = "Status.";
const ROLES_DESC: &str = "Roles of the node.";
const VERSION_DESC: &str = "Version of the node agent.";
const ADDRESSES_DESC: &str = "Addresses of the node.";
const OS_IMAGE_DESC: &str = "Operating system of the node.";
const KERNEL_DESC: &str = "Kernel version of the node.";
const RUNTIME_DESC: &str = "Container runtime of the node.";

const ROLE_LABEL_PREFIX: &str = "node-role.kubernetes.io/";
const ROLE_LABEL: &str = "kubernetes.io/role";

pub struct NodePrinter;

impl Printer for NodePrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            col("Status", "string", STATUS_DESC),
            col("Roles", "string", ROLES_DESC),
            age_col(),
            col("Version", "string", VERSION_DESC),
            wide("Internal-IP", "string", ADDRESSES_DESC),
            wide("External-IP", "string", ADDRESSES_DESC),
            wide("OS-Image", "string", OS_IMAGE_DESC),
            wide("Kernel-Version", "string", KERNEL_DESC),
            wide("Container-Runtime", "string", RUNTIME_DESC),
        ]
    }

    fn cells(&self, obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
        let mut roles = roles(obj).into_iter().collect::<Vec<_>>().join(",");
        if roles.is_empty() {
            roles = "<none>".to_string();
        }
        let info = |field: &str| match str_at(obj, &format!("/status/nodeInfo/{}", field)) {
            "" => "<unknown>".to_string(),
            s => s.to_string(),
        };
        vec![
            name_cell(obj),
            Value::from(status(obj)),
            Value::from(roles),
            age_cell(obj, now),
            Value::from(str_at(obj, "/status/nodeInfo/kubeletVersion")),
            Value::from(address(obj, "InternalIP")),
            Value::from(address(obj, "ExternalIP")),
            Value::from(info("osImage")),
            Value::from(info("kernelVersion")),
            Value::from(info("containerRuntimeVersion")),
        ]
    }
}

/// `Ready` / `NotReady` from the (last) Ready condition, `Unknown` without one,
/// plus `SchedulingDisabled` for cordoned nodes.
fn status(obj: &Value) -> String {
    let ready = arr_at(obj, "/status/conditions")
        .iter()
        .rfind(|c| str_at(c, "/type") == "Ready");
    let mut parts = vec![match ready {
        Some(c) if str_at(c, "/status") == "True" => "Ready",
        Some(_) => "NotReady",
        None => "Unknown",
    }];
    if bool_at(obj, "/spec/unschedulable") {
        parts.push("SchedulingDisabled");
    }
    parts.join(",")
}

/// Roles from `node-role.kubernetes.io/<role>` label keys and the
/// `kubernetes.io/role` label value, sorted and de-duplicated.
fn roles(obj: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    if let Some(labels) = obj.pointer("/metadata/labels").and_then(Value::as_object) {
        for (k, v) in labels {
            if let Some(role) = k.strip_prefix(ROLE_LABEL_PREFIX) {
                if !role.is_empty() {
                    out.insert(role.to_string());
                }
            } else if k == ROLE_LABEL {
                let v = v.as_str().unwrap_or("");
                if !v.is_empty() {
                    out.insert(v.to_string());
                }
            }
        }
    }
    out
}

/// The first address of the given type, or `<none>`.
fn address(obj: &Value, type_: &str) -> String {
    arr_at(obj, "/status/addresses")
        .iter()
        .find(|a| str_at(a, "/type") == type_)
        .map(|a| str_at(a, "/address").to_string())
        .unwrap_or_else(|| "<none>".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::testutil::{ago, now};
    use serde_json::json;

    fn node() -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": "cp-1",
                "creationTimestamp": ago(40 * 86400),
                "labels": {
                    "kubernetes.io/hostname": "cp-1",
                    "node-role.kubernetes.io/control-plane": "",
                    "node-role.kubernetes.io/etcd": "true",
                    "node-role.kubernetes.io/": "",
                    "kubernetes.io/role": "master"
                }
            },
            "spec": {"podCIDR": "10.244.0.0/24"},
            "status": {
                "addresses": [
                    {"type": "Hostname", "address": "cp-1"},
                    {"type": "InternalIP", "address": "192.168.1.10"},
                    {"type": "InternalIP", "address": "fd00::10"}
                ],
                "conditions": [
                    {"type": "MemoryPressure", "status": "False"},
                    {"type": "Ready", "status": "True", "reason": "KubeletReady"}
                ],
                "nodeInfo": {
                    "kubeletVersion": "v1.31.0",
                    "osImage": "Ubuntu 24.04 LTS",
                    "kernelVersion": "6.8.0-31-generic",
                    "containerRuntimeVersion": "containerd://1.7.13"
                }
            }
        })
    }

    #[test]
    fn columns() {
        let c: Vec<_> = NodePrinter
            .columns()
            .iter()
            .map(|c| (c.name, c.priority))
            .collect();
        assert_eq!(
            c,
            vec![
                ("Name", 0),
                ("Status", 0),
                ("Roles", 0),
                ("Age", 0),
                ("Version", 0),
                ("Internal-IP", 1),
                ("External-IP", 1),
                ("OS-Image", 1),
                ("Kernel-Version", 1),
                ("Container-Runtime", 1)
            ]
        );
    }

    #[test]
    fn ready_node() {
        assert_eq!(
            NodePrinter.cells(&node(), now()),
            vec![
                json!("cp-1"),
                json!("Ready"),
                json!("control-plane,etcd,master"),
                json!("40d"),
                json!("v1.31.0"),
                json!("192.168.1.10"),
                json!("<none>"),
                json!("Ubuntu 24.04 LTS"),
                json!("6.8.0-31-generic"),
                json!("containerd://1.7.13"),
            ]
        );
    }

    #[test]
    fn not_ready_cordoned() {
        let mut n = node();
        n["status"]["conditions"][1]["status"] = json!("Unknown");
        n["spec"]["unschedulable"] = json!(true);
        assert_eq!(
            NodePrinter.cells(&n, now())[1],
            json!("NotReady,SchedulingDisabled")
        );
        n["status"]["conditions"] = json!([]);
        assert_eq!(
            NodePrinter.cells(&n, now())[1],
            json!("Unknown,SchedulingDisabled")
        );
    }

    #[test]
    fn bare_node() {
        let n = json!({"metadata": {"name": "w-1", "creationTimestamp": ago(30)}});
        assert_eq!(
            NodePrinter.cells(&n, now()),
            vec![
                json!("w-1"),
                json!("Unknown"),
                json!("<none>"),
                json!("30s"),
                json!(""),
                json!("<none>"),
                json!("<none>"),
                json!("<unknown>"),
                json!("<unknown>"),
                json!("<unknown>"),
            ]
        );
    }
}
