//! The serviceaccounts controller: every active namespace has a `default`
//! ServiceAccount (pods that name none run as it). Re-created if deleted;
//! namespaces being deleted are left alone.

use crate::util::error::{self, ReconcileError};
use crate::util::watch::wait_all;
use crate::ControllerOptions;
use futures::StreamExt;
use informers::Informers;
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::api::{Api, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{watcher, WatchStreamExt};
use std::sync::Arc;

pub const DEFAULT_NAME: &str = "default";

struct Ctx {
    client: kube::Client,
    accounts: Store<ServiceAccount>,
}

/// Whether `ns` should have its default ServiceAccount now.
pub fn wants_default(ns: &Namespace, existing: bool) -> bool {
    let terminating = ns.metadata.deletion_timestamp.is_some()
        || ns.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Terminating");
    !terminating && !existing
}

pub(crate) async fn start(
    informers: &Informers,
    opts: &ControllerOptions,
) -> anyhow::Result<crate::Started> {
    let client = informers.client().clone();
    let (ns_store, ns_synced, namespaces) =
        informers.cached::<Namespace>(watcher::Config::default());
    let (sa_store, sa_synced, accounts) = informers.cached::<ServiceAccount>(
        watcher::Config::default().fields(&format!("metadata.name={DEFAULT_NAME}")),
    );
    let ctx = Arc::new(Ctx {
        client,
        accounts: sa_store,
    });
    let controller = Controller::for_stream(namespaces.touched_objects(), ns_store)
        .with_config(crate::controller_config(opts))
        .watches_stream(accounts.touched_objects(), |sa: ServiceAccount| {
            sa.metadata
                .namespace
                .map(|ns| ObjectRef::<Namespace>::new(&ns))
        })
        .run(
            reconcile,
            |_, e: &ReconcileError, _| error::retry_after(e),
            ctx,
        )
        .for_each(|res| async move {
            if let Err(e) = res {
                tracing::debug!(error = %e, "serviceaccount reconcile failed");
            }
        });
    let tasks = vec![tokio::spawn(controller)];
    wait_all(vec![ns_synced, sa_synced]).await?;
    Ok(crate::Started::new("serviceaccount", tasks))
}

async fn reconcile(ns: Arc<Namespace>, ctx: Arc<Ctx>) -> Result<Action, ReconcileError> {
    let name = ns.metadata.name.clone().unwrap_or_default();
    let exists = ctx
        .accounts
        .get(&ObjectRef::new(DEFAULT_NAME).within(&name))
        .is_some();
    if !wants_default(&ns, exists) {
        return Ok(Action::await_change());
    }
    let api: Api<ServiceAccount> = Api::namespaced(ctx.client.clone(), &name);
    let sa = ServiceAccount {
        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            name: Some(DEFAULT_NAME.into()),
            ..Default::default()
        },
        ..Default::default()
    };
    match api.create(&PostParams::default(), &sa).await {
        Ok(_) => tracing::debug!(namespace = %name, "created default serviceaccount"),
        Err(e) if error::is_already_exists(&e) || error::is_namespace_terminating(&e) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(Action::await_change())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_active_namespaces_without_one() {
        let active: Namespace = serde_json::from_value(
            json!({"metadata": {"name": "a"}, "status": {"phase": "Active"}}),
        )
        .unwrap();
        let term: Namespace = serde_json::from_value(
            json!({"metadata": {"name": "a"}, "status": {"phase": "Terminating"}}),
        )
        .unwrap();
        assert!(wants_default(&active, false));
        assert!(!wants_default(&active, true));
        assert!(!wants_default(&term, false));
    }
}
