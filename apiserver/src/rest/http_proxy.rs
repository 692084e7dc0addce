//! `pods/proxy` and `services/proxy`: plain HTTP through the API server to a
//! pod, or to a ready endpoint of a Service, as kube-apiserver proxies them
//! (`kubectl proxy` users reach Services at
//! `/api/v1/namespaces/NS/services/[https:]NAME[:PORT]/proxy/PATH`).
//! Requests and replies stream through; the caller's credentials stay here.

use super::request::RequestInfo;
use super::status::{ApiError, ApiResult};
use super::ApiState;
use crate::registry::catalog;
use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use http::header::{self, HeaderName};
use http::StatusCode;
use serde_json::Value;

/// Request headers that belong to this hop only.
const HOP_BY_HOP: &[HeaderName] = &[
    header::AUTHORIZATION,
    header::HOST,
    header::CONNECTION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::PROXY_AUTHORIZATION,
];

/// `[scheme:]name[:port]` from the path segment, as kube-apiserver splits it.
#[derive(Debug, PartialEq, Eq)]
pub struct ProxyTarget<'a> {
    pub scheme: &'a str,
    pub name: &'a str,
    pub port: &'a str,
}

pub fn split_target(segment: &str) -> ProxyTarget<'_> {
    let parts: Vec<&str> = segment.splitn(3, ':').collect();
    let (scheme, name, port) = match parts.as_slice() {
        [name] => ("", *name, ""),
        [name, port] => ("", *name, *port),
        [scheme, name, port] => (*scheme, *name, *port),
        _ => ("", segment, ""),
    };
    ProxyTarget { scheme, name, port }
}

pub async fn proxy(st: &ApiState, ri: &RequestInfo, req: Request) -> ApiResult<Response> {
    let target = split_target(ri.name());
    if !matches!(target.scheme, "" | "http") {
        return Err(ApiError::bad_request(format!(
            "proxying over {} is not supported",
            target.scheme
        )));
    }
    let ns = ri.namespace.as_deref();
    let authority = match ri.def.plural {
        "pods" => pod_authority(st, ri, ns, &target).await?,
        "services" => service_authority(st, ns, &target).await?,
        _ => return Err(ApiError::not_found_path()),
    };
    let rest = path_after_proxy(req.uri().path(), ri.name());
    let uri = match req.uri().query() {
        Some(q) => format!("http://{authority}{rest}?{q}"),
        None => format!("http://{authority}{rest}"),
    };
    forward(req, &uri).await
}

/// What follows `NAME/proxy` in the request path (at least `/`).
fn path_after_proxy<'a>(path: &'a str, name_segment: &str) -> &'a str {
    let marker = format!("/{name_segment}/proxy");
    match path.find(&marker).map(|i| &path[i + marker.len()..]) {
        Some(rest) if rest.starts_with('/') => rest,
        _ => "/",
    }
}

async fn pod_authority(
    st: &ApiState,
    ri: &RequestInfo,
    ns: Option<&str>,
    t: &ProxyTarget<'_>,
) -> ApiResult<String> {
    let pod = st.store.get(ri.def, ns, t.name).await?;
    let ip = pod
        .pointer("/status/podIP")
        .and_then(Value::as_str)
        .filter(|ip| !ip.is_empty())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                format!("pod {} does not have an IP address", t.name),
            )
        })?;
    let port = if t.port.is_empty() { "80" } else { t.port };
    Ok(host_port(ip, port))
}

/// A ready address of the Service's endpoints, on the target port behind
/// the Service port the request names (by name or number).
async fn service_authority(
    st: &ApiState,
    ns: Option<&str>,
    t: &ProxyTarget<'_>,
) -> ApiResult<String> {
    let def = |plural| {
        catalog()
            .lookup("", "v1", plural)
            .ok_or_else(|| ApiError::internal(format!("{plural} not served")))
    };
    let svc = st.store.get(def("services")?, ns, t.name).await?;
    let ports = svc
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let svc_port = ports
        .iter()
        .find(|p| {
            let name = p.get("name").and_then(Value::as_str).unwrap_or_default();
            let number = p.get("port").and_then(Value::as_u64).map(|n| n.to_string());
            name == t.port || (!t.port.is_empty() && number.as_deref() == Some(t.port))
        })
        .ok_or_else(|| no_endpoints(t.name))?;
    let port_name = svc_port
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let eps = st
        .store
        .get(def("endpoints")?, ns, t.name)
        .await
        .map_err(|_| no_endpoints(t.name))?;
    let candidates: Vec<(String, u64)> =
        eps.get("subsets")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|subset| {
                let port = subset.get("ports")?.as_array()?.iter().find(|p| {
                    p.get("name").and_then(Value::as_str).unwrap_or_default() == port_name
                })?;
                let port = port.get("port")?.as_u64()?;
                let ips: Vec<(String, u64)> = subset
                    .get("addresses")?
                    .as_array()?
                    .iter()
                    .filter_map(|a| a.get("ip")?.as_str().map(|ip| (ip.to_string(), port)))
                    .collect();
                Some(ips)
            })
            .flatten()
            .collect();
    if candidates.is_empty() {
        return Err(no_endpoints(t.name));
    }
    let (ip, port) = &candidates[rand::random_range(0..candidates.len())];
    Ok(host_port(ip, &port.to_string()))
}

fn no_endpoints(service: &str) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "ServiceUnavailable",
        format!("no endpoints available for service \"{service}\""),
    )
}

fn host_port(ip: &str, port: &str) -> String {
    if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}

async fn forward(req: Request, uri: &str) -> ApiResult<Response> {
    let (parts, body) = req.into_parts();
    let mut b = http::Request::builder().method(parts.method).uri(uri);
    for (name, value) in &parts.headers {
        if !HOP_BY_HOP.contains(name) {
            b = b.header(name, value);
        }
    }
    let upstream = b.body(body).map_err(ApiError::internal)?;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Body>();
    let resp = client.request(upstream).await.map_err(|e| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            format!("error trying to reach service: {e}"),
        )
    })?;
    let (parts, body) = resp.into_parts();
    Ok(Response::from_parts(parts, Body::new(body)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_scheme_name_and_port() {
        let t = |scheme, name, port| ProxyTarget { scheme, name, port };
        assert_eq!(split_target("web"), t("", "web", ""));
        assert_eq!(split_target("web:http"), t("", "web", "http"));
        assert_eq!(split_target("web:8080"), t("", "web", "8080"));
        assert_eq!(split_target("https:web:443"), t("https", "web", "443"));
    }

    #[test]
    fn keeps_the_path_after_proxy() {
        assert_eq!(
            path_after_proxy(
                "/api/v1/namespaces/proxy/services/web:80/proxy/a/b",
                "web:80"
            ),
            "/a/b"
        );
        assert_eq!(
            path_after_proxy("/api/v1/namespaces/d/services/proxy/proxy/x", "proxy"),
            "/x"
        );
        assert_eq!(
            path_after_proxy("/api/v1/namespaces/d/pods/p/proxy", "p"),
            "/"
        );
        assert_eq!(
            path_after_proxy("/api/v1/namespaces/d/pods/p/proxy/", "p"),
            "/"
        );
    }
}
