//! certificates.k8s.io/v1 CertificateSigningRequests
//! (`ValidateCertificateSigningRequestCreate`, `ValidateSignerName`;
//! `pkg/registry/certificates/certificates/strategy.go`).

use crate::registry::{Ctx, Pending, Strategy, WriteOp};
use crate::rest::status::ApiResult;
use crate::validation::checks::{arr_at, str_at};
use crate::validation::field_error::FieldError;
use crate::validation::names::{is_dns1123_label, is_dns1123_subdomain};
use base64::Engine;
use serde_json::{json, Value};

pub struct CertificateSigningRequestStrategy;

/// The user a request is attributed to when the request carries none.
const DEFAULT_USER: &str = "kubernetes-admin";
const DEFAULT_GROUPS: [&str; 2] = ["system:masters", "system:authenticated"];

/// Every key usage the API accepts, sorted.
const USAGES: [&str; 22] = [
    "any",
    "cert sign",
    "client auth",
    "code signing",
    "content commitment",
    "crl sign",
    "data encipherment",
    "decipher only",
    "digital signature",
    "email protection",
    "encipher only",
    "ipsec end system",
    "ipsec tunnel",
    "ipsec user",
    "key agreement",
    "key encipherment",
    "microsoft sgc",
    "netscape sgc",
    "ocsp signing",
    "s/mime",
    "server auth",
    "signing",
];

impl Strategy for CertificateSigningRequestStrategy {
    fn validate_create(&self, obj: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        validate_csr(obj)
    }

    fn begin_write(&self, op: WriteOp<'_>, _ctx: &Ctx) -> ApiResult<Pending> {
        match op {
            WriteOp::Create(obj) => set_requesting_user(obj),
            // The spec is fixed once created (PrepareForUpdate keeps the old one).
            WriteOp::Update {
                old,
                new,
                subresource: None,
            } => {
                if let (Some(spec), Some(map)) = (old.get("spec"), new.as_object_mut()) {
                    map.insert("spec".into(), spec.clone());
                }
            }
            _ => {}
        }
        Ok(Pending::default())
    }
}

/// The requesting user's name, uid and groups, as the server records them
/// on create (whatever the client sent).
pub fn set_requesting_user(obj: &mut Value) {
    let Some(spec) = super::object_field(obj, "spec") else {
        return;
    };
    if let Some(map) = spec.as_object_mut() {
        map.insert("username".into(), json!(DEFAULT_USER));
        map.insert("groups".into(), json!(DEFAULT_GROUPS));
        map.remove("uid");
        map.remove("extra");
    }
}

/// `ParseCSR`'s first check: the request's first PEM block is a
/// CERTIFICATE REQUEST.
fn pem_error(request_b64: &str) -> Option<&'static str> {
    const WRONG: &str = "PEM block type must be CERTIFICATE REQUEST";
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(request_b64) else {
        return Some(WRONG);
    };
    let text = String::from_utf8_lossy(&bytes);
    let Some(start) = text.find("-----BEGIN ") else {
        return Some(WRONG);
    };
    let rest = &text[start + 11..];
    let Some((block_type, body)) = rest.split_once("-----") else {
        return Some(WRONG);
    };
    let has_end = body.contains(&format!("-----END {block_type}-----"));
    (!has_end || block_type != "CERTIFICATE REQUEST").then_some(WRONG)
}

/// `validateCertificateSigningRequest` on create.
pub fn validate_csr(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let request = str_at(obj, "/spec/request");
    if let Some(e) = pem_error(request) {
        errs.push(FieldError::invalid("spec.request", request, e));
    }
    errs.extend(validate_usages(obj));
    let signer = str_at(obj, "/spec/signerName");
    if signer == "kubernetes.io/legacy-unknown" {
        errs.push(FieldError::invalid(
            "spec.signerName",
            signer,
            "the legacy signerName is not allowed via this API version",
        ));
    } else {
        errs.extend(validate_signer_name("spec.signerName", signer));
    }
    if let Some(secs) = obj
        .pointer("/spec/expirationSeconds")
        .and_then(Value::as_i64)
    {
        if secs < 600 {
            errs.push(FieldError::invalid(
                "spec.expirationSeconds",
                secs,
                "may not specify a duration less than 600 seconds (10 minutes)",
            ));
        }
    }
    errs
}

fn validate_usages(obj: &Value) -> Vec<FieldError> {
    let usages = arr_at(obj, "/spec/usages");
    let mut errs = Vec::new();
    if usages.is_empty() {
        errs.push(FieldError::required("spec.usages", ""));
    }
    for (i, u) in usages.iter().enumerate() {
        if !u.as_str().is_some_and(|s| USAGES.contains(&s)) {
            errs.push(FieldError::not_supported(
                format!("spec.usages[{i}]"),
                u.clone(),
                &USAGES,
            ));
        }
    }
    for (i, u) in usages.iter().enumerate() {
        if usages[..i].contains(u) {
            errs.push(FieldError::duplicate(
                format!("spec.usages[{i}]"),
                u.clone(),
            ));
        }
    }
    errs
}

/// `ValidateSignerName`: `<fully qualified domain>/<path>`.
pub fn validate_signer_name(path: &str, signer: &str) -> Vec<FieldError> {
    if signer.is_empty() {
        return vec![FieldError::required(path, "")];
    }
    let Some((domain, name)) = signer.split_once('/').filter(|(_, n)| !n.contains('/')) else {
        return vec![FieldError::invalid(
            path,
            signer,
            "must be a fully qualified domain and path of the form 'example.com/signer-name'",
        )];
    };
    let mut errs = Vec::new();
    if domain.len() > 253 {
        errs.push(FieldError::too_long(path, 253));
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if let Some((label, msgs)) = labels
        .iter()
        .map(|l| (l, is_dns1123_label(l)))
        .find(|(_, m)| !m.is_empty())
    {
        for m in msgs {
            errs.push(FieldError::invalid(
                path,
                domain,
                format!(
                    "validating label {}: {m}",
                    crate::validation::field_error::go_quote(label)
                ),
            ));
        }
    }
    if labels.len() < 2 {
        errs.push(FieldError::invalid(
            path,
            domain,
            "should be a domain with at least two segments separated by dots",
        ));
    }
    if name.len() > 253 + 63 + 1 {
        errs.push(FieldError::too_long(path, 253 + 63 + 1));
    }
    for m in is_dns1123_subdomain(name) {
        errs.push(FieldError::invalid(
            path,
            name,
            format!("validating path: {m}"),
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    use crate::validation::field_error::strs;

    #[test]
    fn requests() {
        let csr =
            b64("-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n");
        let ok = json!({"spec": {"request": csr, "signerName": "kubernetes.io/kube-apiserver-client",
            "usages": ["client auth"], "expirationSeconds": 86400}});
        assert!(validate_csr(&ok).is_empty());
        let cert = b64("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
        let bad = json!({"spec": {"request": cert, "signerName": "example", "usages": ["flying", "flying"],
            "expirationSeconds": 60}});
        assert_eq!(
            strs(validate_csr(&bad)),
            [
                format!("spec.request: Invalid value: \"{cert}\": PEM block type must be CERTIFICATE REQUEST"),
                format!("spec.usages[0]: Unsupported value: \"flying\": supported values: {}", USAGES.map(|u| format!("\"{u}\"")).join(", ")),
                format!("spec.usages[1]: Unsupported value: \"flying\": supported values: {}", USAGES.map(|u| format!("\"{u}\"")).join(", ")),
                "spec.usages[1]: Duplicate value: \"flying\"".to_string(),
                "spec.signerName: Invalid value: \"example\": must be a fully qualified domain and path of the form 'example.com/signer-name'".to_string(),
                "spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 600 seconds (10 minutes)".to_string(),
            ]
        );
        assert_eq!(
            strs(validate_csr(
                &json!({"spec": {"request": csr, "usages": ["any"]}})
            )),
            ["spec.signerName: Required value"]
        );
    }

    #[test]
    fn user_is_recorded() {
        let mut csr = json!({"spec": {"username": "mallory", "uid": "1"}});
        set_requesting_user(&mut csr);
        assert_eq!(csr["spec"]["username"], DEFAULT_USER);
        assert_eq!(csr["spec"]["groups"], json!(DEFAULT_GROUPS));
        assert!(csr["spec"].get("uid").is_none());
    }
}
