//! The built-in admission kube-apiserver enables by default that needs no
//! webhook, run on create as kube-apiserver's chain runs them:
//!
//! - mutating, after defaulting and before validation: DefaultIngressClass,
//!   Priority, LimitRanger's defaults;
//! - validating, after the object's own validation and before storage:
//!   LimitRanger's min/max checks, then ResourceQuota (last, because it
//!   charges the namespace's quotas for what it admits).

mod ingress_class;
mod limit_ranger;
mod priority;
mod resource_quota;

pub use ingress_class::DEFAULT_INGRESS_CLASS;

use super::status::{ApiError, ApiResult, Target};
use super::ApiState;
use crate::registry::{catalog, ResourceDef};
use serde_json::Value;

/// Mutating admission of a create.
pub async fn admit_create(st: &ApiState, def: &ResourceDef, obj: &mut Value) -> ApiResult<()> {
    match (def.group, def.kind) {
        ("networking.k8s.io", "Ingress") => ingress_class::default_ingress_class(st, obj).await,
        ("", "Pod") => {
            priority::pod_priority(st, obj).await?;
            limit_ranger::default_pod(st, obj).await
        }
        _ => Ok(()),
    }
}

/// Validating admission of a create; `dry_run` evaluates without charging
/// any quota.
pub async fn validate_create(
    st: &ApiState,
    def: &ResourceDef,
    obj: &Value,
    dry_run: bool,
) -> ApiResult<()> {
    limit_ranger::validate(st, def, obj).await?;
    resource_quota::charge(st, def, obj, dry_run).await
}

/// Validating admission of an update: LimitRanger holds claims to their
/// bounds on update too (pods' resources change only through `resize`).
pub async fn validate_update(st: &ApiState, def: &ResourceDef, obj: &Value) -> ApiResult<()> {
    if def.kind == "Pod" {
        return Ok(());
    }
    limit_ranger::validate(st, def, obj).await
}

/// Every object of a core/v1-or-grouped kind, in one namespace or all.
async fn list(st: &ApiState, group: &str, plural: &str) -> ApiResult<Vec<Value>> {
    list_in(st, group, plural, None).await
}

async fn list_in(
    st: &ApiState,
    group: &str,
    plural: &str,
    ns: Option<&str>,
) -> ApiResult<Vec<Value>> {
    let def = catalog()
        .lookup(group, "v1", plural)
        .ok_or_else(|| ApiError::internal(format!("{plural} not served")))?;
    Ok(st.store.list(def, ns, None, 0, |_| true).await?.items)
}

fn name_of(obj: &Value) -> &str {
    obj.pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn namespace_of(obj: &Value) -> Option<&str> {
    obj.pointer("/metadata/namespace").and_then(Value::as_str)
}

/// `admission.NewForbidden`: `<resource> "<name>" is forbidden: <why>`.
fn forbidden(def: &ResourceDef, obj: &Value, why: &str) -> ApiError {
    ApiError::forbidden(def.target(), name_of(obj), why)
}

fn pod_forbidden(pod: &Value, why: &str) -> ApiError {
    let target = Target {
        group: "",
        resource: "pods",
        kind: "Pod",
    };
    ApiError::forbidden(target, name_of(pod), why)
}
