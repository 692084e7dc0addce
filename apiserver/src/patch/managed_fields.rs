//! Server-side apply and field ownership (`metadata.managedFields`), with the
//! semantics of kube-apiserver's field manager and structured-merge-diff.
//!
//! * [`apply`] merges an applied configuration into the live object (lists
//!   by their list type: atomic, set, or map keyed by the list-map keys),
//!   removes the fields the manager applied before but no longer specifies
//!   (unless another manager owns them too), detects conflicts with other
//!   managers, and records the manager's fields as an `Apply` entry.
//! * [`record_update`] records the fields a create, update or patch changed
//!   as an `Update` entry of its manager, taking them away from the others.
//!
//! Field sets use the `FieldsV1` encoding: `f:<field>`, `k:<json key>` for
//! items of map lists, `v:<json value>` for items of sets, `i:<index>`, and
//! `.` marking that a node with children is owned itself.
//!
//! The wrapping layers of the upstream field manager are reproduced: the
//! metadata fields that are never owned (`name`, `uid`, `resourceVersion`,
//! ...), fields the registry resets (`status` on the main resource),
//! `before-first-apply` ownership of objects that had no managed fields,
//! the cap of ten `Update` entries (older ones merge into
//! `ancient-changes`), and the client-side apply upgrade of the `kubectl`
//! manager (conflicts with values recorded in the last-applied annotation
//! are allowed, and that annotation is kept up to date).

use crate::validation::checks::strip_nulls;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::{Map, Value};

use super::schema::{self, ListSchema, ListType, Node};

const LAST_APPLIED_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";
const BEFORE_FIRST_APPLY: &str = "before-first-apply";
const ANCIENT_CHANGES: &str = "ancient-changes";
const MAX_UPDATE_MANAGERS: usize = 10;
/// Key under which the running update is recorded before it is merged into
/// its manager's entry.
const CURRENT_OPERATION: &str = "current-operation";
/// Objects nested deeper than this are refused.
const MAX_DEPTH: usize = 100;

// ===========================================================================
// Errors

/// Why an apply failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApplyError {
    /// Other managers own fields the configuration changes (HTTP 409).
    #[error("{0}")]
    Conflict(ApplyConflict),
    /// The request is malformed (HTTP 400).
    #[error("{0}")]
    BadRequest(String),
    /// The objects could not be processed (HTTP 500, as upstream).
    #[error("{0}")]
    Internal(String),
}

impl ApplyError {
    /// The HTTP status kube-apiserver answers with.
    pub fn status_code(&self) -> u16 {
        match self {
            ApplyError::Conflict(_) => 409,
            ApplyError::BadRequest(_) => 400,
            ApplyError::Internal(_) => 500,
        }
    }

    /// The status message.
    pub fn message(&self) -> String {
        self.to_string()
    }
}

impl From<ApplyConflict> for ApplyError {
    fn from(c: ApplyConflict) -> Self {
        ApplyError::Conflict(c)
    }
}

/// One field owned by another manager that the apply would change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The other manager's name.
    pub manager: String,
    /// `Apply` or `Update`.
    pub operation: String,
    /// The API version of an `Update` manager (empty for appliers).
    pub api_version: String,
    /// The subresource the manager wrote through, if any.
    pub subresource: String,
    /// The field, e.g. `.spec.ports[port=80,protocol="TCP"].targetPort`.
    pub path: String,
}

impl Conflict {
    /// How the API server names the manager: `"kubectl"`, or
    /// `"kubectl-client-side-apply" using v1` for an `Update` manager, with
    /// ` with subresource "status"` when it wrote a subresource.
    pub fn manager_description(&self) -> String {
        let mut s = go_quote(&self.manager);
        if !self.subresource.is_empty() {
            s.push_str(&format!(
                " with subresource {}",
                go_quote(&self.subresource)
            ));
        }
        if self.operation == "Update" {
            s.push_str(&format!(" using {}", self.api_version));
        }
        s
    }

    fn identifier(&self) -> String {
        ManagerId {
            manager: self.manager.clone(),
            operation: self.operation.clone(),
            api_version: if self.operation == "Apply" {
                String::new()
            } else {
                self.api_version.clone()
            },
            subresource: self.subresource.clone(),
        }
        .key()
    }
}

/// The conflicts of a failed apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyConflict {
    pub conflicts: Vec<Conflict>,
}

impl ApplyConflict {
    /// The message of the 409 Status, exactly as kube-apiserver words it:
    /// `Apply failed with 1 conflict: conflict with "m" using v1: .a.b`, or
    /// for several, one `conflicts with ...:` block per manager.
    pub fn message(&self) -> String {
        if let [only] = self.conflicts.as_slice() {
            return format!(
                "Apply failed with 1 conflict: conflict with {}: {}",
                only.manager_description(),
                only.path
            );
        }
        let mut by_manager: BTreeMap<String, (String, Vec<&str>)> = BTreeMap::new();
        for c in &self.conflicts {
            by_manager
                .entry(c.identifier())
                .or_insert_with(|| (c.manager_description(), Vec::new()))
                .1
                .push(&c.path);
        }
        let mut lines = Vec::new();
        for (_, (description, paths)) in by_manager {
            lines.push(format!("conflicts with {description}:"));
            for p in paths {
                lines.push(format!("- {p}"));
            }
        }
        format!(
            "Apply failed with {} conflicts: {}",
            self.conflicts.len(),
            lines.join("\n")
        )
    }

    /// The `details.causes` of the 409 Status.
    pub fn causes(&self) -> Vec<Value> {
        self.conflicts
            .iter()
            .map(|c| {
                serde_json::json!({
                    "type": "FieldManagerConflict",
                    "message": format!("conflict with {}", c.manager_description()),
                    "field": c.path,
                })
            })
            .collect()
    }

    /// The whole `Status` object kube-apiserver answers with.
    pub fn status(&self) -> Value {
        serde_json::json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message(),
            "reason": "Conflict",
            "details": {"causes": self.causes()},
            "code": 409,
        })
    }
}

impl fmt::Display for ApplyConflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for ApplyConflict {}

// ===========================================================================
// Public entry points

/// Server-side apply of `applied` (the decoded apply patch) to `live` (the
/// stored object, `None` when the apply creates it) by `manager`.
///
/// Returns the object to store, with `metadata.managedFields` updated.
/// When nothing but ownership changed, the result equals `live` apart from
/// `managedFields` (and is exactly `live` when ownership did not change
/// either), so callers can skip the write.  Fields the registry resets
/// (`status` of the main resource) are merged but never owned: the caller's
/// strategy is expected to reset them, as upstream.
pub fn apply(
    kind: &str,
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    force: bool,
    now: &str,
) -> Result<Value, ApplyError> {
    let config = applied
        .as_object()
        .ok_or_else(|| ApplyError::BadRequest("the apply patch must be an object".to_string()))?;
    let version = config
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let config_kind = config.get("kind").and_then(Value::as_str).unwrap_or("");
    if version.is_empty() || config_kind != kind {
        return Err(ApplyError::BadRequest(format!(
            "invalid object type: {}",
            gvk_string(&version, config_kind)
        )));
    }
    if let Some(live_version) = live
        .and_then(|l| l.get("apiVersion"))
        .and_then(Value::as_str)
    {
        if !live_version.is_empty() && live_version != version {
            return Err(ApplyError::BadRequest(format!(
                "invalid object type: {}",
                gvk_string(&version, config_kind)
            )));
        }
    }
    if config
        .get("metadata")
        .and_then(|m| m.get("managedFields"))
        .is_some_and(|mf| !mf.is_null())
    {
        return Err(ApplyError::BadRequest(
            "metadata.managedFields must be nil".to_string(),
        ));
    }
    if too_deep(applied) || live.is_some_and(too_deep) {
        return Err(ApplyError::BadRequest(
            "the object is nested too deeply".to_string(),
        ));
    }
    let live_obj = match live {
        Some(Value::Object(_)) => live.cloned().unwrap_or(Value::Null),
        Some(_) => {
            return Err(ApplyError::Internal(
                "couldn't get accessor: the live object is not an object".to_string(),
            ))
        }
        None => Value::Object(Map::new()),
    };
    let mut managed = match decode_managed_fields(live_obj.pointer("/metadata/managedFields")) {
        Ok(m) => m,
        Err(e) => {
            return Err(ApplyError::Internal(format!(
                "failed to decode managed fields: {e}"
            )))
        }
    };

    let ctx = Ctx {
        root: schema::apply_root(kind),
        version: version.clone(),
        now,
        ignored: ignored_set(kind, None),
        describe: describe_object(applied, &version, kind),
    };
    let root = ctx.root;
    validate_config(applied, root).map_err(|e| {
        ApplyError::Internal(format!(
            "failed to create typed patch object ({}): {e}",
            ctx.describe
        ))
    })?;
    let live_plain = without_managed_fields(&live_obj);

    // Objects without managed fields get their current content attributed
    // to `before-first-apply`.
    if managed.entries.is_empty() && live.is_some() {
        let empty = schema::empty_object(kind);
        let id = ManagerId::update(BEFORE_FIRST_APPLY, &version, "");
        update_entries(&ctx, &empty, &live_plain, &mut managed, &id).map_err(|e| {
            ApplyError::Internal(format!("failed to create manager for existing fields: {e}"))
        })?;
        cap_update_managers(&mut managed);
    }

    let id = ManagerId::apply(manager);
    let mut result_managed = managed.clone();
    let outcome = match apply_entries(&ctx, &live_plain, applied, &mut result_managed, &id, force) {
        Ok(outcome) => outcome,
        Err(Failure::Error(e)) => return Err(e),
        Err(Failure::Conflicts(raw)) => {
            // Upgrading from client-side apply: for `kubectl`, conflicts on
            // values the last-applied annotation recorded, and that are
            // still live, are not conflicts.
            let allowed = if manager == "kubectl" {
                allowed_by_last_applied(&ctx, &live_obj)
            } else {
                None
            };
            let remaining: Vec<RawConflict> = match &allowed {
                Some(allowed) => raw.into_iter().filter(|c| !allowed.has(&c.path)).collect(),
                None => raw,
            };
            if !remaining.is_empty() {
                return Err(ApplyError::Conflict(to_apply_conflict(
                    &result_managed,
                    remaining,
                )));
            }
            result_managed = managed.clone();
            match apply_entries(&ctx, &live_plain, applied, &mut result_managed, &id, true) {
                Ok(outcome) => outcome,
                Err(Failure::Error(e)) => return Err(e),
                Err(Failure::Conflicts(raw)) => {
                    return Err(ApplyError::Conflict(to_apply_conflict(
                        &result_managed,
                        raw,
                    )))
                }
            }
        }
    };

    let mut object = match outcome {
        Some(new) => {
            result_managed.times.insert(id.key(), Some(now.to_string()));
            strip_nulls(new)
        }
        None => live_plain.clone(),
    };
    if manager == "kubectl" && has_last_applied(&object) {
        let last = build_last_applied(applied);
        if let Some(ann) = object
            .pointer_mut("/metadata/annotations")
            .and_then(Value::as_object_mut)
        {
            ann.insert(LAST_APPLIED_ANNOTATION.to_string(), Value::String(last));
        }
    }
    set_managed_fields(&mut object, &result_managed);
    Ok(object)
}

/// Records in `new.metadata.managedFields` the fields a non-apply write
/// (create when `old` is `None`, update, patch) changed, as an `Update`
/// entry of `manager` at `api_version` (and `subresource`, for writes to
/// one).  Changed fields are taken away from the other managers.  Objects
/// that have no managed fields are only tracked from their creation on.
/// Managed fields sent in `new` replace the live ones (an empty list, or a
/// list of one empty entry, clears them), except through subresources.
pub fn record_update(
    kind: &str,
    old: Option<&Value>,
    new: &mut Value,
    manager: &str,
    api_version: &str,
    now: &str,
    subresource: Option<&str>,
) {
    if !new.is_object() {
        return;
    }
    let subresource = subresource.unwrap_or("");
    let old_managed_fields = old
        .and_then(|o| o.pointer("/metadata/managedFields"))
        .cloned();
    let decode_old = || decode_managed_fields(old_managed_fields.as_ref()).unwrap_or_default();
    let mut managed = if !subresource.is_empty() {
        decode_old()
    } else {
        let sent = new.pointer("/metadata/managedFields");
        if is_reset_managed_fields(sent) {
            Managed::default()
        } else {
            match decode_managed_fields(sent) {
                Ok(m) if !m.entries.is_empty() => m,
                _ => decode_old(),
            }
        }
    };
    remove_managed_fields(new);

    let is_create = match old {
        None => true,
        Some(o) => o
            .pointer("/metadata/uid")
            .and_then(Value::as_str)
            .unwrap_or("")
            .is_empty(),
    };
    if managed.entries.is_empty() && !is_create {
        return;
    }
    if too_deep(new) || old.is_some_and(too_deep) {
        restore_managed_fields(new, old_managed_fields);
        return;
    }
    let live = match old {
        Some(o) => without_managed_fields(o),
        None => schema::empty_object(kind),
    };
    let ctx = Ctx {
        root: schema::apply_root(kind),
        version: api_version.to_string(),
        now,
        ignored: ignored_set(kind, Some(subresource)),
        describe: String::new(),
    };
    let id = ManagerId::update(
        if manager.is_empty() {
            "unknown"
        } else {
            manager
        },
        api_version,
        subresource,
    );
    if update_entries(&ctx, &live, new, &mut managed, &id).is_err() {
        // Like UpdateNoErrors: keep what the live object had.
        restore_managed_fields(new, old_managed_fields);
        return;
    }
    cap_update_managers(&mut managed);
    set_managed_fields(new, &managed);
}

// ===========================================================================
// Managers

/// Who owns a set: the identity the API server keys entries with.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ManagerId {
    manager: String,
    operation: String,
    /// Part of the identity of `Update` managers only.
    api_version: String,
    subresource: String,
}

impl ManagerId {
    fn apply(manager: &str) -> Self {
        ManagerId {
            manager: if manager.is_empty() {
                "unknown"
            } else {
                manager
            }
            .to_string(),
            operation: "Apply".to_string(),
            api_version: String::new(),
            subresource: String::new(),
        }
    }

    fn update(manager: &str, api_version: &str, subresource: &str) -> Self {
        ManagerId {
            manager: manager.to_string(),
            operation: "Update".to_string(),
            api_version: api_version.to_string(),
            subresource: subresource.to_string(),
        }
    }

    /// The identifier string (the JSON of the identifying fields), which
    /// also orders managers in conflict messages.
    fn key(&self) -> String {
        let mut s = String::from("{");
        let mut first = true;
        for (name, value) in [
            ("manager", &self.manager),
            ("operation", &self.operation),
            ("apiVersion", &self.api_version),
            ("subresource", &self.subresource),
        ] {
            if value.is_empty() {
                continue;
            }
            if !first {
                s.push(',');
            }
            first = false;
            s.push_str(&go_json_string(name));
            s.push(':');
            s.push_str(&go_json_string(value));
        }
        s.push('}');
        s
    }
}

#[derive(Debug, Clone)]
struct Entry {
    id: ManagerId,
    set: FieldSet,
    api_version: String,
    applied: bool,
}

/// Decoded managed fields: entries by identifier, and their times.
#[derive(Debug, Clone, Default)]
struct Managed {
    entries: BTreeMap<String, Entry>,
    times: BTreeMap<String, Option<String>>,
}

fn decode_managed_fields(v: Option<&Value>) -> Result<Managed, String> {
    let mut out = Managed::default();
    let items = match v {
        None | Some(Value::Null) => return Ok(out),
        Some(Value::Array(items)) => items,
        Some(_) => return Err("managedFields must be a list".to_string()),
    };
    for (i, item) in items.iter().enumerate() {
        let m = item
            .as_object()
            .ok_or_else(|| format!("managed fields entry {i} is not an object"))?;
        let s = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let operation = s("operation");
        if operation != "Apply" && operation != "Update" {
            return Err("operation must be `Apply` or `Update`".to_string());
        }
        let api_version = s("apiVersion");
        if api_version.is_empty() {
            return Err("apiVersion must not be empty".to_string());
        }
        match s("fieldsType").as_str() {
            "FieldsV1" => {}
            "" => return Err(format!("missing fieldsType in managed fields entry {i}")),
            other => {
                return Err(format!(
                    "invalid fieldsType {} in managed fields entry {i}",
                    go_quote(other)
                ))
            }
        }
        let set = match m.get("fieldsV1") {
            None | Some(Value::Null) => FieldSet::default(),
            Some(v) => FieldSet::from_fields_v1(v)
                .map_err(|e| format!("error decoding versioned set: error decoding set: {e}"))?,
        };
        let applied = operation == "Apply";
        let id = ManagerId {
            manager: s("manager"),
            api_version: if applied {
                String::new()
            } else {
                api_version.clone()
            },
            operation,
            subresource: s("subresource"),
        };
        let key = id.key();
        let time = m.get("time").and_then(Value::as_str).map(str::to_string);
        out.times.insert(key.clone(), time);
        out.entries.insert(
            key,
            Entry {
                id,
                set,
                api_version,
                applied,
            },
        );
    }
    Ok(out)
}

fn encode_managed_fields(managed: &Managed) -> Vec<Value> {
    struct Row {
        operation: String,
        seconds: i64,
        manager: String,
        api_version: String,
        subresource: String,
        value: Value,
    }
    let mut rows: Vec<Row> = Vec::new();
    for (key, e) in &managed.entries {
        let operation = if e.applied { "Apply" } else { "Update" }.to_string();
        let time = managed.times.get(key).cloned().flatten();
        let mut m = Map::new();
        if !e.id.manager.is_empty() {
            m.insert("manager".into(), Value::String(e.id.manager.clone()));
        }
        m.insert("operation".into(), Value::String(operation.clone()));
        if !e.api_version.is_empty() {
            m.insert("apiVersion".into(), Value::String(e.api_version.clone()));
        }
        if let Some(t) = &time {
            m.insert("time".into(), Value::String(t.clone()));
        }
        m.insert("fieldsType".into(), Value::String("FieldsV1".into()));
        m.insert("fieldsV1".into(), e.set.to_fields_v1());
        if !e.id.subresource.is_empty() {
            m.insert(
                "subresource".into(),
                Value::String(e.id.subresource.clone()),
            );
        }
        rows.push(Row {
            operation,
            seconds: time.as_deref().map(unix_seconds).unwrap_or(0),
            manager: e.id.manager.clone(),
            api_version: e.api_version.clone(),
            subresource: e.id.subresource.clone(),
            value: Value::Object(m),
        });
    }
    rows.sort_by(|p, q| {
        p.operation
            .cmp(&q.operation)
            .then(p.seconds.cmp(&q.seconds))
            .then_with(|| p.manager.cmp(&q.manager))
            .then_with(|| p.api_version.cmp(&q.api_version))
            .then_with(|| p.subresource.cmp(&q.subresource))
    });
    rows.into_iter().map(|r| r.value).collect()
}

fn set_managed_fields(obj: &mut Value, managed: &Managed) {
    let encoded = encode_managed_fields(managed);
    if encoded.is_empty() {
        remove_managed_fields(obj);
        return;
    }
    if let Some(o) = obj.as_object_mut() {
        let meta = o
            .entry("metadata")
            .or_insert_with(|| Value::Object(Map::new()));
        if !meta.is_object() {
            *meta = Value::Object(Map::new());
        }
        if let Some(meta) = meta.as_object_mut() {
            meta.insert("managedFields".into(), Value::Array(encoded));
        }
    }
}

fn remove_managed_fields(obj: &mut Value) {
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.shift_remove("managedFields");
    }
}

fn restore_managed_fields(obj: &mut Value, managed_fields: Option<Value>) {
    match managed_fields {
        Some(mf) if !mf.is_null() => {
            if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
                meta.insert("managedFields".into(), mf);
            }
        }
        _ => remove_managed_fields(obj),
    }
}

fn without_managed_fields(obj: &Value) -> Value {
    let mut o = obj.clone();
    remove_managed_fields(&mut o);
    o
}

/// An empty list, or a list of one empty entry, asks to clear them.
fn is_reset_managed_fields(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Array(items)) => match items.as_slice() {
            [] => true,
            [only] => only.as_object().is_some_and(|m| {
                m.values().all(|v| match v {
                    Value::Null => true,
                    Value::String(s) => s.is_empty(),
                    _ => false,
                })
            }),
            _ => false,
        },
        _ => false,
    }
}

/// Keeps at most ten `Update` entries, merging the oldest ones per API
/// version into an `ancient-changes` entry.
fn cap_update_managers(managed: &mut Managed) {
    let mut updaters: Vec<(i64, String)> = managed
        .entries
        .iter()
        .filter(|(_, e)| !e.applied)
        .map(|(k, _)| {
            let secs = managed
                .times
                .get(k)
                .cloned()
                .flatten()
                .as_deref()
                .map(unix_seconds)
                .unwrap_or(0);
            (secs, k.clone())
        })
        .collect();
    if updaters.len() <= MAX_UPDATE_MANAGERS {
        return;
    }
    updaters.sort();
    let mut length = updaters.len();
    let mut first_of_version: BTreeMap<String, String> = BTreeMap::new();
    for (_, key) in updaters {
        if length <= MAX_UPDATE_MANAGERS {
            break;
        }
        let (version, set, time) = match managed.entries.get(&key) {
            Some(e) => (
                e.api_version.clone(),
                e.set.clone(),
                managed.times.get(&key).cloned().flatten(),
            ),
            None => continue,
        };
        let bucket_id = ManagerId::update(ANCIENT_CHANGES, &version, "");
        let bucket = bucket_id.key();
        match first_of_version.get(&version) {
            Some(first) => {
                if !managed.entries.contains_key(&bucket) {
                    if let Some(mut e) = managed.entries.remove(first) {
                        e.id = bucket_id.clone();
                        managed.entries.insert(bucket.clone(), e);
                    }
                    managed.times.remove(first);
                }
                let merged = match managed.entries.get(&bucket) {
                    Some(b) => set.union(&b.set),
                    None => set,
                };
                managed.entries.insert(
                    bucket.clone(),
                    Entry {
                        id: bucket_id,
                        set: merged,
                        api_version: version.clone(),
                        applied: false,
                    },
                );
                managed.entries.remove(&key);
                managed.times.remove(&key);
                length -= 1;
                managed.times.insert(bucket, time);
            }
            None => {
                first_of_version.insert(version, key);
            }
        }
    }
}

// ===========================================================================
// The apply and update algorithms

struct Ctx<'a> {
    root: Node,
    version: String,
    now: &'a str,
    ignored: FieldSet,
    describe: String,
}

fn ignored_set(kind: &str, subresource: Option<&str>) -> FieldSet {
    let mut s = FieldSet::default();
    for path in schema::reset_fields(kind, subresource) {
        let p: Vec<PathElement> = path
            .iter()
            .map(|f| PathElement::Field(f.to_string()))
            .collect();
        s.insert(&p);
    }
    s
}

/// The fields no manager ever owns.
fn strip_set() -> FieldSet {
    let mut s = FieldSet::default();
    s.insert(&[PathElement::Field("apiVersion".into())]);
    s.insert(&[PathElement::Field("kind".into())]);
    s.insert(&[PathElement::Field("metadata".into())]);
    for f in [
        "name",
        "namespace",
        "creationTimestamp",
        "selfLink",
        "uid",
        "clusterName",
        "generation",
        "managedFields",
        "resourceVersion",
    ] {
        s.insert(&[
            PathElement::Field("metadata".into()),
            PathElement::Field(f.into()),
        ]);
    }
    s
}

fn strip_meta(managed: &mut Managed, key: &str) {
    if let Some(e) = managed.entries.get_mut(key) {
        e.set = e.set.difference(&strip_set());
        if e.set.is_empty() {
            managed.entries.remove(key);
        }
    }
}

/// One apply as the field manager runs it (without the client-side apply
/// upgrade): merge, prune, ownership, conflicts.  Returns the new object,
/// or `None` when it equals the live one.
fn apply_entries(
    ctx: &Ctx,
    live: &Value,
    config: &Value,
    managed: &mut Managed,
    id: &ManagerId,
    force: bool,
) -> Result<Option<Value>, Failure> {
    let key = id.key();
    let root = ctx.root;
    let merged = merge_values(Some(live), Some(config), root, 0)
        .map_err(|e| internal(format!("failed to merge config: {e}")))?
        .unwrap_or_else(|| Value::Object(Map::new()));
    let last_set = managed.entries.get(&key).map(|e| e.set.clone());
    let set = field_set_of(config, root)
        .map_err(|e| internal(format!("failed to get field set: {e}")))?
        .recursive_difference(&ctx.ignored);
    managed.entries.insert(
        key.clone(),
        Entry {
            id: id.clone(),
            set,
            api_version: ctx.version.clone(),
            applied: true,
        },
    );
    let new = match &last_set {
        Some(last) if !last.is_empty() => prune(&merged, managed, last, root)
            .map_err(|e| internal(format!("failed to prune fields: {e}")))?,
        _ => merged,
    };
    let comparison = compare_objects(live, &new, root, &ctx.ignored)
        .map_err(|e| internal(format!("failed to compare objects: {e}")))?;
    take_ownership(managed, &key, &comparison, force).map_err(Failure::Conflicts)?;
    strip_meta(managed, &key);
    if values_equal(live, &new) {
        Ok(None)
    } else {
        Ok(Some(new))
    }
}

/// One update: the changed fields go to `id`, the others lose them.
fn update_entries(
    ctx: &Ctx,
    live: &Value,
    new: &Value,
    managed: &mut Managed,
    id: &ManagerId,
) -> Result<(), String> {
    let root = ctx.root;
    let comparison = compare_objects(live, new, root, &ctx.ignored)?;
    take_ownership(managed, CURRENT_OPERATION, &comparison, true)
        .map_err(|_| "unexpected conflict".to_string())?;
    let set = comparison
        .modified
        .union(&comparison.added)
        .recursive_difference(&ctx.ignored);
    if !set.is_empty() {
        managed.entries.insert(
            CURRENT_OPERATION.to_string(),
            Entry {
                id: id.clone(),
                set,
                api_version: ctx.version.clone(),
                applied: false,
            },
        );
    }
    strip_meta(managed, CURRENT_OPERATION);
    if let Some(mut current) = managed.entries.remove(CURRENT_OPERATION) {
        let key = id.key();
        if let Some(previous) = managed.entries.get(&key) {
            current.set = current.set.union(&previous.set);
        }
        current.id = id.clone();
        managed.entries.insert(key.clone(), current);
        managed.times.insert(key, Some(ctx.now.to_string()));
    }
    Ok(())
}

/// Why one apply attempt failed.
enum Failure {
    Conflicts(Vec<RawConflict>),
    Error(ApplyError),
}

fn internal(msg: String) -> Failure {
    Failure::Error(ApplyError::Internal(msg))
}

/// A conflict before it is described: the owner's identifier and the path.
struct RawConflict {
    key: String,
    path: Vec<PathElement>,
}

fn to_apply_conflict(managed: &Managed, raw: Vec<RawConflict>) -> ApplyConflict {
    let conflicts = raw
        .into_iter()
        .filter_map(|c| {
            let e = managed.entries.get(&c.key)?;
            Some(Conflict {
                manager: e.id.manager.clone(),
                operation: e.id.operation.clone(),
                api_version: e.api_version.clone(),
                subresource: e.id.subresource.clone(),
                path: path_string(&c.path),
            })
        })
        .collect();
    ApplyConflict { conflicts }
}

/// Gives the fields `comparison` says changed to `workflow`: other managers
/// owning modified or added fields conflict (or, forced, lose them), and
/// everyone loses removed fields.
fn take_ownership(
    managed: &mut Managed,
    workflow: &str,
    comparison: &Comparison,
    force: bool,
) -> Result<(), Vec<RawConflict>> {
    let changed = comparison.modified.union(&comparison.added);
    let mut conflicts: Vec<(String, FieldSet)> = Vec::new();
    for (key, e) in &managed.entries {
        if key == workflow {
            continue;
        }
        let c = e.set.intersection(&changed);
        if !c.is_empty() {
            conflicts.push((key.clone(), c));
        }
    }
    if !force && !conflicts.is_empty() {
        let mut out = Vec::new();
        for (key, set) in &conflicts {
            for path in set.paths() {
                out.push(RawConflict {
                    key: key.clone(),
                    path,
                });
            }
        }
        return Err(out);
    }
    for (key, set) in &conflicts {
        if let Some(e) = managed.entries.get_mut(key) {
            e.set = e.set.difference(set);
        }
    }
    if !comparison.removed.is_empty() {
        for (key, e) in managed.entries.iter_mut() {
            if key != workflow {
                e.set = e.set.difference(&comparison.removed);
            }
        }
    }
    managed.entries.retain(|_, e| !e.set.is_empty());
    let entries = &managed.entries;
    managed
        .times
        .retain(|k, _| entries.contains_key(k) || k == workflow);
    Ok(())
}

/// The fields the last-applied annotation of `live` recorded with the value
/// they still have: conflicts on those are allowed for `kubectl`.
fn allowed_by_last_applied(ctx: &Ctx, live: &Value) -> Option<FieldSet> {
    let text = live
        .pointer("/metadata/annotations")?
        .get(LAST_APPLIED_ANNOTATION)?
        .as_str()?;
    if text.is_empty() {
        return None;
    }
    let last: Value = serde_json::from_str(text).ok()?;
    if last.get("apiVersion").and_then(Value::as_str) != Some(ctx.version.as_str()) {
        return None;
    }
    if too_deep(&last) || validate_config(&last, ctx.root).is_err() {
        return None;
    }
    let set = field_set_of(&last, ctx.root).ok()?;
    let cmp = compare_values(&last, live, ctx.root).ok()?;
    Some(
        set.difference(&cmp.modified)
            .difference(&cmp.added)
            .difference(&cmp.removed),
    )
}

fn has_last_applied(obj: &Value) -> bool {
    obj.pointer("/metadata/annotations")
        .and_then(|a| a.get(LAST_APPLIED_ANNOTATION))
        .and_then(Value::as_str)
        .is_some_and(|s| !s.is_empty())
}

/// The last-applied annotation value for an applied configuration: its
/// JSON (keys sorted, with a trailing newline), without the annotation.
fn build_last_applied(applied: &Value) -> String {
    let mut obj = applied.clone();
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        match meta.get_mut("annotations") {
            Some(Value::Object(ann)) => {
                ann.shift_remove(LAST_APPLIED_ANNOTATION);
            }
            Some(_) => {
                meta.shift_remove("annotations");
            }
            None => {}
        }
    }
    let mut s = go_json(&obj);
    s.push('\n');
    s
}

/// Removes from `merged` what the applier owned last time and no longer
/// applies, unless another manager (or the new configuration) owns it.
fn prune(merged: &Value, managed: &Managed, last: &FieldSet, root: Node) -> Result<Value, String> {
    let last = last.ensure_named_fields_are_members(root);
    let pruned = remove_items(merged, &last, root);
    let merged_set = field_set_of(merged, root)?.ensure_named_fields_are_members(root);

    // Add back what anyone owns.
    let mut owned = FieldSet::default();
    for e in managed.entries.values() {
        owned = owned.union(&e.set);
    }
    let owned = owned.ensure_named_fields_are_members(root);
    let pruned_set = field_set_of(&pruned, root)?.ensure_named_fields_are_members(root);
    let pruned = remove_items(
        merged,
        &merged_set.difference(&pruned_set.union(&owned)),
        root,
    );

    // Add back what the applier did not own (nobody's fields stay).
    let pruned_set = field_set_of(&pruned, root)?.ensure_named_fields_are_members(root);
    Ok(remove_items(
        merged,
        &merged_set.difference(&pruned_set).intersection(&last),
        root,
    ))
}

// ===========================================================================
// Field paths and sets

/// One step of a field path.
#[derive(Debug, Clone)]
pub enum PathElement {
    /// A field of an object (`f:`).
    Field(String),
    /// An item of a map list, by its keys sorted by name (`k:`).
    Key(Vec<(String, Value)>),
    /// An item of a set (`v:`).
    Value(Value),
    /// A list index (`i:`).
    Index(i64),
}

impl PathElement {
    fn rank(&self) -> u8 {
        match self {
            PathElement::Field(_) => 0,
            PathElement::Key(_) => 1,
            PathElement::Value(_) => 2,
            PathElement::Index(_) => 3,
        }
    }

    /// The `FieldsV1` key of this element.
    fn serialize(&self) -> String {
        match self {
            PathElement::Field(f) => format!("f:{f}"),
            PathElement::Key(fields) => {
                let parts: Vec<String> = fields
                    .iter()
                    .map(|(k, v)| format!("{}:{}", go_json_string(k), go_json(v)))
                    .collect();
                format!("k:{{{}}}", parts.join(","))
            }
            PathElement::Value(v) => format!("v:{}", go_json(v)),
            PathElement::Index(i) => format!("i:{i}"),
        }
    }

    fn deserialize(s: &str) -> Result<Option<PathElement>, String> {
        let bytes = s.as_bytes();
        if bytes.len() < 2 {
            return Err("key must be 2 characters long:".to_string());
        }
        if bytes[1] != b':' {
            return Err(format!("missing colon: {s}"));
        }
        let rest = s.get(2..).unwrap_or("");
        match bytes[0] {
            b'f' => Ok(Some(PathElement::Field(rest.to_string()))),
            b'v' => serde_json::from_str::<Value>(rest)
                .map(|v| Some(PathElement::Value(v)))
                .map_err(|e| e.to_string()),
            b'k' => {
                let v: Value = serde_json::from_str(rest).map_err(|e| e.to_string())?;
                let m = v
                    .as_object()
                    .ok_or_else(|| format!("a key path element must be an object: {s}"))?;
                let mut fields: Vec<(String, Value)> =
                    m.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                fields.sort_by(|a, b| a.0.cmp(&b.0));
                Ok(Some(PathElement::Key(fields)))
            }
            b'i' => rest
                .parse::<i64>()
                .map(|i| Some(PathElement::Index(i)))
                .map_err(|e| e.to_string()),
            _ => Ok(None),
        }
    }
}

impl Ord for PathElement {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (PathElement::Field(a), PathElement::Field(b)) => a.cmp(b),
            (PathElement::Key(a), PathElement::Key(b)) => {
                for (x, y) in a.iter().zip(b.iter()) {
                    let c = x.0.cmp(&y.0).then_with(|| compare_value(&x.1, &y.1));
                    if c != Ordering::Equal {
                        return c;
                    }
                }
                a.len().cmp(&b.len())
            }
            (PathElement::Value(a), PathElement::Value(b)) => compare_value(a, b),
            (PathElement::Index(a), PathElement::Index(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl PartialOrd for PathElement {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for PathElement {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for PathElement {}

impl fmt::Display for PathElement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathElement::Field(name) => write!(f, ".{name}"),
            PathElement::Key(fields) => {
                let parts: Vec<String> = fields
                    .iter()
                    .map(|(k, v)| format!("{k}={}", value_to_string(v)))
                    .collect();
                write!(f, "[{}]", parts.join(","))
            }
            PathElement::Value(v) => write!(f, "[={}]", value_to_string(v)),
            PathElement::Index(i) => write!(f, "[{i}]"),
        }
    }
}

fn path_string(path: &[PathElement]) -> String {
    path.iter().map(ToString::to_string).collect()
}

/// A set of field paths, as a tree: `members` are owned paths ending here,
/// `children` hold the longer ones.  Empty children are never kept.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldSet {
    members: BTreeSet<PathElement>,
    children: BTreeMap<PathElement, FieldSet>,
}

impl FieldSet {
    pub fn is_empty(&self) -> bool {
        self.members.is_empty() && self.children.is_empty()
    }

    pub fn insert(&mut self, path: &[PathElement]) {
        match path {
            [] => {}
            [last] => {
                self.members.insert(last.clone());
            }
            [first, rest @ ..] => self.children.entry(first.clone()).or_default().insert(rest),
        }
    }

    /// Whether `path` is a member.
    pub fn has(&self, path: &[PathElement]) -> bool {
        match path {
            [] => false,
            [last] => self.members.contains(last),
            [first, rest @ ..] => self.children.get(first).is_some_and(|c| c.has(rest)),
        }
    }

    pub fn union(&self, other: &FieldSet) -> FieldSet {
        let mut out = self.clone();
        out.members.extend(other.members.iter().cloned());
        for (pe, child) in &other.children {
            let merged = match out.children.get(pe) {
                Some(mine) => mine.union(child),
                None => child.clone(),
            };
            out.children.insert(pe.clone(), merged);
        }
        out
    }

    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet {
            members: self.members.intersection(&other.members).cloned().collect(),
            children: BTreeMap::new(),
        };
        for (pe, child) in &self.children {
            if let Some(theirs) = other.children.get(pe) {
                let c = child.intersection(theirs);
                if !c.is_empty() {
                    out.children.insert(pe.clone(), c);
                }
            }
        }
        out
    }

    /// Members of `self` that are not members of `other`; a member of
    /// `other` does not remove the paths below it.
    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet {
            members: self.members.difference(&other.members).cloned().collect(),
            children: BTreeMap::new(),
        };
        for (pe, child) in &self.children {
            let c = match other.children.get(pe) {
                Some(theirs) => child.difference(theirs),
                None => child.clone(),
            };
            if !c.is_empty() {
                out.children.insert(pe.clone(), c);
            }
        }
        out
    }

    /// Like [`FieldSet::difference`], but a member of `other` also removes
    /// everything below it.
    pub fn recursive_difference(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet {
            members: self.members.difference(&other.members).cloned().collect(),
            children: BTreeMap::new(),
        };
        for (pe, child) in &self.children {
            if other.members.contains(pe) {
                continue;
            }
            let c = match other.children.get(pe) {
                Some(theirs) => child.recursive_difference(theirs),
                None => child.clone(),
            };
            if !c.is_empty() {
                out.children.insert(pe.clone(), c);
            }
        }
        out
    }

    /// Every member path: this level's members first, then the children's.
    pub fn paths(&self) -> Vec<Vec<PathElement>> {
        let mut out = Vec::new();
        self.collect_paths(&mut Vec::new(), &mut out);
        out
    }

    fn collect_paths(&self, prefix: &mut Vec<PathElement>, out: &mut Vec<Vec<PathElement>>) {
        for m in &self.members {
            let mut p = prefix.clone();
            p.push(m.clone());
            out.push(p);
        }
        for (pe, child) in &self.children {
            prefix.push(pe.clone());
            child.collect_paths(prefix, out);
            prefix.pop();
        }
    }

    /// Adds as members the declared fields that only have children: removing
    /// such a set removes those fields whole.
    fn ensure_named_fields_are_members(&self, node: Node) -> FieldSet {
        let mut out = FieldSet {
            members: self.members.clone(),
            children: BTreeMap::new(),
        };
        for (pe, child) in &self.children {
            if let PathElement::Field(_) = pe {
                if node.has_named_fields() {
                    out.members.insert(pe.clone());
                }
            }
            out.children.insert(
                pe.clone(),
                child.ensure_named_fields_are_members(child_node(node, pe)),
            );
        }
        out
    }

    /// The `FieldsV1` JSON of the set.
    pub fn to_fields_v1(&self) -> Value {
        Value::Object(self.emit(false))
    }

    fn emit(&self, include_self: bool) -> Map<String, Value> {
        let mut out = Map::new();
        if include_self && !self.is_empty() {
            out.insert(".".into(), Value::Object(Map::new()));
        }
        let mut keys: BTreeSet<&PathElement> = self.members.iter().collect();
        keys.extend(self.children.keys());
        for pe in keys {
            let value = match self.children.get(pe) {
                Some(child) => child.emit(self.members.contains(pe)),
                None => Map::new(),
            };
            out.insert(pe.serialize(), Value::Object(value));
        }
        out
    }

    /// Parses `FieldsV1` JSON.
    pub fn from_fields_v1(v: &Value) -> Result<FieldSet, String> {
        match v {
            Value::Object(m) => Ok(read_fields_v1(m, 0)?.0),
            Value::Null => Ok(FieldSet::default()),
            _ => Err("fieldsV1 must be an object".to_string()),
        }
    }
}

fn read_fields_v1(m: &Map<String, Value>, depth: usize) -> Result<(FieldSet, bool), String> {
    if depth > MAX_DEPTH {
        return Err("fieldsV1 is nested too deeply".to_string());
    }
    let mut set = FieldSet::default();
    let mut is_member = false;
    for (key, value) in m {
        if key == "." {
            is_member = true;
            continue;
        }
        let pe = match PathElement::deserialize(key) {
            Ok(Some(pe)) => pe,
            Ok(None) => continue,
            Err(e) => return Err(format!("parsing key as path element: {e}")),
        };
        let child = match value {
            Value::Object(cm) => cm,
            _ => return Err(format!("the value of {key} must be an object")),
        };
        let (grandchildren, child_is_member) = read_fields_v1(child, depth + 1)?;
        if child_is_member {
            set.members.insert(pe.clone());
        }
        if !grandchildren.is_empty() {
            let merged = match set.children.get(&pe) {
                Some(existing) => existing.union(&grandchildren),
                None => grandchildren,
            };
            set.children.insert(pe, merged);
        }
    }
    if set.is_empty() {
        is_member = true;
    }
    Ok((set, is_member))
}

/// The schema node under path element `pe` of `node`.
fn child_node(node: Node, pe: &PathElement) -> Node {
    match (pe, node) {
        (PathElement::Field(name), Node::Struct(_)) => node.field(name).node,
        (PathElement::Key(_), Node::List(_)) => node.elem(),
        _ => Node::Map { atomic: false },
    }
}

// ===========================================================================
// Walking typed values

/// How a value is handled at a schema node.
#[derive(Clone, Copy)]
enum Shape {
    /// Compared and merged as a whole.
    Leaf,
    /// An object merged key by key; `named` when its keys are declared
    /// fields.
    Map { named: bool },
    /// A set or map list.
    List(&'static ListSchema),
}

impl PartialEq for Shape {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Shape::Leaf, Shape::Leaf) => true,
            (Shape::Map { named: a }, Shape::Map { named: b }) => a == b,
            (Shape::List(a), Shape::List(b)) => std::ptr::eq(*a, *b),
            _ => false,
        }
    }
}

fn shape_of(v: &Value, node: Node) -> Option<Shape> {
    match v {
        Value::Null => None,
        Value::Object(_) => Some(match node {
            Node::List(_) => Shape::Leaf,
            n if n.is_atomic() => Shape::Leaf,
            n => Shape::Map {
                named: n.has_named_fields(),
            },
        }),
        Value::Array(_) => Some(match node {
            Node::List(ls) if ls.list_type != ListType::Atomic => Shape::List(ls),
            _ => Shape::Leaf,
        }),
        _ => Some(Shape::Leaf),
    }
}

/// The shape two sides share; `None` (a leaf) when they disagree.
fn common_shape(lhs: Option<&Value>, rhs: Option<&Value>, node: Node) -> Shape {
    let l = lhs.and_then(|v| shape_of(v, node));
    let r = rhs.and_then(|v| shape_of(v, node));
    match (l, r) {
        (Some(a), Some(b)) if a == b => a,
        (Some(_), Some(_)) => Shape::Leaf,
        (Some(a), None) | (None, Some(a)) => a,
        (None, None) => Shape::Leaf,
    }
}

fn empty_or_null(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::Object(m)) => m.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        _ => false,
    }
}

/// The path element of a list item.
fn item_element(ls: &ListSchema, item: &Value) -> Result<PathElement, String> {
    match ls.list_type {
        ListType::Map => {
            let m = match item {
                Value::Null => {
                    return Err("associative list with keys may not have a null element".into())
                }
                Value::Object(m) => m,
                _ => return Err("associative list with keys may not have non-map elements".into()),
            };
            let mut fields = Vec::new();
            for key in ls.keys {
                if let Some(v) = m.get(*key) {
                    fields.push((key.to_string(), v.clone()));
                } else if let Some((_, d)) = ls.key_defaults.iter().find(|(k, _)| k == key) {
                    fields.push((key.to_string(), Value::String(d.to_string())));
                }
            }
            if !ls.keys.is_empty() && fields.is_empty() {
                let quoted: Vec<String> = ls.keys.iter().map(|k| go_quote(k)).collect();
                return Err(format!(
                    "associative list with keys has an element that omits all key fields [{}] (and doesn't have default values for any key fields)",
                    quoted.join(" ")
                ));
            }
            fields.sort_by(|a, b| a.0.cmp(&b.0));
            Ok(PathElement::Key(fields))
        }
        _ => match item {
            Value::Object(_) => {
                Err("associative list without keys has an element that's a map type".into())
            }
            Value::Array(_) => Err("not supported: associative list with lists as elements".into()),
            Value::Null => {
                Err("associative list without keys has an element that's an explicit null".into())
            }
            v => Ok(PathElement::Value(v.clone())),
        },
    }
}

/// Items of a list grouped by path element, in first-seen order.
fn index_items<'v>(
    ls: &ListSchema,
    items: &'v [Value],
) -> Result<Vec<(PathElement, Vec<&'v Value>)>, String> {
    let mut out: Vec<(PathElement, Vec<&'v Value>)> = Vec::new();
    let mut pos: BTreeMap<PathElement, usize> = BTreeMap::new();
    for (i, item) in items.iter().enumerate() {
        let pe = item_element(ls, item).map_err(|e| format!("element {i}: {e}"))?;
        match pos.get(&pe) {
            Some(&at) => {
                if let Some(slot) = out.get_mut(at) {
                    slot.1.push(item);
                }
            }
            None => {
                pos.insert(pe.clone(), out.len());
                out.push((pe, vec![item]));
            }
        }
    }
    Ok(out)
}

/// Checks an applied configuration the way converting it to a typed value
/// does: list items must have their keys, and no key may repeat.
fn validate_config(v: &Value, node: Node) -> Result<(), String> {
    let mut errors = Vec::new();
    validate_walk(v, node, &mut Vec::new(), &mut errors);
    match errors.len() {
        0 => Ok(()),
        1 => Err(errors.remove(0)),
        _ => {
            let mut lines = vec!["errors:".to_string()];
            lines.extend(errors.into_iter().map(|e| format!("  {e}")));
            Err(lines.join("\n"))
        }
    }
}

fn validate_walk(v: &Value, node: Node, path: &mut Vec<PathElement>, errors: &mut Vec<String>) {
    let at = |path: &[PathElement], msg: String| {
        if path.is_empty() {
            msg
        } else {
            format!("{}: {msg}", path_string(path))
        }
    };
    match (shape_of(v, node), v) {
        (Some(Shape::Map { .. }), Value::Object(m)) => {
            for (k, child) in m {
                path.push(PathElement::Field(k.clone()));
                validate_walk(
                    child,
                    child_node(node, &PathElement::Field(k.clone())),
                    path,
                    errors,
                );
                path.pop();
            }
        }
        (Some(Shape::List(ls)), Value::Array(items)) => {
            let mut seen = BTreeSet::new();
            for (i, item) in items.iter().enumerate() {
                match item_element(ls, item) {
                    Err(e) => errors.push(at(path, format!("element {i}: {e}"))),
                    Ok(pe) => {
                        if !seen.insert(pe.clone()) {
                            errors.push(at(path, format!("duplicate entries for key {pe}")));
                            continue;
                        }
                        path.push(pe);
                        validate_walk(item, node.elem(), path, errors);
                        path.pop();
                    }
                }
            }
        }
        _ => {}
    }
}

/// The set of fields `v` sets (smd `ToFieldSet`).
fn field_set_of(v: &Value, node: Node) -> Result<FieldSet, String> {
    let mut set = FieldSet::default();
    field_set_walk(v, node, &mut Vec::new(), &mut set)?;
    Ok(set)
}

fn field_set_walk(
    v: &Value,
    node: Node,
    path: &mut Vec<PathElement>,
    set: &mut FieldSet,
) -> Result<(), String> {
    match (shape_of(v, node), v) {
        (Some(Shape::Map { named }), Value::Object(m)) => {
            for (k, child) in m {
                let pe = PathElement::Field(k.clone());
                let cn = child_node(node, &pe);
                path.push(pe);
                field_set_walk(child, cn, path, set)?;
                let empty_map = child.as_object().is_some_and(Map::is_empty);
                if child.is_null() || empty_map || !named {
                    set.insert(path);
                }
                path.pop();
            }
        }
        (Some(Shape::List(ls)), Value::Array(items)) => {
            let indexed = index_items(ls, items).map_err(|e| at_path(path, e))?;
            for (pe, group) in indexed {
                path.push(pe);
                if group.len() > 1 {
                    set.insert(path);
                } else if let Some(item) = group.first() {
                    field_set_walk(item, node.elem(), path, set)?;
                    set.insert(path);
                }
                path.pop();
            }
        }
        _ => set.insert(path),
    }
    Ok(())
}

fn at_path(path: &[PathElement], msg: String) -> String {
    if path.is_empty() {
        msg
    } else {
        format!("{}: {msg}", path_string(path))
    }
}

/// Fields added, modified and removed from `lhs` to `rhs`.
#[derive(Debug, Default)]
struct Comparison {
    added: FieldSet,
    modified: FieldSet,
    removed: FieldSet,
}

fn compare_values(lhs: &Value, rhs: &Value, node: Node) -> Result<Comparison, String> {
    let mut c = Comparison::default();
    compare_walk(Some(lhs), Some(rhs), node, &mut Vec::new(), &mut c)?;
    Ok(c)
}

/// [`compare_values`] without the ignored (reset) fields.
fn compare_objects(
    live: &Value,
    new: &Value,
    node: Node,
    ignored: &FieldSet,
) -> Result<Comparison, String> {
    let c = compare_values(live, new, node)?;
    if ignored.is_empty() {
        return Ok(c);
    }
    Ok(Comparison {
        added: c.added.recursive_difference(ignored),
        modified: c.modified.recursive_difference(ignored),
        removed: c.removed.recursive_difference(ignored),
    })
}

fn compare_walk(
    lhs: Option<&Value>,
    rhs: Option<&Value>,
    node: Node,
    path: &mut Vec<PathElement>,
    c: &mut Comparison,
) -> Result<(), String> {
    let leaf = |c: &mut Comparison, path: &[PathElement]| match (lhs, rhs) {
        (None, _) => c.added.insert(path),
        (_, None) => c.removed.insert(path),
        (Some(l), Some(r)) => {
            if !values_equal(l, r) {
                c.modified.insert(path)
            }
        }
    };
    match common_shape(lhs, rhs, node) {
        Shape::Leaf => {
            leaf(c, path);
            return Ok(());
        }
        Shape::Map { .. } => {
            if empty_or_null(lhs) && empty_or_null(rhs) {
                leaf(c, path);
                return Ok(());
            }
            let lm = lhs.and_then(Value::as_object);
            let rm = rhs.and_then(Value::as_object);
            let mut keys: Vec<&String> = Vec::new();
            if let Some(lm) = lm {
                keys.extend(lm.keys());
            }
            if let Some(rm) = rm {
                keys.extend(
                    rm.keys()
                        .filter(|k| !lm.is_some_and(|lm| lm.contains_key(*k))),
                );
            }
            for k in keys {
                let pe = PathElement::Field(k.clone());
                let cn = child_node(node, &pe);
                path.push(pe);
                compare_walk(
                    lm.and_then(|m| m.get(k)),
                    rm.and_then(|m| m.get(k)),
                    cn,
                    path,
                    c,
                )?;
                path.pop();
            }
        }
        Shape::List(ls) => {
            if empty_or_null(lhs) && empty_or_null(rhs) {
                leaf(c, path);
                return Ok(());
            }
            let empty = Vec::new();
            let litems = lhs.and_then(Value::as_array).unwrap_or(&empty);
            let ritems = rhs.and_then(Value::as_array).unwrap_or(&empty);
            let lidx = index_items(ls, litems).map_err(|e| at_path(path, e))?;
            let ridx = index_items(ls, ritems).map_err(|e| at_path(path, e))?;
            let lmap: BTreeMap<&PathElement, &Vec<&Value>> =
                lidx.iter().map(|(pe, g)| (pe, g)).collect();
            let rmap: BTreeMap<&PathElement, &Vec<&Value>> =
                ridx.iter().map(|(pe, g)| (pe, g)).collect();
            let mut all: Vec<&PathElement> = lidx.iter().map(|(pe, _)| pe).collect();
            all.extend(
                ridx.iter()
                    .map(|(pe, _)| pe)
                    .filter(|pe| !lmap.contains_key(pe)),
            );
            let elem = node.elem();
            for pe in all {
                let l: &[&Value] = lmap.get(pe).map(|g| g.as_slice()).unwrap_or(&[]);
                let r: &[&Value] = rmap.get(pe).map(|g| g.as_slice()).unwrap_or(&[]);
                path.push(pe.clone());
                match (l.len(), r.len()) {
                    (0..=1, 0..=1) => {
                        compare_walk(l.first().copied(), r.first().copied(), elem, path, c)?
                    }
                    (2.., 2..) => {
                        let same = l.len() == r.len()
                            && l.iter().zip(r.iter()).all(|(a, b)| values_equal(a, b));
                        if !same {
                            c.modified.insert(path);
                        }
                    }
                    (2.., _) => {
                        if let Some(first) = r.first() {
                            compare_walk(None, Some(first), elem, path, c)?;
                        }
                        c.removed.insert(path);
                    }
                    (_, _) => {
                        if let Some(first) = l.first() {
                            compare_walk(Some(first), None, elem, path, c)?;
                        }
                        c.added.insert(path);
                    }
                }
                path.pop();
            }
        }
    }
    // A non-leaf node that exists on one side only.
    match (lhs, rhs) {
        (None, Some(_)) => c.added.insert(path),
        (Some(_), None) => c.removed.insert(path),
        _ => {}
    }
    Ok(())
}

/// Merges the applied configuration `rhs` into `lhs` (smd `Merge`).
fn merge_values(
    lhs: Option<&Value>,
    rhs: Option<&Value>,
    node: Node,
    depth: usize,
) -> Result<Option<Value>, String> {
    if depth > MAX_DEPTH {
        return Err("the object is nested too deeply".to_string());
    }
    let keep_rhs = || rhs.or(lhs).cloned();
    match common_shape(lhs, rhs, node) {
        Shape::Leaf => Ok(keep_rhs()),
        Shape::Map { .. } => {
            if empty_or_null(lhs) && empty_or_null(rhs) {
                return Ok(keep_rhs());
            }
            let lm = lhs.and_then(Value::as_object);
            let rm = rhs.and_then(Value::as_object);
            let mut out = Map::new();
            if let Some(lm) = lm {
                for (k, lv) in lm {
                    let cn = child_node(node, &PathElement::Field(k.clone()));
                    if let Some(v) =
                        merge_values(Some(lv), rm.and_then(|m| m.get(k)), cn, depth + 1)?
                    {
                        out.insert(k.clone(), v);
                    }
                }
            }
            if let Some(rm) = rm {
                for (k, rv) in rm {
                    if lm.is_some_and(|lm| lm.contains_key(k)) {
                        continue;
                    }
                    let cn = child_node(node, &PathElement::Field(k.clone()));
                    if let Some(v) = merge_values(None, Some(rv), cn, depth + 1)? {
                        out.insert(k.clone(), v);
                    }
                }
            }
            Ok(if out.is_empty() {
                None
            } else {
                Some(Value::Object(out))
            })
        }
        Shape::List(ls) => {
            if empty_or_null(lhs) && empty_or_null(rhs) {
                return Ok(keep_rhs());
            }
            let empty = Vec::new();
            let litems = lhs.and_then(Value::as_array).unwrap_or(&empty);
            let ritems = rhs.and_then(Value::as_array).unwrap_or(&empty);
            let out = merge_list_items(ls, litems, ritems, node.elem(), depth)?;
            Ok(if out.is_empty() {
                None
            } else {
                Some(Value::Array(out))
            })
        }
    }
}

/// Merges two associative lists: items keep the applied order, live-only
/// items stay where they were relative to the shared ones.
fn merge_list_items(
    ls: &ListSchema,
    litems: &[Value],
    ritems: &[Value],
    elem: Node,
    depth: usize,
) -> Result<Vec<Value>, String> {
    let mut rpes = Vec::with_capacity(ritems.len());
    let mut robserved: BTreeMap<PathElement, &Value> = BTreeMap::new();
    for (i, item) in ritems.iter().enumerate() {
        let pe = item_element(ls, item).map_err(|e| format!("element {i}: {e}"))?;
        if robserved.contains_key(&pe) {
            return Err(format!("duplicate entries for key {pe}"));
        }
        robserved.insert(pe.clone(), item);
        rpes.push(pe);
    }
    let null = Value::Null;
    let mut lpes = Vec::with_capacity(litems.len());
    let mut lobserved: BTreeMap<PathElement, &Value> = BTreeMap::new();
    for (i, item) in litems.iter().enumerate() {
        let pe = item_element(ls, item).map_err(|e| format!("element {i}: {e}"))?;
        if lobserved.contains_key(&pe) {
            // Duplicated live items are not merged with the applied one.
            lobserved.insert(pe.clone(), &null);
        } else {
            lobserved.insert(pe.clone(), item);
        }
        lpes.push((pe, i));
    }

    let mut shared: std::collections::VecDeque<&PathElement> = rpes
        .iter()
        .filter(|pe| lobserved.contains_key(*pe))
        .collect();
    let mut next_shared = shared.pop_front();
    let mut merged_rhs: BTreeSet<PathElement> = BTreeSet::new();
    let mut out = Vec::with_capacity(litems.len().max(ritems.len()));
    let (mut li, mut ri) = (0usize, 0usize);
    while li < lpes.len() || ri < rpes.len() {
        let (before_l, before_r) = (li, ri);
        if li < lpes.len() && ri < rpes.len() {
            let pe = &lpes[li].0;
            if *pe == rpes[ri] {
                merged_rhs.insert(pe.clone());
                if let Some(v) = merge_values(
                    lobserved.get(pe).copied(),
                    robserved.get(pe).copied(),
                    elem,
                    depth + 1,
                )? {
                    out.push(v);
                }
                li += 1;
                ri += 1;
                next_shared = shared.pop_front();
                continue;
            }
            if robserved.contains_key(pe) && next_shared.is_some_and(|n| n != pe) {
                li += 1;
                continue;
            }
        }
        if li < lpes.len() {
            let (pe, at) = &lpes[li];
            if !robserved.contains_key(pe) {
                if let Some(v) = merge_values(litems.get(*at), None, elem, depth + 1)? {
                    out.push(v);
                }
                li += 1;
                continue;
            } else if merged_rhs.contains(pe) {
                li += 1;
            }
        }
        if ri < rpes.len() {
            let pe = &rpes[ri];
            merged_rhs.insert(pe.clone());
            if let Some(v) = merge_values(
                lobserved.get(pe).copied(),
                robserved.get(pe).copied(),
                elem,
                depth + 1,
            )? {
                out.push(v);
            }
            ri += 1;
            if next_shared.is_some_and(|n| n == pe) {
                next_shared = shared.pop_front();
            }
        }
        if (li, ri) == (before_l, before_r) {
            // Cannot happen with consistent input; never loop forever.
            li += 1;
        }
    }
    Ok(out)
}

/// `v` without the paths of `set` (smd `RemoveItems`).  `None` stands for
/// a value that became empty (upstream's nil).
fn remove_items(v: &Value, set: &FieldSet, node: Node) -> Value {
    remove_walk(v, set, node).unwrap_or_else(|| Value::Object(Map::new()))
}

fn remove_walk(v: &Value, set: &FieldSet, node: Node) -> Option<Value> {
    match (shape_of(v, node), v) {
        (Some(Shape::Map { .. }), Value::Object(m)) => {
            let mut out = Map::new();
            for (k, child) in m {
                let pe = PathElement::Field(k.clone());
                if set.members.contains(&pe) {
                    continue;
                }
                match set.children.get(&pe) {
                    Some(sub) => {
                        let cn = child_node(node, &pe);
                        out.insert(
                            k.clone(),
                            remove_walk(child, sub, cn).unwrap_or(Value::Null),
                        );
                    }
                    None => {
                        out.insert(k.clone(), child.clone());
                    }
                }
            }
            (!out.is_empty()).then_some(Value::Object(out))
        }
        (Some(Shape::List(ls)), Value::Array(items)) => {
            let mut out = Vec::new();
            for item in items {
                let pe = match item_element(ls, item) {
                    Ok(pe) => pe,
                    Err(_) => {
                        out.push(item.clone());
                        continue;
                    }
                };
                if set.members.contains(&pe) {
                    continue;
                }
                match set.children.get(&pe) {
                    Some(sub) => {
                        out.push(remove_walk(item, sub, node.elem()).unwrap_or(Value::Null))
                    }
                    None => out.push(item.clone()),
                }
            }
            (!out.is_empty()).then_some(Value::Array(out))
        }
        (Some(Shape::Leaf), Value::Object(_) | Value::Array(_)) | (None, _) => None,
        _ => Some(v.clone()),
    }
}

// ===========================================================================
// Values

/// Deep equality, numbers compared by value.
fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => compare_number(x, y) == Ordering::Equal,
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(a, b)| values_equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| values_equal(v, w)))
        }
        _ => a == b,
    }
}

fn compare_number(x: &serde_json::Number, y: &serde_json::Number) -> Ordering {
    let is_float = |n: &serde_json::Number| !(n.is_i64() || n.is_u64());
    if !is_float(x) && !is_float(y) {
        if let (Some(a), Some(b)) = (x.as_i64(), y.as_i64()) {
            return a.cmp(&b);
        }
        if let (Some(a), Some(b)) = (x.as_u64(), y.as_u64()) {
            return a.cmp(&b);
        }
    }
    let a = x.as_f64().unwrap_or(0.0);
    let b = y.as_f64().unwrap_or(0.0);
    a.partial_cmp(&b).unwrap_or(Ordering::Equal)
}

/// A total order on values: numbers, strings, booleans, lists, maps, null.
fn compare_value(a: &Value, b: &Value) -> Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Number(_) => 0,
            Value::String(_) => 1,
            Value::Bool(_) => 2,
            Value::Array(_) => 3,
            Value::Object(_) => 4,
            Value::Null => 5,
        }
    }
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => compare_number(x, y),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Array(x), Value::Array(y)) => {
            for (p, q) in x.iter().zip(y.iter()) {
                let c = compare_value(p, q);
                if c != Ordering::Equal {
                    return c;
                }
            }
            x.len().cmp(&y.len())
        }
        (Value::Object(x), Value::Object(y)) => {
            let mut xk: Vec<&String> = x.keys().collect();
            let mut yk: Vec<&String> = y.keys().collect();
            xk.sort();
            yk.sort();
            for (p, q) in xk.iter().zip(yk.iter()) {
                let c = p
                    .cmp(q)
                    .then_with(|| match (x.get(p.as_str()), y.get(q.as_str())) {
                        (Some(a), Some(b)) => compare_value(a, b),
                        _ => Ordering::Equal,
                    });
                if c != Ordering::Equal {
                    return c;
                }
            }
            xk.len().cmp(&yk.len())
        }
        _ => rank(a).cmp(&rank(b)),
    }
}

fn too_deep(v: &Value) -> bool {
    fn walk(v: &Value, depth: usize) -> bool {
        if depth > MAX_DEPTH {
            return true;
        }
        match v {
            Value::Object(m) => m.values().any(|c| walk(c, depth + 1)),
            Value::Array(a) => a.iter().any(|c| walk(c, depth + 1)),
            _ => false,
        }
    }
    walk(v, 0)
}

/// `namespace/name; group/version, Kind=Kind`, as upstream describes an
/// object in errors.
fn describe_object(obj: &Value, version: &str, kind: &str) -> String {
    let meta = |k: &str| {
        obj.pointer(&format!("/metadata/{k}"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    format!(
        "{}/{}; {}",
        meta("namespace"),
        meta("name"),
        gvk_string(version, kind)
    )
}

fn gvk_string(version: &str, kind: &str) -> String {
    let (group, v) = match version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", version),
    };
    format!("{group}/{v}, Kind={kind}")
}

/// Seconds since the epoch of an RFC 3339 time (0 when unparsable).
fn unix_seconds(t: &str) -> i64 {
    fn num(s: &str) -> Option<i64> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    }
    let parse = || -> Option<i64> {
        let (date, rest) = t.split_once(['T', 't', ' '])?;
        let mut d = date.splitn(3, '-');
        let (y, mo, da) = (num(d.next()?)?, num(d.next()?)?, num(d.next()?)?);
        let time_end = rest.find(['Z', 'z', '+', '-']).unwrap_or(rest.len());
        let (clock, zone) = rest.split_at(time_end);
        let clock = clock.split('.').next()?;
        let mut c = clock.splitn(3, ':');
        let (h, mi, s) = (num(c.next()?)?, num(c.next()?)?, num(c.next()?)?);
        let offset = match zone.chars().next() {
            Some('+') | Some('-') => {
                let (oh, om) = zone.get(1..)?.split_once(':')?;
                let (oh, om) = (num(oh)?, num(om)?);
                if oh > 99 || om > 59 {
                    return None;
                }
                let secs = oh * 3600 + om * 60;
                if zone.starts_with('-') {
                    -secs
                } else {
                    secs
                }
            }
            _ => 0,
        };
        let in_range = (1..=12).contains(&mo)
            && (1..=31).contains(&da)
            && y <= 1_000_000
            && h <= 24
            && mi <= 59
            && s <= 60;
        if !in_range {
            return None;
        }
        // Days from the civil date (proleptic Gregorian).
        let y2 = if mo <= 2 { y - 1 } else { y };
        let era = y2.div_euclid(400);
        let yoe = y2 - era * 400;
        let mp = (mo + 9) % 12;
        let doy = (153 * mp + 2) / 5 + da - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        Some(days * 86_400 + h * 3600 + mi * 60 + s - offset)
    };
    parse().unwrap_or(0)
}

/// Go's `%q` of a string.
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{07}' => out.push_str("\\a"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            '\u{0b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// structured-merge-diff's `value.ToString`, used in path strings.
fn value_to_string(v: &Value) -> String {
    match v {
        Value::Null => "null".to_string(),
        Value::String(s) => go_quote(s),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match n.as_i64() {
            Some(i) => i.to_string(),
            None => n.to_string(),
        },
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(value_to_string).collect();
            format!("[{}]", parts.join(","))
        }
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| format!("{k}={}", value_to_string(v)))
            .collect(),
    }
}

/// JSON as Go's encoder writes it: object keys sorted, `<`, `>` and `&`
/// escaped.
fn go_json(v: &Value) -> String {
    match v {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => go_json_string(s),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(go_json).collect();
            format!("[{}]", parts.join(","))
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", go_json_string(k), go_json(&m[k.as_str()])))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
    }
}

fn go_json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const T0: &str = "2024-05-01T10:00:00Z";
    const T1: &str = "2024-05-01T10:05:00Z";
    const T2: &str = "2024-05-01T10:10:00Z";

    fn entry<'a>(obj: &'a Value, manager: &str) -> &'a Value {
        obj["metadata"]["managedFields"]
            .as_array()
            .and_then(|a| a.iter().find(|e| e["manager"] == manager))
            .unwrap_or_else(|| panic!("no entry for {manager}: {obj}"))
    }

    fn conflict_message(r: Result<Value, ApplyError>) -> String {
        match r {
            Err(ApplyError::Conflict(c)) => c.message(),
            other => panic!("expected a conflict, got {other:?}"),
        }
    }

    fn cm(data: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa", "namespace": "default"}, "data": data})
    }

    /// What the store adds on create.
    fn stored(mut obj: Value) -> Value {
        obj["metadata"]["uid"] = json!("0b6f6b3e-0000-4000-8000-000000000001");
        obj["metadata"]["resourceVersion"] = json!("1");
        obj["metadata"]["creationTimestamp"] = json!(T0);
        obj
    }

    #[test]
    fn apply_creates_and_records_ownership() {
        let obj = apply(
            "ConfigMap",
            None,
            &cm(json!({"color": "blue", "size": "L"})),
            "kubectl",
            false,
            T0,
        )
        .unwrap();
        assert_eq!(obj["data"], json!({"color": "blue", "size": "L"}));
        assert_eq!(
            obj["metadata"]["managedFields"],
            json!([{
                "manager": "kubectl",
                "operation": "Apply",
                "apiVersion": "v1",
                "time": T0,
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:data": {"f:color": {}, "f:size": {}}}
            }])
        );
    }

    #[test]
    fn conflicts_force_and_removal_of_dropped_fields() {
        let live = stored(
            apply(
                "ConfigMap",
                None,
                &cm(json!({"color": "blue", "size": "L"})),
                "kubectl",
                false,
                T0,
            )
            .unwrap(),
        );

        // The same manager changes its own field: no conflict.
        let live = apply(
            "ConfigMap",
            Some(&live),
            &cm(json!({"color": "blue", "size": "XL"})),
            "kubectl",
            false,
            T1,
        )
        .unwrap();
        assert_eq!(live["data"]["size"], "XL");
        assert_eq!(entry(&live, "kubectl")["time"], T1);

        // Another manager changing it conflicts.
        let other = cm(json!({"color": "red"}));
        let msg = conflict_message(apply("ConfigMap", Some(&live), &other, "other", false, T2));
        assert_eq!(
            msg,
            "Apply failed with 1 conflict: conflict with \"kubectl\": .data.color"
        );

        // Applying the value it already has is fine: ownership is shared.
        let shared = apply(
            "ConfigMap",
            Some(&live),
            &cm(json!({"color": "blue"})),
            "other",
            false,
            T2,
        )
        .unwrap();
        assert_eq!(
            entry(&shared, "other")["fieldsV1"],
            json!({"f:data": {"f:color": {}}})
        );
        assert_eq!(
            entry(&shared, "kubectl")["fieldsV1"],
            json!({"f:data": {"f:color": {}, "f:size": {}}})
        );
        assert_eq!(shared["data"], live["data"]);

        // Forced, the field moves to the applier.
        let forced = apply("ConfigMap", Some(&live), &other, "other", true, T2).unwrap();
        assert_eq!(forced["data"], json!({"color": "red", "size": "XL"}));
        assert_eq!(
            entry(&forced, "other")["fieldsV1"],
            json!({"f:data": {"f:color": {}}})
        );
        assert_eq!(
            entry(&forced, "kubectl")["fieldsV1"],
            json!({"f:data": {"f:size": {}}})
        );

        // kubectl stops applying everything: what only it owned goes away.
        let pruned = apply(
            "ConfigMap",
            Some(&forced),
            &cm(json!({})),
            "kubectl",
            false,
            T2,
        )
        .unwrap();
        assert_eq!(pruned["data"], json!({"color": "red"}));
        let managers: Vec<&str> = pruned["metadata"]["managedFields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["manager"].as_str().unwrap())
            .collect();
        // kubectl's entry now only records `data` itself.
        assert_eq!(managers, ["kubectl", "other"]);
        assert_eq!(entry(&pruned, "kubectl")["fieldsV1"], json!({"f:data": {}}));

        // Dropping the whole field drops what is only the applier's; the
        // emptied map goes away like an unset Go map.
        let pruned2 = apply(
            "ConfigMap",
            Some(&pruned),
            &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}}),
            "other",
            false,
            T2,
        )
        .unwrap();
        assert!(pruned2.get("data").is_none(), "{pruned2}");
        // "other" owns nothing any more; kubectl still owns the (now unset)
        // map, as upstream.
        assert_eq!(
            pruned2["metadata"]["managedFields"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            entry(&pruned2, "kubectl")["fieldsV1"],
            json!({"f:data": {}})
        );
    }

    #[test]
    fn reapplying_the_same_config_changes_nothing() {
        let cfg = cm(json!({"color": "blue"}));
        let live = stored(apply("ConfigMap", None, &cfg, "kubectl", false, T0).unwrap());
        let again = apply("ConfigMap", Some(&live), &cfg, "kubectl", false, T1).unwrap();
        assert_eq!(again, live);
    }

    #[test]
    fn conflicts_with_update_managers_name_their_version() {
        let mut created = stored(cm(json!({"color": "blue"})));
        record_update(
            "ConfigMap",
            None,
            &mut created,
            "kubectl-create",
            "v1",
            T0,
            None,
        );
        assert_eq!(
            created["metadata"]["managedFields"],
            json!([{
                "manager": "kubectl-create",
                "operation": "Update",
                "apiVersion": "v1",
                "time": T0,
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:data": {".": {}, "f:color": {}}}
            }])
        );
        let msg = conflict_message(apply(
            "ConfigMap",
            Some(&created),
            &cm(json!({"color": "green"})),
            "kubectl",
            false,
            T1,
        ));
        assert_eq!(
            msg,
            "Apply failed with 1 conflict: conflict with \"kubectl-create\" using v1: .data.color"
        );
    }

    fn web_service(target_port: i64) -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
            "spec": {
                "selector": {"app": "web"},
                "ports": [
                    {"name": "http", "port": 80, "targetPort": target_port},
                    {"name": "https", "port": 443, "targetPort": 8443}
                ]
            }
        })
    }

    #[test]
    fn service_port_conflicts_use_list_map_keys_with_defaults() {
        let mut live = stored(web_service(8080));
        live["spec"]["ports"][0]["protocol"] = json!("TCP");
        live["spec"]["ports"][1]["protocol"] = json!("TCP");
        live["spec"]["clusterIP"] = json!("10.96.0.10");
        record_update(
            "Service",
            None,
            &mut live,
            "kubectl-client-side-apply",
            "v1",
            T0,
            None,
        );
        let ports = &entry(&live, "kubectl-client-side-apply")["fieldsV1"]["f:spec"]["f:ports"];
        assert_eq!(
            ports["k:{\"port\":80,\"protocol\":\"TCP\"}"],
            json!({".": {}, "f:name": {}, "f:port": {}, "f:protocol": {}, "f:targetPort": {}})
        );

        let msg = conflict_message(apply(
            "Service",
            Some(&live),
            &web_service(8081),
            "deployer",
            false,
            T1,
        ));
        assert_eq!(
            msg,
            "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using v1: .spec.ports[port=80,protocol=\"TCP\"].targetPort"
        );
        match apply(
            "Service",
            Some(&live),
            &web_service(8081),
            "deployer",
            false,
            T1,
        ) {
            Err(ApplyError::Conflict(c)) => {
                assert_eq!(
                    c.causes(),
                    vec![json!({
                        "type": "FieldManagerConflict",
                        "message": "conflict with \"kubectl-client-side-apply\" using v1",
                        "field": ".spec.ports[port=80,protocol=\"TCP\"].targetPort"
                    })]
                );
                assert_eq!(c.status()["code"], 409);
            }
            other => panic!("{other:?}"),
        }

        // Forced: the port item merges, server-set fields stay.
        let out = apply(
            "Service",
            Some(&live),
            &web_service(8081),
            "deployer",
            true,
            T1,
        )
        .unwrap();
        assert_eq!(out["spec"]["clusterIP"], "10.96.0.10");
        assert_eq!(
            out["spec"]["ports"][0],
            json!({"name": "http", "port": 80, "targetPort": 8081, "protocol": "TCP"})
        );
        let csa = &entry(&out, "kubectl-client-side-apply")["fieldsV1"]["f:spec"]["f:ports"];
        assert!(csa["k:{\"port\":80,\"protocol\":\"TCP\"}"]
            .get("f:targetPort")
            .is_none());
        let mine = &entry(&out, "deployer")["fieldsV1"]["f:spec"]["f:ports"];
        assert_eq!(
            mine["k:{\"port\":80,\"protocol\":\"TCP\"}"],
            json!({".": {}, "f:name": {}, "f:port": {}, "f:targetPort": {}})
        );
    }

    #[test]
    fn kubectl_upgrading_from_client_side_apply_takes_its_fields() {
        let mut cfg = web_service(8080);
        let last = build_last_applied(&cfg);
        cfg["metadata"]["annotations"] = json!({ LAST_APPLIED_ANNOTATION: last });
        let mut live = stored(cfg.clone());
        record_update(
            "Service",
            None,
            &mut live,
            "kubectl-client-side-apply",
            "v1",
            T0,
            None,
        );

        // kubectl --server-side changes a field it applied client-side.
        let out = apply(
            "Service",
            Some(&live),
            &web_service(8081),
            "kubectl",
            false,
            T1,
        )
        .unwrap();
        assert_eq!(out["spec"]["ports"][0]["targetPort"], 8081);
        let ann = out["metadata"]["annotations"][LAST_APPLIED_ANNOTATION]
            .as_str()
            .unwrap();
        assert!(ann.contains("\"targetPort\":8081"), "{ann}");
        assert!(ann.ends_with('\n'));

        // Another manager still conflicts.
        let msg = conflict_message(apply(
            "Service",
            Some(&live),
            &web_service(8082),
            "other",
            false,
            T1,
        ));
        assert!(msg.contains("kubectl-client-side-apply"), "{msg}");
    }

    fn deployment(containers: Value) -> Value {
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": containers}
                }
            }
        })
    }

    #[test]
    fn list_items_are_owned_and_pruned_per_key() {
        let v1 = deployment(json!([
            {"name": "web", "image": "nginx:1", "ports": [{"containerPort": 80}]},
            {"name": "side", "image": "busybox"}
        ]));
        let live = stored(apply("Deployment", None, &v1, "deployer", false, T0).unwrap());
        let f = &entry(&live, "deployer")["fieldsV1"];
        assert_eq!(f["f:spec"]["f:selector"], json!({}));
        assert_eq!(
            f["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"web\"}"],
            json!({
                ".": {},
                "f:image": {},
                "f:name": {},
                "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}}
            })
        );

        // Another manager adds an env var to `web` and a container.
        let patch = deployment(json!([
            {"name": "web", "env": [{"name": "A", "value": "1"}]},
            {"name": "log", "image": "fluentd"}
        ]));
        let live = apply(
            "Deployment",
            Some(&live),
            &patch,
            "sidecar-injector",
            false,
            T1,
        )
        .unwrap();
        let names: Vec<&str> = live["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["web", "side", "log"]);

        // The first manager drops `side` and the web port; it keeps `web`.
        let v2 = deployment(json!([{"name": "web", "image": "nginx:2"}]));
        let out = apply("Deployment", Some(&live), &v2, "deployer", false, T2).unwrap();
        let cs = out["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap();
        let names: Vec<&str> = cs.iter().map(|c| c["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["web", "log"]);
        assert_eq!(
            cs[0],
            json!({"name": "web", "image": "nginx:2", "env": [{"name": "A", "value": "1"}]})
        );
        assert_eq!(out["spec"]["replicas"], 2);
    }

    #[test]
    fn updates_take_changed_fields_and_ignore_status() {
        let mut live = stored(deployment(json!([{"name": "web", "image": "nginx:1"}])));
        record_update(
            "Deployment",
            None,
            &mut live,
            "kubectl-create",
            "apps/v1",
            T0,
            None,
        );
        let created = &entry(&live, "kubectl-create")["fieldsV1"];
        // `spec` and `template.spec` exist in the zero object: no `.` there.
        assert!(created["f:spec"].get(".").is_none());
        assert_eq!(
            created["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"web\"}"],
            json!({".": {}, "f:image": {}, "f:name": {}})
        );
        assert!(created["f:spec"]["f:template"]["f:spec"]["f:containers"]
            .get(".")
            .is_none());
        assert!(created.get("f:metadata").is_none());

        // kubectl scale / edit changes replicas and status in one write.
        let mut new = live.clone();
        new["spec"]["replicas"] = json!(5);
        new["status"] = json!({"replicas": 5});
        record_update(
            "Deployment",
            Some(&live),
            &mut new,
            "kubectl-edit",
            "apps/v1",
            T1,
            None,
        );
        assert_eq!(
            entry(&new, "kubectl-edit")["fieldsV1"],
            json!({"f:spec": {"f:replicas": {}}})
        );
        assert!(entry(&new, "kubectl-create")["fieldsV1"]["f:spec"]
            .get("f:replicas")
            .is_none());

        // A status write through the subresource.
        let mut st = new.clone();
        st["status"] = json!({"replicas": 5, "readyReplicas": 5});
        record_update(
            "Deployment",
            Some(&new),
            &mut st,
            "kube-controller-manager",
            "apps/v1",
            T2,
            Some("status"),
        );
        let e = entry(&st, "kube-controller-manager");
        assert_eq!(e["subresource"], "status");
        assert_eq!(e["fieldsV1"], json!({"f:status": {"f:readyReplicas": {}}}));
        // An unchanged write changes nothing.
        let mut same = st.clone();
        record_update(
            "Deployment",
            Some(&st),
            &mut same,
            "kubectl-edit",
            "apps/v1",
            T2,
            None,
        );
        assert_eq!(same, st);
    }

    #[test]
    fn objects_without_managed_fields() {
        // Updates of untracked objects stay untracked...
        let live = stored(cm(json!({"color": "blue"})));
        let mut new = live.clone();
        new["data"]["color"] = json!("red");
        record_update(
            "ConfigMap",
            Some(&live),
            &mut new,
            "kubectl-edit",
            "v1",
            T1,
            None,
        );
        assert!(new["metadata"].get("managedFields").is_none());

        // ...until an apply attributes their content to before-first-apply.
        let msg = conflict_message(apply(
            "ConfigMap",
            Some(&live),
            &cm(json!({"color": "green"})),
            "kubectl",
            false,
            T1,
        ));
        assert_eq!(msg, "Apply failed with 1 conflict: conflict with \"before-first-apply\" using v1: .data.color");

        // Sending managedFields [{}] clears them.
        let mut tracked = stored(cm(json!({"color": "blue"})));
        record_update(
            "ConfigMap",
            None,
            &mut tracked,
            "kubectl-create",
            "v1",
            T0,
            None,
        );
        let mut cleared = tracked.clone();
        cleared["metadata"]["managedFields"] = json!([{}]);
        record_update(
            "ConfigMap",
            Some(&tracked),
            &mut cleared,
            "kubectl-patch",
            "v1",
            T1,
            None,
        );
        assert!(cleared["metadata"].get("managedFields").is_none());
    }

    #[test]
    fn update_managers_are_capped() {
        let mut live = stored(cm(json!({})));
        record_update("ConfigMap", None, &mut live, "creator", "v1", T0, None);
        for i in 0..12 {
            let mut new = live.clone();
            new["data"][format!("k{i}")] = json!("v");
            let now = format!("2024-05-01T11:{:02}:00Z", i);
            record_update(
                "ConfigMap",
                Some(&live),
                &mut new,
                &format!("writer-{i:02}"),
                "v1",
                &now,
                None,
            );
            live = new;
        }
        let entries = live["metadata"]["managedFields"].as_array().unwrap();
        assert_eq!(entries.len(), 10);
        let ancient = entry(&live, "ancient-changes");
        assert_eq!(ancient["operation"], "Update");
        let owned = ancient["fieldsV1"]["f:data"].as_object().unwrap();
        assert!(
            owned.contains_key("f:k0") && owned.contains_key("f:k1") && owned.contains_key("f:k2"),
            "{ancient}"
        );
    }

    fn with_finalizers(list: &[&str]) -> Value {
        let mut c = cm(json!({}));
        c.as_object_mut().unwrap().shift_remove("data");
        c["metadata"]["finalizers"] = json!(list);
        c
    }

    fn finalizer_owners(obj: &Value, manager: &str) -> Vec<String> {
        let mut v: Vec<String> = entry(obj, manager)["fieldsV1"]["f:metadata"]["f:finalizers"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        v.sort();
        v
    }

    #[test]
    fn sets_merge_in_applied_order_around_other_items() {
        let live = stored(
            apply(
                "ConfigMap",
                None,
                &with_finalizers(&["a", "c"]),
                "default",
                false,
                T0,
            )
            .unwrap(),
        );
        let mut updated = live.clone();
        updated["metadata"]["finalizers"] = json!(["a", "b", "c", "d"]);
        record_update(
            "ConfigMap",
            Some(&live),
            &mut updated,
            "controller",
            "v1",
            T1,
            None,
        );
        assert_eq!(
            finalizer_owners(&updated, "controller"),
            ["v:\"b\"", "v:\"d\""]
        );

        let out = apply(
            "ConfigMap",
            Some(&updated),
            &with_finalizers(&["a", "aprime", "c", "cprime"]),
            "default",
            false,
            T2,
        )
        .unwrap();
        assert_eq!(
            out["metadata"]["finalizers"],
            json!(["a", "b", "aprime", "c", "d", "cprime"])
        );
        assert_eq!(
            finalizer_owners(&out, "default"),
            ["v:\"a\"", "v:\"aprime\"", "v:\"c\"", "v:\"cprime\""]
        );

        // Overlap: both own b.
        let out = apply(
            "ConfigMap",
            Some(&updated),
            &with_finalizers(&["a", "b", "c"]),
            "default",
            false,
            T2,
        )
        .unwrap();
        assert_eq!(out["metadata"]["finalizers"], json!(["a", "b", "c", "d"]));
        assert_eq!(finalizer_owners(&out, "controller"), ["v:\"b\"", "v:\"d\""]);

        // Reordering alone is not a change of ownership, and applying puts
        // the applied order back.
        let live = stored(
            apply(
                "ConfigMap",
                None,
                &with_finalizers(&["a", "b", "c", "d"]),
                "default",
                false,
                T0,
            )
            .unwrap(),
        );
        let mut reordered = live.clone();
        reordered["metadata"]["finalizers"] = json!(["a", "d", "c", "b"]);
        record_update(
            "ConfigMap",
            Some(&live),
            &mut reordered,
            "controller",
            "v1",
            T1,
            None,
        );
        assert_eq!(
            reordered["metadata"]["managedFields"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        let out = apply(
            "ConfigMap",
            Some(&reordered),
            &with_finalizers(&["a", "b", "c", "d"]),
            "default",
            false,
            T2,
        )
        .unwrap();
        assert_eq!(out["metadata"]["finalizers"], json!(["a", "b", "c", "d"]));
    }

    fn pod(containers: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"}, "spec": {"containers": containers}})
    }

    fn env(names: &[&str]) -> Value {
        Value::Array(names.iter().map(|n| json!({"name": n})).collect())
    }

    #[test]
    fn pruning_keeps_items_others_own_and_drops_dangling_ones() {
        // Another applier owns an env var of `b`, a controller added one.
        let live = stored(
            apply(
                "Pod",
                None,
                &pod(json!([{"name": "a"}, {"name": "b", "env": env(&["c"])}])),
                "apply-one",
                false,
                T0,
            )
            .unwrap(),
        );
        let live = apply(
            "Pod",
            Some(&live),
            &pod(json!([{"name": "b", "env": env(&["d"])}])),
            "apply-two",
            false,
            T0,
        )
        .unwrap();
        let mut updated = live.clone();
        updated["spec"]["containers"] =
            json!([{"name": "a"}, {"name": "b", "env": env(&["c", "d", "e"])}]);
        record_update(
            "Pod",
            Some(&live),
            &mut updated,
            "controller",
            "v1",
            T1,
            None,
        );
        let out = apply(
            "Pod",
            Some(&updated),
            &pod(json!([{"name": "a"}])),
            "apply-one",
            false,
            T2,
        )
        .unwrap();
        assert_eq!(
            out["spec"]["containers"],
            json!([{"name": "a"}, {"name": "b", "env": env(&["d", "e"])}])
        );
        let c = |m: &str| entry(&out, m)["fieldsV1"]["f:spec"]["f:containers"].clone();
        assert_eq!(
            c("apply-one"),
            json!({"k:{\"name\":\"a\"}": {".": {}, "f:name": {}}})
        );
        assert_eq!(
            c("apply-two"),
            json!({"k:{\"name\":\"b\"}": {".": {}, "f:env": {"k:{\"name\":\"d\"}": {".": {}, "f:name": {}}}, "f:name": {}}})
        );
        assert_eq!(
            c("controller"),
            json!({"k:{\"name\":\"b\"}": {"f:env": {"k:{\"name\":\"e\"}": {".": {}, "f:name": {}}}}})
        );

        // An item nobody else owns goes, even with sub-items a controller
        // added.
        let live = stored(
            apply(
                "Pod",
                None,
                &pod(json!([{"name": "a"}, {"name": "b", "env": env(&["c"])}])),
                "apply-one",
                false,
                T0,
            )
            .unwrap(),
        );
        let live = apply(
            "Pod",
            Some(&live),
            &pod(json!([{"name": "a", "env": env(&["b"])}])),
            "apply-two",
            false,
            T0,
        )
        .unwrap();
        let mut updated = live.clone();
        updated["spec"]["containers"] =
            json!([{"name": "a", "env": env(&["b"])}, {"name": "b", "env": env(&["c", "d"])}]);
        record_update(
            "Pod",
            Some(&live),
            &mut updated,
            "controller",
            "v1",
            T1,
            None,
        );
        let out = apply(
            "Pod",
            Some(&updated),
            &pod(json!([{"name": "a"}])),
            "apply-one",
            false,
            T2,
        )
        .unwrap();
        assert_eq!(
            out["spec"]["containers"],
            json!([{"name": "a", "env": env(&["b"])}])
        );
        assert!(out["metadata"]["managedFields"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["manager"] != "controller"));
    }

    #[test]
    fn bad_apply_requests() {
        let mut with_mf = cm(json!({}));
        with_mf["metadata"]["managedFields"] = json!([]);
        assert_eq!(
            apply("ConfigMap", None, &with_mf, "m", false, T0),
            Err(ApplyError::BadRequest(
                "metadata.managedFields must be nil".into()
            ))
        );
        let dup = deployment(json!([{"name": "a"}, {"name": "a"}]));
        let err = apply("Deployment", None, &dup, "m", false, T0).unwrap_err();
        assert_eq!(
            err.message(),
            "failed to create typed patch object (default/web; apps/v1, Kind=Deployment): .spec.template.spec.containers: duplicate entries for key [name=\"a\"]"
        );
        assert_eq!(err.status_code(), 500);
        let err = apply(
            "ConfigMap",
            None,
            &json!({"apiVersion": "v1", "kind": "Secret"}),
            "m",
            false,
            T0,
        )
        .unwrap_err();
        assert_eq!(err.message(), "invalid object type: /v1, Kind=Secret");
    }

    #[test]
    fn fields_v1_round_trip_and_paths() {
        let v = json!({
            "f:metadata": {"f:labels": {".": {}, "f:app": {}}, "f:finalizers": {"v:\"a<b\"": {}}},
            "f:spec": {"f:ports": {"k:{\"port\":80,\"protocol\":\"TCP\"}": {".": {}, "f:port": {}}}},
            "i:3": {}
        });
        let set = FieldSet::from_fields_v1(&v).unwrap();
        assert_eq!(
            set.to_fields_v1(),
            json!({
                "f:metadata": {"f:finalizers": {"v:\"a\\u003cb\"": {}}, "f:labels": {".": {}, "f:app": {}}},
                "f:spec": {"f:ports": {"k:{\"port\":80,\"protocol\":\"TCP\"}": {".": {}, "f:port": {}}}},
                "i:3": {}
            })
        );
        let paths: Vec<String> = set.paths().iter().map(|p| path_string(p)).collect();
        assert_eq!(
            paths,
            [
                "[3]",
                ".metadata.labels",
                ".metadata.finalizers[=\"a<b\"]",
                ".metadata.labels.app",
                ".spec.ports[port=80,protocol=\"TCP\"]",
                ".spec.ports[port=80,protocol=\"TCP\"].port",
            ]
        );
        assert!(FieldSet::from_fields_v1(&json!({"k:[1]": {}})).is_err());
        assert_eq!(unix_seconds("1970-01-02T00:00:01Z"), 86_401);
        assert_eq!(
            unix_seconds("2024-05-01T10:00:00+02:00"),
            unix_seconds("2024-05-01T08:00:00Z")
        );
    }

    #[test]
    fn never_panics_on_odd_input() {
        let lives = [
            json!(null),
            json!("x"),
            json!({"metadata": {"managedFields": "x"}}),
            json!({"metadata": {"managedFields": [{"operation": "Apply", "apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": {"f:a": 1}}]}}),
            json!({"metadata": {"managedFields": [{"operation": "Update", "apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": {"k:{": {}, "x": {}}}]}}),
            json!({"spec": {"containers": [{"name": "a"}, {"name": "a"}, {"image": "x"}, 1, null]}, "metadata": {"uid": "u"}}),
            json!({"spec": {"ports": [{"port": 80}, {"port": 80, "protocol": "TCP"}], "selector": 3}, "metadata": {"uid": "u", "finalizers": [{"a": 1}]}}),
        ];
        let configs = [
            json!({"apiVersion": "v1", "kind": "Pod", "spec": {"containers": [{"name": "a"}, {"image": "b"}]}}),
            json!({"apiVersion": "v1", "kind": "Pod", "spec": {"containers": {"name": "a"}}}),
            json!({"apiVersion": "v1", "kind": "Pod", "spec": [1, 2], "metadata": {"finalizers": [null, [1]]}}),
            json!({"apiVersion": "v1", "kind": "Pod", "spec": {"containers": [null, 1]}}),
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": null}),
            json!({"apiVersion": "v1", "kind": "Service", "spec": {"ports": [{"port": 80}, {"port": "80"}, {"port": 80.0}]}}),
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"labels": null, "annotations": {"a": null}}}),
        ];
        for live in &lives {
            for cfg in &configs {
                for kind in ["Pod", "Service", "Widget"] {
                    let mut cfg = cfg.clone();
                    cfg["kind"] = json!(kind);
                    for force in [false, true] {
                        let _ = apply(kind, Some(live), &cfg, "m", force, T1);
                        let _ = apply(kind, None, &cfg, "kubectl", force, T1);
                    }
                    let mut new = cfg.clone();
                    record_update(kind, Some(live), &mut new, "m", "v1", T1, None);
                    let mut new = live.clone();
                    record_update(kind, Some(&cfg), &mut new, "m", "v1", T1, Some("status"));
                    let mut new = cfg.clone();
                    record_update(kind, None, &mut new, "", "v1", "not a time", None);
                }
            }
        }
    }
}
