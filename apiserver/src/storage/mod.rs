//! Storage behind an etcd-shaped trait.
//!
//! The REST layer only ever talks to [`Storage`]: a flat, ordered key space where
//! every write gets a new global revision (etcd's model), writes are
//! compare-and-swap transactions, reads are prefix ranges with limit/continue,
//! and watches start from a revision. sled is the embedded implementation;
//! [`EtcdStore`] is the distributed one, behind the same trait.

mod etcd_store;
pub mod migrate;
mod sled_store;
mod watch_window;

pub use etcd_store::{EtcdOptions, EtcdStore};
pub use sled_store::SledStore;
pub use watch_window::{WatchEnd, WatchReceiver, WatchWindow};

use bytes::Bytes;
use std::sync::Arc;

/// A global, strictly increasing write counter (etcd's revision); the
/// resourceVersion of an object is the revision of its last write.
pub type Revision = u64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: Bytes,
    /// Revision of the write that created the key.
    pub create_revision: Revision,
    /// Revision of the last write to the key (for a delete event: the delete).
    pub mod_revision: Revision,
}

/// A condition a transaction checks before it applies its operations.
#[derive(Debug, Clone)]
pub enum Compare {
    /// The key's mod revision equals `revision`; revision 0 means "absent".
    ModRevision { key: String, revision: Revision },
}

impl Compare {
    pub fn absent(key: impl Into<String>) -> Self {
        Compare::ModRevision {
            key: key.into(),
            revision: 0,
        }
    }

    pub fn revision(key: impl Into<String>, revision: Revision) -> Self {
        Compare::ModRevision {
            key: key.into(),
            revision,
        }
    }
}

#[derive(Debug, Clone)]
pub enum Op {
    Put { key: String, value: Bytes },
    Delete { key: String },
}

/// All compares must hold for the operations to apply; all operations of one
/// transaction share one revision.
#[derive(Debug, Clone, Default)]
pub struct Txn {
    pub compares: Vec<Compare>,
    pub ops: Vec<Op>,
}

impl Txn {
    pub fn when(mut self, c: Compare) -> Self {
        self.compares.push(c);
        self
    }
    pub fn put(mut self, key: impl Into<String>, value: impl Into<Bytes>) -> Self {
        self.ops.push(Op::Put {
            key: key.into(),
            value: value.into(),
        });
        self
    }
    pub fn delete(mut self, key: impl Into<String>) -> Self {
        self.ops.push(Op::Delete { key: key.into() });
        self
    }
}

#[derive(Debug, Clone)]
pub enum TxnResult {
    /// Applied at this revision.
    Committed(Revision),
    /// A compare failed: index into `compares` and the key's current revision (0 = absent).
    Failed {
        index: usize,
        current_revision: Revision,
    },
}

#[derive(Debug, Clone, Default)]
pub struct RangeRequest {
    pub prefix: String,
    /// Exclusive lower bound inside the prefix (continue token).
    pub start_after: Option<String>,
    /// 0 = unlimited.
    pub limit: usize,
    /// Read at this revision (the first page's, for continue tokens); 0 = now.
    /// Stores without history (sled) read the current state.
    pub revision: Revision,
}

#[derive(Debug, Clone)]
pub struct RangeResponse {
    pub kvs: Vec<KeyValue>,
    /// More keys follow the last returned one.
    pub more: bool,
    /// The store's revision when the range was read.
    pub revision: Revision,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Put,
    Delete,
}

/// One change, as a watch delivers it.
#[derive(Debug, Clone)]
pub struct Event {
    pub kind: EventKind,
    /// New value for puts; for deletes the last value, with `mod_revision` set to the delete's revision.
    pub kv: KeyValue,
    /// The value before this change, if any.
    pub prev: Option<KeyValue>,
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The requested revision is older than the retained history (HTTP 410).
    #[error("too old resource version: {requested} ({oldest})")]
    Compacted {
        requested: Revision,
        oldest: Revision,
    },
    #[error("storage: {0}")]
    Backend(String),
}

pub type StorageResult<T> = Result<T, StorageError>;

/// The etcd-shaped storage interface.
#[async_trait::async_trait]
pub trait Storage: Send + Sync + 'static {
    async fn get(&self, key: &str) -> StorageResult<Option<KeyValue>>;
    async fn range(&self, req: RangeRequest) -> StorageResult<RangeResponse>;
    /// Applies the transaction atomically; a committed transaction is durable
    /// when this returns.
    async fn txn(&self, txn: Txn) -> StorageResult<TxnResult>;
    /// Events under `prefix` with revision greater than `after`, then live ones.
    fn watch(&self, prefix: &str, after: Revision) -> StorageResult<WatchReceiver>;
    fn current_revision(&self) -> Revision;
    /// Newest revision whose events watchers can already receive.
    fn watch_revision(&self) -> Revision;
}

pub type DynStorage = Arc<dyn Storage>;
