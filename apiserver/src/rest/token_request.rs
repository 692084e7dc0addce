//! `serviceaccounts/token`: issues a bound service-account token
//! (authentication.k8s.io/v1 TokenRequest), what `kubectl create token`
//! and the kubelet's projected volumes ask for.

use super::codec::{decode_body, respond, Format};
use super::request::RequestInfo;
use super::status::{ApiError, ApiResult};
use super::ApiState;
use crate::registry::catalog;
use crate::service_account_token::{Claims, KubernetesClaims, ObjectRef, ISSUER};
use crate::validation::field_error::FieldError;
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use serde_json::{json, Value};

/// TokenRequestSpec.expirationSeconds defaults to an hour.
const DEFAULT_EXPIRATION: i64 = 3600;
/// kube-apiserver refuses tokens shorter than ten minutes.
const MIN_EXPIRATION: i64 = 600;
const MAX_EXPIRATION: i64 = 1 << 32;

pub async fn create(
    st: &ApiState,
    ri: &RequestInfo,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult<Response> {
    let mut request = decode_body(headers, body, "TokenRequest", "authentication.k8s.io/v1")?;
    let ns = ri.namespace.as_deref().unwrap_or_default();
    let sa = st.store.get(ri.def, Some(ns), ri.name()).await?;
    default_spec(&mut request);
    let errs = validate(&request);
    if !errs.is_empty() {
        return Err(ApiError::invalid_fields("TokenRequest", ri.name(), errs));
    }
    let spec = &request["spec"];
    let mut k8s = KubernetesClaims {
        namespace: ns.to_string(),
        serviceaccount: object_ref(&sa),
        pod: None,
        secret: None,
        node: None,
    };
    bind_object(st, ns, spec.get("boundObjectRef"), &mut k8s).await?;
    let now = chrono::Utc::now();
    let expiration = spec["expirationSeconds"]
        .as_i64()
        .unwrap_or(DEFAULT_EXPIRATION);
    let claims = Claims {
        aud: spec["audiences"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default(),
        exp: now.timestamp() + expiration,
        iat: now.timestamp(),
        nbf: now.timestamp(),
        iss: ISSUER.to_string(),
        jti: uuid::Uuid::new_v4().to_string(),
        sub: format!("system:serviceaccount:{ns}:{}", ri.name()),
        kubernetes: k8s,
    };
    let signer = st
        .token_signer
        .as_ref()
        .ok_or_else(|| ApiError::internal("no service-account signing key is configured"))?;
    let token = signer.sign(&claims).map_err(ApiError::internal)?;
    let expires = now + chrono::Duration::seconds(expiration);
    request["metadata"] = json!({"name": ri.name(), "namespace": ns, "creationTimestamp": null});
    request["status"] = json!({
        "token": token,
        "expirationTimestamp": expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    });
    Ok(respond(StatusCode::CREATED, &request, Format::Json))
}

fn object_ref(obj: &Value) -> ObjectRef {
    let field = |k: &str| {
        obj.pointer(&format!("/metadata/{k}"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    ObjectRef {
        name: field("name"),
        uid: field("uid"),
    }
}

/// Audiences default to the API server's own; the expiry to an hour.
fn default_spec(request: &mut Value) {
    if !request.get("spec").is_some_and(Value::is_object) {
        request["spec"] = json!({});
    }
    let spec = &mut request["spec"];
    if spec
        .get("audiences")
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty)
    {
        spec["audiences"] = json!([ISSUER]);
    }
    if spec.get("expirationSeconds").is_none_or(Value::is_null) {
        spec["expirationSeconds"] = json!(DEFAULT_EXPIRATION);
    }
    if spec.get("boundObjectRef").is_none() {
        spec["boundObjectRef"] = Value::Null;
    }
}

/// `ValidateTokenRequest` in `pkg/apis/authentication/validation`.
fn validate(request: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let expiration = &request["spec"]["expirationSeconds"];
    match expiration.as_i64() {
        Some(s) if s < MIN_EXPIRATION => errs.push(FieldError::invalid(
            "spec.expirationSeconds",
            s,
            "may not specify a duration less than 10 minutes",
        )),
        Some(s) if s > MAX_EXPIRATION => errs.push(FieldError::invalid(
            "spec.expirationSeconds",
            s,
            "may not specify a duration larger than 2^32 seconds",
        )),
        Some(_) => {}
        None => errs.push(FieldError::invalid(
            "spec.expirationSeconds",
            expiration.clone(),
            "must be an integer",
        )),
    }
    errs
}

/// Binds the token to a Pod, Secret or Node, which must exist (and match
/// the uid given, if any).
async fn bind_object(
    st: &ApiState,
    ns: &str,
    bound: Option<&Value>,
    claims: &mut KubernetesClaims,
) -> ApiResult<()> {
    let Some(bound) = bound.filter(|b| b.is_object()) else {
        return Ok(());
    };
    let kind = bound
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let name = bound
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let (plural, namespace) = match kind {
        "Pod" => ("pods", Some(ns)),
        "Secret" => ("secrets", Some(ns)),
        "Node" => ("nodes", None),
        other => {
            return Err(ApiError::bad_request(format!(
                "cannot bind token to object of type {other}"
            )))
        }
    };
    let def = catalog()
        .lookup("", "v1", plural)
        .ok_or_else(|| ApiError::internal(format!("{plural} not served")))?;
    let obj = st.store.get(def, namespace, name).await?;
    let found = object_ref(&obj);
    if let Some(uid) = bound
        .get("uid")
        .and_then(Value::as_str)
        .filter(|u| !u.is_empty())
    {
        if uid != found.uid {
            return Err(ApiError::conflict_msg(
                def.target(),
                name,
                &format!("the UID in the bound object reference ({uid}) does not match the UID in record. The object might have been deleted and then recreated"),
            ));
        }
    }
    match kind {
        "Pod" => claims.pod = Some(found),
        "Secret" => claims.secret = Some(found),
        _ => claims.node = Some(found),
    }
    Ok(())
}
