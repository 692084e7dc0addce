//! resource.k8s.io DeviceClasses, ResourceClaims, ResourceClaimTemplates and
//! ResourceSlices (printers.go `printDeviceClass`, `printResourceClaim`,
//! `printResourceClaimTemplate`, `printResourceSlice`).

use super::{
    age_cell, age_col, arr_at, col, get, is_deleting, name_cell, name_col, str_at, Column, Printer,
};
use chrono::{DateTime, Utc};
use serde_json::Value;

/// DeviceClasses and ResourceClaimTemplates: NAME AGE.
pub struct NameAgePrinter;

impl Printer for NameAgePrinter {
    fn columns(&self) -> Vec<Column> {
        vec![name_col(), age_col()]
    }

    fn cells(&self, obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
        vec![name_cell(obj), age_cell(obj, now)]
    }
}

pub struct ResourceClaimPrinter;

impl Printer for ResourceClaimPrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            col(
                "State",
                "string",
                "A summary of the current state (allocated, pending, reserved, etc.).",
            ),
            age_col(),
        ]
    }

    fn cells(&self, obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
        vec![
            name_cell(obj),
            Value::from(claim_state(obj)),
            age_cell(obj, now),
        ]
    }
}

/// printers.go `resourceClaimState`: "deleted" while deleting, then
/// "pending" (unallocated, not deleting) or "allocated" plus "reserved".
fn claim_state(obj: &Value) -> String {
    let mut states = Vec::new();
    let deleting = is_deleting(obj);
    if deleting {
        states.push("deleted");
    }
    if get(obj, "/status/allocation").is_none() {
        if !deleting {
            states.push("pending");
        }
    } else {
        states.push("allocated");
        if !arr_at(obj, "/status/reservedFor").is_empty() {
            states.push("reserved");
        }
    }
    states.join(",")
}

pub struct ResourceSlicePrinter;

impl Printer for ResourceSlicePrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            col("Node", "string", "The node the devices are local to."),
            col("Driver", "string", "The DRA driver publishing the devices."),
            col("Pool", "string", "The pool the devices belong to."),
            age_col(),
        ]
    }

    fn cells(&self, obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
        vec![
            name_cell(obj),
            Value::from(str_at(obj, "/spec/nodeName")),
            Value::from(str_at(obj, "/spec/driver")),
            Value::from(str_at(obj, "/spec/pool/name")),
            age_cell(obj, now),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::testutil::{ago, now};
    use serde_json::json;

    use crate::table::testutil::names;

    #[test]
    fn name_age() {
        assert_eq!(names(&NameAgePrinter), ["Name", "Age"]);
        let dc = json!({"metadata": {"name": "gpu.example.com", "creationTimestamp": ago(20)},
            "spec": {"selectors": [{"cel": {"expression": "device.driver == 'gpu.example.com'"}}]}});
        assert_eq!(
            NameAgePrinter.cells(&dc, now()),
            vec![json!("gpu.example.com"), json!("20s")]
        );
        assert_eq!(
            NameAgePrinter.cells(&json!({}), now()),
            vec![json!(""), json!("<unknown>")]
        );
    }

    #[test]
    fn resource_claim() {
        assert_eq!(names(&ResourceClaimPrinter), ["Name", "State", "Age"]);
        let claim = json!({
            "metadata": {"name": "gpu-claim", "creationTimestamp": ago(300)},
            "spec": {"devices": {"requests": [{"name": "gpu", "exactly": {"deviceClassName": "gpu.example.com"}}]}},
            "status": {"allocation": {"devices": {"results": []}}, "reservedFor": [{"resource": "pods", "name": "p", "uid": "u"}]}
        });
        assert_eq!(
            ResourceClaimPrinter.cells(&claim, now()),
            vec![json!("gpu-claim"), json!("allocated,reserved"), json!("5m")]
        );
        let deleting =
            json!({"metadata": {"deletionTimestamp": ago(1)}, "status": {"allocation": {}}});
        assert_eq!(claim_state(&deleting), "deleted,allocated");
        let deleting = json!({"metadata": {"deletionTimestamp": ago(1)}});
        assert_eq!(claim_state(&deleting), "deleted");
        assert_eq!(
            ResourceClaimPrinter.cells(&json!({}), now()),
            vec![json!(""), json!("pending"), json!("<unknown>")]
        );
    }

    #[test]
    fn resource_slice() {
        assert_eq!(
            names(&ResourceSlicePrinter),
            ["Name", "Node", "Driver", "Pool", "Age"]
        );
        let slice = json!({
            "metadata": {"name": "w1-gpu.example.com-x7k2", "creationTimestamp": ago(3600 * 2)},
            "spec": {"nodeName": "w1", "driver": "gpu.example.com",
                     "pool": {"name": "w1", "generation": 1, "resourceSliceCount": 1}, "devices": []}
        });
        assert_eq!(
            ResourceSlicePrinter.cells(&slice, now()),
            vec![
                json!("w1-gpu.example.com-x7k2"),
                json!("w1"),
                json!("gpu.example.com"),
                json!("w1"),
                json!("120m")
            ]
        );
        assert_eq!(
            ResourceSlicePrinter.cells(&json!({}), now()),
            vec![
                json!(""),
                json!(""),
                json!(""),
                json!(""),
                json!("<unknown>")
            ]
        );
    }
}
