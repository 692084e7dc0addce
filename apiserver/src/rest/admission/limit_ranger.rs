//! LimitRanger (`plugin/pkg/admission/limitranger`): a namespace's
//! LimitRanges give pod containers their default requests and limits, and
//! refuse pods and claims outside their min, max and limit/request ratio.

use super::{forbidden, list_in, namespace_of};
use crate::registry::ResourceDef;
use crate::rest::status::ApiResult;
use crate::rest::ApiState;
use quota::resource_list::{self, ResourceList};
use quota::Quantity;
use serde_json::{json, Map, Value};

/// The annotation recording what the defaults set.
const ANNOTATION: &str = "kubernetes.io/limit-ranger";

async fn limit_ranges(st: &ApiState, obj: &Value) -> ApiResult<Vec<Value>> {
    let Some(ns) = namespace_of(obj) else {
        return Ok(Vec::new());
    };
    list_in(st, "", "limitranges", Some(ns)).await
}

fn items<'a>(lr: &'a Value, kind: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    lr.pointer("/spec/limits")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(move |i| i.get("type").and_then(Value::as_str) == Some(kind))
}

/// Mutation: every LimitRange's Container defaults, in turn.
pub async fn default_pod(st: &ApiState, pod: &mut Value) -> ApiResult<()> {
    for lr in limit_ranges(st, pod).await? {
        apply_defaults(&lr, pod);
    }
    Ok(())
}

/// `defaultContainerResourceRequirements` + `mergePodResourceRequirements`.
pub fn apply_defaults(lr: &Value, pod: &mut Value) {
    let mut limits = Map::new();
    let mut requests = Map::new();
    for item in items(lr, "Container") {
        if let Some(d) = item.get("default").and_then(Value::as_object) {
            limits.extend(d.clone());
        }
        if let Some(d) = item.get("defaultRequest").and_then(Value::as_object) {
            requests.extend(d.clone());
        }
    }
    if limits.is_empty() && requests.is_empty() {
        return;
    }
    let mut notes = Vec::new();
    for (list, label) in [
        ("containers", "container"),
        ("initContainers", "init container"),
    ] {
        let Some(cs) = pod
            .pointer_mut(&format!("/spec/{list}"))
            .and_then(Value::as_array_mut)
        else {
            continue;
        };
        for c in cs {
            let name = c
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let set_limits = fill(c, "limits", &limits);
            let set_requests = fill(c, "requests", &requests);
            if !set_requests.is_empty() {
                notes.push(format!(
                    "{} request for {label} {name}",
                    set_requests.join(", ")
                ));
            }
            if !set_limits.is_empty() {
                notes.push(format!(
                    "{} limit for {label} {name}",
                    set_limits.join(", ")
                ));
            }
        }
    }
    if notes.is_empty() {
        return;
    }
    let Some(meta) = pod.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    let annotations = meta.entry("annotations").or_insert_with(|| json!({}));
    if let Some(a) = annotations.as_object_mut() {
        a.insert(
            ANNOTATION.into(),
            json!(format!("LimitRanger plugin set: {}", notes.join("; "))),
        );
    }
}

/// Sets the missing entries of `resources.<which>`; the names set, sorted.
fn fill(container: &mut Value, which: &str, defaults: &Map<String, Value>) -> Vec<String> {
    let Some(c) = container.as_object_mut() else {
        return Vec::new();
    };
    let resources = c.entry("resources").or_insert_with(|| json!({}));
    let Some(resources) = resources.as_object_mut() else {
        return Vec::new();
    };
    let list = resources.entry(which).or_insert_with(|| json!({}));
    let Some(list) = list.as_object_mut() else {
        return Vec::new();
    };
    let mut set: Vec<String> = Vec::new();
    for (k, v) in defaults {
        if !list.contains_key(k) {
            list.insert(k.clone(), v.clone());
            set.push(k.clone());
        }
    }
    set.sort();
    set
}

/// Validation of pods (create) and claims (create and update).
pub async fn validate(st: &ApiState, def: &ResourceDef, obj: &Value) -> ApiResult<()> {
    let pod = matches!((def.group, def.kind), ("", "Pod"));
    let claim = matches!((def.group, def.kind), ("", "PersistentVolumeClaim"));
    if !pod && !claim {
        return Ok(());
    }
    let mut errs = Vec::new();
    for lr in limit_ranges(st, obj).await? {
        if pod {
            errs.extend(pod_errors(&lr, obj));
        } else {
            errs.extend(claim_errors(&lr, obj));
        }
    }
    match errs.as_slice() {
        [] => Ok(()),
        [one] => Err(forbidden(def, obj, one)),
        many => Err(forbidden(def, obj, &format!("[{}]", many.join(", ")))),
    }
}

fn list_of(v: &Value, key: &str) -> ResourceList {
    resource_list::from_json(v.get(key))
}

/// `PodValidateLimitFunc`: each container against Container items, the
/// pod's effective requests and limits against Pod items.
pub fn pod_errors(lr: &Value, pod: &Value) -> Vec<String> {
    let mut errs = Vec::new();
    for item in items(lr, "Container") {
        let containers = ["containers", "initContainers"]
            .into_iter()
            .flat_map(|l| pod.pointer(&format!("/spec/{l}")).and_then(Value::as_array))
            .flatten();
        for c in containers {
            let requests = resource_list::from_json(c.pointer("/resources/requests"));
            let limits = resource_list::from_json(c.pointer("/resources/limits"));
            errs.extend(check_item(item, "Container", &requests, &limits));
        }
    }
    for item in items(lr, "Pod") {
        let requests = quota::pod::effective(pod, "requests");
        let limits = quota::pod::effective(pod, "limits");
        errs.extend(check_item(item, "Pod", &requests, &limits));
    }
    errs
}

fn check_item(
    item: &Value,
    kind: &str,
    requests: &ResourceList,
    limits: &ResourceList,
) -> Vec<String> {
    let mut errs = Vec::new();
    for (name, min) in list_of(item, "min") {
        errs.extend(min_error(
            kind,
            &name,
            min,
            requests.get(&name),
            limits.get(&name),
        ));
    }
    for (name, max) in list_of(item, "max") {
        errs.extend(max_error(
            kind,
            &name,
            max,
            requests.get(&name),
            limits.get(&name),
        ));
    }
    for (name, ratio) in list_of(item, "maxLimitRequestRatio") {
        errs.extend(ratio_error(
            kind,
            &name,
            ratio,
            requests.get(&name),
            limits.get(&name),
        ));
    }
    errs
}

/// `PersistentVolumeClaimValidateLimitFunc`: only the requests count.
pub fn claim_errors(lr: &Value, pvc: &Value) -> Vec<String> {
    let requests = resource_list::from_json(pvc.pointer("/spec/resources/requests"));
    let mut errs = Vec::new();
    for item in items(lr, "PersistentVolumeClaim") {
        for (name, min) in list_of(item, "min") {
            errs.extend(min_error(
                "PersistentVolumeClaim",
                &name,
                min,
                requests.get(&name),
                None,
            ));
        }
        for (name, max) in list_of(item, "max") {
            let kind = "PersistentVolumeClaim";
            match requests.get(&name) {
                None => errs.push(format!(
                    "maximum {name} usage per {kind} is {max}.  No request is specified"
                )),
                Some(req) if req.milli_value() > max.milli_value() => errs.push(format!(
                    "maximum {name} usage per {kind} is {max}, but request is {req}"
                )),
                Some(_) => {}
            }
        }
    }
    errs
}

fn min_error(
    kind: &str,
    name: &str,
    min: Quantity,
    req: Option<&Quantity>,
    lim: Option<&Quantity>,
) -> Option<String> {
    let Some(req) = req else {
        return Some(format!(
            "minimum {name} usage per {kind} is {min}.  No request is specified"
        ));
    };
    if req.milli_value() < min.milli_value() {
        return Some(format!(
            "minimum {name} usage per {kind} is {min}, but request is {req}"
        ));
    }
    let lim = lim.filter(|l| l.milli_value() < min.milli_value())?;
    Some(format!(
        "minimum {name} usage per {kind} is {min}, but limit is {lim}"
    ))
}

fn max_error(
    kind: &str,
    name: &str,
    max: Quantity,
    req: Option<&Quantity>,
    lim: Option<&Quantity>,
) -> Option<String> {
    let Some(lim) = lim else {
        return Some(format!(
            "maximum {name} usage per {kind} is {max}.  No limit is specified"
        ));
    };
    if lim.milli_value() > max.milli_value() {
        return Some(format!(
            "maximum {name} usage per {kind} is {max}, but limit is {lim}"
        ));
    }
    let req = req.filter(|r| r.milli_value() > max.milli_value())?;
    Some(format!(
        "maximum {name} usage per {kind} is {max}, but request is {req}"
    ))
}

fn ratio_error(
    kind: &str,
    name: &str,
    ratio: Quantity,
    req: Option<&Quantity>,
    lim: Option<&Quantity>,
) -> Option<String> {
    let Some(req) = req.filter(|r| !r.is_zero()) else {
        return Some(format!(
            "{name} max limit to request ratio per {kind} is {ratio}, but no request is specified or request is 0"
        ));
    };
    let Some(lim) = lim.filter(|l| !l.is_zero()) else {
        return Some(format!(
            "{name} max limit to request ratio per {kind} is {ratio}, but no limit is specified or limit is 0"
        ));
    };
    let observed = lim.milli_value() as f64 / req.milli_value() as f64;
    if observed * 1000.0 > ratio.milli_value() as f64 {
        return Some(format!(
            "{name} max limit to request ratio per {kind} is {ratio}, but provided ratio is {observed:.6}"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lr(limits: Value) -> Value {
        json!({"spec": {"limits": limits}})
    }

    #[test]
    fn defaults_fill_missing_values_and_annotate() {
        let range = lr(json!([{"type": "Container",
            "default": {"cpu": "500m", "memory": "256Mi"},
            "defaultRequest": {"cpu": "100m", "memory": "128Mi"}}]));
        let mut pod = json!({"metadata": {"name": "p"}, "spec": {"containers": [
            {"name": "web", "resources": {"limits": {"memory": "1Gi"}}}]}});
        apply_defaults(&range, &mut pod);
        let c = &pod["spec"]["containers"][0]["resources"];
        assert_eq!(c["limits"], json!({"memory": "1Gi", "cpu": "500m"}));
        assert_eq!(c["requests"], json!({"cpu": "100m", "memory": "128Mi"}));
        assert_eq!(
            pod["metadata"]["annotations"][ANNOTATION],
            "LimitRanger plugin set: cpu, memory request for container web; cpu limit for container web"
        );
    }

    #[test]
    fn min_max_and_ratio_messages_match_kube() {
        let range = lr(json!([{"type": "Container",
            "min": {"cpu": "100m"}, "max": {"cpu": "1", "memory": "1Gi"},
            "maxLimitRequestRatio": {"cpu": "2"}}]));
        let pod = json!({"spec": {"containers": [{"name": "a", "resources": {
            "requests": {"cpu": "50m"}, "limits": {"cpu": "2"}}}]}});
        assert_eq!(
            pod_errors(&range, &pod),
            vec![
                "minimum cpu usage per Container is 100m, but request is 50m",
                "maximum cpu usage per Container is 1, but limit is 2",
                "maximum memory usage per Container is 1Gi.  No limit is specified",
                "cpu max limit to request ratio per Container is 2, but provided ratio is 40.000000",
            ]
        );
    }

    #[test]
    fn claims_are_held_to_storage_bounds() {
        let range = lr(json!([{"type": "PersistentVolumeClaim",
            "min": {"storage": "1Gi"}, "max": {"storage": "10Gi"}}]));
        let small = json!({"spec": {"resources": {"requests": {"storage": "500Mi"}}}});
        assert_eq!(
            claim_errors(&range, &small),
            vec!["minimum storage usage per PersistentVolumeClaim is 1Gi, but request is 500Mi"]
        );
        let big = json!({"spec": {"resources": {"requests": {"storage": "20Gi"}}}});
        assert_eq!(
            claim_errors(&range, &big),
            vec!["maximum storage usage per PersistentVolumeClaim is 10Gi, but request is 20Gi"]
        );
    }
}
