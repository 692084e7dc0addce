//! core/v1 ResourceQuotas and ComponentStatuses (printers.go
//! `printResourceQuota`, `printComponentStatus`). LimitRanges have no printer
//! upstream and use the default NAME / CREATED AT table.

use super::{age_cell, age_col, arr_at, col, get, name_cell, name_col, str_at, Column, Printer};
use chrono::{DateTime, Utc};
use serde_json::Value;

pub struct ResourceQuotaPrinter;

impl Printer for ResourceQuotaPrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            col(
                "Request",
                "string",
                "Request represents a minimum amount of cpu/memory that a container may consume.",
            ),
            col(
                "Limit",
                "string",
                "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node.",
            ),
            age_col(),
        ]
    }

    /// `resource: used/hard` for every hard limit in name order, split into
    /// `limits.*` resources and the rest; quantities print as given.
    fn cells(&self, obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
        let mut requests = Vec::new();
        let mut limits = Vec::new();
        if let Some(hard) = get(obj, "/status/hard").and_then(Value::as_object) {
            // serde_json maps keep keys sorted (BTreeMap) unless
            // preserve_order is on, so sort explicitly.
            let mut names: Vec<&String> = hard.keys().collect();
            names.sort();
            for name in names {
                let used = get(obj, "/status/used")
                    .and_then(|u| u.get(name.as_str()))
                    .map_or_else(|| "0".to_string(), quantity_string);
                let entry = format!("{}: {}/{}", name, used, quantity_string(&hard[name]));
                let mut pieces = name.split('.');
                match (pieces.next(), pieces.next()) {
                    (Some("limits"), Some(_)) => limits.push(entry),
                    _ => requests.push(entry),
                }
            }
        }
        vec![
            name_cell(obj),
            Value::from(requests.join(", ")),
            Value::from(limits.join(", ")),
            age_cell(obj, now),
        ]
    }
}

/// A quantity as given (a JSON string or number).
fn quantity_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => "0".to_string(),
    }
}

/// ComponentStatuses have no AGE column.
pub struct ComponentStatusPrinter;

impl Printer for ComponentStatusPrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            col("Status", "string", "Status of the component conditions"),
            col("Message", "string", "Message of the component conditions"),
            col("Error", "string", "Error of the component conditions"),
        ]
    }

    /// The first Healthy condition decides; without one: Unknown.
    fn cells(&self, obj: &Value, _now: DateTime<Utc>) -> Vec<Value> {
        let healthy = arr_at(obj, "/conditions")
            .iter()
            .find(|c| str_at(c, "/type") == "Healthy");
        let (status, message, error) = match healthy {
            None => ("Unknown", "", ""),
            Some(c) => (
                if str_at(c, "/status") == "True" {
                    "Healthy"
                } else {
                    "Unhealthy"
                },
                str_at(c, "/message"),
                str_at(c, "/error"),
            ),
        };
        vec![
            name_cell(obj),
            Value::from(status),
            Value::from(message),
            Value::from(error),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::testutil::{ago, now};
    use serde_json::json;

    #[test]
    fn resource_quota() {
        let c: Vec<_> = ResourceQuotaPrinter
            .columns()
            .iter()
            .map(|c| c.name)
            .collect();
        assert_eq!(c, ["Name", "Request", "Limit", "Age"]);
        let rq = json!({
            "metadata": {"name": "compute", "creationTimestamp": ago(7200)},
            "spec": {"hard": {"pods": "10"}},
            "status": {
                "hard": {"requests.cpu": "1", "limits.memory": "2Gi", "pods": "10", "limits.cpu": "2", "requests.memory": "1Gi"},
                "used": {"requests.cpu": "500m", "limits.cpu": "1", "pods": 3}
            }
        });
        assert_eq!(
            ResourceQuotaPrinter.cells(&rq, now()),
            vec![
                json!("compute"),
                json!("pods: 3/10, requests.cpu: 500m/1, requests.memory: 0/1Gi"),
                json!("limits.cpu: 1/2, limits.memory: 0/2Gi"),
                json!("120m")
            ]
        );
        assert_eq!(
            ResourceQuotaPrinter.cells(&json!({}), now()),
            vec![json!(""), json!(""), json!(""), json!("<unknown>")]
        );
    }

    #[test]
    fn component_status() {
        let c: Vec<_> = ComponentStatusPrinter
            .columns()
            .iter()
            .map(|c| c.name)
            .collect();
        assert_eq!(c, ["Name", "Status", "Message", "Error"]);
        let cs = json!({"metadata": {"name": "etcd-0"},
            "conditions": [{"type": "Healthy", "status": "True", "message": "ok"}]});
        assert_eq!(
            ComponentStatusPrinter.cells(&cs, now()),
            vec![json!("etcd-0"), json!("Healthy"), json!("ok"), json!("")]
        );
        let bad = json!({"metadata": {"name": "scheduler"},
            "conditions": [{"type": "Healthy", "status": "False", "error": "connection refused"}]});
        assert_eq!(
            ComponentStatusPrinter.cells(&bad, now()),
            vec![
                json!("scheduler"),
                json!("Unhealthy"),
                json!(""),
                json!("connection refused")
            ]
        );
        assert_eq!(
            ComponentStatusPrinter.cells(&json!({}), now()),
            vec![json!(""), json!("Unknown"), json!(""), json!("")]
        );
    }
}
