//! Per-resource hooks.

use crate::validation::field_error::FieldError;
use serde_json::Value;

/// Context a strategy may need (cluster configuration, shared allocators).
pub struct Ctx<'a> {
    pub config: &'a crate::config::ApiConfig,
    pub allocators: &'a crate::registry::service::ranges::Allocators,
}

/// A write about to be stored, as a strategy's `begin_write` sees it.
pub enum WriteOp<'a> {
    Create(&'a mut Value),
    Update {
        old: &'a Value,
        new: &'a mut Value,
        /// `status` (and the like) when the write goes to a subresource,
        /// which only changes that part of the object.
        subresource: Option<&'a str>,
    },
    /// The object is being removed from storage.
    Delete(&'a Value),
}

/// What a strategy adds to a write: keys stored in the same transaction, and
/// what to do with in-memory state once the write commits or fails (the
/// equivalent of kube-apiserver's BeginCreate/BeginUpdate transactions).
#[derive(Default)]
pub struct Pending {
    pub side_effects: crate::rest::object_store::SideEffects,
    pub on_commit: Vec<Box<dyn FnOnce() + Send>>,
    pub on_abort: Vec<Box<dyn FnOnce() + Send>>,
}

impl Pending {
    pub fn commit(self) {
        self.on_commit.into_iter().for_each(|f| f());
    }
    pub fn abort(self) {
        self.on_abort.into_iter().for_each(|f| f());
    }
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

    /// Prepares a write: may set fields (allocations) and add keys to its
    /// transaction. Errors are returned to the client.
    fn begin_write(&self, _op: WriteOp<'_>, _ctx: &Ctx) -> crate::rest::status::ApiResult<Pending> {
        Ok(Pending::default())
    }

    /// Refuses deletions the API forbids (e.g. the system namespaces).
    fn check_delete(&self, _obj: &Value) -> crate::rest::status::ApiResult<()> {
        Ok(())
    }

    /// The API group whose storage this resource shares, when it is another
    /// version of a resource served elsewhere (events.k8s.io/v1 events are
    /// stored as core/v1 events, as in kube-apiserver).
    fn storage_group(&self) -> Option<&'static str> {
        None
    }

    /// The object in its stored form (identity unless storage is shared).
    fn stored_form(&self, obj: Value) -> Value {
        obj
    }

    /// A stored object in this resource's served form.
    fn served_form(&self, obj: Value) -> Value {
        obj
    }

    /// Whether [`Strategy::served_form`] is the identity, so stored
    /// objects can be served without decoding them.
    fn served_as_stored(&self) -> bool {
        self.storage_group().is_none()
    }
}

/// Resources with no special rules.
pub struct DefaultStrategy;
impl Strategy for DefaultStrategy {}
