//! ConfigMaps (NAME DATA AGE), Secrets (NAME TYPE DATA AGE) and
//! ServiceAccounts (NAME AGE: the SECRETS count column was dropped upstream
//! in kubernetes/kubernetes#117160, since `secrets` is no longer populated).

use super::{age_cell, age_col, col, map_len, name_cell, name_col, str_at, Column, Printer};
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::BTreeSet;

const CONFIGMAP_DATA_DESC: &str = "Number of data entries.";
const SECRET_TYPE_DESC: &str = "Type of the secret.";
const SECRET_DATA_DESC: &str = "Number of data entries.";

pub struct ConfigMapPrinter;

impl Printer for ConfigMapPrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            col("Data", "string", CONFIGMAP_DATA_DESC),
            age_col(),
        ]
    }

    fn cells(&self, obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
        let n = map_len(obj, "/data") + map_len(obj, "/binaryData");
        vec![name_cell(obj), Value::from(n as i64), age_cell(obj, now)]
    }
}

pub struct SecretPrinter;

impl Printer for SecretPrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            col("Type", "string", SECRET_TYPE_DESC),
            col("Data", "string", SECRET_DATA_DESC),
            age_col(),
        ]
    }

    fn cells(&self, obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
        // Decoding defaults the type to Opaque and folds stringData into data.
        let type_ = match str_at(obj, "/type") {
            "" => "Opaque",
            t => t,
        };
        let mut keys: BTreeSet<&str> = BTreeSet::new();
        for field in ["data", "stringData"] {
            if let Some(m) = obj.get(field).and_then(Value::as_object) {
                keys.extend(m.keys().map(String::as_str));
            }
        }
        vec![
            name_cell(obj),
            Value::from(type_),
            Value::from(keys.len() as i64),
            age_cell(obj, now),
        ]
    }
}

pub struct ServiceAccountPrinter;

impl Printer for ServiceAccountPrinter {
    fn columns(&self) -> Vec<Column> {
        vec![name_col(), age_col()]
    }

    fn cells(&self, obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
        vec![name_cell(obj), age_cell(obj, now)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::testutil::{ago, now};
    use serde_json::json;

    #[test]
    fn columns() {
        let names = |p: &dyn Printer| -> Vec<(&str, &str)> {
            p.columns().iter().map(|c| (c.name, c.type_)).collect()
        };
        assert_eq!(
            names(&ConfigMapPrinter),
            [("Name", "string"), ("Data", "string"), ("Age", "string")]
        );
        assert_eq!(
            names(&SecretPrinter),
            [
                ("Name", "string"),
                ("Type", "string"),
                ("Data", "string"),
                ("Age", "string")
            ]
        );
        assert_eq!(
            names(&ServiceAccountPrinter),
            [("Name", "string"), ("Age", "string")]
        );
    }

    #[test]
    fn configmap() {
        let cm = json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "kube-root-ca.crt", "namespace": "default", "creationTimestamp": ago(3 * 60)},
            "data": {"ca.crt": "-----BEGIN CERTIFICATE-----\n..."},
            "binaryData": {"blob": "AAEC", "blob2": "AwQ="}
        });
        assert_eq!(
            ConfigMapPrinter.cells(&cm, now()),
            vec![json!("kube-root-ca.crt"), json!(3), json!("3m")]
        );
        assert_eq!(
            ConfigMapPrinter.cells(&json!({"metadata": {"name": "e"}}), now()),
            vec![json!("e"), json!(0), json!("<unknown>")]
        );
    }

    #[test]
    fn secret() {
        let s = json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "tls", "namespace": "default", "creationTimestamp": ago(50 * 86400)},
            "type": "kubernetes.io/tls",
            "data": {"tls.crt": "Zm9v", "tls.key": "YmFy"}
        });
        assert_eq!(
            SecretPrinter.cells(&s, now()),
            vec![
                json!("tls"),
                json!("kubernetes.io/tls"),
                json!(2),
                json!("50d")
            ]
        );
        let s = json!({
            "metadata": {"name": "creds", "creationTimestamp": ago(1)},
            "data": {"user": "YQ=="},
            "stringData": {"user": "b", "password": "c"}
        });
        assert_eq!(
            SecretPrinter.cells(&s, now()),
            vec![json!("creds"), json!("Opaque"), json!(2), json!("1s")]
        );
    }

    #[test]
    fn service_account() {
        let sa = json!({
            "apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": "default", "namespace": "default", "creationTimestamp": ago(100 * 86400)},
            "secrets": [{"name": "default-token-abcde"}]
        });
        assert_eq!(
            ServiceAccountPrinter.cells(&sa, now()),
            vec![json!("default"), json!("100d")]
        );
        assert_eq!(
            ServiceAccountPrinter.cells(
                &json!({"metadata": {"name": "builder", "creationTimestamp": ago(86400 * 800)}}),
                now()
            ),
            vec![json!("builder"), json!("2y70d")]
        );
    }
}
