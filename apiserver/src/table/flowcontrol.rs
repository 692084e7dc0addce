//! flowcontrol.apiserver.k8s.io FlowSchemas and PriorityLevelConfigurations
//! (printers.go `printFlowSchema`, `printPriorityLevelConfiguration`).
//!
//! Upstream also sorts a FlowSchema list by matching precedence; rows here
//! keep the list's order.

use super::{
    age_cell, age_col, col, condition_status, get, name_cell, name_col, opt_int_at, str_at, Column,
    Printer,
};
use chrono::{DateTime, Utc};
use serde_json::Value;

pub struct FlowSchemaPrinter;

impl Printer for FlowSchemaPrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            col(
                "PriorityLevel",
                "string",
                "The priority level the flows are assigned to.",
            ),
            col(
                "MatchingPrecedence",
                "string",
                "Lower values are matched first.",
            ),
            col(
                "DistinguisherMethod",
                "string",
                "How requests are divided into flows.",
            ),
            age_col(),
            col(
                "MissingPL",
                "string",
                "references a broken or non-existent PriorityLevelConfiguration",
            ),
        ]
    }

    fn cells(&self, obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
        // Decoding defaults an unset (zero) precedence to 1000.
        let precedence = match opt_int_at(obj, "/spec/matchingPrecedence").unwrap_or(0) {
            0 => 1000,
            p => p,
        };
        let distinguisher = match get(obj, "/spec/distinguisherMethod") {
            Some(d) => str_at(d, "/type"),
            None => "<none>",
        };
        let missing = condition_status(obj, "/status/conditions", "Dangling").unwrap_or("?");
        vec![
            name_cell(obj),
            Value::from(str_at(obj, "/spec/priorityLevelConfiguration/name")),
            Value::from(precedence),
            Value::from(distinguisher),
            age_cell(obj, now),
            Value::from(missing),
        ]
    }
}

pub struct PriorityLevelPrinter;

impl Printer for PriorityLevelPrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            col("Type", "string", "Exempt or Limited."),
            col(
                "NominalConcurrencyShares",
                "string",
                "Share of the server's concurrency limit.",
            ),
            col("Queues", "string", "Number of queues."),
            col("HandSize", "string", "Queues a flow is shuffle-sharded to."),
            col(
                "QueueLengthLimit",
                "string",
                "Requests allowed waiting in a queue.",
            ),
            age_col(),
        ]
    }

    /// Integers for limited levels (queue settings only when queuing), else
    /// `<none>`. Unset values read as the defaults decoding fills in.
    fn cells(&self, obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
        let none = || Value::from("<none>");
        let (mut shares, mut queues, mut hand, mut length) = (none(), none(), none(), none());
        if let Some(limited) = get(obj, "/spec/limited") {
            shares = Value::from(opt_int_at(limited, "/nominalConcurrencyShares").unwrap_or(30));
            if let Some(q) = get(limited, "/limitResponse/queuing") {
                let or = |ptr: &str, default: i64| match opt_int_at(q, ptr).unwrap_or(0) {
                    0 => Value::from(default),
                    v => Value::from(v),
                };
                queues = or("/queues", 64);
                hand = or("/handSize", 8);
                length = or("/queueLengthLimit", 50);
            }
        }
        vec![
            name_cell(obj),
            Value::from(str_at(obj, "/spec/type")),
            shares,
            queues,
            hand,
            length,
            age_cell(obj, now),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::testutil::{ago, now};
    use serde_json::json;

    #[test]
    fn flow_schema() {
        let c: Vec<_> = FlowSchemaPrinter.columns().iter().map(|c| c.name).collect();
        assert_eq!(
            c,
            [
                "Name",
                "PriorityLevel",
                "MatchingPrecedence",
                "DistinguisherMethod",
                "Age",
                "MissingPL"
            ]
        );
        let fs = json!({
            "metadata": {"name": "service-accounts", "creationTimestamp": ago(3600 * 30)},
            "spec": {"priorityLevelConfiguration": {"name": "workload-low"}, "matchingPrecedence": 9000,
                     "distinguisherMethod": {"type": "ByUser"}, "rules": []},
            "status": {"conditions": [{"type": "Dangling", "status": "False", "reason": "Found"}]}
        });
        assert_eq!(
            FlowSchemaPrinter.cells(&fs, now()),
            vec![
                json!("service-accounts"),
                json!("workload-low"),
                json!(9000),
                json!("ByUser"),
                json!("30h"),
                json!("False")
            ]
        );
        assert_eq!(
            FlowSchemaPrinter.cells(&json!({}), now()),
            vec![
                json!(""),
                json!(""),
                json!(1000),
                json!("<none>"),
                json!("<unknown>"),
                json!("?")
            ]
        );
    }

    #[test]
    fn priority_level() {
        let c: Vec<_> = PriorityLevelPrinter
            .columns()
            .iter()
            .map(|c| c.name)
            .collect();
        assert_eq!(
            c,
            [
                "Name",
                "Type",
                "NominalConcurrencyShares",
                "Queues",
                "HandSize",
                "QueueLengthLimit",
                "Age"
            ]
        );
        let queued = json!({
            "metadata": {"name": "workload-low", "creationTimestamp": ago(60)},
            "spec": {"type": "Limited", "limited": {"nominalConcurrencyShares": 100, "lendablePercent": 90,
                "limitResponse": {"type": "Queue", "queuing": {"queues": 128, "handSize": 6, "queueLengthLimit": 50}}}}
        });
        assert_eq!(
            PriorityLevelPrinter.cells(&queued, now()),
            vec![
                json!("workload-low"),
                json!("Limited"),
                json!(100),
                json!(128),
                json!(6),
                json!(50),
                json!("60s")
            ]
        );
        let reject =
            json!({"spec": {"type": "Limited", "limited": {"limitResponse": {"type": "Reject"}}}});
        assert_eq!(
            PriorityLevelPrinter.cells(&reject, now())[2..6],
            [json!(30), json!("<none>"), json!("<none>"), json!("<none>")]
        );
        let exempt =
            json!({"metadata": {"name": "exempt"}, "spec": {"type": "Exempt", "exempt": {}}});
        assert_eq!(
            PriorityLevelPrinter.cells(&exempt, now()),
            vec![
                json!("exempt"),
                json!("Exempt"),
                json!("<none>"),
                json!("<none>"),
                json!("<none>"),
                json!("<none>"),
                json!("<unknown>")
            ]
        );
    }
}
