//! Resource names in resource lists (`validateResourceName`,
//! `ValidateResourceQuotaResourceName`, `IsIntegerResourceName` in core
//! validation and its helpers).

use super::field_error::FieldError;
use super::names::is_qualified_name;

/// `IsStandardQuotaResourceName` (without the hugepages forms).
const QUOTA: [&str; 19] = [
    "pods",
    "services",
    "replicationcontrollers",
    "resourcequotas",
    "secrets",
    "configmaps",
    "persistentvolumeclaims",
    "services.nodeports",
    "services.loadbalancers",
    "cpu",
    "memory",
    "ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.storage",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
];

/// Counted objects, whose quantities must be whole numbers.
const INTEGER: [&str; 9] = [
    "pods",
    "services",
    "replicationcontrollers",
    "resourcequotas",
    "secrets",
    "configmaps",
    "persistentvolumeclaims",
    "services.nodeports",
    "services.loadbalancers",
];

fn hugepages(name: &str) -> bool {
    name.starts_with("hugepages-")
        || name.starts_with("requests.hugepages-")
        || name.starts_with("limits.hugepages-")
}

/// `IsStandardResourceName`.
pub fn is_standard(name: &str) -> bool {
    QUOTA.contains(&name) || name == "storage" || hugepages(name)
}

/// `IsStandardQuotaResourceName`.
pub fn is_standard_quota(name: &str) -> bool {
    QUOTA.contains(&name) || hugepages(name)
}

/// `IsIntegerResourceName`.
pub fn is_integer(name: &str) -> bool {
    INTEGER.contains(&name) || name.starts_with("count/")
}

/// `validateResourceName`: a qualified name, standard unless prefixed.
pub fn validate_resource_name(name: &str, path: &str) -> Vec<FieldError> {
    let errs: Vec<FieldError> = is_qualified_name(name)
        .into_iter()
        .map(|m| FieldError::invalid(path, name, m))
        .collect();
    if !errs.is_empty() {
        return errs;
    }
    if !name.contains('/') && !is_standard(name) {
        return vec![FieldError::invalid(
            path,
            name,
            "must be a standard resource type or fully qualified",
        )];
    }
    Vec::new()
}

/// `ValidateResourceQuotaResourceName`.
pub fn validate_quota_resource_name(name: &str, path: &str) -> Vec<FieldError> {
    let mut errs = validate_resource_name(name, path);
    if !name.contains('/') && !is_standard_quota(name) {
        errs.push(FieldError::invalid(
            path,
            name,
            "must be a standard resource for quota",
        ));
    }
    errs
}
