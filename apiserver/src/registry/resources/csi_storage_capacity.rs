//! storage.k8s.io/v1 CSIStorageCapacities (`ValidateCSIStorageCapacity`,
//! `ValidateCSIStorageCapacityUpdate`).

use crate::registry::{Ctx, Strategy};
use crate::validation::checks::{invalid_each, present, str_at, validate_immutable};
use crate::validation::field_error::FieldError;
use crate::validation::label_selector::validate_label_selector;
use crate::validation::names::is_dns1123_subdomain;
use crate::validation::quantity::validate_nonnegative;
use serde_json::Value;

pub struct CsiStorageCapacityStrategy;

impl Strategy for CsiStorageCapacityStrategy {
    fn validate_create(&self, obj: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        validate_capacity(obj)
    }

    fn validate_update(&self, new: &Value, old: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        let mut errs = validate_capacity(new);
        for key in ["nodeTopology", "storageClassName"] {
            let ptr = format!("/{key}");
            errs.extend(validate_immutable(
                present(new, &ptr),
                present(old, &ptr),
                key,
            ));
        }
        errs
    }
}

/// Topology selector, class name and non-negative quantities.
pub fn validate_capacity(obj: &Value) -> Vec<FieldError> {
    let mut errs = validate_label_selector(present(obj, "/nodeTopology"), false, "nodeTopology");
    let class = str_at(obj, "/storageClassName");
    errs.extend(invalid_each(
        "storageClassName",
        class,
        is_dns1123_subdomain(class),
    ));
    for key in ["capacity", "maximumVolumeSize"] {
        if let Some(q) = present(obj, &format!("/{key}")) {
            errs.extend(validate_nonnegative(q, key));
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn capacities() {
        assert!(
            validate_capacity(&json!({"storageClassName": "fast", "capacity": "10Gi"})).is_empty()
        );
        let errs: Vec<String> =
            validate_capacity(&json!({"storageClassName": "fast", "capacity": "-1"}))
                .iter()
                .map(ToString::to_string)
                .collect();
        assert_eq!(
            errs,
            ["capacity: Invalid value: \"-1\": must be greater than or equal to 0"]
        );
    }
}
