//! Generic object persistence over [`Storage`]: key layout, resourceVersion
//! decoration, optimistic concurrency — kube-apiserver's generic registry store.

use super::parallel;
use super::raw_json::RawForm;
use super::status::{ApiError, ApiResult};
use crate::registry::ResourceDef;
use crate::storage::{Compare, DynStorage, KeyValue, RangeRequest, Revision, Txn, TxnResult};
use bytes::Bytes;
use serde_json::{json, Value};

#[derive(Clone)]
pub struct ObjectStore {
    pub storage: DynStorage,
}

/// Extra keys a write carries in its transaction (allocations), checked and
/// written atomically with the object.
#[derive(Debug, Default, Clone)]
pub struct SideEffects {
    pub compares: Vec<Compare>,
    pub puts: Vec<(String, Bytes)>,
    pub deletes: Vec<String>,
}

/// Where a paginated list resumes: after this key, at the first page's revision.
#[derive(Debug, Clone)]
pub struct Continue {
    pub after: String,
    pub revision: Revision,
}

/// One page of a list.
pub struct Page<T = Value> {
    pub items: Vec<T>,
    pub revision: Revision,
    /// Key to continue after, when more items follow.
    pub continue_after: Option<String>,
}

impl ObjectStore {
    /// Decodes a stored object into `def`'s served form and stamps its resourceVersion.
    pub fn decode(def: &ResourceDef, kv: &KeyValue) -> ApiResult<Value> {
        let stored: Value = serde_json::from_slice(&kv.value)
            .map_err(|e| ApiError::internal(format!("decoding {}: {e}", kv.key)))?;
        let mut obj = def.strategy.served_form(stored);
        set_resource_version(&mut obj, kv.mod_revision);
        Ok(obj)
    }

    /// Encodes an object of `def` in its stored form (without its
    /// resourceVersion, which is the revision).
    pub fn encode(def: &ResourceDef, obj: &Value) -> ApiResult<Bytes> {
        let encoded = if def.strategy.served_as_stored() {
            serde_json::to_vec(&WithoutResourceVersion(obj))
        } else {
            serde_json::to_vec(&WithoutResourceVersion(
                &def.strategy.stored_form(obj.clone()),
            ))
        };
        encoded.map(Bytes::from).map_err(ApiError::internal)
    }

    pub async fn get(&self, def: &ResourceDef, ns: Option<&str>, name: &str) -> ApiResult<Value> {
        match self.storage.get(&def.key(ns, name)).await? {
            Some(kv) => Self::decode(def, &kv),
            None => Err(ApiError::not_found(def.target(), name)),
        }
    }

    pub async fn try_get(
        &self,
        def: &ResourceDef,
        ns: Option<&str>,
        name: &str,
    ) -> ApiResult<Option<Value>> {
        match self.storage.get(&def.key(ns, name)).await? {
            Some(kv) => Self::decode(def, &kv).map(Some),
            None => Ok(None),
        }
    }

    pub async fn list(
        &self,
        def: &ResourceDef,
        ns: Option<&str>,
        start: Option<Continue>,
        limit: usize,
        keep: impl FnMut(&Value) -> bool,
    ) -> ApiResult<Page> {
        let decode = |kv: &KeyValue| Self::decode(def, kv);
        self.list_with(def, ns, start, limit, decode, keep).await
    }

    /// Every object of a list as served JSON (or as PartialObjectMetadata),
    /// without decoding: for lists that select everything of a resource
    /// served as stored.
    pub async fn list_raw(
        &self,
        def: &ResourceDef,
        ns: Option<&str>,
        start: Option<Continue>,
        limit: usize,
        form: RawForm,
    ) -> ApiResult<Page<Vec<u8>>> {
        let encode = |kv: &KeyValue| {
            let mut out = Vec::with_capacity(kv.value.len() + 32);
            form.write(&kv.value, kv.mod_revision, &mut out)
                .map_err(|e| ApiError::internal(format!("decoding {}: {e}", kv.key)))?;
            Ok(out)
        };
        self.list_with(def, ns, start, limit, encode, |_| true)
            .await
    }

    /// Pages through `def`'s keys, converting each object with `convert`
    /// (in parallel for large ranges) and keeping those `keep` accepts.
    pub(crate) async fn list_with<T: Send>(
        &self,
        def: &ResourceDef,
        ns: Option<&str>,
        start: Option<Continue>,
        limit: usize,
        convert: impl Fn(&KeyValue) -> ApiResult<T> + Sync,
        mut keep: impl FnMut(&T) -> bool,
    ) -> ApiResult<Page<T>> {
        let prefix = def.key_prefix(ns);
        let mut items = Vec::new();
        let mut cursor = start.as_ref().map(|c| c.after.clone());
        // Every page of one list reads the same snapshot (where the store keeps history).
        let mut first_revision = start.map(|c| c.revision).filter(|r| *r > 0);
        // Filtering happens after the range, so keep reading until the page is full.
        loop {
            let want = if limit == 0 {
                0
            } else {
                (limit - items.len()).max(64)
            };
            let resp = self
                .storage
                .range(RangeRequest {
                    prefix: prefix.clone(),
                    start_after: cursor.clone(),
                    limit: want,
                    revision: first_revision.unwrap_or(0),
                })
                .await?;
            first_revision.get_or_insert(resp.revision);
            let mut last_key = None;
            for (kv, obj) in resp.kvs.iter().zip(parallel::map(&resp.kvs, &convert)) {
                last_key = Some(kv.key.clone());
                let obj = obj?;
                if keep(&obj) {
                    items.push(obj);
                    if limit > 0 && items.len() == limit {
                        let more = resp.more
                            || kv.key != resp.kvs.last().map(|k| k.key.clone()).unwrap_or_default();
                        return Ok(Page {
                            items,
                            revision: first_revision.unwrap_or_default(),
                            continue_after: more.then(|| kv.key.clone()),
                        });
                    }
                }
            }
            if !resp.more {
                break;
            }
            cursor = last_key;
        }
        Ok(Page {
            items,
            revision: first_revision.unwrap_or_default(),
            continue_after: None,
        })
    }

    /// Stores a new object; AlreadyExists if the key is taken.
    pub async fn create(
        &self,
        def: &ResourceDef,
        obj: Value,
        side: SideEffects,
    ) -> ApiResult<Value> {
        let (ns, name) = ns_name(&obj);
        let key = def.key(ns.as_deref(), &name);
        let mut txn = Txn::default().when(Compare::absent(&key));
        txn.compares.extend(side.compares.iter().cloned());
        let txn = with_side_effects(txn.put(&key, Self::encode(def, &obj)?), &side);
        match self.storage.txn(txn).await? {
            TxnResult::Committed(rev) => Ok(stamped(obj, rev)),
            TxnResult::Failed { index: 0, .. } => {
                Err(ApiError::already_exists(def.target(), &name))
            }
            TxnResult::Failed { .. } => Err(ApiError::conflict_msg(
                def.target(),
                &name,
                "a concurrent allocation took a requested resource; please retry",
            )),
        }
    }

    /// Replaces the object if it is still at `expected`; Conflict otherwise.
    pub async fn update(
        &self,
        def: &ResourceDef,
        obj: Value,
        expected: Revision,
        side: SideEffects,
    ) -> ApiResult<Value> {
        let (ns, name) = ns_name(&obj);
        let key = def.key(ns.as_deref(), &name);
        let mut txn = Txn::default().when(Compare::revision(&key, expected));
        txn.compares.extend(side.compares.iter().cloned());
        let txn = with_side_effects(txn.put(&key, Self::encode(def, &obj)?), &side);
        match self.storage.txn(txn).await? {
            TxnResult::Committed(rev) => Ok(stamped(obj, rev)),
            TxnResult::Failed {
                index: 0,
                current_revision: 0,
            } => Err(ApiError::not_found(def.target(), &name)),
            TxnResult::Failed { .. } => Err(ApiError::conflict(def.target(), &name)),
        }
    }

    /// Removes the object if it is still at `expected`; returns it with the delete's revision.
    pub async fn delete(
        &self,
        def: &ResourceDef,
        obj: Value,
        expected: Revision,
        side: SideEffects,
    ) -> ApiResult<Value> {
        let (ns, name) = ns_name(&obj);
        let key = def.key(ns.as_deref(), &name);
        let mut txn = Txn::default().when(Compare::revision(&key, expected));
        txn.compares.extend(side.compares.iter().cloned());
        let txn = with_side_effects(txn.delete(&key), &side);
        match self.storage.txn(txn).await? {
            TxnResult::Committed(rev) => Ok(stamped(obj, rev)),
            TxnResult::Failed {
                index: 0,
                current_revision: 0,
            } => Err(ApiError::not_found(def.target(), &name)),
            TxnResult::Failed { .. } => Err(ApiError::conflict(def.target(), &name)),
        }
    }
}

fn with_side_effects(mut txn: Txn, side: &SideEffects) -> Txn {
    for (k, v) in &side.puts {
        txn = txn.put(k, v.clone());
    }
    for k in &side.deletes {
        txn = txn.delete(k);
    }
    txn
}

fn stamped(mut obj: Value, rev: Revision) -> Value {
    set_resource_version(&mut obj, rev);
    obj
}

/// An object serialized without `metadata.resourceVersion` (the stored form
/// keeps the revision out of the bytes), without copying it first.
struct WithoutResourceVersion<'a>(&'a Value);

impl serde::Serialize for WithoutResourceVersion<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let Some(top) = self.0.as_object() else {
            return self.0.serialize(s);
        };
        let mut map = s.serialize_map(Some(top.len()))?;
        for (key, value) in top {
            match (key.as_str(), value.as_object()) {
                ("metadata", Some(meta)) => {
                    let kept = meta.iter().filter(|(k, _)| *k != "resourceVersion");
                    map.serialize_entry(key, &MapOf(kept))?
                }
                _ => map.serialize_entry(key, value)?,
            }
        }
        map.end()
    }
}

/// The members of an iterator, serialized as a JSON object.
struct MapOf<I>(I);

impl<'a, I> serde::Serialize for MapOf<I>
where
    I: Iterator<Item = (&'a String, &'a Value)> + Clone,
{
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.clone())
    }
}

pub fn set_resource_version(obj: &mut Value, rev: Revision) {
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("resourceVersion".into(), json!(rev.to_string()));
    }
}

/// The object's namespace and name.
pub fn ns_name(obj: &Value) -> (Option<String>, String) {
    let meta = obj.get("metadata");
    let ns = meta
        .and_then(|m| m.get("namespace"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    let name = meta
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    (ns, name)
}

/// The object's resourceVersion as a revision, if it has a parseable one.
pub fn resource_version(obj: &Value) -> ApiResult<Option<Revision>> {
    match obj
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
    {
        None | Some("") => Ok(None),
        Some(rv) => rv
            .parse()
            .map(Some)
            .map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv}"))),
    }
}
