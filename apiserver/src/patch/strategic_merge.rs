//! Strategic merge patch (`application/strategic-merge-patch+json`), with the
//! semantics of the Go `strategicpatch` package as kube-apiserver runs it
//! (parallel lists merged, unmatched nulls ignored).
//!
//! * `null` deletes a field; objects merge key by key.
//! * Lists whose field is tagged `patchStrategy:"merge"` merge: lists of
//!   objects by their `patchMergeKey`, lists of scalars as sets.  Other lists
//!   are replaced.
//! * Directives: `$patch: replace | delete` (on an object or as a list item;
//!   `merge` is rejected, as upstream does), `$retainKeys`,
//!   `$deleteFromPrimitiveList/<field>` and `$setElementOrder/<field>`.
//! * The order of merged lists follows upstream: `$setElementOrder` first,
//!   then the order of the patch list, then the order of the live list.
//!
//! Values the patch introduces wholesale are cleaned the way decoding into
//! the Go type would clean them: directive keys are dropped, and so are
//! object fields whose value is `null`.

use serde_json::{Map, Value};

use super::schema::{self, Node, PatchStrategy};

const DIRECTIVE_MARKER: &str = "$patch";
const DELETE_DIRECTIVE: &str = "delete";
const REPLACE_DIRECTIVE: &str = "replace";
const MERGE_DIRECTIVE: &str = "merge";
const RETAIN_KEYS_DIRECTIVE: &str = "$retainKeys";
const DELETE_FROM_PRIMITIVE_LIST_PREFIX: &str = "$deleteFromPrimitiveList";
const SET_ELEMENT_ORDER_PREFIX: &str = "$setElementOrder";

/// Deeper documents are refused rather than risking the stack.
const MAX_DEPTH: usize = 100;

const GO_MAP: &str = "map[string]interface {}";
const GO_SLICE: &str = "[]interface {}";

/// Why a strategic merge patch could not be applied.  The messages are the
/// upstream ones; [`PatchError::status_code`] tells which HTTP status the
/// API server answers with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    #[error("invalid JSON document")]
    BadJsonDoc,
    /// The patch body is valid JSON but not an object.
    #[error("json: cannot unmarshal {0} into Go value of type map[string]interface {{}}")]
    NotAnObject(&'static str),
    #[error("lists of lists are not supported")]
    NoListOfLists,
    #[error("invalid patch format of primitive list")]
    BadPatchFormatForPrimitiveList,
    #[error("invalid patch format of retainKeys")]
    BadPatchFormatForRetainKeys,
    #[error("invalid patch format of setElementOrder list")]
    BadPatchFormatForSetElementOrderList,
    #[error("patch content doesn't match retainKeys list")]
    PatchContentNotMatchRetainKeys,
    #[error("map: {map} does not contain declared merge key: {key}")]
    NoMergeKey { map: String, key: String },
    #[error("expected a {expected}, but received a {actual}")]
    BadArgType {
        expected: &'static str,
        actual: &'static str,
    },
    #[error("unknown patch type: {directive} in map: {map}")]
    BadPatchType { directive: String, map: String },
    #[error("the patch is nested too deeply")]
    TooDeep,
    /// Any other failure, with the upstream text.
    #[error("{0}")]
    Other(String),
}

impl PatchError {
    /// The HTTP status kube-apiserver answers this error with: 400 for the
    /// malformed-patch errors, 422 for the unprocessable ones, 500 for the
    /// rest (upstream passes those through as internal errors).
    pub fn status_code(&self) -> u16 {
        match self {
            PatchError::BadJsonDoc
            | PatchError::NotAnObject(_)
            | PatchError::BadPatchFormatForPrimitiveList
            | PatchError::BadPatchFormatForRetainKeys
            | PatchError::BadPatchFormatForSetElementOrderList
            | PatchError::TooDeep => 400,
            PatchError::NoListOfLists | PatchError::PatchContentNotMatchRetainKeys => 422,
            _ => 500,
        }
    }
}

type Result<T> = std::result::Result<T, PatchError>;

/// Applies a strategic merge `patch` to `original`, an object of `kind`.
/// Kinds without merge metadata get atomic lists (JSON merge patch rules for
/// lists) while objects still merge key by key.
pub fn strategic_merge_patch(kind: &str, original: &Value, patch: &Value) -> Result<Value> {
    // A `null` patch unmarshals into an empty map: nothing to do.
    strategic_merge_patch_with_schema(schema::root(kind), original, patch)
}

/// [`strategic_merge_patch`] against an explicit schema node (the root of
/// the type the patch applies to).
pub fn strategic_merge_patch_with_schema(
    node: Node,
    original: &Value,
    patch: &Value,
) -> Result<Value> {
    let patch = match patch {
        Value::Object(m) => m.clone(),
        Value::Null => return Ok(original.clone()),
        other => return Err(PatchError::NotAnObject(json_kind(other))),
    };
    let original = match original {
        Value::Object(m) => m.clone(),
        Value::Null => Map::new(),
        _ => return Err(PatchError::BadJsonDoc),
    };
    if nested_deeper_than(&patch, MAX_DEPTH) || nested_deeper_than(&original, MAX_DEPTH) {
        return Err(PatchError::TooDeep);
    }
    merge_map(original, patch, node, 0).map(Value::Object)
}

fn nested_deeper_than(m: &Map<String, Value>, limit: usize) -> bool {
    fn walk(v: &Value, left: usize) -> bool {
        match v {
            Value::Object(m) => left == 0 || m.values().any(|c| walk(c, left - 1)),
            Value::Array(a) => left == 0 || a.iter().any(|c| walk(c, left - 1)),
            _ => false,
        }
    }
    m.values().any(|v| walk(v, limit))
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Array(_) => "array",
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Bool(_) => "bool",
        Value::Null => "null",
        Value::Object(_) => "object",
    }
}

// ---------------------------------------------------------------------------
// Objects

fn merge_map(
    mut original: Map<String, Value>,
    mut patch: Map<String, Value>,
    node: Node,
    depth: usize,
) -> Result<Map<String, Value>> {
    if depth > MAX_DEPTH {
        return Err(PatchError::TooDeep);
    }
    if let Some(directive) = patch.get(DIRECTIVE_MARKER) {
        return match directive.as_str() {
            Some(REPLACE_DIRECTIVE) => {
                patch.shift_remove(DIRECTIVE_MARKER);
                Ok(clean_map(patch))
            }
            Some(DELETE_DIRECTIVE) => Ok(Map::new()),
            _ => Err(bad_patch_type(directive, &patch)),
        };
    }

    apply_retain_keys(&mut original, &mut patch)?;
    merge_ordered_lists(&mut original, &mut patch, node, depth)?;

    for (key, patch_value) in patch {
        let (key, is_delete_list) = if key.starts_with(DELETE_FROM_PRIMITIVE_LIST_PREFIX) {
            (
                extract_key(&key, DELETE_FROM_PRIMITIVE_LIST_PREFIX)?.to_string(),
                true,
            )
        } else {
            (key, false)
        };

        if patch_value.is_null() {
            original.shift_remove(&key);
            continue;
        }

        let same_type = match original.get(&key) {
            None => {
                if !is_delete_list {
                    insert_cleaned(&mut original, key, patch_value);
                }
                continue;
            }
            Some(current) => go_type(current) == go_type(&patch_value),
        };
        if !same_type {
            if !is_delete_list {
                insert_cleaned(&mut original, key, patch_value);
            }
            continue;
        }

        let field = node.field(&key);
        let strategy = field.patch_strategy.merge_part();
        let slot = match original.get_mut(&key) {
            Some(slot) => slot,
            None => continue,
        };
        let current = std::mem::take(slot);
        let merged = match (current, patch_value) {
            (Value::Object(cur), Value::Object(pat)) => {
                if strategy == PatchStrategy::Replace {
                    Value::Object(clean_map(pat))
                } else {
                    Value::Object(merge_map(cur, pat, field.node, depth + 1)?)
                }
            }
            (Value::Array(cur), Value::Array(pat)) => Value::Array(merge_list_field(
                cur,
                pat,
                field.node,
                strategy,
                field.patch_merge_key.unwrap_or(""),
                is_delete_list,
                depth + 1,
            )?),
            (_, scalar) => scalar,
        };
        *slot = merged;
    }
    Ok(original)
}

/// Inserts a value the original did not have (or had with another type),
/// cleaned of nulls and directives; a value that is itself a directive
/// removes the field.
fn insert_cleaned(original: &mut Map<String, Value>, key: String, mut value: Value) {
    discard_null_values(&mut value);
    match remove_directives(value) {
        Some(v) => {
            original.insert(key, v);
        }
        None => {
            original.shift_remove(&key);
        }
    }
}

fn apply_retain_keys(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
) -> Result<()> {
    let retain = match patch.shift_remove(RETAIN_KEYS_DIRECTIVE) {
        Some(v) => v,
        None => return Ok(()),
    };
    let retain = match retain {
        Value::Array(list) => list,
        _ => return Err(PatchError::BadPatchFormatForRetainKeys),
    };
    let retained = |k: &str| retain.iter().any(|v| v.as_str() == Some(k));
    for (k, v) in patch.iter() {
        if v.is_null()
            || k.starts_with(DELETE_FROM_PRIMITIVE_LIST_PREFIX)
            || k.starts_with(SET_ELEMENT_ORDER_PREFIX)
        {
            continue;
        }
        if !retained(k) {
            return Err(PatchError::BadPatchFormatForRetainKeys);
        }
    }
    original.retain(|k, _| retained(k));
    Ok(())
}

/// Handles every `$setElementOrder/<field>` of `patch`: merges the list
/// `<field>` of the patch into the original one and orders the result.
fn merge_ordered_lists(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
    node: Node,
    depth: usize,
) -> Result<()> {
    let directives: Vec<String> = patch
        .keys()
        .filter(|k| k.starts_with(SET_ELEMENT_ORDER_PREFIX))
        .cloned()
        .collect();
    for directive in directives {
        let order = match patch.shift_remove(&directive) {
            Some(Value::Array(order)) => order,
            Some(other) => {
                return Err(PatchError::BadArgType {
                    expected: GO_SLICE,
                    actual: go_type(&other),
                })
            }
            None => continue,
        };
        let key = extract_key(&directive, SET_ELEMENT_ORDER_PREFIX)?.to_string();

        let original_list = match original.get(&key) {
            None => None,
            Some(Value::Array(list)) => Some(list.clone()),
            Some(other) => {
                return Err(PatchError::BadArgType {
                    expected: GO_SLICE,
                    actual: go_type(other),
                })
            }
        };
        let patch_list = match patch.get(&key) {
            None => None,
            Some(Value::Array(list)) => Some(list.clone()),
            Some(other) => {
                return Err(PatchError::BadArgType {
                    expected: GO_SLICE,
                    actual: go_type(other),
                })
            }
        };

        let field = node.field(&key);
        let strategy = field.patch_strategy.merge_part();
        let merge_key = field.patch_merge_key.unwrap_or("");
        validate_patch_with_set_order_list(
            patch_list.as_deref().unwrap_or(&[]),
            &order,
            merge_key,
        )?;

        let merged = match (&original_list, &patch_list) {
            (Some(orig), None) => orig.clone(),
            (None, Some(pat)) => match remove_directives(Value::Array(pat.clone())) {
                Some(Value::Array(list)) => list.into_iter().map(clean_value).collect(),
                _ => continue,
            },
            (Some(orig), Some(pat)) => merge_list_field(
                orig.clone(),
                pat.clone(),
                field.node,
                strategy,
                merge_key,
                false,
                depth + 1,
            )?,
            (None, None) => continue,
        };

        let (patch_items, server_only) = if merge_key.is_empty() {
            partition_primitives(merged, &order)?
        } else {
            partition_maps(merged, &order, merge_key)?
        };
        let empty = Vec::new();
        let orig_ref = original_list.as_ref().unwrap_or(&empty);
        let patch_ref = patch_list.as_ref().unwrap_or(&empty);
        let kind = slice_element_kind(&[orig_ref, patch_ref])?;
        let server_order = if kind == ElemKind::Map
            && strategy == PatchStrategy::Merge
            && original_list.is_some()
            && patch_list.is_some()
        {
            live_order_after_merge(orig_ref, patch_ref, merge_key)
        } else {
            orig_ref.clone()
        };
        let ordered = normalize_element_order(
            patch_items,
            server_only,
            &order,
            &server_order,
            merge_key,
            kind,
        )?;
        original.insert(key.clone(), Value::Array(ordered));
        patch.shift_remove(&key);
    }
    Ok(())
}

/// The live list as upstream sees it when ordering a `$setElementOrder`
/// list after merging: its merge code deletes items in place (shifting the
/// rest left) and appends new items into the freed slots, and the ordering
/// step then reads the live list through the same storage.  Only the merge
/// keys of the result matter.
fn live_order_after_merge(original: &[Value], patch: &[Value], merge_key: &str) -> Vec<Value> {
    let mut view = original.to_vec();
    let mut len = view.len();
    let key_of = |v: &Value| v.get(merge_key).cloned();
    let mut replace = false;
    for item in patch {
        match item.get(DIRECTIVE_MARKER).and_then(Value::as_str) {
            Some(DELETE_DIRECTIVE) => {
                let key = key_of(item);
                while let Some(i) = view[..len].iter().position(|v| key_of(v) == key) {
                    for j in i..len - 1 {
                        view[j] = view[j + 1].clone();
                    }
                    len -= 1;
                }
            }
            Some(REPLACE_DIRECTIVE) => replace = true,
            _ => {}
        }
    }
    if replace {
        return view;
    }
    for item in patch {
        if item.get(DIRECTIVE_MARKER).is_some() {
            continue;
        }
        let key = key_of(item);
        if view[..len].iter().any(|v| key_of(v) == key) {
            continue;
        }
        if len == view.len() {
            break;
        }
        view[len] = item.clone();
        len += 1;
    }
    view
}

fn validate_patch_with_set_order_list(
    patch_list: &[Value],
    order: &[Value],
    merge_key: &str,
) -> Result<()> {
    if order.is_empty() || patch_list.is_empty() {
        return Ok(());
    }
    let non_delete: Vec<&Value> = if merge_key.is_empty() {
        patch_list.iter().collect()
    } else {
        let mut kept = Vec::new();
        for item in patch_list {
            let m = item.as_object().ok_or(PatchError::BadArgType {
                expected: GO_MAP,
                actual: go_type(item),
            })?;
            if m.get(DIRECTIVE_MARKER).and_then(Value::as_str) != Some(DELETE_DIRECTIVE) {
                kept.push(item);
            }
        }
        kept
    };
    let (mut p, mut s) = (0, 0);
    while p < non_delete.len() && s < order.len() {
        if non_delete[p]
            .as_object()
            .is_some_and(|m| m.contains_key(DIRECTIVE_MARKER))
        {
            p += 1;
            continue;
        }
        if merge_key_value_equal(non_delete[p], &order[s], merge_key)? {
            p += 1;
        }
        s += 1;
    }
    if p < non_delete.len() && s >= order.len() {
        return Err(PatchError::Other(format!(
            "The order in patch list:\n{}\n doesn't match {} list:\n{}\n",
            go_fmt_list(patch_list),
            SET_ELEMENT_ORDER_PREFIX,
            go_fmt_list(order)
        )));
    }
    Ok(())
}

fn merge_key_value_equal(left: &Value, right: &Value, merge_key: &str) -> Result<bool> {
    if merge_key.is_empty() {
        return Ok(left == right);
    }
    let l = as_map(left)?;
    let r = as_map(right)?;
    let lv = l.get(merge_key).ok_or_else(|| no_merge_key(l, merge_key))?;
    let rv = r.get(merge_key).ok_or_else(|| no_merge_key(r, merge_key))?;
    Ok(lv == rv)
}

// ---------------------------------------------------------------------------
// Lists

/// What the Go code calls `mergeSliceHandler`: merge lists with the merge
/// strategy (or any deletion list), replace the others.
fn merge_list_field(
    original: Vec<Value>,
    patch: Vec<Value>,
    node: Node,
    strategy: PatchStrategy,
    merge_key: &str,
    is_delete_list: bool,
    depth: usize,
) -> Result<Vec<Value>> {
    if strategy == PatchStrategy::Merge || is_delete_list {
        merge_list(original, patch, node, merge_key, is_delete_list, depth)
    } else {
        Ok(patch.into_iter().map(clean_value).collect())
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ElemKind {
    Map,
    Scalar,
}

fn merge_list(
    original: Vec<Value>,
    patch: Vec<Value>,
    node: Node,
    merge_key: &str,
    is_delete_list: bool,
    depth: usize,
) -> Result<Vec<Value>> {
    if depth > MAX_DEPTH {
        return Err(PatchError::TooDeep);
    }
    if original.is_empty() && patch.is_empty() {
        return Ok(original);
    }
    let kind = slice_element_kind(&[&original, &patch])?;

    let (merged, original, patch) = if kind == ElemKind::Scalar {
        if is_delete_list {
            check_hashable(&patch)?;
            return Ok(original
                .into_iter()
                .filter(|v| !patch.contains(v))
                .collect());
        }
        let mut merged: Vec<Value> = Vec::with_capacity(original.len() + patch.len());
        for v in original.iter().chain(patch.iter()) {
            if !merged.contains(v) {
                merged.push(v.clone());
            }
        }
        (merged, original, patch)
    } else {
        if merge_key.is_empty() {
            let name = match node {
                Node::List(ls) => ls.elem.map(|t| t.name).unwrap_or(""),
                _ => "",
            };
            return Err(PatchError::Other(format!(
                "cannot merge lists without merge key for {name}"
            )));
        }
        let (original, patch) = merge_special_elements(original, patch, merge_key)?;
        let merged = merge_plain_elements(original.clone(), &patch, merge_key, node.elem(), depth)?;
        (merged, original, patch)
    };

    let (patch_items, server_only) = if merge_key.is_empty() {
        partition_primitives(merged, &patch)?
    } else {
        partition_maps(merged, &patch, merge_key)?
    };
    normalize_element_order(patch_items, server_only, &patch, &original, merge_key, kind)
}

/// Applies the `$patch` items of a list of objects: `delete` removes the
/// matching original items, `replace` makes the rest of the patch the whole
/// list.  Returns the new original and the patch without those items.
fn merge_special_elements(
    mut original: Vec<Value>,
    patch: Vec<Value>,
    merge_key: &str,
) -> Result<(Vec<Value>, Vec<Value>)> {
    let has_special = patch.iter().any(|v| {
        v.as_object()
            .is_some_and(|m| m.contains_key(DIRECTIVE_MARKER))
    });
    if !has_special {
        return Ok((original, patch));
    }
    let mut plain = Vec::new();
    let mut replace = false;
    for item in patch {
        let m = as_map(&item)?;
        let directive = match m.get(DIRECTIVE_MARKER) {
            None => {
                plain.push(item);
                continue;
            }
            Some(d) => d,
        };
        match directive.as_str() {
            Some(DELETE_DIRECTIVE) => {
                let key_value = m.get(merge_key).ok_or_else(|| no_merge_key(m, merge_key))?;
                let mut kept = Vec::with_capacity(original.len());
                for (i, o) in original.into_iter().enumerate() {
                    let om = o.as_object().ok_or_else(|| not_a_map(i))?;
                    if om.get(merge_key) != Some(key_value) {
                        kept.push(o);
                    }
                }
                original = kept;
            }
            Some(REPLACE_DIRECTIVE) => replace = true,
            Some(MERGE_DIRECTIVE) => {
                return Err(PatchError::Other(
                    "merging lists cannot yet be specified in the patch".to_string(),
                ))
            }
            _ => return Err(bad_patch_type(directive, m)),
        }
    }
    if replace {
        return Ok((plain.into_iter().map(clean_value).collect(), Vec::new()));
    }
    Ok((original, plain))
}

/// Merges each patch item into the original item with the same merge key,
/// or appends it.
fn merge_plain_elements(
    mut original: Vec<Value>,
    patch: &[Value],
    merge_key: &str,
    elem: Node,
    depth: usize,
) -> Result<Vec<Value>> {
    for item in patch {
        let m = as_map(item)?;
        let key_value = m.get(merge_key).ok_or_else(|| no_merge_key(m, merge_key))?;
        let mut found = None;
        for (i, o) in original.iter().enumerate() {
            let om = o.as_object().ok_or_else(|| not_a_map(i))?;
            if om.get(merge_key) == Some(key_value) {
                found = Some(i);
                break;
            }
        }
        match found {
            Some(i) => {
                let current = match std::mem::take(&mut original[i]) {
                    Value::Object(cm) => cm,
                    _ => Map::new(),
                };
                original[i] = Value::Object(merge_map(current, m.clone(), elem, depth + 1)?);
            }
            None => original.push(clean_value(item.clone())),
        }
    }
    Ok(original)
}

fn partition_primitives(merged: Vec<Value>, by: &[Value]) -> Result<(Vec<Value>, Vec<Value>)> {
    check_hashable(by)?;
    check_hashable(&merged)?;
    Ok(merged.into_iter().partition(|v| by.contains(v)))
}

fn partition_maps(
    merged: Vec<Value>,
    by: &[Value],
    merge_key: &str,
) -> Result<(Vec<Value>, Vec<Value>)> {
    let mut in_patch = Vec::new();
    let mut server_only = Vec::new();
    for v in merged {
        let key_value = {
            let m = as_map(&v)?;
            m.get(merge_key)
                .ok_or_else(|| no_merge_key(m, merge_key))?
                .clone()
        };
        let mut found = false;
        for (i, b) in by.iter().enumerate() {
            let bm = b.as_object().ok_or_else(|| not_a_map(i))?;
            if bm.get(merge_key) == Some(&key_value) {
                found = true;
                break;
            }
        }
        if found {
            in_patch.push(v);
        } else {
            server_only.push(v);
        }
    }
    Ok((in_patch, server_only))
}

/// Orders `patch_items` by `patch_order` and `server_only` by
/// `server_order`, then interleaves them keeping both relative orders,
/// placing server-only items where they stood in the live list.
fn normalize_element_order(
    patch_items: Vec<Value>,
    server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    merge_key: &str,
    kind: ElemKind,
) -> Result<Vec<Value>> {
    let patch_items = normalize_slice_order(patch_items, patch_order, merge_key, kind)?;
    let server_only = normalize_slice_order(server_only, server_order, merge_key, kind)?;

    let mut out = Vec::with_capacity(patch_items.len() + server_only.len());
    let mut left = server_only.into_iter().peekable();
    let mut right = patch_items.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(l), Some(r)) => {
                match (
                    index_of(server_order, l, merge_key, kind),
                    index_of(server_order, r, merge_key, kind),
                ) {
                    (Some(li), Some(ri)) => li < ri,
                    _ => false,
                }
            }
        };
        let next = if take_left { left.next() } else { right.next() };
        if let Some(v) = next {
            out.push(v);
        }
    }
    Ok(out)
}

fn normalize_slice_order(
    mut items: Vec<Value>,
    order: &[Value],
    merge_key: &str,
    kind: ElemKind,
) -> Result<Vec<Value>> {
    let mut to_delete = Vec::new();
    if kind == ElemKind::Map {
        for v in items.iter().chain(order.iter()) {
            let m = as_map(v)?;
            if !m.contains_key(merge_key) {
                return Err(no_merge_key(m, merge_key));
            }
        }
        let (keep, delete): (Vec<Value>, Vec<Value>) = items.into_iter().partition(|v| {
            v.get(DIRECTIVE_MARKER).and_then(Value::as_str) != Some(DELETE_DIRECTIVE)
        });
        items = keep;
        to_delete = delete;
    }
    items.sort_by_key(|v| index_of(order, v, merge_key, kind).unwrap_or(usize::MAX));
    items.extend(to_delete);
    Ok(items)
}

fn index_of(list: &[Value], item: &Value, merge_key: &str, kind: ElemKind) -> Option<usize> {
    match kind {
        ElemKind::Map => {
            let key = item.get(merge_key);
            list.iter().position(|v| v.get(merge_key) == key)
        }
        ElemKind::Scalar => list.iter().position(|v| v == item),
    }
}

/// The common kind of the items of `lists`, failing like upstream on mixed
/// types, nested lists and all-empty input.
fn slice_element_kind(lists: &[&Vec<Value>]) -> Result<ElemKind> {
    let mut first: Option<&'static str> = None;
    for list in lists {
        for v in list.iter() {
            if v.is_null() {
                return Err(PatchError::Other(format!(
                    "list element types are not identical: {}",
                    go_fmt_lists(lists)
                )));
            }
            let t = go_type(v);
            match first {
                None => {
                    if v.is_array() {
                        return Err(PatchError::NoListOfLists);
                    }
                    first = Some(t);
                }
                Some(f) if f != t => {
                    return Err(PatchError::Other(format!(
                        "list element types are not identical: {}",
                        go_fmt_lists(lists)
                    )))
                }
                Some(_) => {}
            }
        }
    }
    match first {
        None => Err(PatchError::Other(
            "no elements in any of the given slices".to_string(),
        )),
        Some(GO_MAP) => Ok(ElemKind::Map),
        Some(_) => Ok(ElemKind::Scalar),
    }
}

/// Upstream keys a Go map with these values; objects and arrays make it
/// fail (an internal error) instead of merging them.
fn check_hashable(list: &[Value]) -> Result<()> {
    match list.iter().find(|v| v.is_object() || v.is_array()) {
        Some(v) => Err(PatchError::Other(format!(
            "runtime error: hash of unhashable type {}",
            go_type(v)
        ))),
        None => Ok(()),
    }
}

fn extract_key<'a>(s: &'a str, prefix: &str) -> Result<&'a str> {
    match s.split_once('/') {
        Some((p, rest)) if p == prefix => Ok(rest),
        _ => Err(if prefix == DELETE_FROM_PRIMITIVE_LIST_PREFIX {
            PatchError::BadPatchFormatForPrimitiveList
        } else {
            PatchError::BadPatchFormatForSetElementOrderList
        }),
    }
}

// ---------------------------------------------------------------------------
// Cleaning values taken from the patch

/// Removes object fields whose value is `null`, recursively.
fn discard_null_values(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, v| !v.is_null());
            for v in m.values_mut() {
                discard_null_values(v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(discard_null_values),
        _ => {}
    }
}

/// Drops objects carrying a `$patch` directive (`None` when `v` itself is
/// one) and the other directive keys.
fn remove_directives(v: Value) -> Option<Value> {
    match v {
        Value::Object(m) => {
            if m.contains_key(DIRECTIVE_MARKER) {
                return None;
            }
            let mut out = Map::with_capacity(m.len());
            for (k, v) in m {
                if is_directive_key(&k) {
                    continue;
                }
                if let Some(v) = remove_directives(v) {
                    out.insert(k, v);
                }
            }
            Some(Value::Object(out))
        }
        Value::Array(items) => Some(Value::Array(
            items.into_iter().filter_map(remove_directives).collect(),
        )),
        other => Some(other),
    }
}

/// What decoding a raw patch value into the Go type leaves of it: directive
/// keys and `null` fields are gone, everything else stays.
fn clean_value(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(clean_map(m)),
        Value::Array(items) => Value::Array(items.into_iter().map(clean_value).collect()),
        other => other,
    }
}

fn clean_map(m: Map<String, Value>) -> Map<String, Value> {
    m.into_iter()
        .filter(|(k, v)| !v.is_null() && !is_directive_key(k))
        .map(|(k, v)| (k, clean_value(v)))
        .collect()
}

fn is_directive_key(k: &str) -> bool {
    k == DIRECTIVE_MARKER
        || k == RETAIN_KEYS_DIRECTIVE
        || k.starts_with(SET_ELEMENT_ORDER_PREFIX)
        || k.starts_with(DELETE_FROM_PRIMITIVE_LIST_PREFIX)
}

// ---------------------------------------------------------------------------
// Errors and Go-style formatting

fn as_map(v: &Value) -> Result<&Map<String, Value>> {
    v.as_object().ok_or(PatchError::BadArgType {
        expected: GO_MAP,
        actual: go_type(v),
    })
}

fn no_merge_key(m: &Map<String, Value>, key: &str) -> PatchError {
    PatchError::NoMergeKey {
        map: go_fmt_map(m),
        key: key.to_string(),
    }
}

fn not_a_map(index: usize) -> PatchError {
    PatchError::Other(format!("value for key {index} is not a map"))
}

fn bad_patch_type(directive: &Value, m: &Map<String, Value>) -> PatchError {
    let directive = match directive {
        Value::String(s) => s.clone(),
        other => format!("%!s({}={})", go_type(other), go_fmt(other)),
    };
    PatchError::BadPatchType {
        directive,
        map: go_fmt_map(m),
    }
}

/// The Go type a decoded JSON value has (`k8s.io/apimachinery` decodes
/// integral numbers as int64).
fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_i64() => "int64",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => GO_SLICE,
        Value::Object(_) => GO_MAP,
    }
}

/// `fmt.Sprintf("%v", v)` of a decoded JSON value.
pub(crate) fn go_fmt(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i.to_string(),
            (None, Some(f)) => go_float(f),
            _ => n.to_string(),
        },
        Value::String(s) => s.clone(),
        Value::Array(items) => go_fmt_list(items),
        Value::Object(m) => go_fmt_map(m),
    }
}

fn go_fmt_list(items: &[Value]) -> String {
    let parts: Vec<String> = items.iter().map(go_fmt).collect();
    format!("[{}]", parts.join(" "))
}

fn go_fmt_lists(lists: &[&Vec<Value>]) -> String {
    let parts: Vec<String> = lists.iter().map(|l| go_fmt_list(l)).collect();
    format!("[{}]", parts.join(" "))
}

fn go_fmt_map(m: &Map<String, Value>) -> String {
    let mut keys: Vec<&String> = m.keys().collect();
    keys.sort();
    let parts: Vec<String> = keys
        .into_iter()
        .map(|k| format!("{}:{}", k, go_fmt(&m[k.as_str()])))
        .collect();
    format!("map[{}]", parts.join(" "))
}

/// `%v` of a float64: the shortest representation, in exponent form when
/// the exponent is below -4 or at least 21.
fn go_float(f: f64) -> String {
    if !f.is_finite() {
        return if f.is_nan() {
            "NaN".to_string()
        } else if f > 0.0 {
            "+Inf".to_string()
        } else {
            "-Inf".to_string()
        };
    }
    if f == 0.0 {
        return "0".to_string();
    }
    let exp = f.abs().log10().floor() as i32;
    if (-4..21).contains(&exp) {
        return format!("{f}");
    }
    let sci = format!("{f:e}");
    match sci.split_once('e') {
        Some((mantissa, e)) => {
            let (sign, digits) = match e.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', e),
            };
            format!("{mantissa}e{sign}{digits:0>2}")
        }
        None => sci,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn smp(kind: &str, original: Value, patch: Value) -> Value {
        strategic_merge_patch(kind, &original, &patch).unwrap()
    }

    fn svc() -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {
                "clusterIP": "10.0.0.7",
                "selector": {"app": "web"},
                "ports": [
                    {"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080},
                    {"name": "https", "port": 443, "protocol": "TCP", "targetPort": 8443}
                ]
            }
        })
    }

    #[test]
    fn kubectl_apply_drops_a_port_and_keeps_server_fields() {
        // What `kubectl apply` sends after the https port left the manifest
        // and targetPort changed.
        let patch = json!({
            "metadata": {"labels": {"tier": "front"}},
            "spec": {
                "$setElementOrder/ports": [{"port": 80}],
                "ports": [
                    {"port": 80, "targetPort": 8081},
                    {"$patch": "delete", "port": 443}
                ]
            }
        });
        let out = smp("Service", svc(), patch);
        assert_eq!(
            out["spec"]["ports"],
            json!([{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8081}])
        );
        assert_eq!(out["spec"]["clusterIP"], "10.0.0.7");
        assert_eq!(
            out["metadata"]["labels"],
            json!({"app": "web", "tier": "front"})
        );
    }

    #[test]
    fn delete_directive_removes_one_port() {
        let out = smp(
            "Service",
            svc(),
            json!({"spec": {"ports": [{"$patch": "delete", "port": 80}]}}),
        );
        let ports = out["spec"]["ports"].as_array().unwrap();
        assert_eq!(ports.len(), 1);
        assert_eq!(ports[0]["port"], 443);
    }

    fn deployment() -> Value {
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "d"},
            "spec": {
                "replicas": 2,
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}},
                "template": {
                    "metadata": {"labels": {"app": "d"}},
                    "spec": {"containers": [
                        {"name": "web", "image": "nginx:1", "env": [{"name": "A", "value": "1"}]},
                        {"name": "side", "image": "busybox", "args": ["sleep", "1d"]}
                    ]}
                }
            }
        })
    }

    #[test]
    fn patching_one_container_keeps_the_others() {
        let out = smp(
            "Deployment",
            deployment(),
            json!({"spec": {"template": {"spec": {"containers": [{"name": "side", "image": "busybox:2"}]}}}}),
        );
        let cs = &out["spec"]["template"]["spec"]["containers"];
        assert_eq!(cs.as_array().unwrap().len(), 2);
        assert_eq!(cs[0]["image"], "nginx:1");
        assert_eq!(cs[0]["env"], json!([{"name": "A", "value": "1"}]));
        assert_eq!(cs[1]["image"], "busybox:2");
        assert_eq!(cs[1]["args"], json!(["sleep", "1d"]));
    }

    #[test]
    fn new_items_follow_patch_order_and_set_element_order() {
        // Adding a container in front: kubectl sends the full order.
        let out = smp(
            "Deployment",
            deployment(),
            json!({"spec": {"template": {"spec": {
                "$setElementOrder/containers": [{"name": "init"}, {"name": "web"}, {"name": "side"}],
                "containers": [{"name": "init", "image": "alpine"}]
            }}}}),
        );
        let names: Vec<&str> = out["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["init", "web", "side"]);

        // Without the directive a new item goes before the live ones (the
        // live-only items keep their relative order).
        let out = smp(
            "Deployment",
            deployment(),
            json!({"spec": {"template": {"spec": {"containers": [{"name": "init", "image": "alpine"}]}}}}),
        );
        let names: Vec<&str> = out["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["init", "web", "side"]);

        // Reordering only.
        let out = smp(
            "Deployment",
            deployment(),
            json!({"spec": {"template": {"spec": {
                "$setElementOrder/containers": [{"name": "side"}, {"name": "web"}]
            }}}}),
        );
        assert_eq!(
            out["spec"]["template"]["spec"]["containers"][0]["name"],
            "side"
        );
        assert_eq!(
            out["spec"]["template"]["spec"]["containers"][1]["image"],
            "nginx:1"
        );
    }

    #[test]
    fn nested_merge_lists_and_nulls() {
        let out = smp(
            "Deployment",
            deployment(),
            json!({"spec": {"replicas": null, "template": {"spec": {"containers": [
                {"name": "web", "env": [{"name": "B", "value": "2"}], "image": null}
            ]}}}}),
        );
        assert!(out["spec"].get("replicas").is_none());
        let web = &out["spec"]["template"]["spec"]["containers"][0];
        assert!(web.get("image").is_none());
        // Without $setElementOrder, new items go before the live-only ones.
        assert_eq!(
            web["env"],
            json!([{"name": "B", "value": "2"}, {"name": "A", "value": "1"}])
        );
    }

    #[test]
    fn retain_keys_clears_the_other_strategy_fields() {
        let out = smp(
            "Deployment",
            deployment(),
            json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate", "rollingUpdate": null}}}),
        );
        assert_eq!(out["spec"]["strategy"], json!({"type": "Recreate"}));
        let err = strategic_merge_patch(
            "Deployment",
            &deployment(),
            &json!({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {"maxSurge": 2}}}}),
        )
        .unwrap_err();
        assert_eq!(err, PatchError::BadPatchFormatForRetainKeys);
        assert_eq!(err.to_string(), "invalid patch format of retainKeys");
        assert_eq!(err.status_code(), 400);
    }

    #[test]
    fn primitive_lists_merge_and_delete() {
        let cm = json!({"metadata": {"name": "c", "finalizers": ["a", "b"]}});
        let out = smp(
            "ConfigMap",
            cm.clone(),
            json!({"metadata": {"finalizers": ["c", "a"]}}),
        );
        assert_eq!(out["metadata"]["finalizers"], json!(["c", "a", "b"]));
        let out = smp(
            "ConfigMap",
            cm.clone(),
            json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}),
        );
        assert_eq!(out["metadata"]["finalizers"], json!(["b"]));
        let out = smp(
            "ConfigMap",
            cm.clone(),
            json!({"metadata": {
                "$setElementOrder/finalizers": ["b", "z"],
                "$deleteFromPrimitiveList/finalizers": ["a"],
                "finalizers": ["z"]
            }}),
        );
        assert_eq!(out["metadata"]["finalizers"], json!(["b", "z"]));
        // Deleting from a list the object does not have does nothing.
        let out = smp(
            "ConfigMap",
            json!({"metadata": {"name": "c"}}),
            json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}),
        );
        assert!(out["metadata"].get("finalizers").is_none());
    }

    #[test]
    fn atomic_lists_and_unknown_kinds_replace() {
        let pod = json!({"spec": {"tolerations": [{"key": "a"}], "containers": [{"name": "c"}]}});
        let out = smp(
            "Pod",
            pod.clone(),
            json!({"spec": {"tolerations": [{"key": "b"}]}}),
        );
        assert_eq!(out["spec"]["tolerations"], json!([{"key": "b"}]));
        let out = smp(
            "Widget",
            pod,
            json!({"spec": {"containers": [{"name": "d"}]}}),
        );
        assert_eq!(out["spec"]["containers"], json!([{"name": "d"}]));
        let ep = json!({"subsets": [{"addresses": [{"ip": "1.1.1.1"}]}]});
        let out = smp(
            "Endpoints",
            ep,
            json!({"subsets": [{"addresses": [{"ip": "2.2.2.2"}]}]}),
        );
        assert_eq!(out["subsets"], json!([{"addresses": [{"ip": "2.2.2.2"}]}]));
    }

    #[test]
    fn replace_directives() {
        let out = smp(
            "Service",
            svc(),
            json!({"spec": {"ports": [{"port": 8080, "name": "alt"}, {"$patch": "replace"}]}}),
        );
        assert_eq!(out["spec"]["ports"], json!([{"port": 8080, "name": "alt"}]));
        let out = smp(
            "Service",
            svc(),
            json!({"metadata": {"labels": {"$patch": "replace", "x": "y"}}}),
        );
        assert_eq!(out["metadata"]["labels"], json!({"x": "y"}));
        let out = smp("Service", svc(), json!({"spec": {"$patch": "delete"}}));
        assert_eq!(out["spec"], json!({}));
    }

    #[test]
    fn errors_carry_upstream_messages() {
        let err = strategic_merge_patch(
            "Service",
            &svc(),
            &json!({"spec": {"ports": [{"name": "x", "targetPort": 1}]}}),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "map: map[name:x targetPort:1] does not contain declared merge key: port"
        );
        let err = strategic_merge_patch("Service", &svc(), &json!({"spec": {"$patch": "merge"}}))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown patch type: merge in map: map[$patch:merge]"
        );
        let err = strategic_merge_patch(
            "Service",
            &svc(),
            &json!({"spec": {"ports": [{"$patch": "merge", "port": 80}]}}),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "merging lists cannot yet be specified in the patch"
        );
        let err = strategic_merge_patch(
            "Service",
            &svc(),
            &json!({"spec": {"$setElementOrder/ports": [{"port": 443}], "ports": [{"port": 80, "name": "h"}]}}),
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("The order in patch list:\n[map[name:h port:80]]\n doesn't match $setElementOrder list:\n[map[port:443]]\n"), "{err}");
        // A value inserted wholesale only loses its directive keys...
        let out = strategic_merge_patch(
            "ConfigMap",
            &json!({}),
            &json!({"metadata": {"$deleteFromPrimitiveListfinalizers": ["a"]}}),
        );
        assert_eq!(out, Ok(json!({"metadata": {}})));
        // ...while a merged one must spell the directive right.
        let err = strategic_merge_patch(
            "ConfigMap",
            &json!({"metadata": {"name": "x"}}),
            &json!({"metadata": {"$deleteFromPrimitiveListfinalizers": ["a"]}}),
        )
        .unwrap_err();
        assert_eq!(err, PatchError::BadPatchFormatForPrimitiveList);
        let err = strategic_merge_patch("Pod", &json!({}), &json!([1])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "json: cannot unmarshal array into Go value of type map[string]interface {}"
        );
        let err = strategic_merge_patch(
            "ConfigMap",
            &json!({"metadata": {"finalizers": [["a"]]}}),
            &json!({"metadata": {"finalizers": [["b"]]}}),
        )
        .unwrap_err();
        assert_eq!(err, PatchError::NoListOfLists);
        assert_eq!(err.status_code(), 422);
    }

    #[test]
    fn wholesale_values_are_cleaned() {
        let out = smp(
            "Pod",
            json!({"spec": {}}),
            json!({"spec": {"containers": [{"name": "a", "image": null, "env": [{"name": "X", "$patch": "delete"}]}]}}),
        );
        assert_eq!(out["spec"]["containers"], json!([{"name": "a", "env": []}]));
    }

    #[test]
    fn go_formatting() {
        assert_eq!(go_fmt(&json!(1.5)), "1.5");
        assert_eq!(go_fmt(&json!(1e21)), "1e+21");
        assert_eq!(
            go_fmt(&json!({"b": [1, "x"], "a": null})),
            "map[a:<nil> b:[1 x]]"
        );
    }

    /// Garbage in, an error or a value out, never a panic.
    #[test]
    fn never_panics_on_odd_input() {
        let originals = [
            svc(),
            deployment(),
            json!({"metadata": {"finalizers": ["a", 1, null, {"x": 1}]}}),
            json!({"spec": {"ports": [1, "a", null, [], {}]}}),
            json!(null),
            json!("x"),
        ];
        let fragments = [
            json!(null),
            json!(1),
            json!("delete"),
            json!([]),
            json!([null]),
            json!([{"$patch": "delete"}]),
            json!([{"$patch": 1, "port": 1}]),
            json!([{"port": 80}, {"$patch": "replace"}, 3]),
            json!({"$patch": 7}),
            json!({"$retainKeys": "x"}),
            json!({"$retainKeys": [1, null]}),
            json!({"$setElementOrder/ports": [1, {"port": 80}], "ports": [{"port": 80}]}),
            json!({"$setElementOrder/ports": {"a": 1}}),
            json!({"$setElementOrder/ports": []}),
            json!({"$deleteFromPrimitiveList/ports": [{"port": 80}]}),
            json!({"$deleteFromPrimitiveList/finalizers": [{"a": 1}, [1]]}),
            json!({"$setElementOrder/finalizers": [{"a": 1}], "finalizers": ["a"]}),
            json!({"$setElementOrder/tolerations": [{"key": "a"}], "tolerations": [{"key": "a"}]}),
            json!({"$setElementOrder": [], "$deleteFromPrimitiveList": []}),
        ];
        let fields = [
            "spec",
            "ports",
            "finalizers",
            "metadata",
            "containers",
            "tolerations",
        ];
        for original in &originals {
            for frag in &fragments {
                for f in fields {
                    let patches = [
                        json!({ (f): frag }),
                        json!({"spec": { (f): frag }}),
                        json!({"metadata": { (f): frag }}),
                        json!({"spec": {"template": {"spec": { (f): frag }}}}),
                        frag.clone(),
                    ];
                    for p in &patches {
                        for kind in ["Service", "Deployment", "ConfigMap", "Pod", "Nope"] {
                            let _ = strategic_merge_patch(kind, original, p);
                        }
                    }
                }
            }
        }
        // Very deep nesting is refused, not a stack overflow.
        let mut deep = json!({});
        for _ in 0..300 {
            deep = json!({ "a": deep });
        }
        let mut orig = json!({});
        for _ in 0..300 {
            orig = json!({ "a": orig });
        }
        assert_eq!(
            strategic_merge_patch("Pod", &orig, &deep).unwrap_err(),
            PatchError::TooDeep
        );
    }
}
