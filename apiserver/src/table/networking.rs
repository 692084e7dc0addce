//! networking.k8s.io NetworkPolicies, Ingresses, IngressClasses, IPAddresses
//! and ServiceCIDRs (printers.go `printNetworkPolicy`, `printIngress`,
//! `printIngressClass`, `printIPAddress`, `printServiceCIDR`).

use super::{
    age_cell, age_col, arr_at, col, format_label_selector, get, name_cell, name_col, str_at,
    Column, Printer,
};
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::BTreeSet;

pub struct NetworkPolicyPrinter;

impl Printer for NetworkPolicyPrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            col("Pod-Selector", "string", "Pods the policy applies to."),
            age_col(),
        ]
    }

    fn cells(&self, obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
        vec![
            name_cell(obj),
            Value::from(format_label_selector(get(obj, "/spec/podSelector"))),
            age_cell(obj, now),
        ]
    }
}

pub struct IngressPrinter;

impl Printer for IngressPrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            col(
                "Class",
                "string",
                "The name of the IngressClass resource that should be used for additional configuration",
            ),
            col(
                "Hosts",
                "string",
                "Hosts that incoming requests are matched against before the ingress rule",
            ),
            col(
                "Address",
                "string",
                "Address is a list containing ingress points for the load-balancer",
            ),
            col("Ports", "string", "Ports of TLS configurations that open"),
            age_col(),
        ]
    }

    fn cells(&self, obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
        let class = get(obj, "/spec/ingressClassName")
            .and_then(Value::as_str)
            .unwrap_or("<none>");
        let ports = if arr_at(obj, "/spec/tls").is_empty() {
            "80"
        } else {
            "80, 443"
        };
        vec![
            name_cell(obj),
            Value::from(class),
            Value::from(format_hosts(arr_at(obj, "/spec/rules"))),
            Value::from(load_balancer_addresses(arr_at(
                obj,
                "/status/loadBalancer/ingress",
            ))),
            Value::from(ports),
            age_cell(obj, now),
        ]
    }
}

/// The first three non-empty rule hosts, `*` when there are none
/// (printers.go `formatHosts`): any rule after the third listed host makes
/// it "+ N more...", N counting all rules past three.
fn format_hosts(rules: &[Value]) -> String {
    const MAX: usize = 3;
    let mut hosts: Vec<&str> = Vec::new();
    let mut more = false;
    for rule in rules {
        if hosts.len() == MAX {
            more = true;
            break;
        }
        let host = str_at(rule, "/host");
        if !host.is_empty() {
            hosts.push(host);
        }
    }
    if hosts.is_empty() {
        "*".to_string()
    } else if more {
        format!("{} + {} more...", hosts.join(","), rules.len() - MAX)
    } else {
        hosts.join(",")
    }
}

/// Distinct load-balancer IPs (else hostnames), sorted and comma-joined. The
/// server renders the wide form, so nothing is truncated.
fn load_balancer_addresses(ingress: &[Value]) -> String {
    let set: BTreeSet<&str> = ingress
        .iter()
        .map(|i| match str_at(i, "/ip") {
            "" => str_at(i, "/hostname"),
            ip => ip,
        })
        .filter(|s| !s.is_empty())
        .collect();
    set.into_iter().collect::<Vec<_>>().join(",")
}

pub struct IngressClassPrinter;

impl Printer for IngressClassPrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            col(
                "Controller",
                "string",
                "Controller that is responsible for handling this class",
            ),
            col(
                "Parameters",
                "string",
                "A reference to a resource with additional parameters",
            ),
            age_col(),
        ]
    }

    fn cells(&self, obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
        let parameters = match get(obj, "/spec/parameters") {
            None => "<none>".to_string(),
            Some(p) => {
                let mut s = str_at(p, "/kind").to_string();
                if let Some(group) = get(p, "/apiGroup").and_then(Value::as_str) {
                    s = format!("{}.{}", s, group);
                }
                format!("{}/{}", s, str_at(p, "/name"))
            }
        };
        vec![
            name_cell(obj),
            Value::from(str_at(obj, "/spec/controller")),
            Value::from(parameters),
            age_cell(obj, now),
        ]
    }
}

/// IPAddresses. printers.go declares two columns but emits the age as a
/// third cell; the same row is produced here.
pub struct IpAddressPrinter;

impl Printer for IpAddressPrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            col(
                "ParentRef",
                "string",
                "The object this IP address belongs to.",
            ),
        ]
    }

    fn cells(&self, obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
        let parent = match get(obj, "/spec/parentRef") {
            None => "<none>".to_string(),
            Some(p) => {
                // schema.GroupResource.String(): `resource` or `resource.group`.
                let mut s = match (str_at(p, "/resource"), str_at(p, "/group")) {
                    (r, "") => r.to_lowercase(),
                    (r, g) => format!("{}.{}", r, g).to_lowercase(),
                };
                let namespace = str_at(p, "/namespace");
                if !namespace.is_empty() {
                    s = format!("{}/{}", s, namespace);
                }
                format!("{}/{}", s, str_at(p, "/name"))
            }
        };
        vec![name_cell(obj), Value::from(parent), age_cell(obj, now)]
    }
}

pub struct ServiceCidrPrinter;

impl Printer for ServiceCidrPrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            col("CIDRs", "string", "The IP ranges of the ServiceCIDR."),
            age_col(),
        ]
    }

    fn cells(&self, obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
        let cidrs: Vec<&str> = arr_at(obj, "/spec/cidrs")
            .iter()
            .map(|c| c.as_str().unwrap_or(""))
            .collect();
        vec![
            name_cell(obj),
            Value::from(cidrs.join(",")),
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
    fn network_policy() {
        assert_eq!(
            names(&NetworkPolicyPrinter),
            ["Name", "Pod-Selector", "Age"]
        );
        let np = json!({"metadata": {"name": "deny", "creationTimestamp": ago(5)},
            "spec": {"podSelector": {"matchLabels": {"role": "db"}}, "policyTypes": ["Ingress"]}});
        assert_eq!(
            NetworkPolicyPrinter.cells(&np, now()),
            vec![json!("deny"), json!("role=db"), json!("5s")]
        );
        assert_eq!(
            NetworkPolicyPrinter.cells(&json!({}), now()),
            vec![json!(""), json!("<none>"), json!("<unknown>")]
        );
    }

    #[test]
    fn ingress() {
        assert_eq!(
            names(&IngressPrinter),
            ["Name", "Class", "Hosts", "Address", "Ports", "Age"]
        );
        let ing = json!({
            "metadata": {"name": "web", "creationTimestamp": ago(3600 * 5)},
            "spec": {"ingressClassName": "nginx", "tls": [{"hosts": ["a.example.com"]}],
                     "rules": [{"host": "a.example.com"}, {"host": "b.example.com"}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "10.0.0.9"}, {"hostname": "lb.example.com"}, {"ip": "10.0.0.2"}]}}
        });
        assert_eq!(
            IngressPrinter.cells(&ing, now()),
            vec![
                json!("web"),
                json!("nginx"),
                json!("a.example.com,b.example.com"),
                json!("10.0.0.2,10.0.0.9,lb.example.com"),
                json!("80, 443"),
                json!("5h")
            ]
        );
        assert_eq!(
            IngressPrinter.cells(&json!({}), now()),
            vec![
                json!(""),
                json!("<none>"),
                json!("*"),
                json!(""),
                json!("80"),
                json!("<unknown>")
            ]
        );
    }

    #[test]
    fn hosts() {
        let rules =
            |hosts: &[&str]| -> Vec<Value> { hosts.iter().map(|h| json!({"host": h})).collect() };
        assert_eq!(format_hosts(&rules(&["a", "", "b"])), "a,b");
        assert_eq!(format_hosts(&rules(&["a", "b", "c"])), "a,b,c");
        assert_eq!(
            format_hosts(&rules(&["a", "b", "c", "d", "e"])),
            "a,b,c + 2 more..."
        );
        assert_eq!(
            format_hosts(&rules(&["", "a", "b", "c", ""])),
            "a,b,c + 2 more..."
        );
        assert_eq!(format_hosts(&rules(&["", ""])), "*");
    }

    #[test]
    fn ingress_class() {
        assert_eq!(
            names(&IngressClassPrinter),
            ["Name", "Controller", "Parameters", "Age"]
        );
        let ic = json!({"metadata": {"name": "nginx", "creationTimestamp": ago(86400)},
            "spec": {"controller": "k8s.io/ingress-nginx",
                     "parameters": {"apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "external-lb"}}});
        assert_eq!(
            IngressClassPrinter.cells(&ic, now()),
            vec![
                json!("nginx"),
                json!("k8s.io/ingress-nginx"),
                json!("IngressParameters.k8s.example.com/external-lb"),
                json!("24h")
            ]
        );
        let core = json!({"spec": {"parameters": {"kind": "ConfigMap", "name": "p"}}});
        assert_eq!(
            IngressClassPrinter.cells(&core, now())[2],
            json!("ConfigMap/p")
        );
        assert_eq!(
            IngressClassPrinter.cells(&json!({}), now()),
            vec![json!(""), json!(""), json!("<none>"), json!("<unknown>")]
        );
    }

    #[test]
    fn ip_address() {
        assert_eq!(names(&IpAddressPrinter), ["Name", "ParentRef"]);
        let ip = json!({"metadata": {"name": "10.96.0.1", "creationTimestamp": ago(60)},
            "spec": {"parentRef": {"group": "", "resource": "services", "namespace": "default", "name": "kubernetes"}}});
        assert_eq!(
            IpAddressPrinter.cells(&ip, now()),
            vec![
                json!("10.96.0.1"),
                json!("services/default/kubernetes"),
                json!("60s")
            ]
        );
        let gw = json!({"spec": {"parentRef": {"group": "gateway.networking.k8s.io", "resource": "Gateways", "name": "gw"}}});
        assert_eq!(
            IpAddressPrinter.cells(&gw, now())[1],
            json!("gateways.gateway.networking.k8s.io/gw")
        );
        assert_eq!(
            IpAddressPrinter.cells(&json!({}), now()),
            vec![json!(""), json!("<none>"), json!("<unknown>")]
        );
    }

    #[test]
    fn service_cidr() {
        assert_eq!(names(&ServiceCidrPrinter), ["Name", "CIDRs", "Age"]);
        let sc = json!({"metadata": {"name": "kubernetes", "creationTimestamp": ago(120)},
            "spec": {"cidrs": ["10.96.0.0/16", "fd00:10:96::/112"]}});
        assert_eq!(
            ServiceCidrPrinter.cells(&sc, now()),
            vec![
                json!("kubernetes"),
                json!("10.96.0.0/16,fd00:10:96::/112"),
                json!("2m")
            ]
        );
        assert_eq!(
            ServiceCidrPrinter.cells(&json!({}), now()),
            vec![json!(""), json!(""), json!("<unknown>")]
        );
    }
}
