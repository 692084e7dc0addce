//! What the API serves: one [`ResourceDef`] per resource (data), plus a small
//! [`Strategy`] of hooks for what differs per resource (defaults, validation,
//! field selectors), in the spirit of kube-apiserver's registry strategies.

mod catalog;
pub mod resources;
pub mod service;
mod strategy;

pub use catalog::{catalog, Catalog, STORED_VERBS};
pub use strategy::{Ctx, DefaultStrategy, Pending, Strategy, WriteOp};

/// How object names of a resource are validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    /// DNS-1123 subdomain (most resources).
    Subdomain,
    /// DNS-1123 label (namespaces).
    Label,
    /// DNS-1035 label (services).
    Dns1035,
    /// Anything that is a valid path segment (events use generated dotted names).
    PathSegment,
}

pub struct ResourceDef {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    /// Plural, lower case: the URL segment.
    pub plural: &'static str,
    pub singular: &'static str,
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
    pub categories: &'static [&'static str],
    /// Subresources served besides the object itself ("status", "scale", ...).
    pub subresources: &'static [&'static str],
    pub name_rule: NameRule,
    /// PUT of a missing object creates it (services, endpoints, events, leases...).
    pub allow_create_on_update: bool,
    pub strategy: &'static dyn Strategy,
    /// The verbs discovery lists and the REST layer serves.
    pub verbs: &'static [&'static str],
    /// Decodes an object through the kind's API type (unknown fields, type
    /// errors), as kube-apiserver decodes into its Go structs.
    pub normalize: crate::rest::typed::Normalize,
    /// How a resource that is not simply stored is served.
    pub special: Special,
}

/// Resources served by code of their own rather than from storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Special {
    /// An ordinary stored resource.
    None,
    /// core/v1 `bindings`: a create that binds the named pod.
    Bindings,
    /// core/v1 `componentstatuses`: computed on read.
    ComponentStatuses,
    /// authentication.k8s.io TokenReview.
    TokenReview,
    /// authentication.k8s.io SelfSubjectReview.
    SelfSubjectReview,
    /// authorization.k8s.io Subject/SelfSubject/LocalSubjectAccessReview.
    AccessReview,
    /// authorization.k8s.io SelfSubjectRulesReview.
    RulesReview,
}

impl std::fmt::Debug for ResourceDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.api_version())?;
        write!(f, "/{}", self.plural)
    }
}

impl ResourceDef {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    pub fn has_status(&self) -> bool {
        self.subresources.contains(&"status")
    }

    pub fn target(&self) -> crate::rest::status::Target<'static> {
        crate::rest::status::Target {
            group: self.group,
            resource: self.plural,
            kind: self.kind,
        }
    }

    /// Storage key prefix for all objects of this resource (and namespace);
    /// versions sharing storage share it.
    pub fn key_prefix(&self, namespace: Option<&str>) -> String {
        let mut k = String::from("/registry/");
        let group = self.strategy.storage_group().unwrap_or(self.group);
        if !group.is_empty() {
            k.push_str(group);
            k.push('/');
        }
        k.push_str(self.plural);
        k.push('/');
        if let (true, Some(ns)) = (self.namespaced, namespace) {
            k.push_str(ns);
            k.push('/');
        }
        k
    }

    pub fn key(&self, namespace: Option<&str>, name: &str) -> String {
        let mut k = self.key_prefix(namespace);
        k.push_str(name);
        k
    }

    pub fn verbs(&self) -> &'static [&'static str] {
        self.verbs
    }

    pub fn allows(&self, verb: &str) -> bool {
        self.verbs.contains(&verb)
    }
}
