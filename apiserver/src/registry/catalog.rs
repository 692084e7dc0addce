//! The served resources, as data.

use super::{NameRule, ResourceDef, Strategy};
use crate::registry::strategy::DefaultStrategy;
use std::collections::HashMap;
use std::sync::OnceLock;

const ALL: &[&str] = &["all"];
const STATUS: &[&str] = &["status"];
const STATUS_SCALE: &[&str] = &["status", "scale"];

#[allow(clippy::too_many_arguments)]
const fn def(
    group: &'static str,
    kind: &'static str,
    plural: &'static str,
    singular: &'static str,
    namespaced: bool,
    short_names: &'static [&'static str],
    categories: &'static [&'static str],
    subresources: &'static [&'static str],
    name_rule: NameRule,
    allow_create_on_update: bool,
    strategy: &'static dyn Strategy,
) -> ResourceDef {
    ResourceDef {
        group,
        version: "v1",
        kind,
        plural,
        singular,
        namespaced,
        short_names,
        categories,
        subresources,
        name_rule,
        allow_create_on_update,
        strategy,
    }
}

use crate::registry::resources::{
    deployment::DeploymentStrategy,
    endpoints::EndpointsStrategy,
    event::{EventStrategy, EventsV1Strategy},
    namespace::NamespaceStrategy,
    node::NodeStrategy,
    pod::PodStrategy,
    replicaset::ReplicaSetStrategy,
    secret::SecretStrategy,
    service::ServiceStrategy,
};

static RESOURCES: &[ResourceDef] = &[
    def(
        "",
        "Namespace",
        "namespaces",
        "namespace",
        false,
        &["ns"],
        &[],
        &["status", "finalize"],
        NameRule::Label,
        false,
        &NamespaceStrategy,
    ),
    def(
        "",
        "Pod",
        "pods",
        "pod",
        true,
        &["po"],
        ALL,
        &[
            "status",
            "binding",
            "log",
            "exec",
            "attach",
            "portforward",
            "proxy",
            "eviction",
        ],
        NameRule::Subdomain,
        false,
        &PodStrategy,
    ),
    def(
        "",
        "Service",
        "services",
        "service",
        true,
        &["svc"],
        ALL,
        &["status", "proxy"],
        NameRule::Dns1035,
        true,
        &ServiceStrategy,
    ),
    def(
        "",
        "Endpoints",
        "endpoints",
        "endpoints",
        true,
        &["ep"],
        &[],
        &[],
        NameRule::Subdomain,
        true,
        &EndpointsStrategy,
    ),
    def(
        "",
        "Node",
        "nodes",
        "node",
        false,
        &["no"],
        &[],
        &["status", "proxy"],
        NameRule::Subdomain,
        false,
        &NodeStrategy,
    ),
    def(
        "",
        "Event",
        "events",
        "event",
        true,
        &["ev"],
        &[],
        &[],
        NameRule::PathSegment,
        true,
        &EventStrategy,
    ),
    def(
        "",
        "ConfigMap",
        "configmaps",
        "configmap",
        true,
        &["cm"],
        &[],
        &[],
        NameRule::Subdomain,
        false,
        &DefaultStrategy,
    ),
    def(
        "",
        "Secret",
        "secrets",
        "secret",
        true,
        &[],
        &[],
        &[],
        NameRule::Subdomain,
        false,
        &SecretStrategy,
    ),
    def(
        "",
        "ServiceAccount",
        "serviceaccounts",
        "serviceaccount",
        true,
        &["sa"],
        &[],
        &[],
        NameRule::Subdomain,
        true,
        &DefaultStrategy,
    ),
    def(
        "discovery.k8s.io",
        "EndpointSlice",
        "endpointslices",
        "endpointslice",
        true,
        &[],
        &[],
        &[],
        NameRule::Subdomain,
        true,
        &DefaultStrategy,
    ),
    def(
        "coordination.k8s.io",
        "Lease",
        "leases",
        "lease",
        true,
        &[],
        &[],
        &[],
        NameRule::Subdomain,
        true,
        &DefaultStrategy,
    ),
    def(
        "apps",
        "Deployment",
        "deployments",
        "deployment",
        true,
        &["deploy"],
        ALL,
        STATUS_SCALE,
        NameRule::Subdomain,
        false,
        &DeploymentStrategy,
    ),
    def(
        "apps",
        "ReplicaSet",
        "replicasets",
        "replicaset",
        true,
        &["rs"],
        ALL,
        STATUS_SCALE,
        NameRule::Subdomain,
        false,
        &ReplicaSetStrategy,
    ),
    def(
        "events.k8s.io",
        "Event",
        "events",
        "event",
        true,
        &["ev"],
        &[],
        &[],
        NameRule::PathSegment,
        true,
        &EventsV1Strategy,
    ),
];

// Status-only marker kept for resources whose status is a subresource but that
// have nothing else to serve.
#[allow(dead_code)]
const _STATUS_ONLY: &[&str] = STATUS;

/// Index over the served resources.
pub struct Catalog {
    by_gvr: HashMap<(&'static str, &'static str, &'static str), &'static ResourceDef>,
}

impl Catalog {
    pub fn all(&self) -> &'static [ResourceDef] {
        RESOURCES
    }

    pub fn lookup(&self, group: &str, version: &str, plural: &str) -> Option<&'static ResourceDef> {
        self.by_gvr.get(&(group, version, plural)).copied()
    }

    pub fn by_kind(&self, group: &str, kind: &str) -> Option<&'static ResourceDef> {
        RESOURCES
            .iter()
            .find(|d| d.group == group && d.kind == kind)
    }

    /// Group versions served, in discovery order.
    pub fn group_versions(&self) -> Vec<(&'static str, &'static str)> {
        let mut out: Vec<(&'static str, &'static str)> = Vec::new();
        for d in RESOURCES {
            if !out.contains(&(d.group, d.version)) {
                out.push((d.group, d.version));
            }
        }
        out
    }
}

pub fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| Catalog {
        by_gvr: RESOURCES
            .iter()
            .map(|d| ((d.group, d.version, d.plural), d))
            .collect(),
    })
}
