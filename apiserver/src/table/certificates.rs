//! certificates.k8s.io CertificateSigningRequests and ClusterTrustBundles
//! (printers.go `printCertificateSigningRequest`, `printClusterTrustBundle`).

use super::{
    age_cell, age_col, arr_at, col, duration, get, name_cell, name_col, opt_int_at, str_at, Column,
    Printer,
};
use chrono::{DateTime, Utc};
use serde_json::Value;

/// CSRs list AGE second.
pub struct CsrPrinter;

impl Printer for CsrPrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            age_col(),
            col(
                "SignerName",
                "string",
                "The signer the request is addressed to.",
            ),
            col("Requestor", "string", "The user who created the request."),
            col(
                "RequestedDuration",
                "string",
                "The requested validity of the certificate.",
            ),
            col("Condition", "string", "Approval state of the request."),
        ]
    }

    fn cells(&self, obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
        let signer = match str_at(obj, "/spec/signerName") {
            "" => "<none>",
            s => s,
        };
        let requested = opt_int_at(obj, "/spec/expirationSeconds").map_or_else(
            || "<none>".to_string(),
            |s| duration::human_duration_nanos(s.saturating_mul(1_000_000_000)),
        );
        vec![
            name_cell(obj),
            age_cell(obj, now),
            Value::from(signer),
            Value::from(str_at(obj, "/spec/username")),
            Value::from(requested),
            Value::from(csr_condition(obj)),
        ]
    }
}

/// printers.go `extractCSRStatus`: Denied over Approved over Pending, then
/// ",Failed" and ",Issued" once a certificate is present.
fn csr_condition(obj: &Value) -> String {
    let has = |t: &str| {
        arr_at(obj, "/status/conditions")
            .iter()
            .any(|c| str_at(c, "/type") == t)
    };
    let mut status = if has("Denied") {
        "Denied"
    } else if has("Approved") {
        "Approved"
    } else {
        "Pending"
    }
    .to_string();
    if has("Failed") {
        status.push_str(",Failed");
    }
    if !str_at(obj, "/status/certificate").is_empty() {
        status.push_str(",Issued");
    }
    status
}

/// ClusterTrustBundles have no AGE column.
pub struct ClusterTrustBundlePrinter;

impl Printer for ClusterTrustBundlePrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            col("SignerName", "string", "The signer the bundle belongs to."),
        ]
    }

    fn cells(&self, obj: &Value, _now: DateTime<Utc>) -> Vec<Value> {
        let signer = get(obj, "/spec/signerName")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .unwrap_or("<none>");
        vec![name_cell(obj), Value::from(signer)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::testutil::{ago, now};
    use serde_json::json;

    #[test]
    fn csr() {
        let c: Vec<_> = CsrPrinter.columns().iter().map(|c| c.name).collect();
        assert_eq!(
            c,
            [
                "Name",
                "Age",
                "SignerName",
                "Requestor",
                "RequestedDuration",
                "Condition"
            ]
        );
        let csr = json!({
            "metadata": {"name": "csr-abc", "creationTimestamp": ago(75)},
            "spec": {"signerName": "kubernetes.io/kube-apiserver-client", "username": "system:admin",
                     "expirationSeconds": 86400, "request": "LS0t", "usages": ["client auth"]},
            "status": {"conditions": [{"type": "Approved", "status": "True"}], "certificate": "LS0tLS1C"}
        });
        assert_eq!(
            CsrPrinter.cells(&csr, now()),
            vec![
                json!("csr-abc"),
                json!("75s"),
                json!("kubernetes.io/kube-apiserver-client"),
                json!("system:admin"),
                json!("24h"),
                json!("Approved,Issued")
            ]
        );
        let denied = json!({"status": {"conditions": [{"type": "Approved"}, {"type": "Denied"}, {"type": "Failed"}]}});
        assert_eq!(csr_condition(&denied), "Denied,Failed");
        assert_eq!(
            CsrPrinter.cells(&json!({}), now()),
            vec![
                json!(""),
                json!("<unknown>"),
                json!("<none>"),
                json!(""),
                json!("<none>"),
                json!("Pending")
            ]
        );
    }

    #[test]
    fn cluster_trust_bundle() {
        let c: Vec<_> = ClusterTrustBundlePrinter
            .columns()
            .iter()
            .map(|c| c.name)
            .collect();
        assert_eq!(c, ["Name", "SignerName"]);
        let ctb = json!({"metadata": {"name": "example.com:signer:abc"},
            "spec": {"signerName": "example.com/signer", "trustBundle": "..."}});
        assert_eq!(
            ClusterTrustBundlePrinter.cells(&ctb, now()),
            vec![json!("example.com:signer:abc"), json!("example.com/signer")]
        );
        assert_eq!(
            ClusterTrustBundlePrinter.cells(&json!({}), now()),
            vec![json!(""), json!("<none>")]
        );
    }
}
