//! HorizontalPodAutoscalers (printers.go `printHorizontalPodAutoscaler` and
//! `formatHPAMetrics`), one table for autoscaling/v1 and autoscaling/v2.
//!
//! Objects arrive in the served version's shape: v2 lists `spec.metrics` and
//! `status.currentMetrics`; v1 has only `spec.targetCPUUtilizationPercentage`
//! and `status.currentCPUUtilizationPercentage`, which print as the single CPU
//! utilization metric they stand for, with any other metrics carried in the
//! `autoscaling.alpha.kubernetes.io/(current-)metrics` annotations.

use super::{
    age_cell, age_col, arr_at, col, get, int_at, name_cell, name_col, opt_int_at, quantity_at,
    str_at, Column, Printer,
};
use crate::registry::resources::hpa_versions::v1_to_v2;
use chrono::{DateTime, Utc};
use serde_json::Value;

/// At most this many metrics are listed before "+ N more...".
const MAX_METRICS: usize = 2;

pub struct HpaPrinter;

impl Printer for HpaPrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            col("Reference", "string", "The scale target of the autoscaler."),
            col("Targets", "string", "Current and target metric values."),
            col(
                "MinPods",
                "string",
                "Lower limit of the number of replicas.",
            ),
            col(
                "MaxPods",
                "string",
                "Upper limit of the number of replicas.",
            ),
            col("Replicas", "string", "Current number of replicas."),
            age_col(),
        ]
    }

    fn cells(&self, obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
        let reference = format!(
            "{}/{}",
            str_at(obj, "/spec/scaleTargetRef/kind"),
            str_at(obj, "/spec/scaleTargetRef/name")
        );
        // Decoding defaults minReplicas to 1.
        let min = opt_int_at(obj, "/spec/minReplicas").unwrap_or(1);
        vec![
            name_cell(obj),
            Value::from(reference),
            Value::from(targets(obj)),
            Value::from(min.to_string()),
            Value::from(int_at(obj, "/spec/maxReplicas")),
            Value::from(int_at(obj, "/status/currentReplicas")),
            age_cell(obj, now),
        ]
    }
}

/// The TARGETS cell for either API version. A v1 object is first brought
/// back to its v2 form (CPU target plus the metrics annotations), as upstream
/// prints from the internal object whatever the served version.
fn targets(obj: &Value) -> String {
    if str_at(obj, "/apiVersion") == "autoscaling/v1" {
        let v2 = v1_to_v2(obj.clone());
        return format_metrics(
            arr_at(&v2, "/spec/metrics"),
            arr_at(&v2, "/status/currentMetrics"),
        );
    }
    format_metrics(
        arr_at(obj, "/spec/metrics"),
        arr_at(obj, "/status/currentMetrics"),
    )
}

/// A quantity as `Quantity.String()` prints it; a nil pointer reads `<nil>`.
fn qty(v: &Value, ptr: &str) -> String {
    quantity_at(v, ptr).unwrap_or_else(|| "<nil>".to_string())
}

/// printers.go `formatHPAMetrics`: each spec paired with the status at the
/// same index, `current/target`, at most two then "+ N more...".
fn format_metrics(specs: &[Value], statuses: &[Value]) -> String {
    if specs.is_empty() {
        return "<none>".to_string();
    }
    let unknown = || "<unknown>".to_string();
    let list: Vec<String> = specs
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            // The status source of the same kind at index i, if any.
            let status = |field: &str| statuses.get(i).and_then(|s| get(s, field));
            match str_at(spec, "/type") {
                kind @ ("External" | "Object") => {
                    let field = if kind == "External" {
                        "/external"
                    } else {
                        "/object"
                    };
                    let source = get(spec, field).unwrap_or(&Value::Null);
                    let st = status(field);
                    if get(source, "/target/averageValue").is_some() {
                        let current = st
                            .and_then(|s| quantity_at(s, "/current/averageValue"))
                            .unwrap_or_else(unknown);
                        format!("{}/{} (avg)", current, qty(source, "/target/averageValue"))
                    } else {
                        let current = st.map_or_else(unknown, |s| qty(s, "/current/value"));
                        format!("{}/{}", current, qty(source, "/target/value"))
                    }
                }
                "Pods" => {
                    let current =
                        status("/pods").map_or_else(unknown, |s| qty(s, "/current/averageValue"));
                    format!("{}/{}", current, qty(spec, "/pods/target/averageValue"))
                }
                kind @ ("Resource" | "ContainerResource") => {
                    let field = if kind == "Resource" {
                        "/resource"
                    } else {
                        "/containerResource"
                    };
                    let source = get(spec, field).unwrap_or(&Value::Null);
                    let name = str_at(source, "/name");
                    let st = status(field);
                    if get(source, "/target/averageValue").is_some() {
                        let current = st.map_or_else(unknown, |s| qty(s, "/current/averageValue"));
                        let target = qty(source, "/target/averageValue");
                        format!("{}: {}/{}", name, current, target)
                    } else {
                        let current = st
                            .and_then(|s| opt_int_at(s, "/current/averageUtilization"))
                            .map_or_else(unknown, |u| format!("{}%", u));
                        let target = opt_int_at(source, "/target/averageUtilization")
                            .map_or_else(|| "<auto>".to_string(), |u| format!("{}%", u));
                        format!("{}: {}/{}", name, current, target)
                    }
                }
                _ => "<unknown type>".to_string(),
            }
        })
        .collect();
    if list.len() > MAX_METRICS {
        format!(
            "{} + {} more...",
            list[..MAX_METRICS].join(", "),
            list.len() - MAX_METRICS
        )
    } else {
        list.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::testutil::{ago, now};
    use serde_json::json;

    #[test]
    fn columns() {
        let c: Vec<_> = HpaPrinter.columns().iter().map(|c| c.name).collect();
        assert_eq!(
            c,
            [
                "Name",
                "Reference",
                "Targets",
                "MinPods",
                "MaxPods",
                "Replicas",
                "Age"
            ]
        );
        assert!(HpaPrinter.columns().iter().all(|c| c.type_ == "string"));
    }

    #[test]
    fn v2() {
        let hpa = json!({
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web", "creationTimestamp": ago(300)},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "minReplicas": 2, "maxReplicas": 10,
                "metrics": [
                    {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}},
                    {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "500Mi"}}}
                ]
            },
            "status": {"currentReplicas": 3, "desiredReplicas": 3, "currentMetrics": [
                {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 42, "averageValue": "210m"}}}
            ]}
        });
        assert_eq!(
            HpaPrinter.cells(&hpa, now()),
            vec![
                json!("web"),
                json!("Deployment/web"),
                json!("cpu: 42%/50%, memory: <unknown>/500Mi"),
                json!("2"),
                json!(10),
                json!(3),
                json!("5m")
            ]
        );
    }

    #[test]
    fn v2_other_sources_and_overflow() {
        let specs = json!([
            {"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "1k"}}},
            {"type": "External", "external": {"metric": {"name": "q"}, "target": {"type": "Value", "value": "30"}}},
            {"type": "Object", "object": {"metric": {"name": "r"}, "target": {"type": "AverageValue", "averageValue": "2"}}}
        ]);
        let statuses = json!([
            {"type": "Pods", "pods": {"current": {"averageValue": "850"}}},
            {"type": "External", "external": {"current": {"value": "12"}}}
        ]);
        let specs = specs.as_array().unwrap();
        let statuses = statuses.as_array().unwrap();
        assert_eq!(format_metrics(specs, statuses), "850/1k, 12/30 + 1 more...");
        assert_eq!(format_metrics(&specs[2..], &[]), "<unknown>/2 (avg)");
        let odd = [
            json!({"type": "Weird"}),
            json!({"type": "ContainerResource",
            "containerResource": {"name": "cpu", "container": "app", "target": {"type": "Utilization"}}}),
        ];
        assert_eq!(
            format_metrics(&odd, &[]),
            "<unknown type>, cpu: <unknown>/<auto>"
        );
    }

    #[test]
    fn v1() {
        let hpa = json!({
            "apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "php", "creationTimestamp": ago(60)},
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "php"}, "maxReplicas": 5,
                     "targetCPUUtilizationPercentage": 80},
            "status": {"currentReplicas": 1, "currentCPUUtilizationPercentage": 12}
        });
        assert_eq!(
            HpaPrinter.cells(&hpa, now()),
            vec![
                json!("php"),
                json!("Deployment/php"),
                json!("cpu: 12%/80%"),
                json!("1"),
                json!(5),
                json!(1),
                json!("60s")
            ]
        );
        let pending =
            json!({"apiVersion": "autoscaling/v1", "spec": {"targetCPUUtilizationPercentage": 80}});
        assert_eq!(
            HpaPrinter.cells(&pending, now())[2],
            json!("cpu: <unknown>/80%")
        );
        let annotated = json!({
            "apiVersion": "autoscaling/v1",
            "metadata": {"annotations": {
                "autoscaling.alpha.kubernetes.io/metrics":
                    r#"[{"type":"Pods","pods":{"metric":{"name":"qps"},"target":{"type":"AverageValue","averageValue":"10"}}}]"#,
                "autoscaling.alpha.kubernetes.io/current-metrics":
                    r#"[{"type":"Pods","pods":{"metric":{"name":"qps"},"current":{"averageValue":"7"}}}]"#
            }},
            "spec": {"targetCPUUtilizationPercentage": 50},
            "status": {"currentCPUUtilizationPercentage": 20}
        });
        assert_eq!(
            HpaPrinter.cells(&annotated, now())[2],
            json!("cpu: 20%/50%, 7/10")
        );
    }

    #[test]
    fn empty() {
        assert_eq!(
            HpaPrinter.cells(&json!({}), now()),
            vec![
                json!(""),
                json!("/"),
                json!("<none>"),
                json!("1"),
                json!(0),
                json!(0),
                json!("<unknown>")
            ]
        );
        assert_eq!(targets(&json!({"spec": {"metrics": []}})), "<none>");
    }
}
