//! The four patch types.

use super::status::{ApiError, ApiResult};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchKind {
    Json,
    Merge,
    Strategic,
    Apply,
}

impl PatchKind {
    pub fn from_content_type(ct: &str) -> Option<Self> {
        match ct {
            "application/json-patch+json" => Some(PatchKind::Json),
            "application/merge-patch+json" => Some(PatchKind::Merge),
            "application/strategic-merge-patch+json" => Some(PatchKind::Strategic),
            "application/apply-patch+yaml" | "application/apply-patch+cbor" => {
                Some(PatchKind::Apply)
            }
            _ => None,
        }
    }
}

/// Applies `patch` to `current` (an object as stored, or a subresource view).
/// `manager` is the field manager of a server-side apply.
pub fn apply_patch(
    kind_name: &str,
    kind: PatchKind,
    current: &Value,
    patch: &Value,
    force: bool,
    manager: &str,
) -> ApiResult<Value> {
    match kind {
        PatchKind::Json => {
            let ops: json_patch::Patch = serde_json::from_value(patch.clone())
                .map_err(|e| ApiError::bad_request(format!("the json patch is invalid: {e}")))?;
            let mut doc = current.clone();
            json_patch::patch(&mut doc, &ops).map_err(|e| {
                ApiError::new(
                    http::StatusCode::UNPROCESSABLE_ENTITY,
                    "Invalid",
                    format!("the server rejected our request due to an error in our request: {e}"),
                )
            })?;
            Ok(doc)
        }
        PatchKind::Merge => {
            if !patch.is_object() {
                return Err(ApiError::bad_request("patch body must be a JSON object"));
            }
            let mut doc = current.clone();
            json_patch::merge(&mut doc, patch);
            Ok(doc)
        }
        PatchKind::Strategic => crate::patch::strategic_merge_patch(kind_name, current, patch)
            .map_err(|e| status_error(e.status_code(), e.to_string())),
        PatchKind::Apply => apply(kind_name, Some(current), patch, manager, force),
    }
}

/// Server-side apply of `applied` onto `live` (None: the object is created).
pub fn apply(
    kind_name: &str,
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    force: bool,
) -> ApiResult<Value> {
    crate::patch::apply(
        kind_name,
        live,
        applied,
        manager,
        force,
        &super::meta::now_rfc3339(),
    )
    .map_err(|e| match e {
        crate::patch::ApplyError::Conflict(c) => ApiError {
            code: http::StatusCode::CONFLICT,
            reason: "Conflict",
            message: c.message(),
            details: c.status().get("details").cloned(),
        },
        other => status_error(other.status_code(), other.message()),
    })
}

fn status_error(code: u16, message: String) -> ApiError {
    match code {
        400 => ApiError::bad_request(message),
        422 => ApiError::new(http::StatusCode::UNPROCESSABLE_ENTITY, "Invalid", message),
        _ => ApiError::internal(message),
    }
}
