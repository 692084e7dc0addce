//! Converting objects to meta.k8s.io/v1 Tables for `kubectl get`.

use super::codec::IncludeObject;
use crate::registry::ResourceDef;
use crate::table::printer_for;
use serde_json::{json, Value};

/// A Table for `items`, with `list_meta` (resourceVersion, continue) as its metadata.
pub fn to_table(
    def: &ResourceDef,
    items: &[Value],
    include: IncludeObject,
    list_meta: Value,
    with_columns: bool,
) -> Value {
    let printer = printer_for(def.group, def.plural);
    let now = chrono::Utc::now();
    let rows: Vec<Value> = items
        .iter()
        .map(|obj| {
            let mut row = json!({ "cells": printer.cells(obj, now) });
            match include {
                IncludeObject::None => {}
                IncludeObject::Object => row["object"] = obj.clone(),
                IncludeObject::Metadata => row["object"] = partial_metadata(obj),
            }
            row
        })
        .collect();
    let columns = if with_columns {
        serde_json::to_value(printer.columns()).unwrap_or_else(|_| json!([]))
    } else {
        json!([])
    };
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "columnDefinitions": columns,
        "rows": rows,
    })
}

fn partial_metadata(obj: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}
