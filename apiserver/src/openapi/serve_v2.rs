//! Serving `/openapi/v2` as kube-apiserver's OpenAPI handler (kube-openapi
//! `pkg/handler`) does: the representation by `Accept`, one `ETag` for both
//! (computed from the JSON), conditional requests answered with 304.
//!
//! - `application/json` (also `*/*`, `application/*`, no `Accept`): JSON.
//! - `application/com.github.proto-openapi.spec.v2.v1.0+protobuf`, and the
//!   older spelling with `@v1.0` that client-go still sends: gnostic's
//!   `openapi.v2.Document` ([`super::gnostic_v2`]), with the newer spelling
//!   as `Content-Type` either way.
//! - anything else: 406 Not Acceptable.
//!
//! Clauses are tried by decreasing `q`, the more specific first at equal `q`
//! (a clause with `q=0` is refused, as RFC 9110 says); within a clause JSON
//! wins over protobuf, so `*/*` gets JSON.

use super::OpenApi;
use axum::response::{IntoResponse, Response};
use http::{header, HeaderMap, HeaderValue, StatusCode};

/// The media type kube-apiserver names its protobuf answer with.
pub const PROTOBUF: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";
/// The spelling client-go's discovery client asks for (`openAPIV2mimePb`).
pub const PROTOBUF_DEPRECATED: &str = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";

/// The representations of the v2 document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Protobuf,
}

/// Offered media types, in the order a wildcard clause picks them.
const OFFERED: &[(&str, &str, Format)] = &[
    ("application", "json", Format::Json),
    (
        "application",
        "com.github.proto-openapi.spec.v2@v1.0+protobuf",
        Format::Protobuf,
    ),
    (
        "application",
        "com.github.proto-openapi.spec.v2.v1.0+protobuf",
        Format::Protobuf,
    ),
];

/// One clause of an `Accept` header.
struct Clause {
    kind: String,
    subtype: String,
    q: f32,
}

fn parse_accept(accept: &str) -> Vec<Clause> {
    let mut clauses: Vec<Clause> = accept
        .split(',')
        .filter_map(|part| {
            let mut params = part.split(';');
            let range = params.next()?.trim().to_ascii_lowercase();
            if range.is_empty() {
                return None;
            }
            let (kind, subtype) = range.split_once('/').unwrap_or((range.as_str(), "*"));
            let q = params
                .filter_map(|p| p.split_once('='))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
                .map(|(_, v)| v.trim().parse::<f32>().unwrap_or(0.0))
                .unwrap_or(1.0);
            Some(Clause {
                kind: kind.trim().to_string(),
                subtype: subtype.trim().to_string(),
                q,
            })
        })
        .collect();
    // Stable: at equal q and specificity, the header's order stands.
    clauses.sort_by(|a, b| {
        b.q.total_cmp(&a.q)
            .then((a.kind == "*").cmp(&(b.kind == "*")))
            .then((a.subtype == "*").cmp(&(b.subtype == "*")))
    });
    clauses
}

/// The representation to answer `Accept` with; `None`: nothing offered is
/// acceptable (406).
pub fn negotiate(accept: Option<&str>) -> Option<Format> {
    let accept = accept
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .unwrap_or("*/*");
    parse_accept(accept)
        .iter()
        .filter(|c| c.q > 0.0)
        .find_map(|c| {
            OFFERED.iter().find_map(|(kind, subtype, format)| {
                let kind_ok = c.kind == "*" || c.kind == *kind;
                let subtype_ok = c.subtype == "*" || c.subtype == *subtype;
                (kind_ok && subtype_ok).then_some(*format)
            })
        })
}

/// Whether the request's validators say its cached copy is current: an
/// `If-None-Match` naming `etag` (or `*`), else an `If-Modified-Since` not
/// before `last_modified` (HTTP dates have whole seconds).
fn not_modified(
    headers: &HeaderMap,
    etag: &str,
    last_modified: chrono::DateTime<chrono::Utc>,
) -> bool {
    if let Some(inm) = headers.get(header::IF_NONE_MATCH) {
        let Ok(inm) = inm.to_str() else {
            return false;
        };
        return inm
            .split(',')
            .map(str::trim)
            .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag);
    }
    headers
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| chrono::DateTime::parse_from_rfc2822(v).ok())
        .is_some_and(|since| last_modified.timestamp() <= since.timestamp())
}

/// The response to `GET /openapi/v2` with these request headers.
pub fn respond(api: &OpenApi, headers: &HeaderMap) -> Response {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let vary = (header::VARY, HeaderValue::from_static("Accept"));
    let Some(format) = negotiate(accept) else {
        return (StatusCode::NOT_ACCEPTABLE, [vary]).into_response();
    };
    let (content_type, body) = match format {
        Format::Json => ("application/json", api.v2().clone()),
        Format::Protobuf => match api.v2_protobuf() {
            Some(bytes) => (PROTOBUF, bytes.clone()),
            None => return (StatusCode::SERVICE_UNAVAILABLE, [vary]).into_response(),
        },
    };
    let etag = format!("\"{}\"", api.v2_hash());
    let last_modified = api.built_at();
    let last_modified_text = last_modified
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    let mut out_headers = HeaderMap::new();
    out_headers.insert(vary.0, vary.1);
    for (name, value) in [
        (header::ETAG, &etag),
        (header::LAST_MODIFIED, &last_modified_text),
    ] {
        // Both are ASCII we wrote; a failure would only drop the header.
        if let Ok(v) = HeaderValue::from_str(value) {
            out_headers.insert(name, v);
        }
    }
    if not_modified(headers, &etag, last_modified) {
        return (StatusCode::NOT_MODIFIED, out_headers).into_response();
    }
    out_headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    (out_headers, body).into_response()
}

#[cfg(test)]
mod tests {
    use super::{negotiate, Format, PROTOBUF, PROTOBUF_DEPRECATED};

    #[test]
    fn accept_picks_the_representation() {
        assert_eq!(negotiate(None), Some(Format::Json));
        assert_eq!(negotiate(Some("")), Some(Format::Json));
        assert_eq!(negotiate(Some("*/*")), Some(Format::Json));
        assert_eq!(negotiate(Some("application/*")), Some(Format::Json));
        assert_eq!(negotiate(Some("application/json")), Some(Format::Json));
        assert_eq!(negotiate(Some(PROTOBUF)), Some(Format::Protobuf));
        assert_eq!(negotiate(Some(PROTOBUF_DEPRECATED)), Some(Format::Protobuf));
        assert_eq!(
            negotiate(Some(&format!("application/json;q=0.5, {PROTOBUF}"))),
            Some(Format::Protobuf)
        );
        assert_eq!(
            negotiate(Some(&format!("{PROTOBUF};q=0.9, application/json"))),
            Some(Format::Json)
        );
        // A specific clause before a wildcard of the same q.
        assert_eq!(
            negotiate(Some(&format!("*/*, {PROTOBUF}"))),
            Some(Format::Protobuf)
        );
        assert_eq!(negotiate(Some("text/html")), None);
        assert_eq!(negotiate(Some("application/json;q=0")), None);
        assert_eq!(negotiate(Some("text/html, */*;q=0.1")), Some(Format::Json));
    }
}
