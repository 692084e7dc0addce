//! apps/v1 StatefulSets (`pkg/apis/apps/v1/defaults.go`,
//! `pkg/apis/apps/validation`, `pkg/registry/apps/statefulset`).

use super::{default_field, deployment, object_field, workload};
use crate::registry::{Ctx, Strategy};
use crate::validation::checks::strip_nulls;
use crate::validation::field_error::FieldError;
use serde_json::{json, Value};

pub struct StatefulSetStrategy;

impl Strategy for StatefulSetStrategy {
    fn default(&self, obj: &mut Value, _ctx: &Ctx) {
        defaults(obj);
    }

    fn validate_create(&self, obj: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        validate(obj)
    }

    fn validate_update(&self, new: &Value, old: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        validate_update(new, old)
    }
}

pub(crate) fn defaults(obj: &mut Value) {
    let Some(spec) = object_field(obj, "spec") else {
        return;
    };
    default_field(spec, "podManagementPolicy", json!("OrderedReady"));
    if let Some(strategy) = object_field(spec, "updateStrategy") {
        // rollingUpdate is created only along with a defaulted type.
        if strategy.get("type").is_none_or(|t| t.is_null() || t == "") {
            strategy["type"] = json!("RollingUpdate");
            default_field(strategy, "rollingUpdate", json!({}));
        }
        let rolling = strategy.get("type").and_then(Value::as_str) == Some("RollingUpdate");
        if let Some(ru) = strategy
            .get_mut("rollingUpdate")
            .filter(|ru| rolling && ru.is_object())
        {
            default_field(ru, "partition", json!(0));
            // MaxUnavailableStatefulSet is on by default since v1.35.
            default_field(ru, "maxUnavailable", json!(1));
        }
    }
    if let Some(policy) = object_field(spec, "persistentVolumeClaimRetentionPolicy") {
        default_field(policy, "whenDeleted", json!("Retain"));
        default_field(policy, "whenScaled", json!("Retain"));
    }
    default_field(spec, "replicas", json!(1));
    default_field(spec, "revisionHistoryLimit", json!(10));
    deployment::default_template(spec);
    // Claim templates take the PersistentVolumeClaim defaults.
    if let Some(claims) = spec
        .get_mut("volumeClaimTemplates")
        .and_then(Value::as_array_mut)
    {
        for claim in claims.iter_mut().filter(|c| c.is_object()) {
            if let Some(claim_spec) = object_field(claim, "spec") {
                default_field(claim_spec, "volumeMode", json!("Filesystem"));
            }
            if let Some(status) = object_field(claim, "status") {
                default_field(status, "phase", json!("Pending"));
            }
        }
    }
}

/// `ValidateStatefulSetSpec`.
pub(crate) fn validate(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let spec = obj.get("spec").cloned().unwrap_or_else(|| json!({}));
    match spec
        .get("podManagementPolicy")
        .and_then(Value::as_str)
        .unwrap_or_default()
    {
        "" => errs.push(FieldError::required("spec.podManagementPolicy", "")),
        "OrderedReady" | "Parallel" => {}
        other => errs.push(FieldError::invalid(
            "spec.podManagementPolicy",
            other,
            "must be 'OrderedReady' or 'Parallel'",
        )),
    }
    let strategy = spec.get("updateStrategy").cloned().unwrap_or(json!({}));
    let rolling = strategy.get("rollingUpdate").filter(|v| !v.is_null());
    match strategy
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default()
    {
        "" => errs.push(FieldError::required("spec.updateStrategy", "")),
        "OnDelete" => {
            if let Some(ru) = rolling {
                errs.push(FieldError::invalid(
                    "spec.updateStrategy.rollingUpdate",
                    ru.clone(),
                    "only allowed for updateStrategy 'RollingUpdate'",
                ));
            }
        }
        "RollingUpdate" => {
            if let Some(ru) = rolling {
                let path = "spec.updateStrategy.rollingUpdate";
                workload::nonnegative(&mut errs, ru, "/partition", &format!("{path}.partition"));
                if let Some(mu) = ru.get("maxUnavailable").filter(|v| !v.is_null()) {
                    let p = format!("{path}.maxUnavailable");
                    workload::validate_int_or_percent(&mut errs, mu, &p);
                    if workload::int_or_percent_value(mu) == 0 {
                        errs.push(FieldError::invalid(p.clone(), mu.clone(), "cannot be 0"));
                    }
                    workload::not_more_than_100_percent(&mut errs, mu, &p);
                }
            }
        }
        _ => errs.push(FieldError::invalid(
            "spec.updateStrategy",
            strategy.clone(),
            "must be 'RollingUpdate' or 'OnDelete'",
        )),
    }
    if let Some(policy) = spec
        .get("persistentVolumeClaimRetentionPolicy")
        .filter(|v| !v.is_null())
    {
        for key in ["whenDeleted", "whenScaled"] {
            let v = policy.get(key).and_then(Value::as_str).unwrap_or_default();
            if v != "Retain" && v != "Delete" {
                errs.push(FieldError::not_supported(
                    format!("spec.persistentVolumeClaimRetentionPolicy.{key}"),
                    v,
                    &["Retain", "Delete"],
                ));
            }
        }
    }
    workload::nonnegative(&mut errs, &spec, "/replicas", "spec.replicas");
    workload::nonnegative(&mut errs, &spec, "/minReadySeconds", "spec.minReadySeconds");
    workload::nonnegative(&mut errs, &spec, "/ordinals/start", "spec.ordinals.start");
    workload::validate_selector(&mut errs, &spec, "statefulset");
    workload::validate_long_running_template(&mut errs, &spec, "StatefulSet");
    errs
}

/// The fields of a StatefulSet spec that may change after creation.
const MUTABLE: &[&str] = &[
    "replicas",
    "ordinals",
    "template",
    "updateStrategy",
    "revisionHistoryLimit",
    "persistentVolumeClaimRetentionPolicy",
    "minReadySeconds",
];

/// `ValidateStatefulSetUpdate`.
pub(crate) fn validate_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errs = validate(new);
    let old_spec = workload::spec_without(old, old, &[]);
    if strip_nulls(workload::spec_without(new, old, MUTABLE)) != strip_nulls(old_spec) {
        errs.push(FieldError::forbidden(
            "spec",
            "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::resources::workload::rendered;

    fn sts() -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "serviceName": "web",
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "c", "image": "nginx:1"}]}
                }
            }
        })
    }

    fn defaulted() -> Value {
        let mut o = sts();
        defaults(&mut o);
        o
    }

    #[test]
    fn defaults_match_kube() {
        let o = defaulted();
        let s = &o["spec"];
        assert_eq!(s["podManagementPolicy"], "OrderedReady");
        assert_eq!(
            s["updateStrategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0, "maxUnavailable": 1}})
        );
        assert_eq!(s["replicas"], 1);
        assert_eq!(s["revisionHistoryLimit"], 10);
        assert_eq!(
            s["persistentVolumeClaimRetentionPolicy"],
            json!({"whenDeleted": "Retain", "whenScaled": "Retain"})
        );
        assert_eq!(s["template"]["spec"]["restartPolicy"], "Always");
        assert!(validate(&o).is_empty(), "{:?}", validate(&o));
    }

    #[test]
    fn claim_templates_take_pvc_defaults() {
        let mut o = sts();
        o["spec"]["volumeClaimTemplates"] = json!([{"metadata": {"name": "data"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]);
        defaults(&mut o);
        let claim = &o["spec"]["volumeClaimTemplates"][0];
        assert_eq!(claim["spec"]["volumeMode"], "Filesystem");
        assert_eq!(claim["status"]["phase"], "Pending");
    }

    #[test]
    fn on_delete_has_no_rolling_update_default() {
        let mut o = sts();
        o["spec"]["updateStrategy"] = json!({"type": "OnDelete"});
        defaults(&mut o);
        assert_eq!(o["spec"]["updateStrategy"], json!({"type": "OnDelete"}));
        let mut o = sts();
        o["spec"]["updateStrategy"] = json!({"type": "RollingUpdate"});
        defaults(&mut o);
        assert_eq!(
            o["spec"]["updateStrategy"],
            json!({"type": "RollingUpdate"})
        );
    }

    #[test]
    fn invalid_specs_are_reported_as_kube_does() {
        let mut o = defaulted();
        o["spec"]["podManagementPolicy"] = json!("Sometimes");
        o["spec"]["replicas"] = json!(-1);
        o["spec"]["updateStrategy"] = json!({"type": "RollingUpdate", "rollingUpdate": {"partition": -2, "maxUnavailable": 0}});
        o["spec"]["persistentVolumeClaimRetentionPolicy"]["whenScaled"] = json!("Keep");
        o["spec"]["template"]["metadata"]["labels"] = json!({"app": "other"});
        o["spec"]["template"]["spec"]["restartPolicy"] = json!("Never");
        o["spec"]["template"]["spec"]["activeDeadlineSeconds"] = json!(5);
        assert_eq!(
            rendered(&validate(&o)),
            vec![
                r#"spec.podManagementPolicy: Invalid value: "Sometimes": must be 'OrderedReady' or 'Parallel'"#,
                "spec.updateStrategy.rollingUpdate.partition: Invalid value: -2: must be greater than or equal to 0",
                "spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: 0: cannot be 0",
                r#"spec.persistentVolumeClaimRetentionPolicy.whenScaled: Unsupported value: "Keep": supported values: "Retain", "Delete""#,
                "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
                r#"spec.template.metadata.labels: Invalid value: {"app":"other"}: `selector` does not match template `labels`"#,
                r#"spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always""#,
                "spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in StatefulSet is not Supported",
            ]
        );
    }

    #[test]
    fn selector_is_required_and_not_empty() {
        let mut o = defaulted();
        o["spec"].as_object_mut().unwrap().remove("selector");
        assert_eq!(
            rendered(&validate(&o))[..2],
            [
                "spec.selector: Required value".to_string(),
                r#"spec.template.metadata.labels: Invalid value: {"app":"web"}: `selector` does not match template `labels`"#.to_string(),
            ]
        );
        o["spec"]["selector"] = json!({});
        assert_eq!(
            rendered(&validate(&o)),
            vec!["spec.selector: Invalid value: {}: empty selector is invalid for statefulset"]
        );
        o["spec"]["updateStrategy"] = json!({"type": "Sideways"});
        assert!(rendered(&validate(&o)).contains(
            &r#"spec.updateStrategy: Invalid value: {"type":"Sideways"}: must be 'RollingUpdate' or 'OnDelete'"#.to_string()
        ));
    }

    #[test]
    fn only_some_spec_fields_may_change() {
        let old = defaulted();
        let mut new = old.clone();
        new["spec"]["replicas"] = json!(5);
        new["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:2");
        new["spec"]["minReadySeconds"] = json!(3);
        new["spec"]["revisionHistoryLimit"] = json!(2);
        assert!(validate_update(&new, &old).is_empty());
        new["spec"]["serviceName"] = json!("other");
        assert_eq!(
            rendered(&validate_update(&new, &old)),
            vec!["spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"]
        );
    }
}
