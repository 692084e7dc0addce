//! Namespace deletion (kube-controller-manager's namespace controller): once a
//! namespace is marked for deletion, delete everything in it, and when it is
//! empty remove the `kubernetes` finalizer through the `finalize`
//! subresource, which lets the API server remove the namespace.
//! Also keeps a `default` ServiceAccount in every active namespace, as the
//! serviceaccount controller does.

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, PostParams};
use kube::discovery::{verbs, ApiResource, Discovery, Scope};
use kube::runtime::{reflector, watcher, WatchStreamExt};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Returns once the namespace cache synced; the work continues on a task.
pub async fn start(client: kube::Client) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let (store, writer) = reflector::store::<Namespace>();
    let changed = Arc::new(Notify::new());
    let notify = changed.clone();
    let api: Api<Namespace> = Api::all(client.clone());
    let watch_task = tokio::spawn(async move {
        let stream = reflector::reflector(
            writer,
            watcher(api, watcher::Config::default()).default_backoff(),
        );
        futures::pin_mut!(stream);
        while stream.next().await.is_some() {
            notify.notify_one();
        }
    });
    store.wait_until_ready().await?;
    Ok(tokio::spawn(async move {
        let _watch = AbortOnDrop(watch_task);
        loop {
            let namespaces: Vec<Namespace> = store.state().iter().map(|n| (**n).clone()).collect();
            let mut pending = false;
            for ns in &namespaces {
                let name = ns.metadata.name.clone().unwrap_or_default();
                if ns.metadata.deletion_timestamp.is_some() {
                    match empty_and_finalize(&client, &name).await {
                        Ok(done) => pending |= !done,
                        Err(e) => {
                            pending = true;
                            tracing::warn!(namespace = %name, error = %e, "namespace cleanup failed; retrying");
                        }
                    }
                } else if let Err(e) = ensure_default_service_account(&client, &name).await {
                    tracing::debug!(namespace = %name, error = %e, "default service account not created yet");
                }
            }
            // Terminating namespaces are polled until empty (pods may take their grace period).
            let wait = if pending {
                Duration::from_millis(500)
            } else {
                Duration::from_secs(30)
            };
            tokio::select! {
                _ = changed.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }))
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);
impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Namespaced resources that can be listed and deleted.
async fn namespaced_resources(client: &kube::Client) -> anyhow::Result<Vec<ApiResource>> {
    let discovery = Discovery::new(client.clone()).run().await?;
    let mut out = Vec::new();
    for group in discovery.groups() {
        for (ar, caps) in group.recommended_resources() {
            if caps.scope == Scope::Namespaced
                && caps.supports_operation(verbs::DELETE)
                && caps.supports_operation(verbs::LIST)
            {
                out.push(ar);
            }
        }
    }
    Ok(out)
}

/// Deletes the namespace's contents; finalizes it once nothing is left.
/// Returns whether the namespace was finalized.
async fn empty_and_finalize(client: &kube::Client, ns: &str) -> anyhow::Result<bool> {
    let mut remaining = 0usize;
    for ar in namespaced_resources(client).await? {
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &ar);
        let list = api.list(&ListParams::default()).await?;
        if list.items.is_empty() {
            continue;
        }
        remaining += list.items.len();
        let _ = api
            .delete_collection(&DeleteParams::background(), &ListParams::default())
            .await?;
    }
    if remaining > 0 {
        return Ok(false);
    }
    let api: Api<Namespace> = Api::all(client.clone());
    let mut current = api.get(ns).await?;
    if let Some(spec) = current.spec.as_mut() {
        spec.finalizers = Some(Vec::new());
    }
    api.replace_subresource::<Namespace>("finalize", ns, &PostParams::default(), &current)
        .await?;
    Ok(true)
}

async fn ensure_default_service_account(client: &kube::Client, ns: &str) -> anyhow::Result<()> {
    let api: Api<ServiceAccount> = Api::namespaced(client.clone(), ns);
    if api.get_opt("default").await?.is_some() {
        return Ok(());
    }
    let sa: ServiceAccount =
        serde_json::from_value(serde_json::json!({"metadata": {"name": "default"}}))?;
    match api.create(&PostParams::default(), &sa).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(()),
        Err(e) => Err(e.into()),
    }
}
