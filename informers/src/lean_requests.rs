//! Requests for caches: every list and watch a cache-backed component sends
//! asks the server to leave `metadata.managedFields` out (mkube's
//! `omitManagedFields=true`). The caches drop managedFields anyway (see
//! [`crate::factory`]), and decoding them only to drop them was the largest
//! part of the in-process components' start-up lists. kube-apiserver ignores
//! the parameter, so a component with this layer works against it too.
//!
//! Only GETs are touched: a write answers with the whole object, as the API
//! defines.

use http::{Method, Request, Uri};
use tower::util::MapRequestLayer;

/// The query parameter; the API server's name for it is
/// `apiserver::rest::raw_json::OMIT_MANAGED_FIELDS`.
pub const OMIT_MANAGED_FIELDS: &str = "omitManagedFields";

/// The layer for a component's client, over a tower service (in process)
/// or through `kube::client::ClientBuilder::with_layer` (over HTTPS).
pub fn layer<B>() -> MapRequestLayer<fn(Request<B>) -> Request<B>> {
    MapRequestLayer::new(omit_managed_fields::<B>)
}

/// `req` with `omitManagedFields=true` added to its query if it is a GET.
pub fn omit_managed_fields<B>(mut req: Request<B>) -> Request<B> {
    if req.method() != Method::GET {
        return req;
    }
    if let Some(uri) = with_param(req.uri()) {
        *req.uri_mut() = uri;
    }
    req
}

fn with_param(uri: &Uri) -> Option<Uri> {
    let path_and_query = match uri.query() {
        Some(q) if q.split('&').any(|p| p.starts_with(OMIT_MANAGED_FIELDS)) => return None,
        Some(q) if !q.is_empty() => format!("{}?{q}&{OMIT_MANAGED_FIELDS}=true", uri.path()),
        _ => format!("{}?{OMIT_MANAGED_FIELDS}=true", uri.path()),
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(path_and_query.parse().ok()?);
    Uri::from_parts(parts).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(uri: &str) -> String {
        let req = Request::get(uri).body(()).unwrap();
        omit_managed_fields(req).uri().to_string()
    }

    #[test]
    fn gets_ask_for_objects_without_managed_fields() {
        assert_eq!(
            get("/api/v1/services?watch=true&resourceVersion=5"),
            "/api/v1/services?watch=true&resourceVersion=5&omitManagedFields=true"
        );
        assert_eq!(
            get("https://127.0.0.1:6443/api/v1/pods"),
            "https://127.0.0.1:6443/api/v1/pods?omitManagedFields=true"
        );
        assert_eq!(get("/api/v1/pods?"), "/api/v1/pods?omitManagedFields=true");
        // Already asked: unchanged.
        assert_eq!(
            get("/api/v1/pods?omitManagedFields=false"),
            "/api/v1/pods?omitManagedFields=false"
        );
    }

    #[test]
    fn writes_are_untouched() {
        let req = Request::post("/api/v1/namespaces/default/services")
            .body(())
            .unwrap();
        assert_eq!(
            omit_managed_fields(req).uri(),
            "/api/v1/namespaces/default/services"
        );
    }
}
