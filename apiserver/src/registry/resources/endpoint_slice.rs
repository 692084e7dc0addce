//! discovery.k8s.io/v1 EndpointSlices: port defaults
//! (`pkg/apis/discovery/v1/defaults.go`: an unnamed port is named "" and
//! speaks TCP, which clients such as `kubectl describe` rely on) and the
//! address-type check of `ValidateEndpointSlice`.

use crate::registry::{Ctx, Strategy};
use crate::validation::field_error::FieldError;
use serde_json::{json, Value};

pub struct EndpointSliceStrategy;

const ADDRESS_TYPES: &[&str] = &["FQDN", "IPv4", "IPv6"];
const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];

impl Strategy for EndpointSliceStrategy {
    fn default(&self, obj: &mut Value, _ctx: &Ctx) {
        defaults(obj)
    }

    fn validate_create(&self, obj: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        validate(obj)
    }

    fn validate_update(&self, new: &Value, old: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        let mut errs = validate(new);
        if new.get("addressType") != old.get("addressType") {
            errs.push(FieldError::invalid(
                "addressType",
                new.get("addressType").cloned().unwrap_or(Value::Null),
                "field is immutable",
            ));
        }
        errs
    }
}

fn defaults(obj: &mut Value) {
    let Some(ports) = obj.get_mut("ports").and_then(Value::as_array_mut) else {
        return;
    };
    for port in ports.iter_mut().filter(|p| p.is_object()) {
        for (field, value) in [("name", json!("")), ("protocol", json!("TCP"))] {
            if port.get(field).is_none_or(Value::is_null) {
                port[field] = value;
            }
        }
    }
}

fn validate(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    match obj.get("addressType").and_then(Value::as_str) {
        None | Some("") => errs.push(FieldError::required("addressType", "")),
        Some(t) if !ADDRESS_TYPES.contains(&t) => {
            errs.push(FieldError::not_supported("addressType", t, ADDRESS_TYPES))
        }
        Some(_) => {}
    }
    let ports = obj.get("ports").and_then(Value::as_array);
    for (i, port) in ports.into_iter().flatten().enumerate() {
        let protocol = port
            .get("protocol")
            .and_then(Value::as_str)
            .unwrap_or("TCP");
        if !PROTOCOLS.contains(&protocol) {
            errs.push(FieldError::not_supported(
                format!("ports[{i}].protocol"),
                protocol,
                PROTOCOLS,
            ));
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_default_and_address_types_checked() {
        let mut slice = json!({"addressType": "IPv5", "ports": [{"port": 80}]});
        defaults(&mut slice);
        assert_eq!(
            slice["ports"][0],
            json!({"port": 80, "name": "", "protocol": "TCP"})
        );
        let errs = validate(&slice);
        assert_eq!(
            errs[0].to_string(),
            "addressType: Unsupported value: \"IPv5\": supported values: \"FQDN\", \"IPv4\", \"IPv6\""
        );
    }
}
