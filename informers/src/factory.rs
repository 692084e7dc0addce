//! The per-process registry of shared watches (client-go's
//! `SharedInformerFactory`): one watch, store and fan-out per resource type
//! and watch configuration, whoever asks for it.

use crate::fanout::{EventStream, SharedWatch};
use crate::synced::Synced;
use kube::api::Api;
use kube::runtime::reflector::Store;
use kube::runtime::{watcher, WatchStreamExt};
use kube::Resource;
use serde::de::DeserializeOwned;
use std::any::{Any, TypeId};
use std::fmt::Debug;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};

/// The shared watches of one process. Cheap to clone (all clones share the
/// registry); hand one to every component.
///
/// Lifetime: a shared watch starts on the first request for it and runs as
/// long as any clone of this factory or any of its subscribers' event
/// streams exists. A [`Store`] alone does not keep it running: a component
/// that only reads a store keeps the factory (or the process does).
#[derive(Clone)]
pub struct Informers {
    client: kube::Client,
    watches: Arc<Mutex<Vec<Registered>>>,
}

/// One shared watch, found again by the resource type and the watch config
/// (selectors, page size, list semantics...): watches with other selectors
/// see other objects, so they cannot share a store.
struct Registered {
    type_id: TypeId,
    config: watcher::Config,
    /// An `Arc<SharedWatch<K>>` for the K of `type_id`.
    watch: Arc<dyn Any + Send + Sync>,
}

impl Informers {
    pub fn new(client: kube::Client) -> Self {
        Informers {
            client,
            watches: Arc::default(),
        }
    }

    /// The client the watches use, for the components' own requests.
    pub fn client(&self) -> &kube::Client {
        &self.client
    }

    /// The cluster-wide cache of `K` under `config`: the shared store, a
    /// signal set once this subscriber's stream has yielded a complete list,
    /// and this subscriber's own event stream, whose events come after the
    /// store has applied them. The stream must be polled for the signal to
    /// be set (not for the store to be kept: the shared driver does that).
    pub fn cached<K>(&self, config: watcher::Config) -> (Store<K>, Synced, EventStream<K>)
    where
        K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
        K::DynamicType: Default + Eq + Hash + Clone + Send + Sync,
    {
        let watch = self.shared::<K>(config);
        let (synced, events) = watch.subscribe();
        (watch.store(), synced, events)
    }

    /// Only the store of [`Informers::cached`] and a signal set once it has
    /// listed: for components that read the cache and need no events (no
    /// copy of every event is made for them).
    pub fn store<K>(&self, config: watcher::Config) -> (Store<K>, Synced)
    where
        K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
        K::DynamicType: Default + Eq + Hash + Clone + Send + Sync,
    {
        let watch = self.shared::<K>(config);
        (watch.store(), watch.store_synced())
    }

    fn shared<K>(&self, config: watcher::Config) -> Arc<SharedWatch<K>>
    where
        K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
        K::DynamicType: Default + Eq + Hash + Clone + Send + Sync,
    {
        let type_id = TypeId::of::<K>();
        let mut watches = self.watches.lock().unwrap_or_else(PoisonError::into_inner);
        let known = watches
            .iter()
            .filter(|r| r.type_id == type_id && r.config == config)
            .find_map(|r| r.watch.clone().downcast::<SharedWatch<K>>().ok());
        if let Some(watch) = known {
            return watch;
        }
        let events = watcher(Api::<K>::all(self.client.clone()), config.clone())
            .default_backoff()
            // No in-process component reads managedFields, and they are often
            // half of an object's memory (kube-rs's advice for caches).
            // Dropped rather than emptied: a write of a cached object that
            // omits them keeps the live ones.
            .modify(|o| o.meta_mut().managed_fields = None);
        let watch = SharedWatch::start(events);
        tracing::debug!(
            kind = std::any::type_name::<K>(),
            ?config,
            "shared watch started"
        );
        watches.push(Registered {
            type_id,
            config,
            watch: watch.clone(),
        });
        watch
    }

    #[cfg(test)]
    fn watch_count(&self) -> usize {
        self.watches
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{ConfigMap, Secret};

    /// A client whose requests never complete: the watches start and wait.
    fn silent_client() -> kube::Client {
        let service = tower::service_fn(|_: http::Request<kube::client::Body>| {
            std::future::pending::<
                Result<http::Response<kube::client::Body>, std::convert::Infallible>,
            >()
        });
        kube::Client::new(service, "default")
    }

    #[tokio::test]
    async fn one_watch_per_type_and_config() {
        let informers = Informers::new(silent_client());
        let _a = informers.cached::<ConfigMap>(watcher::Config::default());
        let _b = informers
            .clone()
            .cached::<ConfigMap>(watcher::Config::default());
        let _c = informers.store::<ConfigMap>(watcher::Config::default());
        assert_eq!(informers.watch_count(), 1, "same type and config share");
        let _d = informers.cached::<ConfigMap>(watcher::Config::default().labels("app=web"));
        let _e = informers.cached::<Secret>(watcher::Config::default());
        assert_eq!(informers.watch_count(), 3);
    }
}
