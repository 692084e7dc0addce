//! Patch machinery on `serde_json::Value` objects, as kube-apiserver does it:
//!
//! * [`schema`]: the merge metadata of the built-in kinds (Go struct tags
//!   `patchStrategy` / `patchMergeKey`, and `+listType` / `+listMapKey` /
//!   `+mapType` / `+structType` for server-side apply);
//! * [`strategic_merge`]: strategic merge patch, with its directives;
//! * [`managed_fields`]: server-side apply and `metadata.managedFields`
//!   bookkeeping for every write.

pub mod managed_fields;
pub mod schema;
pub mod strategic_merge;

pub use managed_fields::{apply, record_update, ApplyConflict, ApplyError, Conflict};
pub use strategic_merge::{strategic_merge_patch, strategic_merge_patch_with_schema, PatchError};
