//! Namespace lifecycle admission (kube-apiserver's `NamespaceLifecycle`
//! plugin): new objects may not land in a missing or terminating namespace.
//!
//! Like the plugin, which decides from a namespace informer, this keeps the
//! names of open namespaces in a cache that follows a storage watch, so a
//! create in an open namespace costs no storage read (on etcd, no round
//! trip). The cache only ever answers "open": a namespace it does not list
//! as open — unknown (created an instant ago, or through another API server
//! whose write has not reached this one yet) or terminating — is looked up
//! in storage, so a stale cache never turns away a create that a live read
//! would accept. The other way round, a create racing the namespace's
//! deletion may still land, as on kube-apiserver; the namespace controller
//! deletes whatever it finds until the namespace is empty.

use crate::storage::{DynStorage, EventKind, KeyValue, RangeRequest};
use serde::Deserialize;
use std::collections::HashSet;
use std::sync::{Arc, PoisonError, RwLock};

/// Where namespaces are stored (core/v1, cluster-scoped).
const NAMESPACES_PREFIX: &str = "/registry/namespaces/";

/// The names of the namespaces that exist and are not terminating.
#[derive(Clone, Default)]
pub struct OpenNamespaces {
    open: Arc<RwLock<HashSet<String>>>,
}

/// The part of a stored namespace this cache reads.
#[derive(Deserialize)]
struct Stored {
    metadata: StoredMeta,
}

#[derive(Deserialize)]
struct StoredMeta {
    #[serde(rename = "deletionTimestamp")]
    deletion_timestamp: Option<serde::de::IgnoredAny>,
}

impl OpenNamespaces {
    /// True when `namespace` is known to exist and not to be terminating.
    pub fn is_open(&self, namespace: &str) -> bool {
        self.open
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(namespace)
    }

    /// Keeps the cache in step with storage: lists the namespaces, then
    /// follows their changes, starting over whenever the watch ends (after
    /// emptying the cache, which only sends reads to storage meanwhile).
    pub fn follow(&self, storage: DynStorage) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            loop {
                if let Err(e) = this.follow_once(&storage).await {
                    tracing::warn!(error = %e, "following namespaces; relisting");
                }
                this.set().clear();
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
        })
    }

    async fn follow_once(&self, storage: &DynStorage) -> anyhow::Result<()> {
        let all = storage
            .range(RangeRequest {
                prefix: NAMESPACES_PREFIX.to_string(),
                start_after: None,
                limit: 0,
                revision: 0,
            })
            .await?;
        {
            let mut open = self.set();
            open.clear();
            for kv in &all.kvs {
                self.apply_put(&mut open, kv);
            }
        }
        let mut events = storage.watch(NAMESPACES_PREFIX, all.revision)?;
        while let Ok(ev) = events.recv().await {
            let mut open = self.set();
            match ev.kind {
                EventKind::Put => self.apply_put(&mut open, &ev.kv),
                EventKind::Delete => {
                    open.remove(name_of(&ev.kv));
                }
            }
        }
        Ok(())
    }

    fn apply_put(&self, open: &mut HashSet<String>, kv: &KeyValue) {
        let name = name_of(kv);
        match serde_json::from_slice::<Stored>(&kv.value) {
            Ok(ns) if ns.metadata.deletion_timestamp.is_none() => {
                open.insert(name.to_string());
            }
            // Terminating, or unreadable: live reads decide.
            _ => {
                open.remove(name);
            }
        }
    }

    fn set(&self) -> std::sync::RwLockWriteGuard<'_, HashSet<String>> {
        self.open.write().unwrap_or_else(PoisonError::into_inner)
    }
}

fn name_of(kv: &KeyValue) -> &str {
    kv.key.strip_prefix(NAMESPACES_PREFIX).unwrap_or(&kv.key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{SledStore, Txn};
    use crate::test_support::until;

    async fn put(storage: &DynStorage, name: &str, value: serde_json::Value) {
        let key = format!("{NAMESPACES_PREFIX}{name}");
        let txn = Txn::default().put(key, serde_json::to_vec(&value).unwrap());
        storage.txn(txn).await.unwrap();
    }

    #[tokio::test]
    async fn follows_creation_termination_and_deletion() {
        let dir = tempfile::tempdir().unwrap();
        let storage: DynStorage = SledStore::open(dir.path()).unwrap();
        put(
            &storage,
            "listed",
            serde_json::json!({"metadata": {"name": "listed"}}),
        )
        .await;
        let cache = OpenNamespaces::default();
        let following = cache.follow(storage.clone());
        until("listed open", || cache.is_open("listed")).await;

        put(
            &storage,
            "team",
            serde_json::json!({"metadata": {"name": "team"}}),
        )
        .await;
        until("team open", || cache.is_open("team")).await;
        put(
            &storage,
            "team",
            serde_json::json!({"metadata": {"name": "team", "deletionTimestamp": "2026-12-01T00:00:00Z"}}),
        )
        .await;
        until("team terminating", || !cache.is_open("team")).await;
        assert!(cache.is_open("listed"));

        let txn = Txn::default().delete(format!("{NAMESPACES_PREFIX}listed"));
        storage.txn(txn).await.unwrap();
        until("listed deleted", || !cache.is_open("listed")).await;
        assert!(!cache.is_open("never-created"));
        following.abort();
    }
}
