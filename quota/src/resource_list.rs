//! ResourceList arithmetic (`pkg/quota/v1/resources.go`): the sums, masks
//! and comparisons quota admission and the resourcequota controller share.

use crate::quantity::Quantity;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Resource name to quantity, sorted by name as kube prints them.
pub type ResourceList = BTreeMap<String, Quantity>;

/// A ResourceList from a JSON object of quantity strings (or numbers);
/// entries that do not parse are skipped (validation refused them already).
pub fn from_json(v: Option<&Value>) -> ResourceList {
    let Some(map) = v.and_then(Value::as_object) else {
        return ResourceList::new();
    };
    map.iter()
        .filter_map(|(k, v)| {
            let q = match v {
                Value::String(s) => Quantity::parse(s),
                Value::Number(n) => Quantity::parse(&n.to_string()),
                _ => None,
            }?;
            Some((k.clone(), q))
        })
        .collect()
}

/// The JSON object kube writes (canonical quantity strings).
pub fn to_json(list: &ResourceList) -> Value {
    let map: Map<String, Value> = list
        .iter()
        .map(|(k, q)| (k.clone(), Value::String(q.canonical())))
        .collect();
    Value::Object(map)
}

/// `a + b`, keys of either.
pub fn add(a: &ResourceList, b: &ResourceList) -> ResourceList {
    let mut out = a.clone();
    for (k, q) in b {
        let sum = out.get(k).copied().unwrap_or_default().add(*q);
        out.insert(k.clone(), sum);
    }
    out
}

/// `a - b`, keys of either.
pub fn subtract(a: &ResourceList, b: &ResourceList) -> ResourceList {
    let mut out = a.clone();
    for (k, q) in b {
        let diff = out.get(k).copied().unwrap_or_default().sub(*q);
        out.insert(k.clone(), diff);
    }
    out
}

/// The larger of each key's values.
pub fn max(a: &ResourceList, b: &ResourceList) -> ResourceList {
    let mut out = a.clone();
    for (k, q) in b {
        if out.get(k).is_none_or(|have| have < q) {
            out.insert(k.clone(), *q);
        }
    }
    out
}

/// Only the entries whose names are in `names`.
pub fn mask<'a>(list: &ResourceList, names: impl IntoIterator<Item = &'a String>) -> ResourceList {
    names
        .into_iter()
        .filter_map(|n| list.get(n).map(|q| (n.clone(), *q)))
        .collect()
}

pub fn remove_zeros(list: &ResourceList) -> ResourceList {
    list.iter()
        .filter(|(_, q)| !q.is_zero())
        .map(|(k, q)| (k.clone(), *q))
        .collect()
}

/// Whether every entry of `a` is at most `b`'s (a key missing from `b` is
/// unlimited), and the names that are not.
pub fn less_than_or_equal(a: &ResourceList, b: &ResourceList) -> (bool, Vec<String>) {
    let exceeded: Vec<String> = a
        .iter()
        .filter(|(k, q)| b.get(*k).is_some_and(|limit| *q > limit))
        .map(|(k, _)| k.clone())
        .collect();
    (exceeded.is_empty(), exceeded)
}

/// `prettyPrint`: `name=quantity` pairs sorted by name, comma-joined.
pub fn pretty_print(list: &ResourceList) -> String {
    list.iter()
        .map(|(k, q)| format!("{k}={q}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Equal as quantities (so `1000m` equals `1`), with the same keys.
pub fn equals(a: &ResourceList, b: &ResourceList) -> bool {
    a.len() == b.len() && a.iter().all(|(k, q)| b.get(k) == Some(q))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn arithmetic_and_comparison() {
        let a = from_json(Some(&json!({"pods": "2", "requests.cpu": "500m"})));
        let b = from_json(Some(&json!({"pods": "1", "requests.memory": "1Gi"})));
        let sum = add(&a, &b);
        assert_eq!(
            to_json(&sum),
            json!({"pods": "3", "requests.cpu": "500m", "requests.memory": "1Gi"})
        );
        assert_eq!(to_json(&subtract(&sum, &b))["pods"], "2");
        let hard = from_json(Some(&json!({"pods": "2", "requests.cpu": "1"})));
        let (ok, exceeded) = less_than_or_equal(&sum, &hard);
        assert!(!ok);
        assert_eq!(exceeded, vec!["pods".to_string()]);
        assert_eq!(pretty_print(&mask(&sum, &exceeded)), "pods=3");
        assert!(equals(
            &from_json(Some(&json!({"cpu": "1000m"}))),
            &from_json(Some(&json!({"cpu": "1"})))
        ));
    }
}
