//! The root CA certificate publisher (kube-controller-manager's
//! `root-ca-cert-publisher`): every active namespace has a
//! `kube-root-ca.crt` ConfigMap holding the API server's CA bundle, which
//! pods mount to verify `https://kubernetes.default.svc`. Re-created if
//! deleted and put back if changed.

use crate::util::error::{self, ReconcileError};
use crate::util::per_namespace::{self, terminating, PerNamespace};
use crate::ControllerOptions;
use informers::Informers;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, PostParams};
use kube::runtime::controller::Action;
use std::collections::BTreeMap;
use std::sync::Arc;

pub const CONFIGMAP_NAME: &str = "kube-root-ca.crt";
const DATA_KEY: &str = "ca.crt";
const DESCRIPTION_KEY: &str = "kubernetes.io/description";
const DESCRIPTION: &str = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.";

/// What the namespace's ConfigMap should be changed to, if anything:
/// `None` when it is right, or the namespace is going away.
pub fn desired(ns: &Namespace, existing: Option<&ConfigMap>, ca: &str) -> Option<ConfigMap> {
    if terminating(ns) {
        return None;
    }
    let data = BTreeMap::from([(DATA_KEY.to_string(), ca.to_string())]);
    match existing {
        Some(cm) if cm.data.as_ref() == Some(&data) => None,
        Some(cm) => {
            let mut fixed = cm.clone();
            fixed.data = Some(data);
            Some(fixed)
        }
        None => Some(ConfigMap {
            metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                name: Some(CONFIGMAP_NAME.into()),
                namespace: ns.metadata.name.clone(),
                annotations: Some(BTreeMap::from([(
                    DESCRIPTION_KEY.to_string(),
                    DESCRIPTION.to_string(),
                )])),
                ..Default::default()
            },
            data: Some(data),
            ..Default::default()
        }),
    }
}

pub(crate) async fn start(
    informers: &Informers,
    opts: &ControllerOptions,
) -> anyhow::Result<crate::Started> {
    let Some(ca) = opts.root_ca.clone() else {
        tracing::info!("no root CA given: kube-root-ca.crt ConfigMaps are not published");
        return Ok(crate::Started::new("root-ca-cert-publisher", Vec::new()));
    };
    per_namespace::start::<ConfigMap, _, _, _>(
        informers,
        opts,
        "root-ca-cert-publisher",
        CONFIGMAP_NAME,
        ca,
        reconcile,
    )
    .await
}

async fn reconcile(
    ns: Arc<Namespace>,
    ctx: Arc<PerNamespace<ConfigMap, String>>,
) -> Result<Action, ReconcileError> {
    let name = ns.metadata.name.clone().unwrap_or_default();
    let existing = ctx.object_in(&name);
    let Some(cm) = desired(&ns, existing.as_deref(), &ctx.extra) else {
        return Ok(Action::await_change());
    };
    let api: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &name);
    let result = match existing {
        Some(_) => api
            .replace(CONFIGMAP_NAME, &PostParams::default(), &cm)
            .await
            .map(|_| ()),
        None => api.create(&PostParams::default(), &cm).await.map(|_| ()),
    };
    match result {
        Ok(()) => tracing::debug!(namespace = %name, "published kube-root-ca.crt"),
        Err(e) if error::is_already_exists(&e) || error::is_namespace_terminating(&e) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(Action::await_change())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ns(phase: &str) -> Namespace {
        serde_json::from_value(json!({"metadata": {"name": "a"}, "status": {"phase": phase}}))
            .unwrap()
    }

    #[test]
    fn publishes_to_active_namespaces_and_repairs_changes() {
        let created = desired(&ns("Active"), None, "PEM").unwrap();
        assert_eq!(created.metadata.name.as_deref(), Some(CONFIGMAP_NAME));
        assert_eq!(created.data.as_ref().unwrap()["ca.crt"], "PEM");
        assert!(desired(&ns("Active"), Some(&created), "PEM").is_none());
        let mut changed = created.clone();
        changed.data = Some(BTreeMap::from([("ca.crt".into(), "x".into())]));
        let fixed = desired(&ns("Active"), Some(&changed), "PEM").unwrap();
        assert_eq!(fixed.data.unwrap()["ca.crt"], "PEM");
        assert!(desired(&ns("Terminating"), None, "PEM").is_none());
    }
}
