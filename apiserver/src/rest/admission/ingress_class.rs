//! DefaultIngressClass: an Ingress that names no class gets the default
//! IngressClass (`plugin/pkg/admission/network/defaultingressclass`).

use super::{list, name_of};
use crate::rest::status::ApiResult;
use crate::rest::ApiState;
use serde_json::{json, Value};

/// The annotation that marks the default IngressClass.
pub const DEFAULT_INGRESS_CLASS: &str = "ingressclass.kubernetes.io/is-default-class";
/// The deprecated annotation that names an Ingress's class.
const INGRESS_CLASS_ANNOTATION: &str = "kubernetes.io/ingress.class";

/// DefaultIngressClass: the newest class annotated as default, when the
/// Ingress names none (by field or by the old annotation).
pub async fn default_ingress_class(st: &ApiState, ingress: &mut Value) -> ApiResult<()> {
    let has_class = ingress
        .pointer("/spec/ingressClassName")
        .is_some_and(|c| !c.is_null());
    let annotated = ingress
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(INGRESS_CLASS_ANNOTATION))
        .is_some();
    if has_class || annotated {
        return Ok(());
    }
    let classes = list(st, "networking.k8s.io", "ingressclasses").await?;
    let newest_default = classes
        .iter()
        .filter(|c| {
            c.pointer("/metadata/annotations")
                .and_then(|a| a.get(DEFAULT_INGRESS_CLASS))
                .and_then(Value::as_str)
                == Some("true")
        })
        .max_by_key(|c| {
            c.pointer("/metadata/creationTimestamp")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        });
    if let Some(class) = newest_default {
        if !ingress.get("spec").is_some_and(Value::is_object) {
            ingress["spec"] = json!({});
        }
        ingress["spec"]["ingressClassName"] = json!(name_of(class));
    }
    Ok(())
}
