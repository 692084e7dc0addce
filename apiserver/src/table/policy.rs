//! policy/v1 PodDisruptionBudgets (printers.go `printPodDisruptionBudget`).

use super::{
    age_cell, age_col, col, int_at, int_or_string_at, name_cell, name_col, Column, Printer,
};
use chrono::{DateTime, Utc};
use serde_json::Value;

pub struct PdbPrinter;

impl Printer for PdbPrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            col(
                "Min Available",
                "string",
                "The minimum number of pods that must be available.",
            ),
            col(
                "Max Unavailable",
                "string",
                "The maximum number of pods that may be unavailable.",
            ),
            col(
                "Allowed Disruptions",
                "integer",
                "Calculated number of pods that may be disrupted at this time.",
            ),
            age_col(),
        ]
    }

    fn cells(&self, obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
        // An unset bound prints as N/A; percentages print as given.
        let bound = |ptr: &str| int_or_string_at(obj, ptr).unwrap_or_else(|| "N/A".to_string());
        vec![
            name_cell(obj),
            Value::from(bound("/spec/minAvailable")),
            Value::from(bound("/spec/maxUnavailable")),
            Value::from(int_at(obj, "/status/disruptionsAllowed")),
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
    fn columns() {
        let c: Vec<_> = PdbPrinter
            .columns()
            .iter()
            .map(|c| (c.name, c.type_))
            .collect();
        assert_eq!(
            c,
            [
                ("Name", "string"),
                ("Min Available", "string"),
                ("Max Unavailable", "string"),
                ("Allowed Disruptions", "integer"),
                ("Age", "string")
            ]
        );
    }

    #[test]
    fn cells() {
        let pdb = json!({
            "metadata": {"name": "web", "creationTimestamp": ago(3600)},
            "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}},
            "status": {"disruptionsAllowed": 1, "currentHealthy": 3, "desiredHealthy": 2, "expectedPods": 3}
        });
        assert_eq!(
            PdbPrinter.cells(&pdb, now()),
            vec![
                json!("web"),
                json!("2"),
                json!("N/A"),
                json!(1),
                json!("60m")
            ]
        );
        let pct = json!({"spec": {"maxUnavailable": "25%"}});
        assert_eq!(
            PdbPrinter.cells(&pct, now()),
            vec![
                json!(""),
                json!("N/A"),
                json!("25%"),
                json!(0),
                json!("<unknown>")
            ]
        );
    }
}
