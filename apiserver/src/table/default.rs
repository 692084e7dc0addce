//! The generic table kube-apiserver serves for resources without a dedicated
//! printer: NAME and CREATED AT (an RFC3339 UTC timestamp, type "date").

use super::{name_cell, name_col, time_at, Column, Printer, CREATED_DESC};
use chrono::{DateTime, Utc};
use serde_json::Value;

pub struct DefaultPrinter;

impl Printer for DefaultPrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            Column {
                name: "Created At",
                type_: "date",
                format: "",
                description: CREATED_DESC,
                priority: 0,
            },
        ]
    }

    fn cells(&self, obj: &Value, _now: DateTime<Utc>) -> Vec<Value> {
        // A missing timestamp prints as Go's zero time.
        let created = time_at(obj, "/metadata/creationTimestamp")
            .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
            .unwrap_or_else(|| "0001-01-01T00:00:00Z".to_string());
        vec![name_cell(obj), Value::from(created)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::testutil::now;
    use serde_json::json;

    #[test]
    fn columns() {
        let cols = DefaultPrinter.columns();
        assert_eq!(cols.len(), 2);
        assert_eq!(
            (cols[0].name, cols[0].type_, cols[0].format),
            ("Name", "string", "name")
        );
        assert_eq!(
            (cols[1].name, cols[1].type_, cols[1].format),
            ("Created At", "date", "")
        );
        assert!(!cols[1].description.is_empty());
    }

    #[test]
    fn cells() {
        let obj = json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "view", "creationTimestamp": "2024-04-30T08:15:02Z"}
        });
        assert_eq!(
            DefaultPrinter.cells(&obj, now()),
            vec![json!("view"), json!("2024-04-30T08:15:02Z")]
        );
        // Offsets and fractions are normalised to whole-second UTC.
        let obj =
            json!({"metadata": {"name": "x", "creationTimestamp": "2024-04-30T10:15:02.75+02:00"}});
        assert_eq!(
            DefaultPrinter.cells(&obj, now())[1],
            json!("2024-04-30T08:15:02Z")
        );
        assert_eq!(
            DefaultPrinter.cells(&json!({}), now()),
            vec![json!(""), json!("0001-01-01T00:00:00Z")]
        );
    }
}
