//! Objects every cluster starts with: the system namespaces, the
//! `kubernetes` Service, the system PriorityClasses and the flow-control
//! configuration, created through the same write path as any client's.

mod flow_control;
pub mod priority_classes;

use crate::registry::catalog;
use crate::rest::request::Query;
use crate::rest::write::create_object;
use crate::rest::ApiState;
use serde_json::json;

pub const SYSTEM_NAMESPACES: &[&str] =
    &["default", "kube-system", "kube-public", "kube-node-lease"];

pub async fn ensure_system_objects(st: &ApiState) -> anyhow::Result<()> {
    let ns_def = catalog()
        .lookup("", "v1", "namespaces")
        .ok_or_else(|| anyhow::anyhow!("namespaces not served"))?;
    for ns in SYSTEM_NAMESPACES {
        if st
            .store
            .try_get(ns_def, None, ns)
            .await
            .map_err(|e| anyhow::anyhow!(e.message))?
            .is_some()
        {
            continue;
        }
        let obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
        match create_object(st, ns_def, None, obj, &Query::default()).await {
            Ok(_) => {}
            Err(e) if e.reason == "AlreadyExists" => {}
            Err(e) => anyhow::bail!("creating namespace {ns}: {}", e.message),
        }
    }
    let flowcontrol = "flowcontrol.apiserver.k8s.io";
    tokio::try_join!(
        ensure_kubernetes_service(st),
        ensure_cluster_objects(
            st,
            "scheduling.k8s.io",
            "priorityclasses",
            priority_classes::objects(),
        ),
        ensure_cluster_objects(
            st,
            flowcontrol,
            "prioritylevelconfigurations",
            flow_control::priority_levels(),
        ),
        ensure_cluster_objects(st, flowcontrol, "flowschemas", flow_control::flow_schemas()),
    )?;
    Ok(())
}

/// Creates the cluster-scoped objects that do not exist yet (an object a
/// user changed is left as it is).
async fn ensure_cluster_objects(
    st: &ApiState,
    group: &str,
    plural: &str,
    objects: Vec<serde_json::Value>,
) -> anyhow::Result<()> {
    let def = catalog()
        .lookup(group, "v1", plural)
        .ok_or_else(|| anyhow::anyhow!("{plural} not served"))?;
    let existing = st
        .store
        .list(def, None, None, 0, |_| true)
        .await
        .map_err(|e| anyhow::anyhow!(e.message))?
        .items;
    let names: std::collections::HashSet<&str> = existing
        .iter()
        .filter_map(|o| {
            o.pointer("/metadata/name")
                .and_then(serde_json::Value::as_str)
        })
        .collect();
    // Created at once, so that the writes share the store's group commits
    // on a first start.
    let missing = objects
        .into_iter()
        .filter(|obj| !names.contains(obj["metadata"]["name"].as_str().unwrap_or_default()));
    let creates = missing.map(|obj| async move {
        let name = obj["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        match create_object(st, def, None, obj, &Query::default()).await {
            Ok(_) => Ok(()),
            Err(e) if e.reason == "AlreadyExists" => Ok(()),
            Err(e) => Err(anyhow::anyhow!("creating {plural} {name}: {}", e.message)),
        }
    });
    futures::future::try_join_all(creates).await?;
    Ok(())
}

/// The `kubernetes` Service in `default` on the first ClusterIP, with
/// Endpoints and an EndpointSlice pointing at this API server (what
/// kube-apiserver's endpoint reconciler maintains).
async fn ensure_kubernetes_service(st: &ApiState) -> anyhow::Result<()> {
    let cat = catalog();
    let lookup = |g: &str, r: &str| {
        cat.lookup(g, "v1", r)
            .ok_or_else(|| anyhow::anyhow!("{r} not served"))
    };
    let (svc_def, ep_def, slice_def) = (
        lookup("", "services")?,
        lookup("", "endpoints")?,
        lookup("discovery.k8s.io", "endpointslices")?,
    );
    let cidr = st
        .config
        .service_cidrs
        .first()
        .copied()
        .ok_or_else(|| anyhow::anyhow!("no service CIDR"))?;
    let first_ip = crate::registry::service::allocation::ClusterIpAllocator::new(cidr)
        .nth(1)
        .map(|ip| crate::validation::names::go_ip_string(&ip))
        .ok_or_else(|| anyhow::anyhow!("service CIDR {cidr} has no usable address"))?;
    let (addr, port) = (st.config.advertise_address.to_string(), st.config.port);
    let labels = json!({"component": "apiserver", "provider": "kubernetes"});
    let objects = [
        (
            svc_def,
            json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "kubernetes", "namespace": "default", "labels": labels},
            "spec": {"type": "ClusterIP", "clusterIP": first_ip, "sessionAffinity": "None",
                     "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}]}}),
        ),
        (
            ep_def,
            json!({"apiVersion": "v1", "kind": "Endpoints",
            "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
            "subsets": [{"addresses": [{"ip": addr}], "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}]}),
        ),
        (
            slice_def,
            json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"kubernetes.io/service-name": "kubernetes"}},
            "addressType": if addr.contains(':') { "IPv6" } else { "IPv4" },
            "endpoints": [{"addresses": [addr], "conditions": {"ready": true}}],
            "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}),
        ),
    ];
    for (def, obj) in objects {
        let name = "kubernetes";
        if let Some(existing) = st
            .store
            .try_get(def, Some("default"), name)
            .await
            .map_err(|e| anyhow::anyhow!(e.message))?
        {
            // The API server's port may differ from the last run: refresh the endpoints.
            if def.kind != "Service" && existing.get("subsets") != obj.get("subsets")
                || def.kind == "EndpointSlice" && existing.get("ports") != obj.get("ports")
            {
                let rv = crate::rest::object_store::resource_version(&existing)
                    .ok()
                    .flatten()
                    .unwrap_or_default();
                let mut updated = existing.clone();
                for k in ["subsets", "endpoints", "ports"] {
                    if let Some(v) = obj.get(k) {
                        updated[k] = v.clone();
                    }
                }
                st.store
                    .update(def, updated, rv, Default::default())
                    .await
                    .map_err(|e| anyhow::anyhow!(e.message))?;
            }
            continue;
        }
        match create_object(st, def, Some("default"), obj, &Query::default()).await {
            Ok(_) => {}
            Err(e) if e.reason == "AlreadyExists" => {}
            Err(e) => anyhow::bail!("creating {} kubernetes: {}", def.kind, e.message),
        }
    }
    Ok(())
}
