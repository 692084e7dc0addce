//! Which objects a list, watch or deletecollection selects: label selector,
//! field selector, both from the query.

use super::request::Query;
use super::status::{ApiError, ApiResult};
use crate::registry::ResourceDef;
use serde_json::Value;

pub struct Selection {
    def: &'static ResourceDef,
    labels: Vec<(String, bool, String)>,
    fields: Vec<(String, bool, String)>,
}

fn parse_simple(s: &str, what: &str) -> ApiResult<Vec<(String, bool, String)>> {
    let mut out = Vec::new();
    for term in s.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        let (k, eq, v) = if let Some((k, v)) = term.split_once("!=") {
            (k, false, v)
        } else if let Some((k, v)) = term.split_once("==") {
            (k, true, v)
        } else if let Some((k, v)) = term.split_once('=') {
            (k, true, v)
        } else {
            return Err(ApiError::bad_request(format!(
                "invalid {what} selector: {term}"
            )));
        };
        out.push((k.trim().to_string(), eq, v.trim().to_string()));
    }
    Ok(out)
}

impl Selection {
    pub fn from_query(def: &'static ResourceDef, q: &Query) -> ApiResult<Self> {
        let labels = parse_simple(q.get("labelSelector").unwrap_or(""), "label")?;
        let fields = parse_simple(q.get("fieldSelector").unwrap_or(""), "field")?;
        for (f, _, _) in &fields {
            if f != "metadata.name"
                && f != "metadata.namespace"
                && !def.strategy.field_labels().contains(&f.as_str())
            {
                return Err(ApiError::bad_request(format!(
                    "field label not supported: {f}"
                )));
            }
        }
        Ok(Selection {
            def,
            labels,
            fields,
        })
    }

    pub fn is_everything(&self) -> bool {
        self.labels.is_empty() && self.fields.is_empty()
    }

    pub fn matches(&self, obj: &Value) -> bool {
        let labels = obj.pointer("/metadata/labels");
        let label_ok = self.labels.iter().all(|(k, eq, v)| {
            let have = labels.and_then(|l| l.get(k)).and_then(Value::as_str);
            (have == Some(v.as_str())) == *eq
        });
        label_ok
            && self.fields.iter().all(|(k, eq, v)| {
                let have = match k.as_str() {
                    "metadata.name" => super::meta::meta_str(obj, "name")
                        .unwrap_or_default()
                        .to_string(),
                    "metadata.namespace" => super::meta::meta_str(obj, "namespace")
                        .unwrap_or_default()
                        .to_string(),
                    other => self.def.strategy.field(obj, other).unwrap_or_default(),
                };
                (have == *v) == *eq
            })
    }
}

/// A metav1.LabelSelector rendered in selector-string syntax (`a=b,c in (d)`).
pub fn label_selector_string(sel: &Value) -> String {
    let mut parts = Vec::new();
    if let Some(ml) = sel.get("matchLabels").and_then(Value::as_object) {
        for (k, v) in ml {
            parts.push(format!("{k}={}", v.as_str().unwrap_or_default()));
        }
    }
    if let Some(exprs) = sel.get("matchExpressions").and_then(Value::as_array) {
        for e in exprs {
            let key = e.get("key").and_then(Value::as_str).unwrap_or_default();
            let values: Vec<&str> = e
                .get("values")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            match e
                .get("operator")
                .and_then(Value::as_str)
                .unwrap_or_default()
            {
                "In" => parts.push(format!("{key} in ({})", values.join(","))),
                "NotIn" => parts.push(format!("{key} notin ({})", values.join(","))),
                "Exists" => parts.push(key.to_string()),
                "DoesNotExist" => parts.push(format!("!{key}")),
                _ => {}
            }
        }
    }
    parts.join(",")
}
