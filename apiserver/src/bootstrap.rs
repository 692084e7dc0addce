//! Objects every cluster starts with: the system namespaces (and later the
//! `kubernetes` Service), created through the same write path as any client's.

use crate::registry::catalog;
use crate::rest::request::Query;
use crate::rest::write::create_object;
use crate::rest::ApiState;
use serde_json::json;

pub const SYSTEM_NAMESPACES: &[&str] =
    &["default", "kube-system", "kube-public", "kube-node-lease"];

pub async fn ensure_system_objects(st: &ApiState) -> anyhow::Result<()> {
    let ns_def = catalog()
        .lookup("", "v1", "namespaces")
        .ok_or_else(|| anyhow::anyhow!("namespaces not served"))?;
    for ns in SYSTEM_NAMESPACES {
        if st
            .store
            .try_get(ns_def, None, ns)
            .await
            .map_err(|e| anyhow::anyhow!(e.message))?
            .is_some()
        {
            continue;
        }
        let obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
        match create_object(st, ns_def, None, obj, &Query::default()).await {
            Ok(_) => {}
            Err(e) if e.reason == "AlreadyExists" => {}
            Err(e) => anyhow::bail!("creating namespace {ns}: {}", e.message),
        }
    }
    Ok(())
}
