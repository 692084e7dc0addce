//! Namespaces: phase and the `kubernetes` finalizer that the namespace
//! controller removes once the namespace is empty.

use super::{default_field, object_field};
use crate::registry::{Ctx, Strategy};
use serde_json::{json, Value};

pub struct NamespaceStrategy;

impl Strategy for NamespaceStrategy {
    fn default(&self, obj: &mut Value, _ctx: &Ctx) {
        let name = obj
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        // kube-apiserver always labels a namespace with its own name.
        if let Some(meta) = object_field(obj, "metadata") {
            if let Some(labels) = object_field(meta, "labels") {
                labels["kubernetes.io/metadata.name"] = json!(name);
            }
        }
        if let Some(spec) = object_field(obj, "spec") {
            default_field(spec, "finalizers", json!(["kubernetes"]));
        }
        if let Some(status) = object_field(obj, "status") {
            default_field(status, "phase", json!("Active"));
        }
    }

    fn check_delete(&self, obj: &Value) -> crate::rest::status::ApiResult<()> {
        let name = obj
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if matches!(name, "default" | "kube-system" | "kube-public") {
            let def = crate::registry::catalog()
                .lookup("", "v1", "namespaces")
                .ok_or_else(|| crate::rest::status::ApiError::internal("namespaces not served"))?;
            return Err(crate::rest::status::ApiError::forbidden(
                def.target(),
                name,
                "this namespace may not be deleted",
            ));
        }
        Ok(())
    }
}
