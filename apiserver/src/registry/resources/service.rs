//! Services: the registry hooks of [`crate::registry::service`], whose
//! pipeline defaults, initialises IP families, allocates ClusterIPs and
//! NodePorts (as storage keys in the Service's own transaction) and
//! validates.

use crate::registry::service::{defaults, validation, ServiceError};
use crate::registry::{Ctx, Pending, Strategy, WriteOp};
use crate::rest::status::ApiResult;
use serde_json::Value;

pub struct ServiceStrategy;

impl Strategy for ServiceStrategy {
    /// The v1 defaults kube-apiserver applies when it decodes a Service (so
    /// that an update re-sending the stored object is seen as no change).
    fn default(&self, obj: &mut Value, _ctx: &Ctx) {
        defaults::set_defaults(obj);
    }

    // No `validate_create`/`validate_update`: validation is the last step of
    // `begin_write`, after allocation, as kube-apiserver validates a Service
    // that already carries its ClusterIPs and NodePorts; it releases what it
    // allocated when the Service is refused.

    fn begin_write(&self, op: WriteOp<'_>, ctx: &Ctx) -> ApiResult<Pending> {
        match op {
            // A status write keeps the spec, so it allocates and releases
            // nothing (kube-apiserver's status store has no allocation hooks).
            WriteOp::Update {
                old,
                new,
                subresource: Some(_),
            } => {
                let errs = validation::validate_service_update(new, old, ctx.allocators.config());
                if errs.is_empty() {
                    return Ok(Pending::default());
                }
                let name = new.pointer("/metadata/name").and_then(Value::as_str);
                Err(ServiceError::Invalid(errs).into_api_error(name.unwrap_or_default()))
            }
            op => ctx.allocators.begin_write(op),
        }
    }
}
