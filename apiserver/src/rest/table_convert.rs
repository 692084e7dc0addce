//! Converting objects to meta.k8s.io/v1 Tables for `kubectl get`.
//!
//! The Table borrows the objects it lists and is serialized straight to the
//! response: building it as a `serde_json::Value` deep-copied every object
//! (a 10k-Service list spent most of its time copying).

use super::codec::IncludeObject;
use super::partial_metadata::PartialObjectMetadata;
use crate::registry::ResourceDef;
use crate::table::{printer_for, Column};
use serde::Serialize;
use serde_json::Value;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Table<'a> {
    kind: &'static str,
    api_version: &'static str,
    /// resourceVersion and continue, as the list has them.
    metadata: Value,
    column_definitions: Vec<Column>,
    rows: Vec<Row<'a>>,
}

#[derive(Serialize)]
struct Row<'a> {
    cells: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    object: Option<RowObject<'a>>,
}

/// What a row embeds, as `includeObject` asked.
#[derive(Serialize)]
#[serde(untagged)]
enum RowObject<'a> {
    Object(&'a Value),
    Metadata(PartialObjectMetadata<'a>),
}

/// A Table for `items`, with `list_meta` (resourceVersion, continue) as its metadata.
pub fn to_table<'a>(
    def: &ResourceDef,
    items: &'a [Value],
    include: IncludeObject,
    list_meta: Value,
    with_columns: bool,
) -> Table<'a> {
    let printer = printer_for(def.group, def.plural);
    let now = chrono::Utc::now();
    let rows = super::parallel::map(items, |obj| Row {
        cells: printer.cells(obj, now),
        object: match include {
            IncludeObject::None => None,
            IncludeObject::Object => Some(RowObject::Object(obj)),
            IncludeObject::Metadata => Some(RowObject::Metadata(PartialObjectMetadata::of(obj))),
        },
    });
    Table {
        kind: "Table",
        api_version: "meta.k8s.io/v1",
        metadata: list_meta,
        column_definitions: if with_columns {
            printer.columns()
        } else {
            Vec::new()
        },
        rows,
    }
}
