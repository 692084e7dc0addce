//! apps/v1 ReplicaSets.

use super::{default_field, deployment, object_field};
use crate::registry::{Ctx, Strategy};
use crate::validation::field_error::FieldError;
use serde_json::{json, Value};

pub struct ReplicaSetStrategy;

impl Strategy for ReplicaSetStrategy {
    fn default(&self, obj: &mut Value, _ctx: &Ctx) {
        if let Some(spec) = object_field(obj, "spec") {
            default_field(spec, "replicas", json!(1));
            deployment::default_template(spec);
        }
    }

    fn validate_create(&self, obj: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        deployment::validate_workload(obj)
    }

    fn validate_update(&self, new: &Value, old: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        super::workload::with_immutable_selector(deployment::validate_workload(new), new, old)
    }
}
