//! batch/v1 Jobs (`pkg/apis/batch/v1/defaults.go`,
//! `pkg/apis/batch/validation`, `pkg/registry/batch/job`).

use super::{default_field, deployment, object_field, workload};
use crate::registry::{Ctx, Pending, Strategy, WriteOp};
use crate::rest::status::ApiResult;
use crate::selectors::LabelSelector;
use crate::validation::field_error::FieldError;
use serde_json::{json, Value};

pub const CONTROLLER_UID: &str = "batch.kubernetes.io/controller-uid";
pub const JOB_NAME: &str = "batch.kubernetes.io/job-name";
const LEGACY_CONTROLLER_UID: &str = "controller-uid";
const LEGACY_JOB_NAME: &str = "job-name";
const MAX_PARALLELISM_INDEXED: i64 = 100_000;

pub struct JobStrategy;

impl Strategy for JobStrategy {
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
        if let WriteOp::Create(obj) = op {
            if !manual_selector(obj) {
                generate_selector(obj);
            }
        }
        Ok(Pending::default())
    }
}

fn manual_selector(obj: &Value) -> bool {
    obj.pointer("/spec/manualSelector").and_then(Value::as_bool) == Some(true)
}

/// `SetDefaults_Job`.
pub(crate) fn defaults(obj: &mut Value) {
    let template_labels = obj
        .pointer("/spec/template/metadata/labels")
        .filter(|l| l.is_object())
        .cloned();
    let Some(spec) = object_field(obj, "spec") else {
        return;
    };
    default_job_spec(spec);
    if let Some(labels) = template_labels {
        if let Some(meta) = object_field(obj, "metadata") {
            let empty = meta
                .get("labels")
                .and_then(Value::as_object)
                .is_none_or(|m| m.is_empty());
            if empty {
                meta["labels"] = labels;
            }
        }
    }
}

/// The defaults of a JobSpec (also a CronJob's jobTemplate.spec).
pub(crate) fn default_job_spec(spec: &mut Value) {
    fn unset(spec: &Value, k: &str) -> bool {
        spec.get(k).is_none_or(Value::is_null)
    }
    if unset(spec, "completions") && unset(spec, "parallelism") {
        spec["completions"] = json!(1);
        spec["parallelism"] = json!(1);
    }
    default_field(spec, "parallelism", json!(1));
    let backoff = if unset(spec, "backoffLimitPerIndex") {
        6
    } else {
        i32::MAX as i64
    };
    default_field(spec, "backoffLimit", json!(backoff));
    default_field(spec, "completionMode", json!("NonIndexed"));
    default_field(spec, "suspend", json!(false));
    default_field(spec, "manualSelector", json!(false));
    let has_pfp = !unset(spec, "podFailurePolicy");
    if let Some(rules) = spec
        .pointer_mut("/podFailurePolicy/rules")
        .and_then(Value::as_array_mut)
    {
        for rule in rules {
            if let Some(conds) = rule
                .get_mut("onPodConditions")
                .and_then(Value::as_array_mut)
            {
                for c in conds {
                    default_field(c, "status", json!("True"));
                }
            }
        }
    }
    let policy = if has_pfp {
        "Failed"
    } else {
        "TerminatingOrFailed"
    };
    default_field(spec, "podReplacementPolicy", json!(policy));
    deployment::default_template(spec);
}

/// The job strategy's `generateSelector`: the job's uid selects its pods.
pub(crate) fn generate_selector(obj: &mut Value) {
    let name = obj.pointer("/metadata/name").cloned().unwrap_or(json!(""));
    let uid = obj.pointer("/metadata/uid").cloned().unwrap_or(json!(""));
    let Some(spec) = object_field(obj, "spec") else {
        return;
    };
    if let Some(labels) = object_field(spec, "template")
        .and_then(|t| object_field(t, "metadata"))
        .and_then(|m| object_field(m, "labels"))
    {
        for key in [LEGACY_JOB_NAME, JOB_NAME] {
            default_field(labels, key, name.clone());
        }
        for key in [LEGACY_CONTROLLER_UID, CONTROLLER_UID] {
            default_field(labels, key, uid.clone());
        }
    }
    if let Some(ml) = object_field(spec, "selector").and_then(|s| object_field(s, "matchLabels")) {
        default_field(ml, CONTROLLER_UID, uid);
    }
}

/// `ValidateJob`: the generated selector, then the spec.
pub(crate) fn validate(obj: &Value) -> Vec<FieldError> {
    let mut errs = validate_generated_selector(obj);
    let spec = obj.get("spec").cloned().unwrap_or_else(|| json!({}));
    errs.extend(validate_job_spec(&spec, "spec"));
    // An Indexed job's last pod takes the hostname `<name>-<completions-1>`.
    let indexed = spec.get("completionMode").and_then(Value::as_str) == Some("Indexed");
    if let Some(c) = spec
        .get("completions")
        .and_then(Value::as_i64)
        .filter(|c| indexed && *c > 0)
    {
        let name = obj
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let hostname = format!("{name}-{}", c - 1);
        if !crate::validation::names::is_dns1123_label(&hostname).is_empty() {
            errs.push(FieldError::invalid(
                "metadata.name",
                name,
                format!("will not able to create pod with invalid DNS label: {hostname}"),
            ));
        }
    }
    errs
}

/// `ValidateGeneratedSelector`.
fn validate_generated_selector(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if manual_selector(obj) {
        return errs;
    }
    let uid = obj
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if uid.is_empty() {
        errs.push(FieldError::required("metadata.uid", ""));
    }
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let labels = obj
        .pointer("/spec/template/metadata/labels")
        .and_then(Value::as_object);
    let expected = [
        (LEGACY_CONTROLLER_UID, uid),
        (LEGACY_JOB_NAME, name),
        (CONTROLLER_UID, uid),
        (JOB_NAME, name),
    ];
    // `ValidateHasLabel` for each label the selector generation sets.
    for (key, want) in expected {
        let path = format!("spec.template.metadata.labels[{key}]");
        match labels.and_then(|l| l.get(key)) {
            None => errs.push(FieldError::required(path, format!("must be '{want}'"))),
            Some(v) if v.as_str() != Some(want) => errs.push(FieldError::invalid(
                path,
                Value::Object(labels.cloned().unwrap_or_default()),
                format!("must be '{want}'"),
            )),
            _ => {}
        }
    }
    let expected: serde_json::Map<String, Value> = expected
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    let selector = obj.pointer("/spec/selector").filter(|v| !v.is_null());
    if let Ok(sel) = LabelSelector::from_label_selector(selector) {
        if !sel.matches(&expected) {
            errs.push(FieldError::invalid(
                "spec.selector",
                selector.cloned().unwrap_or(Value::Null),
                "`selector` not auto-generated",
            ));
        }
    }
    errs
}

/// `validateJobSpec` at `path` (`spec`, or a CronJob's
/// `spec.jobTemplate.spec`): everything but the selector.
pub(crate) fn validate_job_spec_fields(spec: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for f in [
        "parallelism",
        "completions",
        "activeDeadlineSeconds",
        "backoffLimit",
        "ttlSecondsAfterFinished",
        "backoffLimitPerIndex",
        "maxFailedIndexes",
    ] {
        workload::nonnegative(&mut errs, spec, &format!("/{f}"), &format!("{path}.{f}"));
    }
    let int = |k: &str| spec.get(k).and_then(Value::as_i64);
    if int("maxFailedIndexes").is_some() && int("backoffLimitPerIndex").is_none() {
        errs.push(FieldError::required(
            format!("{path}.backoffLimitPerIndex"),
            "when maxFailedIndexes is specified",
        ));
    }
    let mode = spec.get("completionMode").and_then(Value::as_str);
    match mode {
        None | Some("NonIndexed") => {
            for k in ["backoffLimitPerIndex", "maxFailedIndexes"] {
                if let Some(v) = int(k) {
                    errs.push(FieldError::invalid(
                        format!("{path}.{k}"),
                        v,
                        "requires indexed completion mode",
                    ));
                }
            }
        }
        Some("Indexed") => {
            if spec.get("completions").is_none_or(Value::is_null) {
                errs.push(FieldError::required(
                    format!("{path}.completions"),
                    "when completion mode is Indexed",
                ));
            }
            if let Some(p) = int("parallelism").filter(|p| *p > MAX_PARALLELISM_INDEXED) {
                errs.push(FieldError::invalid(
                    format!("{path}.parallelism"),
                    p,
                    format!("must be less than or equal to {MAX_PARALLELISM_INDEXED} when completion mode is Indexed"),
                ));
            }
            if let (Some(c), Some(m)) = (int("completions"), int("maxFailedIndexes")) {
                if m > c {
                    errs.push(FieldError::invalid(
                        format!("{path}.maxFailedIndexes"),
                        m,
                        "must be less than or equal to completions",
                    ));
                }
            }
        }
        Some(other) => errs.push(FieldError::not_supported(
            format!("{path}.completionMode"),
            other,
            &["NonIndexed", "Indexed"],
        )),
    }
    if let Some(pfp) = spec.get("podFailurePolicy").filter(|v| !v.is_null()) {
        validate_pod_failure_policy(&mut errs, spec, pfp, &format!("{path}.podFailurePolicy"));
    }
    if let Some(sp) = spec.get("successPolicy").filter(|v| !v.is_null()) {
        if mode != Some("Indexed") {
            errs.push(FieldError::invalid(
                format!("{path}.successPolicy"),
                sp.clone(),
                "requires indexed completion mode",
            ));
        }
    }
    let has_pfp = spec.get("podFailurePolicy").is_some_and(|v| !v.is_null());
    if let Some(prp) = spec.get("podReplacementPolicy").and_then(Value::as_str) {
        let prp_path = format!("{path}.podReplacementPolicy");
        if has_pfp {
            if prp != "Failed" {
                errs.push(FieldError::not_supported(prp_path, prp, &["Failed"]));
            }
        } else if prp != "TerminatingOrFailed" && prp != "Failed" {
            errs.push(FieldError::not_supported(
                prp_path,
                prp,
                &["Failed", "TerminatingOrFailed"],
            ));
        }
    }
    let template_path = format!("{path}.template");
    errs.extend(workload::validate_template(
        spec.get("template"),
        &template_path,
    ));
    let restart = spec
        .pointer("/template/spec/restartPolicy")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let restart_path = format!("{template_path}.spec.restartPolicy");
    match restart {
        "" | "Always" => errs.push(FieldError::required(
            restart_path,
            r#"valid values: "OnFailure", "Never""#,
        )),
        "OnFailure" if has_pfp => errs.push(FieldError::invalid(
            restart_path,
            restart,
            r#"only "Never" is supported when podFailurePolicy is specified"#,
        )),
        "OnFailure" | "Never" => {}
        other => errs.push(FieldError::not_supported(
            restart_path,
            other,
            &["OnFailure", "Never"],
        )),
    }
    errs
}

/// `validatePodFailurePolicy`.
fn validate_pod_failure_policy(errs: &mut Vec<FieldError>, spec: &Value, pfp: &Value, path: &str) {
    const MAX_RULES: i64 = 20;
    const MAX_CONDITIONS: i64 = 20;
    const MAX_EXIT_CODES: i64 = 255;
    let rules_path = format!("{path}.rules");
    let rules = pfp
        .get("rules")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if rules.len() as i64 > MAX_RULES {
        errs.push(FieldError::too_many(
            &rules_path,
            rules.len() as i64,
            MAX_RULES,
        ));
    }
    let containers: Vec<&str> = ["containers", "initContainers"]
        .iter()
        .filter_map(|k| {
            spec.pointer(&format!("/template/spec/{k}"))
                .and_then(Value::as_array)
        })
        .flatten()
        .filter_map(|c| c.get("name").and_then(Value::as_str))
        .collect();
    let has_per_index = spec
        .get("backoffLimitPerIndex")
        .is_some_and(|v| !v.is_null());
    for (i, rule) in rules.iter().enumerate() {
        let rule_path = format!("{rules_path}[{i}]");
        let action_path = format!("{rule_path}.action");
        match rule
            .get("action")
            .and_then(Value::as_str)
            .unwrap_or_default()
        {
            "" => errs.push(FieldError::required(
                action_path,
                r#"valid values: ["Count" "FailIndex" "FailJob" "Ignore"]"#,
            )),
            "FailIndex" => {
                if !has_per_index {
                    errs.push(FieldError::invalid(
                        action_path,
                        "FailIndex",
                        "requires the backoffLimitPerIndex to be set",
                    ));
                }
            }
            "Count" | "FailJob" | "Ignore" => {}
            other => errs.push(FieldError::not_supported(
                action_path,
                other,
                &["Count", "FailIndex", "FailJob", "Ignore"],
            )),
        }
        let exit_codes = rule.get("onExitCodes").filter(|v| !v.is_null());
        if let Some(ec) = exit_codes {
            let ec_path = format!("{rule_path}.onExitCodes");
            let op = ec
                .get("operator")
                .and_then(Value::as_str)
                .unwrap_or_default();
            match op {
                "" => errs.push(FieldError::required(
                    format!("{ec_path}.operator"),
                    r#"valid values: ["In" "NotIn"]"#,
                )),
                "In" | "NotIn" => {}
                other => errs.push(FieldError::not_supported(
                    format!("{ec_path}.operator"),
                    other,
                    &["In", "NotIn"],
                )),
            }
            if let Some(name) = ec.get("containerName").and_then(Value::as_str) {
                if !containers.contains(&name) {
                    errs.push(FieldError::invalid(
                        format!("{ec_path}.containerName"),
                        name,
                        "must be one of the container or initContainer names in the pod template",
                    ));
                }
            }
            let values_path = format!("{ec_path}.values");
            let values: Vec<i64> = ec
                .get("values")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_i64).collect())
                .unwrap_or_default();
            if values.is_empty() {
                errs.push(FieldError::invalid(
                    &values_path,
                    json!(values),
                    "at least one value is required",
                ));
            } else if values.len() as i64 > MAX_EXIT_CODES {
                errs.push(FieldError::too_many(
                    &values_path,
                    values.len() as i64,
                    MAX_EXIT_CODES,
                ));
            }
            let mut seen = std::collections::HashSet::new();
            for (j, v) in values.iter().enumerate() {
                let value_path = format!("{values_path}[{j}]");
                if op == "In" && *v == 0 {
                    errs.push(FieldError::invalid(
                        &value_path,
                        *v,
                        "must not be 0 for the In operator",
                    ));
                }
                if !seen.insert(*v) {
                    errs.push(FieldError::duplicate(&value_path, *v));
                }
            }
            if values.windows(2).any(|w| w[0] > w[1]) {
                errs.push(FieldError::invalid(
                    &values_path,
                    json!(values),
                    "must be ordered",
                ));
            }
        }
        let conditions = rule
            .get("onPodConditions")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let cond_path = format!("{rule_path}.onPodConditions");
        if conditions.len() as i64 > MAX_CONDITIONS {
            errs.push(FieldError::too_many(
                &cond_path,
                conditions.len() as i64,
                MAX_CONDITIONS,
            ));
        }
        for (j, c) in conditions.iter().enumerate() {
            let p = format!("{cond_path}[{j}]");
            let ty = c.get("type").and_then(Value::as_str).unwrap_or_default();
            for msg in crate::validation::names::is_qualified_name(ty) {
                errs.push(FieldError::invalid(format!("{p}.type"), ty, msg));
            }
            match c.get("status").and_then(Value::as_str).unwrap_or_default() {
                "" => errs.push(FieldError::required(
                    format!("{p}.status"),
                    r#"valid values: ["False" "True" "Unknown"]"#,
                )),
                "True" | "False" | "Unknown" => {}
                other => errs.push(FieldError::not_supported(
                    format!("{p}.status"),
                    other,
                    &["False", "True", "Unknown"],
                )),
            }
        }
        let omitted = |detail: &str| {
            FieldError::new(
                crate::validation::field_error::FieldErrorType::Invalid,
                rule_path.clone(),
                None,
                detail,
            )
        };
        if exit_codes.is_some() && !conditions.is_empty() {
            errs.push(omitted(
                "specifying both OnExitCodes and OnPodConditions is not supported",
            ));
        }
        if exit_codes.is_none() && conditions.is_empty() {
            errs.push(omitted(
                "specifying one of OnExitCodes and OnPodConditions is required",
            ));
        }
    }
}

/// `ValidateJobSpec`: [`validate_job_spec_fields`] plus the selector, which
/// must select the template's labels.
pub(crate) fn validate_job_spec(spec: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = validate_job_spec_fields(spec, path);
    let template_path = format!("{path}.template");
    let selector = spec.get("selector").filter(|v| !v.is_null());
    if selector.is_none() {
        errs.push(FieldError::required(format!("{path}.selector"), ""));
    }
    if let Ok(sel) = LabelSelector::from_label_selector(selector) {
        let labels = workload::template_labels(spec);
        if !sel.matches(&labels) {
            errs.push(FieldError::invalid(
                format!("{template_path}.metadata.labels"),
                Value::Object(labels),
                "`selector` does not match template `labels`",
            ));
        }
    }
    errs
}

/// `ValidateJobUpdate`: the spec, then what may not change.
pub(crate) fn validate_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errs = validate_generated_selector(new);
    let spec = new.get("spec").cloned().unwrap_or_else(|| json!({}));
    errs.extend(validate_job_spec(&spec, "spec"));
    validate_completions_update(&mut errs, new, old);
    workload::immutable(&mut errs, new, old, "/spec/selector", "spec.selector");
    validate_template_update(&mut errs, new, old);
    for f in [
        "completionMode",
        "podFailurePolicy",
        "backoffLimitPerIndex",
        "managedBy",
        "successPolicy",
    ] {
        workload::immutable(
            &mut errs,
            new,
            old,
            &format!("/spec/{f}"),
            &format!("spec.{f}"),
        );
    }
    errs
}

/// Completions change only with parallelism, in an Indexed job (elastic
/// indexed jobs).
fn validate_completions_update(errs: &mut Vec<FieldError>, new: &Value, old: &Value) {
    let indexed = new.pointer("/spec/completionMode").and_then(Value::as_str) == Some("Indexed");
    if !indexed {
        workload::immutable(errs, new, old, "/spec/completions", "spec.completions");
        return;
    }
    let completions = new.pointer("/spec/completions");
    if completions == old.pointer("/spec/completions") {
        return;
    }
    if completions != new.pointer("/spec/parallelism") {
        errs.push(FieldError::invalid(
            "spec.completions",
            completions.cloned().unwrap_or(Value::Null),
            "can only be modified in tandem with spec.parallelism",
        ));
    }
}

/// The template is immutable, except the scheduling directives of a job
/// that is suspended and has never started.
fn validate_template_update(errs: &mut Vec<FieldError>, new: &Value, old: &Value) {
    let suspended_unstarted = old.pointer("/spec/suspend").and_then(Value::as_bool) == Some(true)
        && old.pointer("/status/startTime").is_none_or(Value::is_null);
    let mut new_t = new
        .pointer("/spec/template")
        .cloned()
        .unwrap_or(Value::Null);
    if suspended_unstarted {
        let old_t = old
            .pointer("/spec/template")
            .cloned()
            .unwrap_or(Value::Null);
        for p in [
            "/metadata/labels",
            "/metadata/annotations",
            "/spec/nodeSelector",
            "/spec/affinity",
            "/spec/tolerations",
            "/spec/schedulingGates",
        ] {
            let (parent, key) = p.rsplit_once('/').unwrap_or_default();
            let old_v = old_t.pointer(p).cloned();
            if let Some(map) = new_t.pointer_mut(parent).and_then(Value::as_object_mut) {
                match old_v {
                    Some(v) => {
                        map.insert(key.to_string(), v);
                    }
                    None => {
                        map.remove(key);
                    }
                }
            }
        }
        if new_t != old_t {
            errs.push(FieldError::invalid(
                "spec.template",
                new.pointer("/spec/template")
                    .cloned()
                    .unwrap_or(Value::Null),
                "field is immutable",
            ));
        }
        return;
    }
    new_t = new
        .pointer("/spec/template")
        .cloned()
        .unwrap_or(Value::Null);
    if Some(&new_t) != old.pointer("/spec/template") {
        errs.push(FieldError::invalid(
            "spec.template",
            new_t,
            "field is immutable",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::resources::workload::rendered;

    const UID: &str = "6f1c1c4e-0000-4000-8000-000000000001";

    fn job() -> Value {
        let mut o = json!({
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "pi", "namespace": "default", "uid": UID},
            "spec": {
                "template": {
                    "metadata": {"labels": {"app": "pi"}},
                    "spec": {"restartPolicy": "Never", "containers": [{"name": "pi", "image": "perl:5"}]}
                }
            }
        });
        defaults(&mut o);
        generate_selector(&mut o);
        o
    }

    #[test]
    fn defaults_and_generated_selector() {
        let o = job();
        let s = &o["spec"];
        assert_eq!(s["parallelism"], 1);
        assert_eq!(s["completions"], 1);
        assert_eq!(s["backoffLimit"], 6);
        assert_eq!(s["completionMode"], "NonIndexed");
        assert_eq!(s["suspend"], false);
        assert_eq!(s["manualSelector"], false);
        assert_eq!(s["podReplacementPolicy"], "TerminatingOrFailed");
        assert_eq!(s["selector"], json!({"matchLabels": {CONTROLLER_UID: UID}}));
        assert_eq!(
            s["template"]["metadata"]["labels"],
            json!({"app": "pi", CONTROLLER_UID: UID, JOB_NAME: "pi", "controller-uid": UID, "job-name": "pi"})
        );
        assert_eq!(o["metadata"]["labels"], json!({"app": "pi"}));
        assert!(validate(&o).is_empty(), "{:?}", validate(&o));
    }

    #[test]
    fn parallelism_alone_leaves_completions_unset() {
        let mut o = json!({"spec": {"parallelism": 3, "podFailurePolicy": {"rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]}}});
        defaults(&mut o);
        assert!(o["spec"].get("completions").is_none());
        assert_eq!(o["spec"]["podReplacementPolicy"], "Failed");
        assert_eq!(
            o["spec"]["podFailurePolicy"]["rules"][0]["onPodConditions"][0]["status"],
            "True"
        );
    }

    #[test]
    fn invalid_specs_are_reported_as_kube_does() {
        let mut o = job();
        o["spec"]["backoffLimit"] = json!(-1);
        o["spec"]["completionMode"] = json!("Sometimes");
        o["spec"]["template"]["spec"]["restartPolicy"] = json!("Always");
        assert_eq!(
            rendered(&validate(&o)),
            vec![
                "spec.backoffLimit: Invalid value: -1: must be greater than or equal to 0",
                r#"spec.completionMode: Unsupported value: "Sometimes": supported values: "NonIndexed", "Indexed""#,
                r#"spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never""#,
            ]
        );
        o["spec"]["template"]["spec"]["restartPolicy"] = json!("Sometimes");
        o["spec"]["completionMode"] = json!("NonIndexed");
        o["spec"]["backoffLimit"] = json!(1);
        assert_eq!(
            rendered(&validate(&o)),
            vec![
                r#"spec.template.spec.restartPolicy: Unsupported value: "Sometimes": supported values: "OnFailure", "Never""#
            ]
        );
    }

    #[test]
    fn generated_labels_must_be_intact() {
        let mut o = job();
        o["spec"]["template"]["metadata"]["labels"]["job-name"] = json!("other");
        o["spec"]["template"]["metadata"]["labels"]
            .as_object_mut()
            .unwrap()
            .remove(CONTROLLER_UID);
        let errs = rendered(&validate(&o));
        assert!(errs[0].starts_with(r#"spec.template.metadata.labels[job-name]: Invalid value: {"#));
        assert!(errs[0].ends_with("}: must be 'pi'"));
        assert_eq!(
            errs[1],
            format!(
                "spec.template.metadata.labels[{CONTROLLER_UID}]: Required value: must be '{UID}'"
            )
        );
        let mut o = job();
        o["metadata"]["uid"] = json!("");
        assert_eq!(rendered(&validate(&o))[0], "metadata.uid: Required value");
    }

    #[test]
    fn indexed_and_per_index_rules() {
        let mut o = job();
        o["spec"]["backoffLimitPerIndex"] = json!(1);
        o["spec"]["podReplacementPolicy"] = json!("Sometimes");
        assert_eq!(
            rendered(&validate(&o)),
            vec![
                "spec.backoffLimitPerIndex: Invalid value: 1: requires indexed completion mode",
                r#"spec.podReplacementPolicy: Unsupported value: "Sometimes": supported values: "Failed", "TerminatingOrFailed""#,
            ]
        );
        let mut o = job();
        o["metadata"]["name"] = json!("x".repeat(62));
        o["spec"]["completionMode"] = json!("Indexed");
        o["spec"]["completions"] = json!(10);
        let errs = rendered(&validate(&o));
        assert!(errs.iter().any(|e| e.ends_with(&format!(
            "will not able to create pod with invalid DNS label: {}-9",
            "x".repeat(62)
        ))));
    }

    #[test]
    fn pod_failure_policies() {
        let mut o = job();
        o["spec"]["podReplacementPolicy"] = json!("Failed");
        o["spec"]["podFailurePolicy"] = json!({"rules": [
            {"action": "FailJob", "onExitCodes": {"containerName": "nope", "operator": "In", "values": [3, 0, 1]}},
            {"action": "Explode"}
        ]});
        assert_eq!(
            rendered(&validate(&o)),
            vec![
                r#"spec.podFailurePolicy.rules[0].onExitCodes.containerName: Invalid value: "nope": must be one of the container or initContainer names in the pod template"#,
                "spec.podFailurePolicy.rules[0].onExitCodes.values[1]: Invalid value: 0: must not be 0 for the In operator",
                "spec.podFailurePolicy.rules[0].onExitCodes.values: Invalid value: [3,0,1]: must be ordered",
                r#"spec.podFailurePolicy.rules[1].action: Unsupported value: "Explode": supported values: "Count", "FailIndex", "FailJob", "Ignore""#,
                "spec.podFailurePolicy.rules[1]: Invalid value: specifying one of OnExitCodes and OnPodConditions is required",
            ]
        );
    }

    #[test]
    fn a_foreign_selector_is_refused() {
        let mut o = job();
        o["spec"]["selector"] = json!({"matchLabels": {"app": "pi"}});
        assert_eq!(
            rendered(&validate(&o)),
            vec![
                r#"spec.selector: Invalid value: {"matchLabels":{"app":"pi"}}: `selector` not auto-generated"#
            ]
        );
        o["spec"]["manualSelector"] = json!(true);
        assert!(validate(&o).is_empty());
    }

    #[test]
    fn immutable_fields_on_update() {
        let old = job();
        let mut new = old.clone();
        new["spec"]["completions"] = json!(4);
        new["spec"]["template"]["spec"]["containers"][0]["image"] = json!("perl:6");
        let errs = rendered(&validate_update(&new, &old));
        assert_eq!(
            errs[0],
            "spec.completions: Invalid value: 4: field is immutable"
        );
        assert!(errs[1].starts_with("spec.template: Invalid value: {"));
        assert!(errs[1].ends_with("}: field is immutable"));
        assert_eq!(errs.len(), 2);
        let mut new = old.clone();
        new["spec"]["parallelism"] = json!(5);
        new["spec"]["suspend"] = json!(true);
        assert!(validate_update(&new, &old).is_empty());
    }

    #[test]
    fn suspended_jobs_may_change_scheduling_directives() {
        let mut old = job();
        old["spec"]["suspend"] = json!(true);
        let mut new = old.clone();
        new["spec"]["template"]["spec"]["nodeSelector"] = json!({"zone": "a"});
        assert!(validate_update(&new, &old).is_empty());
    }
}
