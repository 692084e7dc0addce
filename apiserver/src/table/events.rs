//! Events (core/v1 and events.k8s.io/v1): LAST SEEN TYPE REASON OBJECT MESSAGE,
//! wide SUBOBJECT SOURCE FIRST SEEN COUNT NAME.
//!
//! kube-apiserver serves both APIs from one storage and prints the internal
//! (core) form, so an events.k8s.io/v1 object is read through its field
//! mapping: regarding -> involvedObject, note -> message, deprecatedSource ->
//! source, deprecatedFirstTimestamp / deprecatedLastTimestamp / deprecatedCount
//! -> firstTimestamp / lastTimestamp / count. Either spelling is accepted for
//! either group.

use super::{
    as_int, col, get, get_obj, name_cell, parse_time, since, str_at, Column, Printer, NAME_DESC,
};
use chrono::{DateTime, Utc};
use serde_json::Value;

const LAST_SEEN_DESC: &str = "When the event was last seen.";
const TYPE_DESC: &str = "Type.";
const REASON_DESC: &str = "Short machine-readable reason.";
const OBJECT_DESC: &str = "Object the event is about.";
const SUBOBJECT_DESC: &str = "Part of the object the event is about.";
const SOURCE_DESC: &str = "Component that reported the event.";
const MESSAGE_DESC: &str = "What happened, for people.";
const FIRST_SEEN_DESC: &str = "When the event was first seen.";
const COUNT_DESC: &str = "How many times the event occurred.";

pub struct EventPrinter;

impl Printer for EventPrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            col("Last Seen", "string", LAST_SEEN_DESC),
            col("Type", "string", TYPE_DESC),
            col("Reason", "string", REASON_DESC),
            col("Object", "string", OBJECT_DESC),
            wide_col("Subobject", SUBOBJECT_DESC),
            wide_col("Source", SOURCE_DESC),
            col("Message", "string", MESSAGE_DESC),
            wide_col("First Seen", FIRST_SEEN_DESC),
            wide_col("Count", COUNT_DESC),
            Column {
                name: "Name",
                type_: "string",
                format: "name",
                description: NAME_DESC,
                priority: 1,
            },
        ]
    }

    fn cells(&self, obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
        let first_ts = parse_time(either(obj, "firstTimestamp", "deprecatedFirstTimestamp"));
        let first = match first_ts {
            Some(t) => since(Some(t), now),
            None => since(parse_time(get(obj, "/eventTime")), now),
        };
        let mut last = match parse_time(either(obj, "lastTimestamp", "deprecatedLastTimestamp")) {
            Some(t) => since(Some(t), now),
            None => first.clone(),
        };

        let mut count = either(obj, "count", "deprecatedCount")
            .and_then(as_int)
            .unwrap_or(0);
        if let Some(series) = get_obj(obj, "/series") {
            last = since(parse_time(get(series, "/lastObservedTime")), now);
            count = get(series, "/count").and_then(as_int).unwrap_or(0);
        } else if count == 0 {
            // Singleton events carry no count in the new API.
            count = 1;
        }

        let involved = either(obj, "involvedObject", "regarding").unwrap_or(&Value::Null);
        let kind = str_at(involved, "/kind").to_lowercase();
        let target_name = str_at(involved, "/name");
        let target = if target_name.is_empty() {
            kind
        } else {
            format!("{}/{}", kind, target_name)
        };

        let source = either(obj, "source", "deprecatedSource").unwrap_or(&Value::Null);
        let component = first_non_empty(
            str_at(source, "/component"),
            either_str(obj, "reportingComponent", "reportingController"),
        );
        let host = first_non_empty(str_at(source, "/host"), str_at(obj, "/reportingInstance"));
        let source = if host.is_empty() {
            component.to_string()
        } else {
            format!("{}, {}", component, host)
        };

        let message = either_str(obj, "message", "note").trim();

        vec![
            Value::from(last),
            Value::from(str_at(obj, "/type")),
            Value::from(str_at(obj, "/reason")),
            Value::from(target),
            Value::from(str_at(involved, "/fieldPath")),
            Value::from(source),
            Value::from(message),
            Value::from(first),
            Value::from(count),
            name_cell(obj),
        ]
    }
}

const fn wide_col(name: &'static str, description: &'static str) -> Column {
    super::wide(name, "string", description)
}

/// The core/v1 field if present, else its events.k8s.io/v1 counterpart.
fn either<'a>(obj: &'a Value, core: &str, events: &str) -> Option<&'a Value> {
    obj.get(core)
        .filter(|v| !v.is_null())
        .or_else(|| obj.get(events).filter(|v| !v.is_null()))
}

fn either_str<'a>(obj: &'a Value, core: &str, events: &str) -> &'a str {
    match obj.get(core).and_then(Value::as_str) {
        Some(s) if !s.is_empty() => s,
        _ => obj.get(events).and_then(Value::as_str).unwrap_or(""),
    }
}

fn first_non_empty<'a>(a: &'a str, b: &'a str) -> &'a str {
    if a.is_empty() {
        b
    } else {
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::testutil::{ago, now};
    use serde_json::json;

    #[test]
    fn columns() {
        let cols = EventPrinter.columns();
        let c: Vec<_> = cols
            .iter()
            .map(|c| (c.name, c.format, c.priority))
            .collect();
        assert_eq!(
            c,
            vec![
                ("Last Seen", "", 0),
                ("Type", "", 0),
                ("Reason", "", 0),
                ("Object", "", 0),
                ("Subobject", "", 1),
                ("Source", "", 1),
                ("Message", "", 0),
                ("First Seen", "", 1),
                ("Count", "", 1),
                ("Name", "name", 1),
            ]
        );
        assert!(cols.iter().all(|c| c.type_ == "string"));
    }

    #[test]
    fn core_event() {
        let ev = json!({
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": "web-0.17c3a5b1f2e4d6a8", "namespace": "default", "creationTimestamp": ago(3600)},
            "involvedObject": {"kind": "Pod", "namespace": "default", "name": "web-0", "apiVersion": "v1",
                               "fieldPath": "spec.containers{nginx}"},
            "reason": "Pulled",
            "message": "  Container image \"nginx:1.25\" already present on machine\n",
            "source": {"component": "kubelet", "host": "node-1"},
            "firstTimestamp": ago(3600),
            "lastTimestamp": ago(125),
            "count": 4,
            "type": "Normal",
            "eventTime": null,
            "reportingComponent": "kubelet",
            "reportingInstance": "node-1"
        });
        assert_eq!(
            EventPrinter.cells(&ev, now()),
            vec![
                json!("2m5s"),
                json!("Normal"),
                json!("Pulled"),
                json!("pod/web-0"),
                json!("spec.containers{nginx}"),
                json!("kubelet, node-1"),
                json!("Container image \"nginx:1.25\" already present on machine"),
                json!("60m"),
                json!(4),
                json!("web-0.17c3a5b1f2e4d6a8"),
            ]
        );
    }

    #[test]
    fn new_style_core_event() {
        // Written through events.k8s.io but read back as core/v1.
        let ev = json!({
            "metadata": {"name": "e1", "namespace": "default"},
            "involvedObject": {"kind": "Node", "name": "node-1"},
            "reason": "Starting",
            "message": "Starting kubelet.",
            "source": {},
            "eventTime": "2024-05-01T11:58:00.000000Z",
            "firstTimestamp": null,
            "lastTimestamp": null,
            "type": "Normal",
            "reportingComponent": "kubelet",
            "reportingInstance": "node-1"
        });
        let row = EventPrinter.cells(&ev, now());
        assert_eq!(row[0], json!("2m"));
        assert_eq!(row[3], json!("node/node-1"));
        assert_eq!(row[5], json!("kubelet, node-1"));
        assert_eq!(row[7], json!("2m"));
        assert_eq!(row[8], json!(1));
    }

    #[test]
    fn events_k8s_io_event_with_series() {
        let ev = json!({
            "apiVersion": "events.k8s.io/v1",
            "kind": "Event",
            "metadata": {"name": "cm.abc", "namespace": "kube-system", "creationTimestamp": ago(7200)},
            "eventTime": "2024-05-01T10:00:00.000000Z",
            "series": {"count": 12, "lastObservedTime": "2024-05-01T11:59:30.000000Z"},
            "reportingController": "example.com/controller",
            "reportingInstance": "controller-7d9f",
            "action": "Reconcile",
            "reason": "Failed",
            "regarding": {"kind": "Deployment", "namespace": "kube-system", "name": "coredns", "apiVersion": "apps/v1"},
            "note": "reconcile failed: boom",
            "type": "Warning"
        });
        assert_eq!(
            EventPrinter.cells(&ev, now()),
            vec![
                json!("30s"),
                json!("Warning"),
                json!("Failed"),
                json!("deployment/coredns"),
                json!(""),
                json!("example.com/controller, controller-7d9f"),
                json!("reconcile failed: boom"),
                json!("120m"),
                json!(12),
                json!("cm.abc"),
            ]
        );
    }

    #[test]
    fn events_k8s_io_deprecated_fields() {
        let ev = json!({
            "apiVersion": "events.k8s.io/v1",
            "metadata": {"name": "x"},
            "regarding": {"kind": "Namespace"},
            "deprecatedSource": {"component": "namespace-controller"},
            "deprecatedFirstTimestamp": ago(600),
            "deprecatedLastTimestamp": ago(60),
            "deprecatedCount": 3,
            "note": "done",
            "type": "Normal",
            "reason": "Deleted"
        });
        let row = EventPrinter.cells(&ev, now());
        assert_eq!(row[0], json!("60s"));
        assert_eq!(row[3], json!("namespace"));
        assert_eq!(row[5], json!("namespace-controller"));
        assert_eq!(row[7], json!("10m"));
        assert_eq!(row[8], json!(3));
    }

    #[test]
    fn empty_event() {
        assert_eq!(
            EventPrinter.cells(&json!({}), now()),
            vec![
                json!("<unknown>"),
                json!(""),
                json!(""),
                json!(""),
                json!(""),
                json!(""),
                json!(""),
                json!("<unknown>"),
                json!(1),
                json!(""),
            ]
        );
    }
}
