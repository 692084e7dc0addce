//! Decoding into the real API types (k8s-openapi), as kube-apiserver decodes
//! into its Go structs: unknown fields are dropped, reported as warnings or
//! rejected per `fieldValidation`, and type errors are 400s.

use super::status::{ApiError, ApiResult};
use crate::registry::ResourceDef;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValidation {
    Ignore,
    Warn,
    Strict,
}

impl FieldValidation {
    pub fn parse(v: Option<&str>) -> ApiResult<Self> {
        match v {
            None | Some("Warn") => Ok(FieldValidation::Warn),
            Some("Ignore") => Ok(FieldValidation::Ignore),
            Some("Strict") => Ok(FieldValidation::Strict),
            Some(other) => Err(ApiError::bad_request(format!(
                "fieldValidation must be one of \"Ignore\", \"Warn\", or \"Strict\", got {other:?}"
            ))),
        }
    }
}

/// A kind's decoder: the object through its API type.
pub type Normalize = fn(&ResourceDef, Value, FieldValidation) -> ApiResult<(Value, Vec<String>)>;

/// Normalizes `obj` through its API type. Returns the normalized object and
/// warnings (unknown fields under `Warn`).
pub fn normalize(
    def: &ResourceDef,
    obj: Value,
    mode: FieldValidation,
) -> ApiResult<(Value, Vec<String>)> {
    (def.normalize)(def, obj, mode)
}

/// Decodes `obj` as `T` and encodes it back: what `T` does not know is
/// dropped (and reported per `mode`), type errors are 400s.
pub fn roundtrip<T: DeserializeOwned + Serialize>(
    def: &ResourceDef,
    obj: Value,
    mode: FieldValidation,
) -> ApiResult<(Value, Vec<String>)> {
    let mut unknown = Vec::new();
    let typed: T = serde_ignored::deserialize(&obj, |path| unknown.push(render_path(&path)))
        .map_err(|e| cannot_handle(def, &e.to_string()))?;
    // apiVersion/kind are checked separately; they never count as unknown.
    unknown.retain(|p| p != "apiVersion" && p != "kind");
    let warnings: Vec<String> = unknown
        .iter()
        .map(|p| format!("unknown field \"{p}\""))
        .collect();
    match mode {
        FieldValidation::Strict if !unknown.is_empty() => {
            let detail = if warnings.len() == 1 {
                warnings[0].clone()
            } else {
                warnings.join(", ")
            };
            return Err(cannot_handle(
                def,
                &format!("strict decoding error: {detail}"),
            ));
        }
        FieldValidation::Ignore => {}
        _ => {}
    }
    let mut value = serde_json::to_value(&typed).map_err(ApiError::internal)?;
    drop_added_fields(&mut value, &obj);
    let warnings = if mode == FieldValidation::Warn {
        warnings
    } else {
        Vec::new()
    };
    Ok((value, warnings))
}

/// Removes what the round trip added: k8s-openapi fills a required field
/// the client left out with its zero value (`""`, `{}`, `0`), where Go
/// keeps it absent (a nil pointer, an empty string validation reports as
/// "Required value"). The decoded object keeps exactly the client's fields.
fn drop_added_fields(out: &mut Value, input: &Value) {
    match (out, input) {
        (Value::Object(o), Value::Object(i)) => {
            o.retain(|k, _| i.get(k).is_some_and(|v| !v.is_null()));
            for (k, v) in o.iter_mut() {
                if let Some(iv) = i.get(k) {
                    drop_added_fields(v, iv);
                }
            }
        }
        (Value::Array(o), Value::Array(i)) if o.len() == i.len() => {
            for (ov, iv) in o.iter_mut().zip(i) {
                drop_added_fields(ov, iv);
            }
        }
        _ => {}
    }
}

fn cannot_handle(def: &ResourceDef, detail: &str) -> ApiError {
    ApiError::bad_request(format!(
        "{} in version \"{}\" cannot be handled as a {}: {detail}",
        def.kind, def.version, def.kind
    ))
}

/// `spec.ports[0].foo`, as kube-apiserver names unknown fields.
fn render_path(path: &serde_ignored::Path) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Seq { parent, index } => format!("{}[{index}]", render_path(parent)),
        Path::Map { parent, key } => {
            let p = render_path(parent);
            if p.is_empty() {
                key.to_string()
            } else {
                format!("{p}.{key}")
            }
        }
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => render_path(parent),
    }
}
