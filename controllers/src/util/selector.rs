//! Label selectors as the API defines them: equality-based `matchLabels` and
//! set-based `matchExpressions`; an empty selector matches everything.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use std::collections::BTreeMap;

pub type Labels = BTreeMap<String, String>;

/// A Service-style selector (map): every pair must be present.
pub fn map_matches(selector: &Labels, labels: Option<&Labels>) -> bool {
    selector
        .iter()
        .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
}

/// A `metav1.LabelSelector`. An invalid operator matches nothing.
pub fn matches(selector: &LabelSelector, labels: Option<&Labels>) -> bool {
    let empty = Labels::new();
    let labels = labels.unwrap_or(&empty);
    if let Some(ml) = &selector.match_labels {
        if !map_matches(ml, Some(labels)) {
            return false;
        }
    }
    for req in selector.match_expressions.iter().flatten() {
        let values = req.values.as_deref().unwrap_or(&[]);
        let val = labels.get(&req.key);
        let ok = match req.operator.as_str() {
            "In" => val.is_some_and(|v| values.contains(v)),
            "NotIn" => val.is_none_or(|v| !values.contains(v)),
            "Exists" => val.is_some(),
            "DoesNotExist" => val.is_none(),
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    true
}

/// Whether the selector has no requirement at all (selects everything).
pub fn is_empty(selector: &LabelSelector) -> bool {
    selector.match_labels.as_ref().is_none_or(|m| m.is_empty())
        && selector
            .match_expressions
            .as_ref()
            .is_none_or(|m| m.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selector_semantics() {
        let sel: LabelSelector = serde_json::from_value(json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]},
                                 {"key": "canary", "operator": "DoesNotExist"}]
        }))
        .unwrap();
        let l = |v: serde_json::Value| -> Labels { serde_json::from_value(v).unwrap() };
        assert!(matches(&sel, Some(&l(json!({"app": "web", "tier": "a"})))));
        assert!(!matches(&sel, Some(&l(json!({"app": "web", "tier": "c"})))));
        assert!(!matches(
            &sel,
            Some(&l(json!({"app": "web", "tier": "a", "canary": "1"})))
        ));
        assert!(matches(&LabelSelector::default(), None));
        assert!(map_matches(
            &l(json!({"app": "web"})),
            Some(&l(json!({"app": "web", "x": "y"})))
        ));
        assert!(!map_matches(&l(json!({"app": "web"})), None));
    }
}
