//! scheduling.k8s.io PriorityClasses and node.k8s.io RuntimeClasses
//! (printers.go `printPriorityClass`, `printRuntimeClass`).

use super::{
    age_cell, age_col, bool_at, col, int_at, name_cell, name_col, str_at, Column, Printer,
};
use chrono::{DateTime, Utc};
use serde_json::Value;

/// PriorityClasses. PREEMPTIONPOLICY is a priority-0 column upstream whose
/// cell is only filled for wide output, which the server always renders.
pub struct PriorityClassPrinter;

impl Printer for PriorityClassPrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            col("Value", "integer", "The priority of pods of this class."),
            col(
                "Global-Default",
                "boolean",
                "Whether this is the default class.",
            ),
            age_col(),
            col(
                "PreemptionPolicy",
                "string",
                "Whether pods of this class preempt others.",
            ),
        ]
    }

    fn cells(&self, obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
        // Decoding defaults the policy to PreemptLowerPriority.
        let policy = match str_at(obj, "/preemptionPolicy") {
            "" => "PreemptLowerPriority",
            p => p,
        };
        vec![
            name_cell(obj),
            Value::from(int_at(obj, "/value")),
            Value::from(bool_at(obj, "/globalDefault")),
            age_cell(obj, now),
            Value::from(policy),
        ]
    }
}

pub struct RuntimeClassPrinter;

impl Printer for RuntimeClassPrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            // Upstream looks the description up under ObjectMeta, which has
            // no "handler" entry, so it is empty.
            col("Handler", "string", ""),
            age_col(),
        ]
    }

    fn cells(&self, obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
        vec![
            name_cell(obj),
            Value::from(str_at(obj, "/handler")),
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
    fn priority_class() {
        let c: Vec<_> = PriorityClassPrinter
            .columns()
            .iter()
            .map(|c| (c.name, c.type_, c.priority))
            .collect();
        assert_eq!(
            c,
            [
                ("Name", "string", 0),
                ("Value", "integer", 0),
                ("Global-Default", "boolean", 0),
                ("Age", "string", 0),
                ("PreemptionPolicy", "string", 0)
            ]
        );
        let pc = json!({"metadata": {"name": "system-node-critical", "creationTimestamp": ago(86400 * 400)},
            "value": 2000001000, "globalDefault": false, "preemptionPolicy": "Never"});
        assert_eq!(
            PriorityClassPrinter.cells(&pc, now()),
            vec![
                json!("system-node-critical"),
                json!(2000001000),
                json!(false),
                json!("400d"),
                json!("Never")
            ]
        );
        assert_eq!(
            PriorityClassPrinter.cells(&json!({}), now()),
            vec![
                json!(""),
                json!(0),
                json!(false),
                json!("<unknown>"),
                json!("PreemptLowerPriority")
            ]
        );
    }

    #[test]
    fn runtime_class() {
        let c: Vec<_> = RuntimeClassPrinter
            .columns()
            .iter()
            .map(|c| c.name)
            .collect();
        assert_eq!(c, ["Name", "Handler", "Age"]);
        assert_eq!(RuntimeClassPrinter.columns()[1].description, "");
        let rc = json!({"metadata": {"name": "gvisor", "creationTimestamp": ago(10)}, "handler": "runsc"});
        assert_eq!(
            RuntimeClassPrinter.cells(&rc, now()),
            vec![json!("gvisor"), json!("runsc"), json!("10s")]
        );
        assert_eq!(
            RuntimeClassPrinter.cells(&json!({}), now()),
            vec![json!(""), json!(""), json!("<unknown>")]
        );
    }
}
