//! storage.k8s.io/v1 VolumeAttachments (`ValidateVolumeAttachment`,
//! `ValidateVolumeAttachmentV1`, `ValidateVolumeAttachmentUpdate`).

use super::csi_driver::validate_driver_name;
use crate::registry::{Ctx, Strategy};
use crate::validation::checks::{invalid_each, present, str_at, FIELD_IMMUTABLE};
use crate::validation::field_error::FieldError;
use crate::validation::names::is_dns1123_subdomain;
use serde_json::Value;

pub struct VolumeAttachmentStrategy;

impl Strategy for VolumeAttachmentStrategy {
    fn validate_create(&self, obj: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        validate_attachment(obj)
    }

    fn validate_update(&self, new: &Value, old: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        let mut errs = validate_attachment(new);
        let spec = |o: &Value| o.get("spec").cloned().unwrap_or(Value::Null);
        if spec(new) != spec(old) {
            errs.push(FieldError::invalid("spec", spec(new), FIELD_IMMUTABLE));
        }
        errs
    }
}

const ONE_SOURCE: &str = "must specify exactly one of inlineVolumeSpec and persistentVolumeName";

/// The attacher (a CSI driver name), exactly one source, a valid node name.
pub fn validate_attachment(obj: &Value) -> Vec<FieldError> {
    let attacher = str_at(obj, "/spec/attacher");
    let mut errs = Vec::new();
    if attacher.is_empty() {
        errs.push(FieldError::required("spec.attacher", ""));
    }
    errs.extend(validate_driver_name(attacher, "spec.attacher"));
    let pv = present(obj, "/spec/source/persistentVolumeName");
    let inline = present(obj, "/spec/source/inlineVolumeSpec");
    match (pv, inline) {
        (None, None) => errs.push(FieldError::required("spec.source", ONE_SOURCE)),
        (Some(_), Some(_)) => errs.push(FieldError::forbidden("spec.source", ONE_SOURCE)),
        (Some(name), None) if name == "" => errs.push(FieldError::required(
            "spec.source.persistentVolumeName",
            "must specify non empty persistentVolumeName",
        )),
        _ => {}
    }
    let node = str_at(obj, "/spec/nodeName");
    errs.extend(invalid_each(
        "spec.nodeName",
        node,
        is_dns1123_subdomain(node),
    ));
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn attachments() {
        let ok = json!({"spec": {"attacher": "csi.example.com", "nodeName": "node-1",
            "source": {"persistentVolumeName": "pv-1"}}});
        assert!(validate_attachment(&ok).is_empty());
        let errs: Vec<String> = validate_attachment(
            &json!({"spec": {"attacher": "csi.example.com", "nodeName": "n", "source": {}}}),
        )
        .iter()
        .map(ToString::to_string)
        .collect();
        assert_eq!(errs, ["spec.source: Required value: must specify exactly one of inlineVolumeSpec and persistentVolumeName"]);
    }
}
