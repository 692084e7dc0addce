//! Parsing a request path into what it addresses (kube-apiserver's RequestInfo).

use super::status::{ApiError, ApiResult};
use crate::registry::{catalog, ResourceDef};
use std::collections::HashMap;

#[derive(Debug, Clone)]
pub struct RequestInfo {
    pub def: &'static ResourceDef,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub subresource: Option<String>,
}

impl RequestInfo {
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or_default()
    }
}

/// Parses `/api/v1/...` and `/apis/{group}/{version}/...` resource paths.
pub fn parse_path(path: &str) -> ApiResult<RequestInfo> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match segs.as_slice() {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return Err(ApiError::not_found_path()),
    };
    let cat = catalog();
    let lookup = |plural: &str| {
        cat.lookup(group, version, plural)
            .ok_or_else(ApiError::not_found_path)
    };
    let owned = |s: &str| Some(s.to_string());
    let info = match rest {
        // /namespaces/{ns}/{resource}[/{name}[/{sub}]] — unless {resource} is a
        // subresource of the namespace itself (status, finalize).
        ["namespaces", ns, resource, tail @ ..]
            if group.is_empty() && *resource != "status" && *resource != "finalize"
                || !group.is_empty() =>
        {
            let def = lookup(resource)?;
            if !def.namespaced {
                return Err(ApiError::not_found_path());
            }
            match tail {
                [] => RequestInfo {
                    def,
                    namespace: owned(ns),
                    name: None,
                    subresource: None,
                },
                [name] => RequestInfo {
                    def,
                    namespace: owned(ns),
                    name: owned(name),
                    subresource: None,
                },
                [name, sub] => RequestInfo {
                    def,
                    namespace: owned(ns),
                    name: owned(name),
                    subresource: owned(sub),
                },
                [name, sub, ..] if *sub == "proxy" => RequestInfo {
                    def,
                    namespace: owned(ns),
                    name: owned(name),
                    subresource: owned(sub),
                },
                _ => return Err(ApiError::not_found_path()),
            }
        }
        [resource, tail @ ..] => {
            let def = lookup(resource)?;
            match tail {
                [] => RequestInfo {
                    def,
                    namespace: None,
                    name: None,
                    subresource: None,
                },
                [name] => RequestInfo {
                    def,
                    namespace: None,
                    name: owned(name),
                    subresource: None,
                },
                [name, sub, ..] if !def.namespaced => RequestInfo {
                    def,
                    namespace: None,
                    name: owned(name),
                    subresource: owned(sub),
                },
                _ => return Err(ApiError::not_found_path()),
            }
        }
        [] => return Err(ApiError::not_found_path()),
    };
    if let Some(sub) = &info.subresource {
        if !info.def.subresources.contains(&sub.as_str()) {
            return Err(ApiError::not_found_path());
        }
    }
    Ok(info)
}

/// Query parameters, last value wins (as Go's url.Values.Get returns the first;
/// clients never repeat these).
#[derive(Debug, Clone, Default)]
pub struct Query(HashMap<String, String>);

impl Query {
    pub fn parse(raw: Option<&str>) -> Self {
        let map = raw
            .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
            .unwrap_or_default();
        Query(map)
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .get(key)
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }

    pub fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_string(), value);
    }

    pub fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("true") | Some("1"))
    }

    pub fn dry_run(&self) -> ApiResult<bool> {
        match self.get("dryRun") {
            None => Ok(false),
            Some("All") => Ok(true),
            Some(other) => Err(ApiError::bad_request(format!(
                "Invalid dryRun value: {other:?}: supported values: \"All\""
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let r = parse_path("/api/v1/namespaces/default/services/web").unwrap();
        assert_eq!(r.def.plural, "services");
        assert_eq!(r.namespace.as_deref(), Some("default"));
        assert_eq!(r.name.as_deref(), Some("web"));
        let r = parse_path("/api/v1/namespaces/default").unwrap();
        assert_eq!(r.def.plural, "namespaces");
        assert_eq!(r.name.as_deref(), Some("default"));
        let r = parse_path("/api/v1/namespaces/x/status").unwrap();
        assert_eq!(r.def.plural, "namespaces");
        assert_eq!(r.subresource.as_deref(), Some("status"));
        let r = parse_path("/apis/apps/v1/namespaces/a/deployments/d/scale").unwrap();
        assert_eq!(r.subresource.as_deref(), Some("scale"));
        assert!(parse_path("/api/v1/namespaces/a/nodes").is_err());
        assert!(parse_path("/api/v1/foos").is_err());
        let r = parse_path("/api/v1/pods").unwrap();
        assert!(r.namespace.is_none());
    }
}
