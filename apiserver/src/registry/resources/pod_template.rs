//! Defaults and validation shared by everything that embeds a PodSpec
//! (pods, and the templates of deployments and replicasets).

use super::default_field;
use crate::validation::field_error::FieldError;
use serde_json::{json, Value};

/// kube-apiserver's defaults for a PodSpec (pkg/apis/core/v1/defaults.go).
pub fn default_pod_spec(spec: &mut Value) {
    default_field(spec, "restartPolicy", json!("Always"));
    default_field(spec, "dnsPolicy", json!("ClusterFirst"));
    default_field(spec, "terminationGracePeriodSeconds", json!(30));
    default_field(spec, "schedulerName", json!("default-scheduler"));
    default_field(spec, "securityContext", json!({}));
    default_field(spec, "enableServiceLinks", json!(true));
    for list in ["initContainers", "containers"] {
        if let Some(containers) = spec.get_mut(list).and_then(Value::as_array_mut) {
            containers.iter_mut().for_each(default_container);
        }
    }
}

fn default_container(c: &mut Value) {
    default_field(c, "terminationMessagePath", json!("/dev/termination-log"));
    default_field(c, "terminationMessagePolicy", json!("File"));
    let image = c.get("image").and_then(Value::as_str).unwrap_or_default();
    default_field(c, "imagePullPolicy", json!(pull_policy_for(image)));
    default_field(c, "resources", json!({}));
    if let Some(ports) = c.get_mut("ports").and_then(Value::as_array_mut) {
        for p in ports {
            default_field(p, "protocol", json!("TCP"));
        }
    }
}

/// `Always` for `:latest` or untagged images, else `IfNotPresent`.
fn pull_policy_for(image: &str) -> &'static str {
    let without_digest = image.split('@').next().unwrap_or(image);
    let last = without_digest.rsplit('/').next().unwrap_or(without_digest);
    match last.split_once(':') {
        Some((_, "latest")) | None => "Always",
        Some(_) => "IfNotPresent",
    }
}

/// Core checks on a PodSpec at `path` (e.g. `spec` or `spec.template.spec`).
pub fn validate_pod_spec(spec: Option<&Value>, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let containers = spec
        .and_then(|s| s.get("containers"))
        .and_then(Value::as_array);
    let Some(containers) = containers.filter(|c| !c.is_empty()) else {
        errs.push(FieldError::required(format!("{path}.containers"), ""));
        return errs;
    };
    let mut seen = std::collections::HashSet::new();
    for (i, c) in containers.iter().enumerate() {
        let cpath = format!("{path}.containers[{i}]");
        match c.get("name").and_then(Value::as_str) {
            None | Some("") => errs.push(FieldError::required(format!("{cpath}.name"), "")),
            Some(name) => {
                for msg in crate::validation::names::is_dns1123_label(name) {
                    errs.push(FieldError::invalid(format!("{cpath}.name"), name, msg));
                }
                if !seen.insert(name.to_string()) {
                    errs.push(FieldError::duplicate(format!("{cpath}.name"), name));
                }
            }
        }
        if c.get("image")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .trim()
            .is_empty()
        {
            errs.push(FieldError::required(format!("{cpath}.image"), ""));
        }
    }
    errs
}

/// core/v1 PodTemplates (`ValidatePodTemplate`): the template's pod defaults
/// and `ValidatePodTemplateSpec` at `template`.
pub struct PodTemplateStrategy;

impl crate::registry::Strategy for PodTemplateStrategy {
    fn default(&self, obj: &mut Value, _ctx: &crate::registry::Ctx) {
        if let Some(spec) = obj.pointer_mut("/template/spec").filter(|s| s.is_object()) {
            default_pod_spec(spec);
        }
    }

    fn validate_create(&self, obj: &Value, _ctx: &crate::registry::Ctx) -> Vec<FieldError> {
        super::workload::validate_template(obj.get("template"), "template")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::resources::workload::{rendered, validate_template};

    #[test]
    fn pod_templates_validate_their_template() {
        let o = json!({"template": {"metadata": {"labels": {"a": "-bad-"}}, "spec": {"containers": []}}});
        assert_eq!(
            rendered(&validate_template(o.get("template"), "template")),
            vec![
                r#"template.labels: Invalid value: "-bad-": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"#,
                "template.spec.containers: Required value",
            ]
        );
    }
}
