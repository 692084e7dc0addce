//! discovery.k8s.io EndpointSlices: NAME ADDRESSTYPE PORTS ENDPOINTS AGE.

use super::{age_cell, age_col, arr_at, as_int, col, name_cell, name_col, str_at, Column, Printer};
use chrono::{DateTime, Utc};
use serde_json::Value;

const ADDRESS_TYPE_DESC: &str = "Address family of the endpoints.";
const PORTS_DESC: &str = "Ports of the Service.";
const ENDPOINTS_DESC: &str = "Endpoint addresses.";

const MAX_SHOWN: usize = 3;

pub struct EndpointSlicePrinter;

impl Printer for EndpointSlicePrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            col("AddressType", "string", ADDRESS_TYPE_DESC),
            col("Ports", "string", PORTS_DESC),
            col("Endpoints", "string", ENDPOINTS_DESC),
            age_col(),
        ]
    }

    fn cells(&self, obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
        let ports: Vec<String> = arr_at(obj, "/ports")
            .iter()
            .map(|p| match p.get("port").and_then(as_int) {
                Some(n) => n.to_string(),
                None => match p.get("name").and_then(Value::as_str) {
                    Some(name) => name.to_string(),
                    None => "*".to_string(),
                },
            })
            .collect();
        let addresses: Vec<String> = arr_at(obj, "/endpoints")
            .iter()
            .flat_map(|e| arr_at(e, "/addresses").iter())
            .map(|a| a.as_str().unwrap_or("").to_string())
            .collect();
        vec![
            name_cell(obj),
            Value::from(str_at(obj, "/addressType")),
            Value::from(list_with_more(ports)),
            Value::from(list_with_more(addresses)),
            age_cell(obj, now),
        ]
    }
}

/// The first three items comma-joined, then `+ N more...`; `<unset>` if none.
fn list_with_more(items: Vec<String>) -> String {
    let total = items.len();
    if total > MAX_SHOWN {
        return format!(
            "{} + {} more...",
            items[..MAX_SHOWN].join(","),
            total - MAX_SHOWN
        );
    }
    let joined = items.join(",");
    if joined.is_empty() {
        "<unset>".to_string()
    } else {
        joined
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::testutil::{ago, now};
    use serde_json::json;

    fn slice(ports: Value, endpoints: Value) -> Value {
        json!({
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {"name": "web-abc12", "namespace": "default", "creationTimestamp": ago(86400 * 10),
                         "labels": {"kubernetes.io/service-name": "web"}},
            "addressType": "IPv4",
            "ports": ports,
            "endpoints": endpoints,
        })
    }

    fn endpoint(ip: &str) -> Value {
        json!({"addresses": [ip], "conditions": {"ready": true, "serving": true, "terminating": false},
               "nodeName": "node-1", "targetRef": {"kind": "Pod", "name": "web-1", "namespace": "default"}})
    }

    #[test]
    fn columns() {
        let c: Vec<_> = EndpointSlicePrinter
            .columns()
            .iter()
            .map(|c| c.name)
            .collect();
        assert_eq!(c, ["Name", "AddressType", "Ports", "Endpoints", "Age"]);
    }

    #[test]
    fn typical() {
        let s = slice(
            json!([{"name": "http", "port": 80, "protocol": "TCP"}, {"name": "https", "port": 443, "protocol": "TCP"}]),
            json!([endpoint("10.244.1.5"), endpoint("10.244.2.7")]),
        );
        assert_eq!(
            EndpointSlicePrinter.cells(&s, now()),
            vec![
                json!("web-abc12"),
                json!("IPv4"),
                json!("80,443"),
                json!("10.244.1.5,10.244.2.7"),
                json!("10d"),
            ]
        );
    }

    #[test]
    fn many_and_unset() {
        let s = slice(
            json!([{"port": 1}, {"port": 2}, {"name": "named"}, {}, {"port": 5}]),
            json!([endpoint("10.0.0.1"), endpoint("10.0.0.2"), {"addresses": ["10.0.0.3", "10.0.0.4"]}]),
        );
        let row = EndpointSlicePrinter.cells(&s, now());
        assert_eq!(row[2], json!("1,2,named + 2 more..."));
        assert_eq!(row[3], json!("10.0.0.1,10.0.0.2,10.0.0.3 + 1 more..."));

        let s = slice(json!([{}]), json!([]));
        let row = EndpointSlicePrinter.cells(&s, now());
        assert_eq!(row[2], json!("*"));
        assert_eq!(row[3], json!("<unset>"));

        let s = slice(json!(null), json!(null));
        let row = EndpointSlicePrinter.cells(&s, now());
        assert_eq!(row[2], json!("<unset>"));
        assert_eq!(row[3], json!("<unset>"));
        assert_eq!(
            EndpointSlicePrinter.cells(&json!({}), now()),
            vec![
                json!(""),
                json!(""),
                json!("<unset>"),
                json!("<unset>"),
                json!("<unknown>")
            ]
        );
    }
}
