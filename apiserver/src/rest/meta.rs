//! Object metadata handling common to every resource: what the server sets on
//! create, what it keeps on update, and name validation.

use super::status::{ApiError, ApiResult};
use crate::registry::{NameRule, ResourceDef};
use crate::validation::field_error::FieldError;
use crate::validation::names;
use serde_json::{json, Map, Value};

pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

pub fn meta_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.get("metadata").is_some_and(Value::is_object) {
        obj["metadata"] = json!({});
    }
    // Just ensured it is an object.
    obj["metadata"]
        .as_object_mut()
        .expect("metadata is an object")
}

pub fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    obj.get("metadata")?.get(field)?.as_str()
}

/// Ensures apiVersion/kind match the endpoint (filling them when absent).
pub fn check_type_meta(def: &ResourceDef, obj: &mut Value) -> ApiResult<()> {
    let api_version = def.api_version();
    match obj.get("apiVersion").and_then(Value::as_str) {
        None | Some("") => obj["apiVersion"] = json!(api_version),
        Some(v) if v == api_version => {}
        Some(v) => {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({v}) does not match the expected API version ({api_version})"
            )))
        }
    }
    match obj.get("kind").and_then(Value::as_str) {
        None | Some("") => obj["kind"] = json!(def.kind),
        Some(k) if k == def.kind => {}
        Some(k) => {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({k}) does not match the expected kind ({})",
                def.kind
            )))
        }
    }
    Ok(())
}

/// Reconciles the namespace in the body with the one in the URL.
pub fn check_namespace(def: &ResourceDef, obj: &mut Value, url_ns: Option<&str>) -> ApiResult<()> {
    if !def.namespaced {
        meta_mut(obj).remove("namespace");
        return Ok(());
    }
    let url_ns = url_ns.unwrap_or("default");
    match meta_str(obj, "namespace") {
        None | Some("") => {
            meta_mut(obj).insert("namespace".into(), json!(url_ns));
            Ok(())
        }
        Some(ns) if ns == url_ns => Ok(()),
        Some(_) => Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        )),
    }
}

/// Server-set metadata for a new object: name from generateName, uid,
/// creationTimestamp, generation; client-set server fields are dropped.
pub fn prepare_create(obj: &mut Value) {
    let obj_kind = obj
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let obj_kind = obj_kind.as_str();
    let meta = meta_mut(obj);
    let has_name = meta
        .get("name")
        .and_then(Value::as_str)
        .is_some_and(|n| !n.is_empty());
    if !has_name {
        if let Some(prefix) = meta.get("generateName").and_then(Value::as_str) {
            if !prefix.is_empty() {
                let name = format!("{}{}", truncate_prefix(prefix), random_suffix());
                meta.insert("name".into(), json!(name));
            }
        }
    }
    meta.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
    meta.insert("creationTimestamp".into(), json!(now_rfc3339()));
    if tracks_generation(obj_kind) {
        meta.insert("generation".into(), json!(1));
    } else {
        meta.remove("generation");
    }
    for f in [
        "resourceVersion",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "selfLink",
    ] {
        meta.remove(f);
    }
}

/// generateName prefixes are cut so that the result stays within 63 characters.
fn truncate_prefix(prefix: &str) -> &str {
    const MAX_PREFIX: usize = 63 - 5;
    if prefix.len() > MAX_PREFIX {
        &prefix[..MAX_PREFIX]
    } else {
        prefix
    }
}

/// Five characters from the alphabet apimachinery's rand.String uses (no vowels or look-alikes).
pub fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    use rand::Rng;
    let mut rng = rand::rng();
    (0..5)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Keeps the server-owned metadata of `old` on an update.
pub fn keep_server_fields(new: &mut Value, old: &Value) {
    let old_meta = old.get("metadata").cloned().unwrap_or_else(|| json!({}));
    let meta = meta_mut(new);
    for f in [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
        "namespace",
    ] {
        match old_meta.get(f) {
            Some(v) => {
                meta.insert(f.into(), v.clone());
            }
            None => {
                meta.remove(f);
            }
        }
    }
    meta.remove("selfLink");
}

/// Kinds whose spec changes are counted in metadata.generation (the ones
/// whose controllers report observedGeneration).
pub fn tracks_generation(kind: &str) -> bool {
    matches!(
        kind,
        "Deployment"
            | "ReplicaSet"
            | "Pod"
            | "StatefulSet"
            | "DaemonSet"
            | "Job"
            | "CronJob"
            | "HorizontalPodAutoscaler"
            | "PodDisruptionBudget"
            | "ReplicationController"
    )
}

/// Bumps metadata.generation when anything but metadata and status changed.
pub fn bump_generation(new: &mut Value, old: &Value) {
    if !tracks_generation(new.get("kind").and_then(Value::as_str).unwrap_or_default()) {
        return;
    }
    let spec_changed = || {
        let strip = |v: &Value| {
            let mut m = v.as_object().cloned().unwrap_or_default();
            m.remove("metadata");
            m.remove("status");
            m
        };
        strip(new) != strip(old)
    };
    let old_gen = old
        .pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let gen = if spec_changed() { old_gen + 1 } else { old_gen };
    meta_mut(new).insert("generation".into(), json!(gen));
}

/// Validates name, generateName, namespace, labels and annotations
/// (kube-apiserver's ValidateObjectMeta).
pub fn validate_meta(def: &ResourceDef, obj: &Value) -> Vec<FieldError> {
    let empty = json!({});
    let meta = obj.get("metadata").unwrap_or(&empty);
    let rule: fn(&str) -> Vec<String> = match def.name_rule {
        NameRule::Subdomain => names::is_dns1123_subdomain,
        NameRule::Label => names::is_dns1123_label,
        NameRule::Dns1035 => names::is_dns1035_label,
        NameRule::PathSegment => path_segment_errors,
    };
    names::validate_object_meta(meta, def.namespaced, rule, "metadata")
}

pub fn name_errors(rule: NameRule, name: &str) -> Vec<String> {
    match rule {
        NameRule::Subdomain => names::is_dns1123_subdomain(name),
        NameRule::Label => names::is_dns1123_label(name),
        NameRule::Dns1035 => names::is_dns1035_label(name),
        NameRule::PathSegment => path_segment_errors(name),
    }
}

/// Names that must only be usable as a URL path segment.
fn path_segment_errors(name: &str) -> Vec<String> {
    if name == "." || name == ".." {
        return vec![format!("may not be '{name}'")];
    }
    ["/", "%"]
        .iter()
        .filter(|bad| name.contains(*bad))
        .map(|bad| format!("may not contain '{bad}'"))
        .collect()
}

#[cfg(test)]
mod generation_tests {
    use super::*;

    #[test]
    fn workload_generations_count_spec_changes_only() {
        for kind in [
            "StatefulSet",
            "DaemonSet",
            "Job",
            "CronJob",
            "HorizontalPodAutoscaler",
            "PodDisruptionBudget",
            "ReplicationController",
        ] {
            let old = json!({"kind": kind, "metadata": {"generation": 3}, "spec": {"a": 1}});
            let mut new = old.clone();
            new["status"] = json!({"x": 1});
            new["metadata"]["labels"] = json!({"l": "v"});
            bump_generation(&mut new, &old);
            assert_eq!(new["metadata"]["generation"], 3, "{kind}");
            new["spec"]["a"] = json!(2);
            bump_generation(&mut new, &old);
            assert_eq!(new["metadata"]["generation"], 4, "{kind}");
        }
        assert!(!tracks_generation("ControllerRevision"));
        assert!(!tracks_generation("PodTemplate"));
    }
}
