//! storage.k8s.io/v1 CSINodes (`ValidateCSINode`, `validateCSINodeDriver`).

use super::csi_driver::validate_driver_name;
use crate::registry::{Ctx, Strategy};
use crate::validation::checks::arr_at;
use crate::validation::field_error::FieldError;
use crate::validation::names::is_qualified_name;
use serde_json::Value;

pub struct CsiNodeStrategy;

/// The longest node ID a driver may report.
const NODE_ID_MAX: usize = 192;

impl Strategy for CsiNodeStrategy {
    fn validate_create(&self, obj: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        validate_csi_node(obj)
    }
}

/// Each driver: a valid unique name, a node ID, unique qualified
/// topology keys.
pub fn validate_csi_node(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut names = Vec::new();
    for (i, d) in arr_at(obj, "/spec/drivers").iter().enumerate() {
        let path = format!("spec.drivers[{i}]");
        let name = d.get("name").and_then(Value::as_str).unwrap_or("");
        errs.extend(validate_driver_name(name, &format!("{path}.name")));
        let node_id = d.get("nodeID").and_then(Value::as_str).unwrap_or("");
        if node_id.is_empty() {
            errs.push(FieldError::required(format!("{path}.nodeID"), ""));
        }
        if node_id.len() > NODE_ID_MAX {
            errs.push(FieldError::invalid(
                format!("{path}.nodeID"),
                node_id,
                format!("must be {NODE_ID_MAX} characters or less"),
            ));
        }
        if names.contains(&name) {
            errs.push(FieldError::duplicate(format!("{path}.name"), name));
        }
        names.push(name);
        let mut keys = Vec::new();
        for key in arr_at(d, "/topologyKeys")
            .iter()
            .map(|k| k.as_str().unwrap_or(""))
        {
            if key.is_empty() {
                errs.push(FieldError::required(&path, ""));
            }
            if keys.contains(&key) {
                errs.push(FieldError::duplicate(&path, key));
            }
            keys.push(key);
            errs.extend(
                is_qualified_name(key)
                    .into_iter()
                    .map(|m| FieldError::invalid(&path, key, m)),
            );
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn drivers() {
        let node = json!({"spec": {"drivers": [
            {"name": "csi.example.com", "nodeID": "n1", "topologyKeys": ["topology.kubernetes.io/zone"]},
            {"name": "csi.example.com", "nodeID": ""}
        ]}});
        let errs: Vec<String> = validate_csi_node(&node)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            errs,
            [
                "spec.drivers[1].nodeID: Required value",
                "spec.drivers[1].name: Duplicate value: \"csi.example.com\"",
            ]
        );
    }
}
