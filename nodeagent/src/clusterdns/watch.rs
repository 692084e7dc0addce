//! Keeps the index current from watches on Services and EndpointSlices in
//! every namespace (kube-rs watchers: list, then watch events, re-list after
//! a broken watch). No polling: an event is in the index as soon as it
//! arrives, so the next question sees it.

use super::index::Index;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use std::collections::HashSet;
use std::fmt::Debug;
use std::sync::{Arc, RwLock};
use tokio::sync::oneshot;

/// How one kind of object enters the index.
pub trait Indexed: Resource + Clone + Debug + DeserializeOwned + Send + Sync + 'static {
    fn apply(index: &mut Index, obj: &Self);
    fn delete(index: &mut Index, obj: &Self);
    /// The object's identity for re-lists: (namespace, name).
    fn identity(obj: &Self) -> Option<(String, String)> {
        let meta = obj.meta();
        Some((meta.namespace.clone()?, meta.name.clone()?))
    }
    /// Drops what a complete list did not contain.
    fn retain(index: &mut Index, listed: &HashSet<(String, String)>);
}

impl Indexed for Service {
    fn apply(index: &mut Index, obj: &Self) {
        index.apply_service(obj);
    }
    fn delete(index: &mut Index, obj: &Self) {
        index.delete_service(obj);
    }
    fn retain(index: &mut Index, listed: &HashSet<(String, String)>) {
        index.retain_services(listed);
    }
}

impl Indexed for EndpointSlice {
    fn apply(index: &mut Index, obj: &Self) {
        index.apply_slice(obj);
    }
    fn delete(index: &mut Index, obj: &Self) {
        index.delete_slice(obj);
    }
    fn retain(index: &mut Index, listed: &HashSet<(String, String)>) {
        index.retain_slices(listed);
    }
}

/// Objects per list request.
const LIST_PAGE: u32 = 100;

/// Watches `K` into `index`; `synced` fires after the first full list.
pub async fn run<K>(client: Client, index: Arc<RwLock<Index>>, synced: oneshot::Sender<()>)
where
    K: Indexed<DynamicType = ()>,
{
    let mut synced = Some(synced);
    let api: Api<K> = Api::all(client);
    // Small list pages: each page's objects are freed as soon as they are
    // indexed, and 100 at a time leaves far less behind in the allocator than
    // kube-rs's default of 500 (the index is what the server should hold).
    let stream = watcher(api, watcher::Config::default().page_size(LIST_PAGE)).default_backoff();
    futures::pin_mut!(stream);
    // A (re-)list updates the index as objects arrive and, once complete,
    // drops what it did not contain; only identities are kept meanwhile.
    let mut listed: HashSet<(String, String)> = HashSet::new();
    while let Some(event) = stream.next().await {
        let event = match event {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(error = %e, kind = %K::kind(&()), "watch failed; retrying");
                continue;
            }
        };
        match event {
            watcher::Event::Init => listed.clear(),
            watcher::Event::InitApply(obj) => {
                listed.extend(K::identity(&obj));
                if let Ok(mut idx) = index.write() {
                    K::apply(&mut idx, &obj);
                }
            }
            watcher::Event::InitDone => {
                if let Ok(mut idx) = index.write() {
                    K::retain(&mut idx, &listed);
                }
                listed = HashSet::new();
                if let Some(s) = synced.take() {
                    let _ = s.send(());
                }
            }
            watcher::Event::Apply(obj) => {
                if let Ok(mut idx) = index.write() {
                    K::apply(&mut idx, &obj);
                }
            }
            watcher::Event::Delete(obj) => {
                if let Ok(mut idx) = index.write() {
                    K::delete(&mut idx, &obj);
                }
            }
        }
    }
}
