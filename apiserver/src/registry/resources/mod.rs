//! Resource-specific strategies (defaults, validation, field selectors).

pub mod api_service;
pub mod certificate_signing_request;
pub mod config_map;
pub mod controller_revision;
pub mod cronjob;
pub mod csi_driver;
pub mod csi_node;
pub mod csi_storage_capacity;
pub mod custom_resource_definition;
pub mod daemonset;
pub mod deployment;
pub mod endpoint_slice;
pub mod endpoints;
pub mod event;
pub mod flow_schema;
pub mod hpa;
pub mod hpa_versions;
pub mod ingress;
pub mod ingress_class;
pub mod ip_address;
pub mod job;
pub mod limit_range;
pub mod namespace;
pub mod network_policy;
pub mod node;
pub mod pdb;
pub mod persistent_volume;
pub mod persistent_volume_claim;
pub mod pod;
pub mod pod_template;
pub mod priority_class;
pub mod priority_level;
pub mod rbac_binding;
pub mod rbac_role;
pub mod replicaset;
pub mod replication_controller;
pub mod resource_claims;
pub mod resource_quota;
pub mod runtime_class;
pub mod secret;
pub mod service;
pub mod statefulset;
pub mod storage_class;
pub mod validating_admission_policy;
pub mod volume_attachment;
pub mod webhook_configuration;
pub mod workload;

use serde_json::Value;

/// Sets `obj[key]` to `value` when it is absent or null.
pub(crate) fn default_field(obj: &mut Value, key: &str, value: Value) {
    let Some(map) = obj.as_object_mut() else {
        return;
    };
    match map.get(key) {
        Some(v) if !v.is_null() => {}
        _ => {
            map.insert(key.to_string(), value);
        }
    }
}

/// `obj[key]` as a mutable object, created when absent. None if it is a non-object.
pub(crate) fn object_field<'a>(obj: &'a mut Value, key: &str) -> Option<&'a mut Value> {
    let map = obj.as_object_mut()?;
    let entry = map
        .entry(key.to_string())
        .or_insert_with(|| Value::Object(Default::default()));
    if entry.is_null() {
        *entry = Value::Object(Default::default());
    }
    entry.is_object().then_some(entry)
}
