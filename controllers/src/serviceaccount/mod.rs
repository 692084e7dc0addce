//! The serviceaccounts controller: every active namespace has a `default`
//! ServiceAccount (pods that name none run as it). Re-created if deleted;
//! namespaces being deleted are left alone.

use crate::util::error::{self, ReconcileError};
use crate::util::per_namespace::{self, terminating, PerNamespace};
use crate::ControllerOptions;
use informers::Informers;
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::api::{Api, PostParams};
use kube::runtime::controller::Action;
use std::sync::Arc;

pub const DEFAULT_NAME: &str = "default";

/// Whether `ns` should have its default ServiceAccount now.
pub fn wants_default(ns: &Namespace, existing: bool) -> bool {
    !terminating(ns) && !existing
}

pub(crate) async fn start(
    informers: &Informers,
    opts: &ControllerOptions,
) -> anyhow::Result<crate::Started> {
    per_namespace::start::<ServiceAccount, _, _, _>(
        informers,
        opts,
        "serviceaccount",
        DEFAULT_NAME,
        (),
        reconcile,
    )
    .await
}

async fn reconcile(
    ns: Arc<Namespace>,
    ctx: Arc<PerNamespace<ServiceAccount, ()>>,
) -> Result<Action, ReconcileError> {
    let name = ns.metadata.name.clone().unwrap_or_default();
    if !wants_default(&ns, ctx.object_in(&name).is_some()) {
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
