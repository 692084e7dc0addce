//! Which objects a list, watch or deletecollection selects: the label and
//! field selectors of the query, parsed with kube-apiserver's grammar and errors.

use super::request::Query;
use super::status::{ApiError, ApiResult};
use crate::registry::ResourceDef;
use crate::selectors::{FieldSelector, LabelSelector};
use serde_json::Value;

pub struct Selection {
    def: &'static ResourceDef,
    labels: LabelSelector,
    fields: FieldSelector,
}

impl Selection {
    pub fn from_query(def: &'static ResourceDef, q: &Query) -> ApiResult<Self> {
        let labels = match q.get("labelSelector") {
            Some(s) => LabelSelector::parse(s).map_err(|e| ApiError::bad_request(e.0))?,
            None => LabelSelector::everything(),
        };
        let fields = match q.get("fieldSelector") {
            Some(s) => FieldSelector::parse_for(s, def.group, def.plural)
                .map_err(|e| ApiError::bad_request(e.0))?,
            None => FieldSelector::everything(),
        };
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
        self.labels.matches_object(obj)
            && self
                .fields
                .matches_object(self.def.group, self.def.plural, self.def.namespaced, obj)
    }
}

/// A metav1.LabelSelector rendered in selector-string syntax (`a=b,c in (d)`).
pub fn label_selector_string(sel: &Value) -> String {
    LabelSelector::from_label_selector(Some(sel))
        .map(|s| s.to_string())
        .unwrap_or_default()
}
