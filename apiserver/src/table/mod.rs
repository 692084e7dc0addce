//! Provisional: generic table printer (the full per-resource printers replace this).
use serde_json::{json, Value};

#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Column {
    pub name: &'static str,
    #[serde(rename = "type")]
    pub type_: &'static str,
    pub format: &'static str,
    pub description: &'static str,
    pub priority: i32,
}

pub trait Printer: Send + Sync {
    fn columns(&self) -> Vec<Column>;
    fn cells(&self, obj: &Value, now: chrono::DateTime<chrono::Utc>) -> Vec<Value>;
}

struct DefaultPrinter;
impl Printer for DefaultPrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            Column {
                name: "Name",
                type_: "string",
                format: "name",
                description: "",
                priority: 0,
            },
            Column {
                name: "Created At",
                type_: "date",
                format: "",
                description: "",
                priority: 0,
            },
        ]
    }
    fn cells(&self, obj: &Value, _now: chrono::DateTime<chrono::Utc>) -> Vec<Value> {
        vec![
            obj.pointer("/metadata/name").cloned().unwrap_or(json!("")),
            obj.pointer("/metadata/creationTimestamp")
                .cloned()
                .unwrap_or(json!("")),
        ]
    }
}

pub fn printer_for(_group: &str, _resource: &str) -> &'static dyn Printer {
    &DefaultPrinter
}
