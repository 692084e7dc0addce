//! apps/v1 Deployments (NAME READY UP-TO-DATE AVAILABLE AGE) and ReplicaSets
//! (NAME DESIRED CURRENT READY AGE), both with wide CONTAINERS IMAGES SELECTOR.

use super::{
    age_cell, age_col, arr_at, col, desired_replicas, format_label_selector, get, int_at,
    layout_containers, name_cell, name_col, selector_string, wide, Column, Printer,
    CONTAINERS_DESC, IMAGES_DESC, POD_SELECTOR_DESC,
};
use chrono::{DateTime, Utc};
use serde_json::Value;

const DEPLOY_READY_DESC: &str = "Ready pods out of desired.";
const DEPLOY_UPDATED_DESC: &str = "Pods running the current template.";
const DEPLOY_AVAILABLE_DESC: &str = "Pods available for at least minReadySeconds.";

const RS_DESIRED_DESC: &str = "Desired pods.";
const RS_CURRENT_DESC: &str = "Current pods.";
const RS_READY_DESC: &str = "Ready pods.";

pub struct DeploymentPrinter;

impl Printer for DeploymentPrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            col("Ready", "string", DEPLOY_READY_DESC),
            col("Up-to-date", "string", DEPLOY_UPDATED_DESC),
            col("Available", "string", DEPLOY_AVAILABLE_DESC),
            age_col(),
            wide("Containers", "string", CONTAINERS_DESC),
            wide("Images", "string", IMAGES_DESC),
            wide("Selector", "string", POD_SELECTOR_DESC),
        ]
    }

    fn cells(&self, obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
        let (names, images) = layout_containers(arr_at(obj, "/spec/template/spec/containers"));
        // An unset selector prints as "", an unconvertible one as <invalid>.
        let selector = selector_string(get(obj, "/spec/selector"))
            .unwrap_or_else(|()| "<invalid>".to_string());
        vec![
            name_cell(obj),
            Value::from(format!(
                "{}/{}",
                int_at(obj, "/status/readyReplicas"),
                desired_replicas(obj)
            )),
            Value::from(int_at(obj, "/status/updatedReplicas")),
            Value::from(int_at(obj, "/status/availableReplicas")),
            age_cell(obj, now),
            Value::from(names),
            Value::from(images),
            Value::from(selector),
        ]
    }
}

/// The columns ReplicaSets and ReplicationControllers share
/// (`replicaSetColumnDefinitions`, `replicationControllerColumnDefinitions`
/// in printers.go); they differ in how the selector is read.
pub struct ReplicaPrinter {
    selector: fn(&Value) -> String,
}

pub static REPLICA_SET_PRINTER: ReplicaPrinter = ReplicaPrinter {
    selector: label_selector_cell,
};

impl ReplicaPrinter {
    pub const fn with_selector(selector: fn(&Value) -> String) -> ReplicaPrinter {
        ReplicaPrinter { selector }
    }
}

fn label_selector_cell(obj: &Value) -> String {
    format_label_selector(get(obj, "/spec/selector"))
}

impl Printer for ReplicaPrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            col("Desired", "integer", RS_DESIRED_DESC),
            col("Current", "integer", RS_CURRENT_DESC),
            col("Ready", "integer", RS_READY_DESC),
            age_col(),
            wide("Containers", "string", CONTAINERS_DESC),
            wide("Images", "string", IMAGES_DESC),
            wide("Selector", "string", POD_SELECTOR_DESC),
        ]
    }

    fn cells(&self, obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
        let (names, images) = layout_containers(arr_at(obj, "/spec/template/spec/containers"));
        vec![
            name_cell(obj),
            Value::from(desired_replicas(obj)),
            Value::from(int_at(obj, "/status/replicas")),
            Value::from(int_at(obj, "/status/readyReplicas")),
            age_cell(obj, now),
            Value::from(names),
            Value::from(images),
            Value::from((self.selector)(obj)),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::testutil::{ago, now};
    use serde_json::json;

    fn template() -> Value {
        json!({
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [
                {"name": "nginx", "image": "nginx:1.25", "ports": [{"containerPort": 80}]},
                {"name": "sidecar", "image": "busybox:1.36"}
            ]}
        })
    }

    #[test]
    fn deployment_columns() {
        let c: Vec<_> = DeploymentPrinter
            .columns()
            .iter()
            .map(|c| (c.name, c.type_, c.priority))
            .collect();
        assert_eq!(
            c,
            vec![
                ("Name", "string", 0),
                ("Ready", "string", 0),
                ("Up-to-date", "string", 0),
                ("Available", "string", 0),
                ("Age", "string", 0),
                ("Containers", "string", 1),
                ("Images", "string", 1),
                ("Selector", "string", 1),
            ]
        );
    }

    #[test]
    fn deployment() {
        let d = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default", "creationTimestamp": ago(9 * 60)},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "track", "operator": "NotIn", "values": ["canary"]}]},
                "template": template(),
                "strategy": {"type": "RollingUpdate"}
            },
            "status": {"replicas": 3, "updatedReplicas": 3, "readyReplicas": 2, "availableReplicas": 2, "observedGeneration": 1}
        });
        assert_eq!(
            DeploymentPrinter.cells(&d, now()),
            vec![
                json!("web"),
                json!("2/3"),
                json!(3),
                json!(2),
                json!("9m"),
                json!("nginx,sidecar"),
                json!("nginx:1.25,busybox:1.36"),
                json!("app=web,track notin (canary)"),
            ]
        );
    }

    #[test]
    fn deployment_defaults_and_invalid_selector() {
        let d = json!({
            "metadata": {"name": "fresh", "creationTimestamp": ago(2)},
            "spec": {"selector": {"matchExpressions": [{"key": "x", "operator": "Bad"}]}}
        });
        assert_eq!(
            DeploymentPrinter.cells(&d, now()),
            vec![
                json!("fresh"),
                json!("0/1"),
                json!(0),
                json!(0),
                json!("2s"),
                json!(""),
                json!(""),
                json!("<invalid>"),
            ]
        );
        let d = json!({"spec": {"replicas": 0}});
        let row = DeploymentPrinter.cells(&d, now());
        assert_eq!(row[1], json!("0/0"));
        assert_eq!(row[7], json!(""));
    }

    #[test]
    fn replicaset_columns() {
        let c: Vec<_> = REPLICA_SET_PRINTER
            .columns()
            .iter()
            .map(|c| (c.name, c.type_, c.priority))
            .collect();
        assert_eq!(
            c,
            vec![
                ("Name", "string", 0),
                ("Desired", "integer", 0),
                ("Current", "integer", 0),
                ("Ready", "integer", 0),
                ("Age", "string", 0),
                ("Containers", "string", 1),
                ("Images", "string", 1),
                ("Selector", "string", 1),
            ]
        );
    }

    #[test]
    fn replicaset() {
        let rs = json!({
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": "web-7c5ddbdf54", "namespace": "default", "creationTimestamp": ago(26 * 3600),
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "controller": true}]},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "web", "pod-template-hash": "7c5ddbdf54"}},
                "template": template()
            },
            "status": {"replicas": 3, "fullyLabeledReplicas": 3, "readyReplicas": 1, "availableReplicas": 1}
        });
        assert_eq!(
            REPLICA_SET_PRINTER.cells(&rs, now()),
            vec![
                json!("web-7c5ddbdf54"),
                json!(3),
                json!(3),
                json!(1),
                json!("26h"),
                json!("nginx,sidecar"),
                json!("nginx:1.25,busybox:1.36"),
                json!("app=web,pod-template-hash=7c5ddbdf54"),
            ]
        );
    }

    #[test]
    fn replicaset_empty() {
        assert_eq!(
            REPLICA_SET_PRINTER.cells(&json!({}), now()),
            vec![
                json!(""),
                json!(1),
                json!(0),
                json!(0),
                json!("<unknown>"),
                json!(""),
                json!(""),
                json!("<none>"),
            ]
        );
        let bad = json!({"spec": {"selector": {"matchLabels": {"-bad-": "x"}}}});
        assert_eq!(REPLICA_SET_PRINTER.cells(&bad, now())[7], json!("<error>"));
    }
}
