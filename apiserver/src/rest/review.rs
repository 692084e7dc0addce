//! The review kinds of authentication.k8s.io and authorization.k8s.io
//! (TokenReview, SelfSubjectReview, the four access reviews): answered on
//! create and never stored, as kube-apiserver's review registries do.
//!
//! mkube has no authorizer yet: every authenticated caller may do
//! everything, so every access review is allowed and the rules review
//! lists `*`. A TokenReview authenticates the cluster's bearer token and
//! service-account tokens this server signed.

use super::codec::{decode_body, respond, Format};
use super::request::RequestInfo;
use super::status::{ApiError, ApiResult};
use super::ApiState;
use crate::registry::Special;
use crate::validation::field_error::FieldError;
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use serde_json::{json, Value};

/// The identity every request authenticated with the cluster token has.
pub const ADMIN_USER: &str = "kubernetes-admin";
pub const ADMIN_GROUPS: &[&str] = &["system:masters", "system:authenticated"];

/// Answers a POST to a review resource with the review and its status.
pub fn create(
    st: &ApiState,
    ri: &RequestInfo,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult<Response> {
    let def = ri.def;
    let mut review = decode_body(headers, body, def.kind, &def.api_version())?;
    if def.special == Special::TokenReview && token_of(&review).is_empty() {
        // The TokenReview registry refuses this itself, before validation.
        return Err(ApiError::bad_request(
            "token is required for TokenReview in authentication",
        ));
    }
    let errs = validate(ri, &review);
    if !errs.is_empty() {
        return Err(ApiError::invalid(def.target(), "", &errs));
    }
    let status = match def.special {
        Special::TokenReview => token_review_status(st, &review),
        Special::SelfSubjectReview => json!({"userInfo": admin_user_info()}),
        Special::RulesReview => rules_status(),
        _ => {
            json!({"allowed": true, "reason": "no authorizer configured: every authenticated request is allowed"})
        }
    };
    review["status"] = status;
    if review.get("metadata").is_none_or(Value::is_null) {
        review["metadata"] = json!({});
    }
    Ok(respond(StatusCode::CREATED, &review, Format::Json))
}

fn admin_user_info() -> Value {
    json!({"username": ADMIN_USER, "groups": ADMIN_GROUPS})
}

/// What every caller may do while no authorizer is configured.
fn rules_status() -> Value {
    json!({
        "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
        "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
        "incomplete": false,
    })
}

fn token_of(review: &Value) -> &str {
    review
        .pointer("/spec/token")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn token_review_status(st: &ApiState, review: &Value) -> Value {
    let token = token_of(review);
    let audiences = review.pointer("/spec/audiences").cloned();
    if st.agent_token.as_deref() == Some(token) {
        let mut status = json!({"authenticated": true, "user": admin_user_info()});
        if let Some(a) = audiences {
            status["audiences"] = a;
        }
        return status;
    }
    match st.token_signer.as_ref().map(|s| s.verify(token)) {
        Some(Ok(claims)) => json!({
            "authenticated": true,
            "user": claims.user_info(),
            "audiences": claims.aud,
        }),
        Some(Err(e)) => json!({"authenticated": false, "error": e.to_string()}),
        None => json!({"authenticated": false, "error": "token not recognised"}),
    }
}

/// kube-apiserver's checks of the review specs
/// (`pkg/apis/authorization/validation`, `pkg/apis/authentication/validation`).
fn validate(ri: &RequestInfo, review: &Value) -> Vec<FieldError> {
    let spec = review.get("spec").filter(|s| s.is_object());
    match ri.def.special {
        Special::AccessReview => validate_access(ri, spec.unwrap_or(&Value::Null)),
        _ => Vec::new(),
    }
}

fn validate_access(ri: &RequestInfo, spec: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let resource = spec.get("resourceAttributes").filter(|v| !v.is_null());
    let non_resource = spec.get("nonResourceAttributes").filter(|v| !v.is_null());
    match (resource, non_resource) {
        (Some(_), Some(n)) => errs.push(FieldError::invalid(
            "spec.nonResourceAttributes",
            n.clone(),
            "cannot be specified in combination with resourceAttributes",
        )),
        (None, None) => errs.push(FieldError::invalid(
            "spec.resourceAttributes",
            Value::Null,
            "exactly one of nonResourceAttributes or resourceAttributes must be specified",
        )),
        _ => {}
    }
    match ri.def.kind {
        "SubjectAccessReview" | "LocalSubjectAccessReview" => {
            let user = spec.get("user").and_then(Value::as_str).unwrap_or_default();
            let groups = spec
                .get("groups")
                .and_then(Value::as_array)
                .is_some_and(|g| !g.is_empty());
            if user.is_empty() && !groups {
                errs.push(FieldError::invalid(
                    "spec.user",
                    user,
                    "at least one of user or group must be specified",
                ));
            }
        }
        _ => {}
    }
    if ri.def.kind == "LocalSubjectAccessReview" {
        let ns = resource
            .and_then(|r| r.get("namespace"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        let want = ri.namespace.as_deref().unwrap_or_default();
        if ns != want {
            errs.push(FieldError::invalid(
                "spec.resourceAttributes.namespace",
                ns,
                "must match metadata.namespace",
            ));
        }
    }
    errs
}
