//! Request body decoding and response encoding (JSON, YAML, Table), following
//! the media types kube-apiserver negotiates.

use super::partial_metadata::PartialObjectMetadata;
use super::status::{ApiError, ApiResult};
use axum::response::{IntoResponse, Response};
use http::{header, HeaderMap, StatusCode};
use serde_json::Value;

/// How the client wants objects rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Yaml,
    /// meta.k8s.io/v1 Table (`as=Table`), with the object included as given.
    Table(IncludeObject),
    /// meta.k8s.io/v1 PartialObjectMetadata(List): objects as their
    /// metadata only, for reads (writes answer with the whole object).
    Metadata,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncludeObject {
    None,
    Metadata,
    Object,
}

/// Picks the response format from the Accept header (first acceptable entry wins).
pub fn negotiate(headers: &HeaderMap, include: Option<&str>) -> ApiResult<Format> {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if accept.trim().is_empty() {
        return Ok(Format::Json);
    }
    for entry in accept.split(',') {
        let mut parts = entry.split(';').map(str::trim);
        let media = parts.next().unwrap_or_default();
        let params: Vec<(&str, &str)> = parts.filter_map(|p| p.split_once('=')).collect();
        let param = |k: &str| params.iter().find(|(pk, _)| *pk == k).map(|(_, v)| *v);
        match (media, param("as")) {
            ("application/json", Some("Table")) | ("application/yaml", Some("Table"))
                if matches!(param("v"), Some("v1") | Some("v1beta1"))
                    && param("g") == Some("meta.k8s.io") =>
            {
                let inc = match include {
                    Some("None") => IncludeObject::None,
                    Some("Object") => IncludeObject::Object,
                    _ => IncludeObject::Metadata,
                };
                return Ok(Format::Table(inc));
            }
            ("application/json", Some("PartialObjectMetadata" | "PartialObjectMetadataList"))
                if matches!(param("v"), Some("v1") | Some("v1beta1"))
                    && param("g") == Some("meta.k8s.io") =>
            {
                return Ok(Format::Metadata)
            }
            ("application/json", None) | ("*/*", None) | ("application/*", None) => {
                return Ok(Format::Json)
            }
            ("application/yaml", None) => return Ok(Format::Yaml),
            _ => {}
        }
    }
    Err(ApiError::not_acceptable())
}

/// Decodes a request body as JSON or YAML according to its Content-Type.
pub fn decode_body(
    headers: &HeaderMap,
    body: &[u8],
    expected_kind: &str,
    api_version: &str,
) -> ApiResult<Value> {
    let ct = content_type(headers);
    let cannot = |e: String| {
        ApiError::bad_request(format!(
            "{expected_kind} in version \"{}\" cannot be handled as a {expected_kind}: {e}",
            api_version.rsplit('/').next().unwrap_or(api_version)
        ))
    };
    let value: Value = match ct.as_str() {
        "application/yaml" | "application/apply-patch+yaml" => {
            serde_yaml::from_slice(body).map_err(|e| cannot(format!("yaml: {e}")))?
        }
        "application/json" | "" => {
            serde_json::from_slice(body).map_err(|e| cannot(json_error(&e)))?
        }
        "application/vnd.kubernetes.protobuf" => super::protobuf::decode(body).map_err(cannot)?,
        other => return Err(ApiError::unsupported_media_type(other)),
    };
    if !value.is_object() {
        return Err(cannot(
            "json: cannot unmarshal into Go value of type struct".into(),
        ));
    }
    Ok(value)
}

/// Go-style JSON decoder wording for the common syntax errors.
pub fn json_error(e: &serde_json::Error) -> String {
    match e.classify() {
        serde_json::error::Category::Eof => "unexpected EOF".into(),
        _ => format!(
            "invalid character in JSON at line {} column {}: {e}",
            e.line(),
            e.column()
        ),
    }
}

/// The media type of the request body without parameters.
pub fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Replies with an object a write returned: as JSON or YAML, never as a
/// Table (as kube-apiserver), as its PartialObjectMetadata when the client
/// asked for metadata (a Status reply stays a Status).
pub fn respond_object(code: StatusCode, obj: &Value, format: Format) -> Response {
    let is_status = obj.get("kind").and_then(Value::as_str) == Some("Status");
    match format {
        Format::Table(_) => respond(code, obj, Format::Json),
        Format::Metadata if !is_status => respond(code, &PartialObjectMetadata::of(obj), format),
        _ => respond(code, obj, format),
    }
}

/// Serializes `value` in the negotiated format (Table conversion happens before this).
pub fn respond<T: serde::Serialize + ?Sized>(
    code: StatusCode,
    value: &T,
    format: Format,
) -> Response {
    match format {
        Format::Yaml => match serde_yaml::to_string(value) {
            Ok(s) => (code, [(header::CONTENT_TYPE, "application/yaml")], s).into_response(),
            Err(e) => ApiError::internal(e).into_response(),
        },
        _ => match serde_json::to_vec(value) {
            Ok(b) => (code, [(header::CONTENT_TYPE, "application/json")], b).into_response(),
            Err(e) => ApiError::internal(e).into_response(),
        },
    }
}
