//! Namespaces: NAME STATUS AGE.

use super::{age_cell, age_col, col, name_cell, name_col, str_at, Column, Printer};
use chrono::{DateTime, Utc};
use serde_json::Value;

const STATUS_DESC: &str = "Status.";

pub struct NamespacePrinter;

impl Printer for NamespacePrinter {
    fn columns(&self) -> Vec<Column> {
        vec![name_col(), col("Status", "string", STATUS_DESC), age_col()]
    }

    fn cells(&self, obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
        // status.phase defaults to Active when decoded.
        let phase = match str_at(obj, "/status/phase") {
            "" => "Active",
            p => p,
        };
        vec![name_cell(obj), Value::from(phase), age_cell(obj, now)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::testutil::{ago, now};
    use serde_json::json;

    #[test]
    fn columns() {
        let c: Vec<_> = NamespacePrinter
            .columns()
            .iter()
            .map(|c| (c.name, c.description))
            .collect();
        assert_eq!(c[0].0, "Name");
        assert_eq!(c[1].0, "Status");
        assert_eq!(c[2].0, "Age");
    }

    #[test]
    fn cells() {
        let ns = json!({
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": "kube-system", "creationTimestamp": ago(5 * 3600 + 7 * 60)},
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"}
        });
        assert_eq!(
            NamespacePrinter.cells(&ns, now()),
            vec![json!("kube-system"), json!("Active"), json!("5h7m")]
        );
        let mut term = ns.clone();
        term["status"]["phase"] = json!("Terminating");
        assert_eq!(
            NamespacePrinter.cells(&term, now())[1],
            json!("Terminating")
        );
        assert_eq!(
            NamespacePrinter.cells(&json!({"metadata": {"name": "x"}}), now()),
            vec![json!("x"), json!("Active"), json!("<unknown>")]
        );
    }
}
