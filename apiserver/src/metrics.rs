//! `/metrics`: the Service allocator gauges of kube-apiserver, under its
//! names (`kube_apiserver_clusterip_allocator_*` with a `cidr` label and
//! `kube_apiserver_nodeport_allocator_*`, from
//! pkg/registry/core/service/{ipallocator,portallocator}/metrics.go), so
//! that `kubectl get --raw /metrics` and dashboards built for a real
//! cluster read them. Like kube-apiserver's, the endpoint needs credentials.

use crate::registry::service::ranges::AllocatorUsage;
use crate::rest::SharedState;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

/// The `Content-Type` of [`render`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A gauge as f64: an IPv6 range holds more addresses than an i64 counts.
type Count = Gauge<f64, AtomicU64>;
type ByCidr = Family<Vec<(String, String)>, Count>;

pub async fn handler(State(st): State<SharedState>) -> Response {
    match render(&st.allocators.usage()) {
        Ok(text) => ([(http::header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "rendering /metrics failed");
            http::StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// The gauges for one snapshot of the allocators, in the text format.
pub fn render(usage: &AllocatorUsage) -> Result<String, std::fmt::Error> {
    let mut registry = Registry::with_prefix("kube_apiserver");
    let (ip_allocated, ip_available) = (ByCidr::default(), ByCidr::default());
    for r in &usage.cluster_ips {
        let cidr = vec![("cidr".to_string(), r.range.clone())];
        ip_allocated.get_or_create(&cidr).set(r.allocated as f64);
        ip_available.get_or_create(&cidr).set(r.available as f64);
    }
    registry.register(
        "clusterip_allocator_allocated_ips",
        "Gauge measuring the number of allocated IPs for Services",
        ip_allocated,
    );
    registry.register(
        "clusterip_allocator_available_ips",
        "Gauge measuring the number of available IPs for Services",
        ip_available,
    );
    let (port_allocated, port_available) = (Count::default(), Count::default());
    port_allocated.set(usage.node_ports.allocated as f64);
    port_available.set(usage.node_ports.available as f64);
    registry.register(
        "nodeport_allocator_allocated_ports",
        "Gauge measuring the number of allocated NodePorts for Services",
        port_allocated,
    );
    registry.register(
        "nodeport_allocator_available_ports",
        "Gauge measuring the number of available NodePorts for Services",
        port_available,
    );
    let mut text = String::new();
    encode(&mut text, &registry)?;
    Ok(text)
}

/// The sum of every sample of the metric `name` in a `/metrics` text, over
/// all its label sets (`None` if it has none): for readers of the endpoint
/// such as the benchmarks, e.g. the ClusterIPs allocated over every CIDR.
pub fn total(text: &str, name: &str) -> Option<f64> {
    let values: Vec<f64> = text
        .lines()
        .filter_map(|l| l.strip_prefix(name))
        .filter(|rest| rest.starts_with(['{', ' ']))
        .filter_map(|rest| rest.rsplit(' ').next()?.trim().parse().ok())
        .collect();
    (!values.is_empty()).then(|| values.iter().sum())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::service::ranges::RangeUsage;

    #[test]
    fn gauges_under_kube_apiserver_names() {
        let usage = AllocatorUsage {
            cluster_ips: vec![
                RangeUsage {
                    range: "127.96.0.0/16".into(),
                    allocated: 3,
                    available: 65531,
                },
                RangeUsage {
                    range: "fd00::/108".into(),
                    allocated: 1,
                    available: 1_048_574,
                },
            ],
            node_ports: RangeUsage {
                range: "30000-32767".into(),
                allocated: 2,
                available: 2766,
            },
        };
        let text = render(&usage).unwrap();
        let ip = |name: &str, cidr: &str| {
            let line = format!("kube_apiserver_clusterip_allocator_{name}{{cidr=\"{cidr}\"}} ");
            text.lines()
                .find_map(|l| l.strip_prefix(&line))
                .and_then(|v| v.parse::<f64>().ok())
        };
        assert_eq!(ip("allocated_ips", "127.96.0.0/16"), Some(3.0));
        assert_eq!(ip("available_ips", "127.96.0.0/16"), Some(65531.0));
        assert_eq!(ip("allocated_ips", "fd00::/108"), Some(1.0));
        let total = |name: &str| total(&text, &format!("kube_apiserver_{name}"));
        assert_eq!(total("clusterip_allocator_allocated_ips"), Some(4.0));
        assert_eq!(total("nodeport_allocator_allocated_ports"), Some(2.0));
        assert_eq!(total("nodeport_allocator_available_ports"), Some(2766.0));
        assert_eq!(total("nodeport_allocator"), None, "a name is matched whole");
        assert!(text.contains("# TYPE kube_apiserver_nodeport_allocator_allocated_ports gauge"));
    }
}
