//! core/v1 Endpoints: address and port checks.

use crate::registry::{Ctx, Strategy};
use crate::validation::field_error::FieldError;
use serde_json::Value;

pub struct EndpointsStrategy;

impl Strategy for EndpointsStrategy {
    fn validate_create(&self, obj: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        let mut errs = Vec::new();
        let subsets = obj
            .get("subsets")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for (i, subset) in subsets.iter().enumerate() {
            for list in ["addresses", "notReadyAddresses"] {
                let addrs = subset
                    .get(list)
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                for (j, a) in addrs.iter().enumerate() {
                    let ip = a.get("ip").and_then(Value::as_str).unwrap_or_default();
                    if ip.parse::<std::net::IpAddr>().is_err() {
                        errs.push(FieldError::invalid(
                            format!("subsets[{i}].{list}[{j}].ip"),
                            ip,
                            "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
                        ));
                    }
                }
            }
            let ports = subset
                .get("ports")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for (j, p) in ports.iter().enumerate() {
                let port = p.get("port").and_then(Value::as_i64).unwrap_or(0);
                if !(1..=65535).contains(&port) {
                    errs.push(FieldError::invalid(
                        format!("subsets[{i}].ports[{j}].port"),
                        port,
                        "must be between 1 and 65535, inclusive",
                    ));
                }
            }
        }
        errs
    }
}
