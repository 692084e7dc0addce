//! core/v1 LimitRanges (`ValidateLimitRange`; `SetDefaults_LimitRangeItem`).

use crate::registry::{Ctx, Strategy};
use crate::validation::checks::arr_at;
use crate::validation::field_error::FieldError;
use crate::validation::names::is_qualified_name;
use crate::validation::quantity::{quantity_string, quantity_value, validate_nonnegative};
use crate::validation::resource_names::validate_resource_name;
use serde_json::{Map, Value};

pub struct LimitRangeStrategy;

const LISTS: [&str; 5] = [
    "max",
    "min",
    "default",
    "defaultRequest",
    "maxLimitRequestRatio",
];

impl Strategy for LimitRangeStrategy {
    fn default(&self, obj: &mut Value, _ctx: &Ctx) {
        default_limit_range(obj);
    }

    fn validate_create(&self, obj: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        validate_limit_range(obj)
    }
}

/// Container items: the default limit from max, the default request from
/// the default limit, else from min.
pub fn default_limit_range(obj: &mut Value) {
    let limits = obj
        .pointer_mut("/spec/limits")
        .and_then(Value::as_array_mut);
    for item in limits.into_iter().flatten() {
        if item.get("type").and_then(Value::as_str) != Some("Container") {
            continue;
        }
        let list = |item: &Value, key: &str| -> Map<String, Value> {
            item.get(key)
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default()
        };
        let mut default = list(item, "default");
        for (k, v) in list(item, "max") {
            default.entry(k).or_insert(v);
        }
        let mut request = list(item, "defaultRequest");
        for (k, v) in default.iter().chain(list(item, "min").iter()) {
            request.entry(k.clone()).or_insert(v.clone());
        }
        if let Some(map) = item.as_object_mut() {
            map.insert("default".into(), Value::Object(default));
            map.insert("defaultRequest".into(), Value::Object(request));
        }
    }
}

fn list<'a>(item: &'a Value, key: &str) -> &'a Map<String, Value> {
    static EMPTY: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);
    item.get(key).and_then(Value::as_object).unwrap_or(&EMPTY)
}

/// `ValidateLimitRange`: known unique types, valid names and quantities,
/// and min <= defaultRequest <= default <= max.
pub fn validate_limit_range(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut types = Vec::new();
    for (i, item) in arr_at(obj, "/spec/limits").iter().enumerate() {
        let path = format!("spec.limits[{i}]");
        let t = item.get("type").and_then(Value::as_str).unwrap_or("");
        errs.extend(validate_type(t, &format!("{path}.type")));
        if types.contains(&t) {
            errs.push(FieldError::duplicate(format!("{path}.type"), t));
        }
        types.push(t);
        for key in LISTS {
            if t == "Pod"
                && (key == "default" || key == "defaultRequest")
                && !list(item, key).is_empty()
            {
                errs.push(FieldError::forbidden(
                    format!("{path}.{key}"),
                    "may not be specified when `type` is 'Pod'",
                ));
                continue;
            }
            for (name, q) in list(item, key) {
                let p = format!("{path}.{key}[{name}]");
                errs.extend(validate_resource_name(name, &p));
                errs.extend(validate_nonnegative(q, &p));
            }
        }
        errs.extend(validate_order(item, &path));
    }
    errs
}

fn validate_type(t: &str, path: &str) -> Vec<FieldError> {
    let errs: Vec<FieldError> = is_qualified_name(t)
        .into_iter()
        .map(|m| FieldError::invalid(path, t, m))
        .collect();
    if errs.is_empty()
        && !t.contains('/')
        && !matches!(t, "Pod" | "Container" | "PersistentVolumeClaim")
    {
        return vec![FieldError::invalid(
            path,
            t,
            "must be a standard limit type or fully qualified",
        )];
    }
    errs
}

/// The pairwise order checks, per resource.
fn validate_order(item: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut keys: Vec<&String> = LISTS.iter().flat_map(|k| list(item, k).keys()).collect();
    keys.sort();
    keys.dedup();
    let get = |list_key: &str, k: &str| {
        list(item, list_key)
            .get(k)
            .map(|q| (quantity_value(q), quantity_string(q)))
    };
    for k in keys {
        // (lower, higher, field reported, whether the lower value is shown, detail)
        let pairs = [
            (
                "min",
                "max",
                "min",
                true,
                "min value {a} is greater than max value {b}",
            ),
            (
                "min",
                "defaultRequest",
                "defaultRequest",
                false,
                "min value {a} is greater than default request value {b}",
            ),
            (
                "defaultRequest",
                "max",
                "defaultRequest",
                true,
                "default request value {a} is greater than max value {b}",
            ),
            (
                "defaultRequest",
                "default",
                "defaultRequest",
                true,
                "default request value {a} is greater than default limit value {b}",
            ),
            (
                "min",
                "default",
                "default",
                true,
                "min value {a} is greater than default value {b}",
            ),
            (
                "default",
                "max",
                "default",
                false,
                "default value {a} is greater than max value {b}",
            ),
        ];
        for (lo, hi, at, show_lo, msg) in pairs {
            let (Some((Some(a), sa)), Some((Some(b), sb))) = (get(lo, k), get(hi, k)) else {
                continue;
            };
            if a > b {
                let shown = if show_lo { sa.clone() } else { sb.clone() };
                let detail = msg.replace("{a}", &sa).replace("{b}", &sb);
                errs.push(FieldError::invalid(
                    format!("{path}.{at}[{k}]"),
                    shown,
                    detail,
                ));
            }
        }
        if let Some((Some(r), s)) = get("maxLimitRequestRatio", k) {
            if r < 1.0 {
                errs.push(FieldError::invalid(
                    format!("{path}.maxLimitRequestRatio[{k}]"),
                    s.clone(),
                    format!("ratio {s} is less than 1"),
                ));
            }
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn container_defaults() {
        let mut lr = json!({"spec": {"limits": [{"type": "Container",
            "max": {"cpu": "2"}, "min": {"memory": "64Mi"}, "default": {"memory": "256Mi"}}]}});
        default_limit_range(&mut lr);
        let item = &lr["spec"]["limits"][0];
        assert_eq!(item["default"], json!({"cpu": "2", "memory": "256Mi"}));
        assert_eq!(
            item["defaultRequest"],
            json!({"cpu": "2", "memory": "256Mi"})
        );
        assert!(validate_limit_range(&lr).is_empty());
    }

    #[test]
    fn invalid_ranges() {
        let lr = json!({"spec": {"limits": [
            {"type": "Pod", "default": {"cpu": "1"}},
            {"type": "Widget", "min": {"cpu": "2"}, "max": {"cpu": "1"}},
            {"type": "Pod"}
        ]}});
        let errs: Vec<String> = validate_limit_range(&lr)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            errs,
            [
                "spec.limits[0].default: Forbidden: may not be specified when `type` is 'Pod'",
                "spec.limits[1].type: Invalid value: \"Widget\": must be a standard limit type or fully qualified",
                "spec.limits[1].min[cpu]: Invalid value: \"2\": min value 2 is greater than max value 1",
                "spec.limits[2].type: Duplicate value: \"Pod\"",
            ]
        );
    }
}
