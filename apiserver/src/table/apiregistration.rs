//! apiregistration.k8s.io APIServices: NAME SERVICE AVAILABLE AGE, as
//! kube-aggregator's APIService registry (`REST.ConvertToTable`) prints them.

use super::{age_cell, age_col, arr_at, col, get, name_cell, name_col, str_at, Column, Printer};
use chrono::{DateTime, Utc};
use serde_json::Value;

pub struct ApiServicePrinter;

impl Printer for ApiServicePrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            col(
                "Service",
                "string",
                "The reference to the service that hosts this API endpoint.",
            ),
            col("Available", "string", "Whether this service is available."),
            age_col(),
        ]
    }

    fn cells(&self, obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
        let service = match get(obj, "/spec/service") {
            None => "Local".to_string(),
            Some(s) => format!("{}/{}", str_at(s, "/namespace"), str_at(s, "/name")),
        };
        // The Available condition's status, with its reason unless True.
        let available = match arr_at(obj, "/status/conditions")
            .iter()
            .find(|c| str_at(c, "/type") == "Available")
        {
            None => "Unknown".to_string(),
            Some(c) => match (str_at(c, "/status"), str_at(c, "/reason")) {
                ("True", _) => "True".to_string(),
                (status, "") => status.to_string(),
                (status, reason) => format!("{} ({})", status, reason),
            },
        };
        vec![
            name_cell(obj),
            Value::from(service),
            Value::from(available),
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
        let c: Vec<_> = ApiServicePrinter
            .columns()
            .iter()
            .map(|c| (c.name, c.type_))
            .collect();
        assert_eq!(
            c,
            [
                ("Name", "string"),
                ("Service", "string"),
                ("Available", "string"),
                ("Age", "string")
            ]
        );
    }

    #[test]
    fn cells() {
        let local = json!({
            "metadata": {"name": "v1.apps", "creationTimestamp": ago(3600)},
            "spec": {"group": "apps", "version": "v1", "groupPriorityMinimum": 17800, "versionPriority": 15},
            "status": {"conditions": [{"type": "Available", "status": "True", "reason": "Local"}]}
        });
        assert_eq!(
            ApiServicePrinter.cells(&local, now()),
            vec![
                json!("v1.apps"),
                json!("Local"),
                json!("True"),
                json!("60m")
            ]
        );
        let remote = json!({
            "metadata": {"name": "v1beta1.metrics.k8s.io", "creationTimestamp": ago(60)},
            "spec": {"service": {"namespace": "kube-system", "name": "metrics-server", "port": 443}},
            "status": {"conditions": [{"type": "Available", "status": "False", "reason": "MissingEndpoints"}]}
        });
        assert_eq!(
            ApiServicePrinter.cells(&remote, now()),
            vec![
                json!("v1beta1.metrics.k8s.io"),
                json!("kube-system/metrics-server"),
                json!("False (MissingEndpoints)"),
                json!("60s")
            ]
        );
        assert_eq!(
            ApiServicePrinter.cells(&json!({}), now()),
            vec![
                json!(""),
                json!("Local"),
                json!("Unknown"),
                json!("<unknown>")
            ]
        );
    }
}
