//! coordination.k8s.io Leases: NAME HOLDER AGE.

use super::{age_cell, age_col, col, name_cell, name_col, str_at, Column, Printer};
use chrono::{DateTime, Utc};
use serde_json::Value;

const HOLDER_DESC: &str = "Current holder of the lease.";

pub struct LeasePrinter;

impl Printer for LeasePrinter {
    fn columns(&self) -> Vec<Column> {
        vec![name_col(), col("Holder", "string", HOLDER_DESC), age_col()]
    }

    fn cells(&self, obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
        vec![
            name_cell(obj),
            Value::from(str_at(obj, "/spec/holderIdentity")),
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
        let c: Vec<_> = LeasePrinter.columns().iter().map(|c| c.name).collect();
        assert_eq!(c, ["Name", "Holder", "Age"]);
    }

    #[test]
    fn cells() {
        let lease = json!({
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": "kube-controller-manager", "namespace": "kube-system", "creationTimestamp": ago(20 * 86400)},
            "spec": {
                "holderIdentity": "cp-1_8d3c5e2a-1b7f-4c1e-9a55-0f3e8b1d2c4a",
                "leaseDurationSeconds": 15,
                "acquireTime": "2024-04-11T12:00:00.000000Z",
                "renewTime": "2024-05-01T11:59:58.123456Z",
                "leaseTransitions": 3
            }
        });
        assert_eq!(
            LeasePrinter.cells(&lease, now()),
            vec![
                json!("kube-controller-manager"),
                json!("cp-1_8d3c5e2a-1b7f-4c1e-9a55-0f3e8b1d2c4a"),
                json!("20d")
            ]
        );
        let node_lease = json!({"metadata": {"name": "w-1", "creationTimestamp": ago(90)}, "spec": {"holderIdentity": null}});
        assert_eq!(
            LeasePrinter.cells(&node_lease, now()),
            vec![json!("w-1"), json!(""), json!("90s")]
        );
    }
}
