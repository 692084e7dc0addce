//! Endpoints: NAME ENDPOINTS AGE, e.g. `10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 2 more...`.

use super::{age_cell, age_col, arr_at, col, int_at, name_cell, name_col, str_at, Column, Printer};
use chrono::{DateTime, Utc};
use serde_json::Value;

const ENDPOINTS_DESC: &str = "Endpoint addresses.";

/// How many endpoints are listed before `+ N more...`.
const MAX_SHOWN: usize = 3;

pub struct EndpointsPrinter;

impl Printer for EndpointsPrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            col("Endpoints", "string", ENDPOINTS_DESC),
            age_col(),
        ]
    }

    fn cells(&self, obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
        vec![
            name_cell(obj),
            Value::from(format_endpoints(obj)),
            age_cell(obj, now),
        ]
    }
}

/// `host:port` with IPv6 hosts in brackets.
pub(crate) fn join_host_port(host: &str, port: i64) -> String {
    if host.contains(':') {
        format!("[{}]:{}", host, port)
    } else {
        format!("{}:{}", host, port)
    }
}

/// Ready addresses of every subset, paired with each of the subset's ports
/// (bare IPs for port-less subsets); the first three are listed and the rest
/// counted. `<none>` when there are no subsets.
fn format_endpoints(obj: &Value) -> String {
    let subsets = arr_at(obj, "/subsets");
    if subsets.is_empty() {
        return "<none>".to_string();
    }
    let mut list: Vec<String> = Vec::new();
    let mut more = false;
    let mut count = 0usize;
    for ss in subsets {
        let addresses = arr_at(ss, "/addresses");
        let ports = arr_at(ss, "/ports");
        if ports.is_empty() {
            // Headless services may have no ports.
            count += addresses.len();
            for addr in addresses {
                if list.len() == MAX_SHOWN {
                    more = true;
                    break;
                }
                list.push(str_at(addr, "/ip").to_string());
            }
            continue;
        }
        for port in ports {
            count += addresses.len();
            let p = int_at(port, "/port");
            for addr in addresses {
                if list.len() == MAX_SHOWN {
                    more = true;
                    break;
                }
                list.push(join_host_port(str_at(addr, "/ip"), p));
            }
        }
    }
    let joined = list.join(",");
    if more {
        format!("{} + {} more...", joined, count - MAX_SHOWN)
    } else {
        joined
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::testutil::{ago, now};
    use serde_json::json;

    fn ep(subsets: Value) -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {"name": "web", "namespace": "default", "creationTimestamp": ago(4 * 3600)},
            "subsets": subsets,
        })
    }

    fn addrs(ips: &[&str]) -> Value {
        Value::from(
            ips.iter()
                .map(|ip| json!({"ip": ip, "targetRef": {"kind": "Pod", "name": "p"}}))
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn columns() {
        let c: Vec<_> = EndpointsPrinter.columns().iter().map(|c| c.name).collect();
        assert_eq!(c, ["Name", "Endpoints", "Age"]);
    }

    #[test]
    fn simple() {
        let e = ep(
            json!([{"addresses": addrs(&["10.0.0.1", "10.0.0.2"]), "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}]),
        );
        assert_eq!(
            EndpointsPrinter.cells(&e, now()),
            vec![json!("web"), json!("10.0.0.1:80,10.0.0.2:80"), json!("4h")]
        );
    }

    #[test]
    fn more_than_three() {
        let e = ep(json!([
            {"addresses": addrs(&["10.0.0.1", "10.0.0.2"]), "ports": [{"port": 80}, {"port": 443}]},
            {"addresses": addrs(&["10.0.1.1"]), "notReadyAddresses": addrs(&["10.0.1.2"]), "ports": [{"port": 8080}]}
        ]));
        // 2 addresses x 2 ports + 1 address x 1 port = 5.
        assert_eq!(
            EndpointsPrinter.cells(&e, now())[1],
            json!("10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 2 more...")
        );
    }

    #[test]
    fn headless_ipv6_and_empty() {
        let e = ep(json!([{"addresses": addrs(&["fd00::1", "10.0.0.9"])}]));
        assert_eq!(
            EndpointsPrinter.cells(&e, now())[1],
            json!("fd00::1,10.0.0.9")
        );
        let e = ep(json!([{"addresses": addrs(&["fd00::1"]), "ports": [{"port": 53}]}]));
        assert_eq!(EndpointsPrinter.cells(&e, now())[1], json!("[fd00::1]:53"));
        let e = ep(json!([]));
        assert_eq!(EndpointsPrinter.cells(&e, now())[1], json!("<none>"));
        // Only not-ready addresses: an empty list, not <none>.
        let e = ep(json!([{"notReadyAddresses": addrs(&["10.0.0.5"]), "ports": [{"port": 80}]}]));
        assert_eq!(EndpointsPrinter.cells(&e, now())[1], json!(""));
        assert_eq!(
            EndpointsPrinter.cells(&json!({}), now()),
            vec![json!(""), json!("<none>"), json!("<unknown>")]
        );
    }
}
