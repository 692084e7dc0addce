//! apps/v1 StatefulSets, DaemonSets and ControllerRevisions, and core/v1
//! ReplicationControllers and PodTemplates (printers.go `printStatefulSet`,
//! `printDaemonSet`, `printControllerRevision`, `printReplicationController`,
//! `printPodTemplate`).

use super::{
    age_cell, age_col, arr_at, as_int, bool_at, col, desired_replicas, format_label_selector,
    format_labels, get, int_at, layout_containers, name_cell, name_col, str_at, wide, Column,
    Printer, CONTAINERS_DESC, IMAGES_DESC, POD_SELECTOR_DESC,
};
use chrono::{DateTime, Utc};
use serde_json::Value;

const READY_DESC: &str = "Number of the pod with ready state";

pub struct StatefulSetPrinter;

impl Printer for StatefulSetPrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            col("Ready", "string", READY_DESC),
            age_col(),
            wide("Containers", "string", CONTAINERS_DESC),
            wide("Images", "string", IMAGES_DESC),
        ]
    }

    fn cells(&self, obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
        let (names, images) = layout_containers(arr_at(obj, "/spec/template/spec/containers"));
        let ready = int_at(obj, "/status/readyReplicas");
        vec![
            name_cell(obj),
            Value::from(format!("{}/{}", ready, desired_replicas(obj))),
            age_cell(obj, now),
            Value::from(names),
            Value::from(images),
        ]
    }
}

pub struct DaemonSetPrinter;

impl Printer for DaemonSetPrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            col("Desired", "integer", "Pods that should be running."),
            col("Current", "integer", "Pods running that should be."),
            col("Ready", "integer", "Pods ready."),
            col(
                "Up-to-date",
                "integer",
                "Pods running the current template.",
            ),
            col("Available", "integer", "Pods available."),
            col(
                "Node Selector",
                "string",
                "Node selector of the pod template.",
            ),
            age_col(),
            wide("Containers", "string", CONTAINERS_DESC),
            wide("Images", "string", IMAGES_DESC),
            wide("Selector", "string", POD_SELECTOR_DESC),
        ]
    }

    fn cells(&self, obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
        let (names, images) = layout_containers(arr_at(obj, "/spec/template/spec/containers"));
        let status = |field: &str| Value::from(int_at(obj, &format!("/status/{}", field)));
        vec![
            name_cell(obj),
            status("desiredNumberScheduled"),
            status("currentNumberScheduled"),
            status("numberReady"),
            status("updatedNumberScheduled"),
            status("numberAvailable"),
            Value::from(format_labels(get(obj, "/spec/template/spec/nodeSelector"))),
            age_cell(obj, now),
            Value::from(names),
            Value::from(images),
            Value::from(format_label_selector(get(obj, "/spec/selector"))),
        ]
    }
}

pub struct ControllerRevisionPrinter;

impl Printer for ControllerRevisionPrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            col("Controller", "string", "Controller of the object"),
            col("Revision", "string", "Revision number of the saved state."),
            age_col(),
        ]
    }

    fn cells(&self, obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
        vec![
            name_cell(obj),
            Value::from(controller_name(obj)),
            Value::from(get(obj, "/revision").and_then(as_int).unwrap_or(0)),
            age_cell(obj, now),
        ]
    }
}

/// The controlling owner as `kind.group/name` in lower case (`kind/name` for
/// the core group), `<none>` without one (printers.go `formatResourceName`).
fn controller_name(obj: &Value) -> String {
    let Some(owner) = arr_at(obj, "/metadata/ownerReferences")
        .iter()
        .find(|r| bool_at(r, "/controller"))
    else {
        return "<none>".to_string();
    };
    let api_version = str_at(owner, "/apiVersion");
    // schema.ParseGroupVersion: "v1" is the core group, "g/v" names group g.
    let group = api_version.split_once('/').map_or("", |(g, _)| g);
    let kind = str_at(owner, "/kind");
    let name = str_at(owner, "/name");
    let group_kind = match (kind, group) {
        ("", "") => return name.to_string(),
        (k, "") => k.to_string(),
        (k, g) => format!("{}.{}", k, g),
    };
    format!("{}/{}", group_kind.to_lowercase(), name)
}

/// ReplicationControllers print a ReplicaSet's columns; their selector is a
/// plain label map.
pub static REPLICATION_CONTROLLER_PRINTER: super::apps::ReplicaPrinter =
    super::apps::ReplicaPrinter::with_selector(|obj| format_labels(rc_selector(obj)));

/// spec.selector; decoding defaults an empty one to the template's labels.
fn rc_selector(obj: &Value) -> Option<&Value> {
    get(obj, "/spec/selector")
        .filter(|s| s.as_object().is_some_and(|m| !m.is_empty()))
        .or_else(|| get(obj, "/spec/template/metadata/labels"))
}

/// PodTemplates have no AGE column.
pub struct PodTemplatePrinter;

impl Printer for PodTemplatePrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            col("Containers", "string", CONTAINERS_DESC),
            col("Images", "string", IMAGES_DESC),
            col("Pod Labels", "string", "The labels for the pod template."),
        ]
    }

    fn cells(&self, obj: &Value, _now: DateTime<Utc>) -> Vec<Value> {
        let (names, images) = layout_containers(arr_at(obj, "/template/spec/containers"));
        vec![
            name_cell(obj),
            Value::from(names),
            Value::from(images),
            Value::from(format_labels(get(obj, "/template/metadata/labels"))),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::testutil::{ago, now};
    use serde_json::json;

    use crate::table::testutil::cols;

    fn template() -> Value {
        json!({
            "metadata": {"labels": {"app": "db", "tier": "data"}},
            "spec": {"containers": [{"name": "pg", "image": "postgres:16"}, {"name": "exporter", "image": "exporter:1"}]}
        })
    }

    #[test]
    fn statefulset() {
        assert_eq!(
            cols(&StatefulSetPrinter),
            [
                ("Name", "string", 0),
                ("Ready", "string", 0),
                ("Age", "string", 0),
                ("Containers", "string", 1),
                ("Images", "string", 1)
            ]
        );
        let sts = json!({
            "metadata": {"name": "db", "creationTimestamp": ago(3 * 3600)},
            "spec": {"replicas": 3, "serviceName": "db", "template": template()},
            "status": {"replicas": 3, "readyReplicas": 2}
        });
        assert_eq!(
            StatefulSetPrinter.cells(&sts, now()),
            vec![
                json!("db"),
                json!("2/3"),
                json!("3h"),
                json!("pg,exporter"),
                json!("postgres:16,exporter:1")
            ]
        );
        assert_eq!(
            StatefulSetPrinter.cells(&json!({}), now()),
            vec![
                json!(""),
                json!("0/1"),
                json!("<unknown>"),
                json!(""),
                json!("")
            ]
        );
    }

    #[test]
    fn daemonset() {
        let names: Vec<_> = cols(&DaemonSetPrinter).iter().map(|c| c.0).collect();
        assert_eq!(
            names,
            [
                "Name",
                "Desired",
                "Current",
                "Ready",
                "Up-to-date",
                "Available",
                "Node Selector",
                "Age",
                "Containers",
                "Images",
                "Selector"
            ]
        );
        assert_eq!(cols(&DaemonSetPrinter)[1].1, "integer");
        assert_eq!(cols(&DaemonSetPrinter)[10].2, 1);
        let mut t = template();
        t["spec"]["nodeSelector"] = json!({"kubernetes.io/os": "linux"});
        let ds = json!({
            "metadata": {"name": "kube-proxy", "creationTimestamp": ago(86400 * 3)},
            "spec": {"selector": {"matchLabels": {"k8s-app": "kube-proxy"}}, "template": t},
            "status": {"desiredNumberScheduled": 3, "currentNumberScheduled": 3, "numberReady": 2,
                       "updatedNumberScheduled": 3, "numberAvailable": 2}
        });
        assert_eq!(
            DaemonSetPrinter.cells(&ds, now()),
            vec![
                json!("kube-proxy"),
                json!(3),
                json!(3),
                json!(2),
                json!(3),
                json!(2),
                json!("kubernetes.io/os=linux"),
                json!("3d"),
                json!("pg,exporter"),
                json!("postgres:16,exporter:1"),
                json!("k8s-app=kube-proxy")
            ]
        );
        let empty = DaemonSetPrinter.cells(&json!({}), now());
        assert_eq!(empty[1], json!(0));
        assert_eq!(empty[6], json!("<none>"));
        assert_eq!(empty[10], json!("<none>"));
    }

    #[test]
    fn controller_revision() {
        assert_eq!(
            cols(&ControllerRevisionPrinter)
                .iter()
                .map(|c| c.0)
                .collect::<Vec<_>>(),
            ["Name", "Controller", "Revision", "Age"]
        );
        let cr = json!({
            "metadata": {"name": "db-6b9f7c", "creationTimestamp": ago(600), "ownerReferences": [
                {"apiVersion": "v1", "kind": "Pod", "name": "other"},
                {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db", "controller": true}
            ]},
            "revision": 4
        });
        assert_eq!(
            ControllerRevisionPrinter.cells(&cr, now()),
            vec![
                json!("db-6b9f7c"),
                json!("statefulset.apps/db"),
                json!(4),
                json!("10m")
            ]
        );
        let core = json!({"metadata": {"ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": "p", "controller": true}]}});
        assert_eq!(controller_name(&core), "pod/p");
        assert_eq!(
            ControllerRevisionPrinter.cells(&json!({}), now()),
            vec![json!(""), json!("<none>"), json!(0), json!("<unknown>")]
        );
    }

    #[test]
    fn replication_controller() {
        assert_eq!(
            cols(&REPLICATION_CONTROLLER_PRINTER),
            [
                ("Name", "string", 0),
                ("Desired", "integer", 0),
                ("Current", "integer", 0),
                ("Ready", "integer", 0),
                ("Age", "string", 0),
                ("Containers", "string", 1),
                ("Images", "string", 1),
                ("Selector", "string", 1)
            ]
        );
        let rc = json!({
            "metadata": {"name": "web", "creationTimestamp": ago(45)},
            "spec": {"replicas": 2, "selector": {"app": "db", "tier": "data"}, "template": template()},
            "status": {"replicas": 2, "readyReplicas": 1}
        });
        assert_eq!(
            REPLICATION_CONTROLLER_PRINTER.cells(&rc, now()),
            vec![
                json!("web"),
                json!(2),
                json!(2),
                json!(1),
                json!("45s"),
                json!("pg,exporter"),
                json!("postgres:16,exporter:1"),
                json!("app=db,tier=data")
            ]
        );
        let defaulted = json!({"spec": {"template": template()}});
        assert_eq!(
            REPLICATION_CONTROLLER_PRINTER.cells(&defaulted, now())[7],
            json!("app=db,tier=data")
        );
        assert_eq!(
            REPLICATION_CONTROLLER_PRINTER.cells(&json!({}), now()),
            vec![
                json!(""),
                json!(1),
                json!(0),
                json!(0),
                json!("<unknown>"),
                json!(""),
                json!(""),
                json!("<none>")
            ]
        );
    }

    #[test]
    fn pod_template() {
        assert_eq!(
            cols(&PodTemplatePrinter)
                .iter()
                .map(|c| c.0)
                .collect::<Vec<_>>(),
            ["Name", "Containers", "Images", "Pod Labels"]
        );
        let pt = json!({"metadata": {"name": "tpl"}, "template": template()});
        assert_eq!(
            PodTemplatePrinter.cells(&pt, now()),
            vec![
                json!("tpl"),
                json!("pg,exporter"),
                json!("postgres:16,exporter:1"),
                json!("app=db,tier=data")
            ]
        );
        assert_eq!(
            PodTemplatePrinter.cells(&json!({}), now()),
            vec![json!(""), json!(""), json!(""), json!("<none>")]
        );
    }
}
