//! API errors as `kind: Status` replies, with kube-apiserver's reasons, codes and messages.

use crate::validation::field_error::{aggregate_message, FieldError};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::{json, Value};

/// An error the API returns to a client.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: StatusCode,
    pub reason: &'static str,
    pub message: String,
    pub details: Option<Value>,
}

/// Identifies the resource an error is about, for messages and `details`.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub group: &'a str,
    /// Plural resource name, e.g. "services".
    pub resource: &'a str,
    /// Kind, e.g. "Service" (used in Invalid messages).
    pub kind: &'a str,
}

impl<'a> Target<'a> {
    /// `services` or `deployments.apps`, as kube-apiserver qualifies resources in messages.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.resource.to_string()
        } else {
            format!("{}.{}", self.resource, self.group)
        }
    }

    fn details(&self, name: &str) -> Value {
        let mut d = json!({ "name": name, "kind": self.resource });
        if !self.group.is_empty() {
            d["group"] = json!(self.group);
        }
        d
    }

    /// Kind qualified by group for Invalid messages (`Deployment.apps "x" is invalid`).
    fn qualified_kind(&self) -> String {
        if self.group.is_empty() {
            self.kind.to_string()
        } else {
            format!("{}.{}", self.kind, self.group)
        }
    }
}

impl ApiError {
    pub fn new(code: StatusCode, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    pub fn not_found(t: Target, name: &str) -> Self {
        ApiError {
            details: Some(t.details(name)),
            ..Self::new(
                StatusCode::NOT_FOUND,
                "NotFound",
                format!("{} \"{}\" not found", t.qualified(), name),
            )
        }
    }

    pub fn already_exists(t: Target, name: &str) -> Self {
        ApiError {
            details: Some(t.details(name)),
            ..Self::new(
                StatusCode::CONFLICT,
                "AlreadyExists",
                format!("{} \"{}\" already exists", t.qualified(), name),
            )
        }
    }

    /// Optimistic-concurrency failure.
    pub fn conflict(t: Target, name: &str) -> Self {
        Self::conflict_msg(
            t,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    pub fn conflict_msg(t: Target, name: &str, why: &str) -> Self {
        ApiError {
            details: Some(t.details(name)),
            ..Self::new(
                StatusCode::CONFLICT,
                "Conflict",
                format!(
                    "Operation cannot be fulfilled on {} \"{}\": {}",
                    t.qualified(),
                    name,
                    why
                ),
            )
        }
    }

    pub fn invalid(t: Target, name: &str, errs: &[FieldError]) -> Self {
        let causes: Vec<Value> = errs
            .iter()
            .map(|e| {
                json!({
                    "reason": e.reason(),
                    "message": cause_message(e),
                    "field": e.field,
                })
            })
            .collect();
        let mut details = t.details(name);
        details["kind"] = json!(t.kind);
        details["causes"] = Value::Array(causes);
        ApiError {
            details: Some(details),
            ..Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Invalid",
                aggregate_message(&t.qualified_kind(), name, errs),
            )
        }
    }

    /// Invalid for a core-group kind (the resource is its lower-case plural).
    pub fn invalid_fields(kind: &'static str, name: &str, errs: Vec<FieldError>) -> Self {
        let resource = format!("{}s", kind.to_ascii_lowercase());
        let target = Target {
            group: "",
            resource: &resource,
            kind,
        };
        Self::invalid(target, name, &errs)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BadRequest", message)
    }

    pub fn forbidden(t: Target, name: &str, why: &str) -> Self {
        let msg = if name.is_empty() {
            format!("{} is forbidden: {}", t.qualified(), why)
        } else {
            format!("{} \"{}\" is forbidden: {}", t.qualified(), name, why)
        };
        ApiError {
            details: Some(t.details(name)),
            ..Self::new(StatusCode::FORBIDDEN, "Forbidden", msg)
        }
    }

    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "Unauthorized", "Unauthorized")
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )
    }

    pub fn not_found_path() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            "the server could not find the requested resource",
        )
    }

    pub fn gone(message: impl Into<String>) -> Self {
        Self::new(StatusCode::GONE, "Expired", message)
    }

    pub fn too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            "Request entity too large: limit is 3145728",
        )
    }

    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaType",
            format!("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf (got {content_type})"),
        )
    }

    pub fn not_acceptable() -> Self {
        Self::new(
            StatusCode::NOT_ACCEPTABLE,
            "NotAcceptable",
            "only the following media types are accepted: application/json, application/yaml, application/json;as=Table;v=v1;g=meta.k8s.io",
        )
    }

    pub fn internal(message: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            format!("Internal error occurred: {message}"),
        )
    }

    pub fn status_object(&self) -> Value {
        let mut s = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code.as_u16(),
        });
        if let Some(d) = &self.details {
            s["details"] = d.clone();
        }
        s
    }
}

/// Causes carry the error without its field prefix, as kube-apiserver's do.
fn cause_message(e: &FieldError) -> String {
    let full = e.to_string();
    full.strip_prefix(&format!("{}: ", e.field))
        .map(str::to_string)
        .unwrap_or(full)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.status_object()).unwrap_or_default();
        (
            self.code,
            [(http::header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response()
    }
}

impl From<crate::storage::StorageError> for ApiError {
    fn from(e: crate::storage::StorageError) -> Self {
        match e {
            crate::storage::StorageError::Compacted { requested, oldest } => {
                ApiError::gone(format!("too old resource version: {requested} ({oldest})"))
            }
            crate::storage::StorageError::Backend(m) => ApiError::internal(m),
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
