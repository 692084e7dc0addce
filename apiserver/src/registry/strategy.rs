//! Per-resource hooks.

use crate::validation::field_error::FieldError;
use serde_json::Value;

/// Context a strategy may need (cluster configuration).
pub struct Ctx<'a> {
    pub config: &'a crate::config::ApiConfig,
}

pub trait Strategy: Send + Sync + 'static {
    /// Sets defaulted fields (runs on create and on every update, like
    /// kube-apiserver's defaulting on decode).
    fn default(&self, _obj: &mut Value, _ctx: &Ctx) {}

    /// Validation on create, beyond object metadata.
    fn validate_create(&self, _obj: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        Vec::new()
    }

    /// Validation on update, beyond object metadata.
    fn validate_update(&self, new: &Value, _old: &Value, ctx: &Ctx) -> Vec<FieldError> {
        self.validate_create(new, ctx)
    }

    /// Value of a resource-specific field-selector label (`spec.nodeName`, ...).
    fn field(&self, _obj: &Value, _label: &str) -> Option<String> {
        None
    }

    /// Resource-specific field-selector labels, beyond metadata.name/namespace.
    fn field_labels(&self) -> &'static [&'static str] {
        &[]
    }
}

/// Resources with no special rules.
pub struct DefaultStrategy;
impl Strategy for DefaultStrategy {}
