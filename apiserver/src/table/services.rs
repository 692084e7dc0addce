//! Services: NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE, wide SELECTOR.

use super::{
    age_cell, age_col, arr_at, col, format_labels, get, int_at, name_cell, name_col, str_at, wide,
    Column, Printer,
};
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::BTreeSet;

const TYPE_DESC: &str = "Type.";
const CLUSTER_IP_DESC: &str = "Virtual IP of the Service.";
const EXTERNAL_IP_DESC: &str = "External addresses of the Service.";
const PORTS_DESC: &str = "Ports of the Service.";
const SELECTOR_DESC: &str = "Label selector of the backing pods.";

pub struct ServicePrinter;

impl Printer for ServicePrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            col("Type", "string", TYPE_DESC),
            col("Cluster-IP", "string", CLUSTER_IP_DESC),
            col("External-IP", "string", EXTERNAL_IP_DESC),
            col("Port(s)", "string", PORTS_DESC),
            age_col(),
            wide("Selector", "string", SELECTOR_DESC),
        ]
    }

    fn cells(&self, obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
        let svc_type = service_type(obj);
        // clusterIPs[0]; a bare clusterIP (never normalised into clusterIPs) also counts.
        let cluster_ip = match arr_at(obj, "/spec/clusterIPs").first() {
            Some(ip) => ip.as_str().unwrap_or("").to_string(),
            None => match str_at(obj, "/spec/clusterIP") {
                "" => "<none>".to_string(),
                ip => ip.to_string(),
            },
        };
        let mut ports = port_string(obj);
        if ports.is_empty() {
            ports = "<none>".to_string();
        }
        vec![
            name_cell(obj),
            Value::from(svc_type),
            Value::from(cluster_ip),
            Value::from(external_ip(obj, svc_type)),
            Value::from(ports),
            age_cell(obj, now),
            Value::from(format_labels(get(obj, "/spec/selector"))),
        ]
    }
}

/// spec.type, defaulted to ClusterIP as decoding does.
fn service_type(obj: &Value) -> &str {
    match str_at(obj, "/spec/type") {
        "" => "ClusterIP",
        t => t,
    }
}

fn strings(v: &[Value]) -> Vec<String> {
    v.iter()
        .map(|s| s.as_str().unwrap_or("").to_string())
        .collect()
}

/// Sorted, de-duplicated load-balancer ingress IPs (or hostnames), comma-joined.
/// The server renders the wide form, so the value is never truncated.
fn load_balancer_ingress(obj: &Value) -> String {
    let mut set = BTreeSet::new();
    for ing in arr_at(obj, "/status/loadBalancer/ingress") {
        let ip = str_at(ing, "/ip");
        let host = str_at(ing, "/hostname");
        if !ip.is_empty() {
            set.insert(ip);
        } else if !host.is_empty() {
            set.insert(host);
        }
    }
    set.into_iter().collect::<Vec<_>>().join(",")
}

fn external_ip(obj: &Value, svc_type: &str) -> String {
    let external_ips = strings(arr_at(obj, "/spec/externalIPs"));
    match svc_type {
        "ClusterIP" | "NodePort" => {
            if external_ips.is_empty() {
                "<none>".to_string()
            } else {
                external_ips.join(",")
            }
        }
        "LoadBalancer" => {
            let lb = load_balancer_ingress(obj);
            if !external_ips.is_empty() {
                let mut all: Vec<String> = Vec::new();
                if !lb.is_empty() {
                    all.extend(lb.split(',').map(str::to_string));
                }
                all.extend(external_ips);
                all.join(",")
            } else if !lb.is_empty() {
                lb
            } else {
                "<pending>".to_string()
            }
        }
        "ExternalName" => str_at(obj, "/spec/externalName").to_string(),
        _ => "<unknown>".to_string(),
    }
}

/// `port/PROTO` or `port:nodePort/PROTO` per port, comma-joined.
fn port_string(obj: &Value) -> String {
    arr_at(obj, "/spec/ports")
        .iter()
        .map(|p| {
            let port = int_at(p, "/port");
            let node_port = int_at(p, "/nodePort");
            let proto = match str_at(p, "/protocol") {
                "" => "TCP",
                proto => proto,
            };
            if node_port > 0 {
                format!("{}:{}/{}", port, node_port, proto)
            } else {
                format!("{}/{}", port, proto)
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::testutil::{ago, now};
    use serde_json::json;

    fn svc(spec: Value, status: Value) -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": "default", "creationTimestamp": ago(45)},
            "spec": spec,
            "status": status,
        })
    }

    #[test]
    fn columns() {
        let names: Vec<_> = ServicePrinter
            .columns()
            .iter()
            .map(|c| (c.name, c.priority))
            .collect();
        assert_eq!(
            names,
            vec![
                ("Name", 0),
                ("Type", 0),
                ("Cluster-IP", 0),
                ("External-IP", 0),
                ("Port(s)", 0),
                ("Age", 0),
                ("Selector", 1)
            ]
        );
    }

    #[test]
    fn cluster_ip_service() {
        let s = svc(
            json!({
                "type": "ClusterIP",
                "clusterIP": "10.96.0.10",
                "clusterIPs": ["10.96.0.10"],
                "selector": {"k8s-app": "kube-dns", "tier": "core"},
                "ports": [
                    {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                    {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
                    {"name": "metrics", "port": 9153, "protocol": "TCP", "targetPort": 9153}
                ]
            }),
            json!({"loadBalancer": {}}),
        );
        assert_eq!(
            ServicePrinter.cells(&s, now()),
            vec![
                json!("web"),
                json!("ClusterIP"),
                json!("10.96.0.10"),
                json!("<none>"),
                json!("53/UDP,53/TCP,9153/TCP"),
                json!("45s"),
                json!("k8s-app=kube-dns,tier=core"),
            ]
        );
    }

    #[test]
    fn node_port_with_external_ips() {
        let s = svc(
            json!({
                "type": "NodePort",
                "clusterIPs": ["10.96.3.4", "fd00::3:4"],
                "externalIPs": ["192.0.2.1", "192.0.2.2"],
                "ports": [
                    {"port": 80, "nodePort": 30080, "protocol": "TCP"},
                    {"port": 443, "protocol": "TCP"}
                ]
            }),
            json!({}),
        );
        let row = ServicePrinter.cells(&s, now());
        assert_eq!(row[2], json!("10.96.3.4"));
        assert_eq!(row[3], json!("192.0.2.1,192.0.2.2"));
        assert_eq!(row[4], json!("80:30080/TCP,443/TCP"));
        assert_eq!(row[6], json!("<none>"));
    }

    #[test]
    fn load_balancer() {
        let spec = json!({
            "type": "LoadBalancer",
            "clusterIP": "10.96.1.1",
            "clusterIPs": ["10.96.1.1"],
            "ports": [{"port": 80, "nodePort": 31000, "protocol": "TCP"}],
            "selector": {"app": "web"}
        });
        let pending = svc(spec.clone(), json!({"loadBalancer": {}}));
        assert_eq!(ServicePrinter.cells(&pending, now())[3], json!("<pending>"));

        let ready = svc(
            spec.clone(),
            json!({"loadBalancer": {"ingress": [
                {"ip": "203.0.113.9"},
                {"hostname": "a1b2c3d4e5f6-1234567890.elb.example.com"},
                {"ip": "203.0.113.10"},
                {"ip": "203.0.113.9"}
            ]}}),
        );
        // Sorted, de-duplicated, never truncated.
        assert_eq!(
            ServicePrinter.cells(&ready, now())[3],
            json!("203.0.113.10,203.0.113.9,a1b2c3d4e5f6-1234567890.elb.example.com")
        );

        let mut with_ext = spec;
        with_ext["externalIPs"] = json!(["198.51.100.7"]);
        let both = svc(
            with_ext.clone(),
            json!({"loadBalancer": {"ingress": [{"ip": "203.0.113.9"}]}}),
        );
        assert_eq!(
            ServicePrinter.cells(&both, now())[3],
            json!("203.0.113.9,198.51.100.7")
        );
        let only_ext = svc(with_ext, json!({}));
        assert_eq!(
            ServicePrinter.cells(&only_ext, now())[3],
            json!("198.51.100.7")
        );
    }

    #[test]
    fn external_name_and_headless() {
        let s = svc(
            json!({"type": "ExternalName", "externalName": "db.example.com"}),
            json!({}),
        );
        let row = ServicePrinter.cells(&s, now());
        assert_eq!(
            row[1..5],
            [
                json!("ExternalName"),
                json!("<none>"),
                json!("db.example.com"),
                json!("<none>")
            ]
        );

        let s = svc(
            json!({"clusterIP": "None", "clusterIPs": ["None"], "ports": [{"port": 5432}], "selector": {"app": "pg"}}),
            json!({}),
        );
        let row = ServicePrinter.cells(&s, now());
        assert_eq!(
            row[1..5],
            [
                json!("ClusterIP"),
                json!("None"),
                json!("<none>"),
                json!("5432/TCP")
            ]
        );
    }

    #[test]
    fn unknown_type_and_empty() {
        let s = svc(json!({"type": "Bogus"}), json!({}));
        assert_eq!(ServicePrinter.cells(&s, now())[3], json!("<unknown>"));
        assert_eq!(
            ServicePrinter.cells(&json!({}), now()),
            vec![
                json!(""),
                json!("ClusterIP"),
                json!("<none>"),
                json!("<none>"),
                json!("<none>"),
                json!("<unknown>"),
                json!("<none>"),
            ]
        );
    }
}
