//! The shape shared by controllers that keep one named object in every
//! namespace (the `default` ServiceAccount, the `kube-root-ca.crt`
//! ConfigMap): reconcile each Namespace, and again whenever its object
//! changes, reading the objects from a cache that watches only that name.

use crate::util::error::{self, ReconcileError};
use crate::util::watch::wait_all;
use crate::ControllerOptions;
use futures::StreamExt;
use informers::Informers;
use k8s_openapi::api::core::v1::Namespace;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::Resource;
use serde::de::DeserializeOwned;
use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;

/// What a per-namespace controller's reconcile gets.
pub struct PerNamespace<K: Resource<DynamicType = ()> + Clone + 'static, C> {
    pub client: kube::Client,
    /// The objects named `object_name`, in every namespace.
    pub objects: Store<K>,
    pub object_name: &'static str,
    /// The controller's own state.
    pub extra: C,
}

impl<K: Resource<DynamicType = ()> + Clone + 'static, C> PerNamespace<K, C> {
    /// The namespace's object, if the cache has it.
    pub fn object_in(&self, namespace: &str) -> Option<Arc<K>> {
        self.objects
            .get(&ObjectRef::new(self.object_name).within(namespace))
    }
}

/// Whether the namespace is being deleted (no new objects go there).
pub fn terminating(ns: &Namespace) -> bool {
    ns.metadata.deletion_timestamp.is_some()
        || ns.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Terminating")
}

/// Starts a controller named `name` that reconciles every Namespace with
/// `reconcile`, and each one again when its `object_name` object changes.
pub(crate) async fn start<K, C, F, Fut>(
    informers: &Informers,
    opts: &ControllerOptions,
    name: &'static str,
    object_name: &'static str,
    extra: C,
    reconcile: F,
) -> anyhow::Result<crate::Started>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    C: Send + Sync + 'static,
    F: FnMut(Arc<Namespace>, Arc<PerNamespace<K, C>>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Action, ReconcileError>> + Send + 'static,
{
    let (ns_store, ns_synced, namespaces) =
        informers.cached::<Namespace>(watcher::Config::default());
    let (objects, objects_synced, changes) = informers
        .cached::<K>(watcher::Config::default().fields(&format!("metadata.name={object_name}")));
    let ctx = Arc::new(PerNamespace {
        client: informers.client().clone(),
        objects,
        object_name,
        extra,
    });
    let controller = Controller::for_stream(namespaces.touched_objects(), ns_store)
        .with_config(crate::controller_config(opts))
        .watches_stream(changes.touched_objects(), |obj: K| {
            obj.meta()
                .namespace
                .clone()
                .map(|ns| ObjectRef::<Namespace>::new(&ns))
        })
        .run(
            reconcile,
            |_, e: &ReconcileError, _| error::retry_after(e),
            ctx,
        )
        .for_each(move |res| async move {
            if let Err(e) = res {
                tracing::debug!(controller = name, error = %e, "reconcile failed");
            }
        });
    let tasks = vec![tokio::spawn(controller)];
    wait_all(vec![ns_synced, objects_synced]).await?;
    Ok(crate::Started::new(name, tasks))
}
