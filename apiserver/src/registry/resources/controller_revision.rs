//! apps/v1 ControllerRevisions (`ValidateControllerRevision`,
//! `ValidateControllerRevisionUpdate`).

use super::workload;
use crate::registry::{Ctx, Strategy};
use crate::validation::field_error::FieldError;
use serde_json::Value;

pub struct ControllerRevisionStrategy;

impl Strategy for ControllerRevisionStrategy {
    fn validate_create(&self, obj: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        validate(obj)
    }

    fn validate_update(&self, new: &Value, old: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        let mut errs = validate(new);
        workload::immutable(&mut errs, new, old, "/data", "data");
        errs
    }
}

pub(crate) fn validate(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if obj.get("data").is_none_or(Value::is_null) {
        errs.push(FieldError::required("data", "data is mandatory"));
    }
    workload::nonnegative(&mut errs, obj, "/revision", "revision");
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::resources::workload::rendered;
    use serde_json::json;

    #[test]
    fn data_is_mandatory_and_immutable() {
        let o = json!({"metadata": {"name": "r"}, "revision": -1});
        assert_eq!(
            rendered(&validate(&o)),
            vec![
                "data: Required value: data is mandatory",
                "revision: Invalid value: -1: must be greater than or equal to 0",
            ]
        );
        let old = json!({"metadata": {"name": "r"}, "revision": 1, "data": {"spec": {"a": 1}}});
        let new = json!({"metadata": {"name": "r"}, "revision": 1, "data": {"spec": {"a": 2}}});
        let errs: Vec<FieldError> = {
            let mut errs = validate(&new);
            workload::immutable(&mut errs, &new, &old, "/data", "data");
            errs
        };
        assert_eq!(
            rendered(&errs),
            vec![r#"data: Invalid value: {"spec":{"a":2}}: field is immutable"#]
        );
    }
}
