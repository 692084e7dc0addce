//! apps/v1 DaemonSets (`pkg/apis/apps/v1/defaults.go`,
//! `pkg/apis/apps/validation`, `pkg/registry/apps/daemonset`).

use super::{default_field, deployment, object_field, workload};
use crate::registry::{Ctx, Pending, Strategy, WriteOp};
use crate::rest::status::ApiResult;
use crate::validation::field_error::FieldError;
use serde_json::{json, Value};

/// The annotation apps/v1 carries the internal `templateGeneration` in.
pub const TEMPLATE_GENERATION: &str = "deprecated.daemonset.template.generation";

pub struct DaemonSetStrategy;

impl Strategy for DaemonSetStrategy {
    fn default(&self, obj: &mut Value, _ctx: &Ctx) {
        defaults(obj);
    }

    fn validate_create(&self, obj: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        validate(obj)
    }

    fn validate_update(&self, new: &Value, old: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        validate_update(new, old)
    }

    fn begin_write(&self, op: WriteOp<'_>, _ctx: &Ctx) -> ApiResult<Pending> {
        match op {
            WriteOp::Create(obj) => set_template_generation(obj, 1),
            WriteOp::Update {
                old,
                new,
                subresource: None,
            } => {
                let old_gen = template_generation(old);
                let changed = new.pointer("/spec/template") != old.pointer("/spec/template");
                set_template_generation(new, if changed { old_gen + 1 } else { old_gen });
            }
            _ => {}
        }
        Ok(Pending::default())
    }
}

fn template_generation(obj: &Value) -> i64 {
    obj.pointer("/metadata/annotations")
        .and_then(|a| a.get(TEMPLATE_GENERATION))
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn set_template_generation(obj: &mut Value, generation: i64) {
    if let Some(meta) = object_field(obj, "metadata") {
        if let Some(ann) = object_field(meta, "annotations") {
            ann[TEMPLATE_GENERATION] = json!(generation.to_string());
        }
    }
}

pub(crate) fn defaults(obj: &mut Value) {
    let Some(spec) = object_field(obj, "spec") else {
        return;
    };
    if let Some(strategy) = object_field(spec, "updateStrategy") {
        default_field(strategy, "type", json!("RollingUpdate"));
        if strategy.get("type").and_then(Value::as_str) == Some("RollingUpdate") {
            if let Some(ru) = object_field(strategy, "rollingUpdate") {
                default_field(ru, "maxUnavailable", json!(1));
                default_field(ru, "maxSurge", json!(0));
            }
        }
    }
    default_field(spec, "revisionHistoryLimit", json!(10));
    deployment::default_template(spec);
}

/// `ValidateDaemonSetSpec`.
pub(crate) fn validate(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let spec = obj.get("spec").cloned().unwrap_or_else(|| json!({}));
    let selector = spec.get("selector").filter(|v| !v.is_null());
    match crate::selectors::LabelSelector::from_label_selector(selector) {
        Ok(sel) => workload::check_template_labels(&mut errs, &spec, &sel),
        Err(_) => errs.push(FieldError::invalid(
            "spec.selector",
            selector.cloned().unwrap_or(Value::Null),
            "invalid label selector",
        )),
    }
    if let Some(sel) = selector {
        let empty = sel
            .get("matchLabels")
            .and_then(Value::as_object)
            .is_none_or(|m| m.is_empty())
            && sel
                .get("matchExpressions")
                .and_then(Value::as_array)
                .is_none_or(|a| a.is_empty());
        if empty {
            errs.push(FieldError::invalid(
                "spec.selector",
                sel.clone(),
                "empty selector is invalid for daemonset",
            ));
        }
    }
    workload::validate_long_running_template(&mut errs, &spec, "DaemonSet");
    workload::nonnegative(&mut errs, &spec, "/minReadySeconds", "spec.minReadySeconds");
    let strategy = spec.get("updateStrategy").cloned().unwrap_or(json!({}));
    match strategy.get("type").and_then(Value::as_str) {
        Some("OnDelete") => {}
        Some("RollingUpdate") => match strategy.get("rollingUpdate").filter(|v| !v.is_null()) {
            None => errs.push(FieldError::required(
                "spec.updateStrategy.rollingUpdate",
                "",
            )),
            Some(ru) => validate_rolling_update(&mut errs, ru),
        },
        _ => errs.push(FieldError::not_supported(
            "spec.updateStrategy",
            strategy.clone(),
            &["RollingUpdate", "OnDelete"],
        )),
    }
    workload::nonnegative(
        &mut errs,
        &spec,
        "/revisionHistoryLimit",
        "spec.revisionHistoryLimit",
    );
    errs
}

/// `ValidateRollingUpdateDaemonSet`.
fn validate_rolling_update(errs: &mut Vec<FieldError>, ru: &Value) {
    const PATH: &str = "spec.updateStrategy.rollingUpdate";
    let zero = json!(0);
    let unavailable = ru
        .get("maxUnavailable")
        .filter(|v| !v.is_null())
        .unwrap_or(&zero);
    let surge = ru.get("maxSurge").filter(|v| !v.is_null()).unwrap_or(&zero);
    let (mu_path, ms_path) = (format!("{PATH}.maxUnavailable"), format!("{PATH}.maxSurge"));
    workload::validate_int_or_percent(errs, unavailable, &mu_path);
    workload::validate_int_or_percent(errs, surge, &ms_path);
    workload::not_more_than_100_percent(errs, unavailable, &mu_path);
    workload::not_more_than_100_percent(errs, surge, &ms_path);
    let has_unavailable = workload::int_or_percent_value(unavailable) != 0;
    let has_surge = workload::int_or_percent_value(surge) != 0;
    if has_unavailable && has_surge {
        errs.push(FieldError::invalid(
            ms_path,
            surge.clone(),
            "may not be set when maxUnavailable is non-zero",
        ));
    } else if !has_unavailable && !has_surge {
        errs.push(FieldError::required(
            mu_path,
            "cannot be 0 when maxSurge is 0",
        ));
    }
}

/// `ValidateDaemonSetUpdate` plus the strategy's immutable selector.
pub(crate) fn validate_update(new: &Value, old: &Value) -> Vec<FieldError> {
    workload::with_immutable_selector(validate(new), new, old)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::resources::workload::rendered;

    fn ds() -> Value {
        let mut o = json!({
            "apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": "agent", "namespace": "default"},
            "spec": {
                "selector": {"matchLabels": {"app": "agent"}},
                "template": {
                    "metadata": {"labels": {"app": "agent"}},
                    "spec": {"containers": [{"name": "c", "image": "agent:1"}]}
                }
            }
        });
        defaults(&mut o);
        o
    }

    #[test]
    fn defaults_match_kube() {
        let o = ds();
        assert_eq!(
            o["spec"]["updateStrategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}})
        );
        assert_eq!(o["spec"]["revisionHistoryLimit"], 10);
        assert!(validate(&o).is_empty(), "{:?}", validate(&o));
    }

    #[test]
    fn invalid_specs_are_reported_as_kube_does() {
        let mut o = ds();
        o["spec"]["selector"] = json!({});
        o["spec"]["minReadySeconds"] = json!(-1);
        o["spec"]["updateStrategy"]["rollingUpdate"] =
            json!({"maxUnavailable": "150%", "maxSurge": "x"});
        assert_eq!(
            rendered(&validate(&o)),
            vec![
                "spec.selector: Invalid value: {}: empty selector is invalid for daemonset",
                "spec.minReadySeconds: Invalid value: -1: must be greater than or equal to 0",
                r#"spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: "x": a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"#,
                r#"spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: "150%": must not be greater than 100%"#,
            ]
        );
        o["spec"]["updateStrategy"] =
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 0}});
        assert!(rendered(&validate(&o)).contains(
            &"spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0".to_string()
        ));
        o["spec"]["updateStrategy"] = json!({"type": "Always"});
        assert!(rendered(&validate(&o)).contains(
            &r#"spec.updateStrategy: Unsupported value: {"type":"Always"}: supported values: "RollingUpdate", "OnDelete""#.to_string()
        ));
    }

    #[test]
    fn mismatched_labels_and_immutable_selector() {
        let old = ds();
        let mut new = old.clone();
        new["spec"]["selector"] = json!({"matchLabels": {"app": "x"}});
        new["spec"]["template"]["metadata"]["labels"] = json!({"app": "x"});
        assert_eq!(
            rendered(&validate_update(&new, &old)),
            vec![
                r#"spec.selector: Invalid value: {"matchLabels":{"app":"x"}}: field is immutable"#
            ]
        );
        new["spec"]["template"]["metadata"]["labels"] = json!({"app": "y"});
        assert!(rendered(&validate(&new))[0].starts_with(
            r#"spec.template.metadata.labels: Invalid value: {"app":"y"}: `selector` does not match"#
        ));
    }

    #[test]
    fn template_generation_counts_template_changes() {
        let mut o = ds();
        set_template_generation(&mut o, 1);
        let old = o.clone();
        let mut new = o.clone();
        new["spec"]["template"]["spec"]["containers"][0]["image"] = json!("agent:2");
        let changed = new.pointer("/spec/template") != old.pointer("/spec/template");
        set_template_generation(&mut new, template_generation(&old) + i64::from(changed));
        assert_eq!(new["metadata"]["annotations"][TEMPLATE_GENERATION], "2");
    }
}
