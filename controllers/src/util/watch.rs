//! A watched, cached resource: kube-rs's watcher feeding a reflector store,
//! plus a "synced" signal.
//!
//! Why not `Store::wait_until_ready`: it wakes only the last task that
//! polled it, so when a Controller and our start-up code both wait on the
//! same store one of them can sleep forever. The signal here is a tokio
//! watch channel set on the first complete list (`InitDone`), which any
//! number of waiters can await.

use futures::{Stream, TryStreamExt};
use kube::api::Api;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::Resource;
use serde::de::DeserializeOwned;
use std::fmt::Debug;
use std::hash::Hash;

/// Resolves once the cache has seen a complete list.
#[derive(Clone)]
pub struct Synced(tokio::sync::watch::Receiver<bool>);

impl Synced {
    pub async fn wait(mut self) -> anyhow::Result<()> {
        self.0
            .wait_for(|v| *v)
            .await
            .map(|_| ())
            .map_err(|_| anyhow::anyhow!("watch ended before the cache synced"))
    }

    fn is_synced(&self) -> bool {
        *self.0.borrow()
    }
}

/// Whether every cache a controller reads has listed once. kube-rs's
/// Controller reconciles as soon as its main stream yields, possibly before
/// the other caches have listed; a reconcile then would act on a partial
/// view (write empty Endpoints, create extra pods), so reconcilers wait for
/// this as kube-controller-manager's workers wait for `WaitForCacheSync`.
#[derive(Clone)]
pub struct CachesSynced(Vec<Synced>);

/// How soon a reconcile that came before the caches synced runs again.
pub const CACHE_SYNC_RETRY: std::time::Duration = std::time::Duration::from_millis(20);

impl CachesSynced {
    pub fn new(all: &[&Synced]) -> Self {
        CachesSynced(all.iter().map(|s| (*s).clone()).collect())
    }

    pub fn all(&self) -> bool {
        self.0.iter().all(Synced::is_synced)
    }
}

/// Waits for every cache in `all`.
pub async fn wait_all(all: Vec<Synced>) -> anyhow::Result<()> {
    for s in all {
        s.wait().await?;
    }
    Ok(())
}

pub type EventStream<K> =
    std::pin::Pin<Box<dyn Stream<Item = watcher::Result<watcher::Event<K>>> + Send>>;

/// Watches `api` into a new store. The returned stream must be polled (it
/// drives the cache); events come out after the store has applied them.
pub fn cached<K>(api: Api<K>, cfg: watcher::Config) -> (Store<K>, Synced, EventStream<K>)
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + Hash + Clone + Send + Sync,
{
    let (store, writer) = reflector::store::<K>();
    let (tx, rx) = tokio::sync::watch::channel(false);
    let stream = watcher(api, cfg)
        .default_backoff()
        // No controller reads managedFields, and they are often half of an
        // object's memory (kube-rs's advice for caches). Dropped rather
        // than emptied: a write of a cached object that omits them keeps
        // the live ones.
        .modify(|o| o.meta_mut().managed_fields = None)
        .reflect(writer)
        .inspect_ok(move |ev| {
            if matches!(ev, watcher::Event::InitDone) {
                let _ = tx.send(true);
            }
        });
    (store, Synced(rx), Box::pin(stream))
}
