//! The served resources, as data: one row per resource, built from its
//! k8s-openapi type (group, version, kind, plural and scope come from the
//! type, so they cannot drift from the API) plus what discovery adds
//! (short names, categories, subresources, verbs) and the resource's
//! strategy. The rows follow kube-apiserver v1.37's default surface
//! (`pkg/controlplane/instance.go`, the discovery fixtures in `api/discovery`).

use super::{NameRule, ResourceDef, Special, Strategy};
use crate::registry::resources::{
    api_service::ApiServiceStrategy,
    certificate_signing_request::CertificateSigningRequestStrategy,
    config_map::ConfigMapStrategy,
    controller_revision::ControllerRevisionStrategy,
    cronjob::CronJobStrategy,
    csi_driver::CsiDriverStrategy,
    csi_node::CsiNodeStrategy,
    csi_storage_capacity::CsiStorageCapacityStrategy,
    custom_resource_definition::CustomResourceDefinitionStrategy,
    daemonset::DaemonSetStrategy,
    deployment::DeploymentStrategy,
    endpoint_slice::EndpointSliceStrategy,
    endpoints::EndpointsStrategy,
    event::{EventStrategy, EventsV1Strategy},
    flow_schema::FlowSchemaStrategy,
    hpa::HpaStrategy,
    hpa_versions::HpaV1Strategy,
    ingress::IngressStrategy,
    ingress_class::IngressClassStrategy,
    ip_address::{IpAddressStrategy, ServiceCidrStrategy},
    job::JobStrategy,
    limit_range::LimitRangeStrategy,
    namespace::NamespaceStrategy,
    network_policy::NetworkPolicyStrategy,
    node::NodeStrategy,
    pdb::PdbStrategy,
    persistent_volume::PersistentVolumeStrategy,
    persistent_volume_claim::PersistentVolumeClaimStrategy,
    pod::PodStrategy,
    pod_template::PodTemplateStrategy,
    priority_class::PriorityClassStrategy,
    priority_level::PriorityLevelConfigurationStrategy,
    rbac_binding::{ClusterRoleBindingStrategy, RoleBindingStrategy},
    rbac_role::{ClusterRoleStrategy, RoleStrategy},
    replicaset::ReplicaSetStrategy,
    replication_controller::ReplicationControllerStrategy,
    resource_claims::{
        DeviceClassStrategy, ResourceClaimStrategy, ResourceClaimTemplateStrategy,
        ResourceSliceStrategy,
    },
    resource_quota::ResourceQuotaStrategy,
    runtime_class::RuntimeClassStrategy,
    secret::SecretStrategy,
    service::ServiceStrategy,
    statefulset::StatefulSetStrategy,
    storage_class::{StorageClassStrategy, VolumeAttributesClassStrategy},
    validating_admission_policy::{
        ValidatingAdmissionPolicyBindingStrategy, ValidatingAdmissionPolicyStrategy,
    },
    volume_attachment::VolumeAttachmentStrategy,
    webhook_configuration::{
        MutatingWebhookConfigurationStrategy, ValidatingWebhookConfigurationStrategy,
    },
};
use crate::registry::strategy::DefaultStrategy;
use crate::rest::typed;
use k8s_openapi::api::{
    admissionregistration, apps, authentication, authorization, autoscaling, batch, certificates,
    coordination, core, discovery, events, flowcontrol, networking, node, policy, rbac, resource,
    scheduling, storage,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions;
use k8s_openapi::kube_aggregator::pkg::apis::apiregistration;
use std::any::TypeId;
use std::collections::HashMap;
use std::sync::LazyLock;

const ALL: &[&str] = &["all"];
const API_EXTENSIONS: &[&str] = &["api-extensions"];
const STATUS: &[&str] = &["status"];
const STATUS_SCALE: &[&str] = &["scale", "status"];

/// The verbs of an ordinary stored resource.
pub const STORED_VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];
/// Namespaces have no deletecollection.
const NAMESPACE_VERBS: &[&str] = &[
    "create", "delete", "get", "list", "patch", "update", "watch",
];
/// Review kinds and bindings: answered on create, never stored.
const CREATE_ONLY: &[&str] = &["create"];
/// ComponentStatuses are computed on read.
const GET_LIST: &[&str] = &["get", "list"];

/// A row under construction.
struct Row(ResourceDef);

/// A row for the k8s-openapi type `T`.
fn row<T>() -> Row
where
    T: k8s_openapi::Resource + serde::de::DeserializeOwned + serde::Serialize + 'static,
{
    let namespaced =
        TypeId::of::<T::Scope>() == TypeId::of::<k8s_openapi::NamespaceResourceScope>();
    Row(ResourceDef {
        group: T::GROUP,
        version: T::VERSION,
        kind: T::KIND,
        plural: T::URL_PATH_SEGMENT,
        singular: singular_of(T::KIND),
        namespaced,
        short_names: &[],
        categories: &[],
        subresources: &[],
        name_rule: NameRule::Subdomain,
        allow_create_on_update: false,
        strategy: &DefaultStrategy,
        verbs: STORED_VERBS,
        normalize: typed::roundtrip::<T>,
        special: Special::None,
    })
}

/// The singular resource name: the kind in lower case, as kube-apiserver
/// derives it.
fn singular_of(kind: &'static str) -> &'static str {
    Box::leak(kind.to_ascii_lowercase().into_boxed_str())
}

impl Row {
    fn short(mut self, names: &'static [&'static str]) -> Row {
        self.0.short_names = names;
        self
    }
    fn categories(mut self, c: &'static [&'static str]) -> Row {
        self.0.categories = c;
        self
    }
    fn subresources(mut self, s: &'static [&'static str]) -> Row {
        self.0.subresources = s;
        self
    }
    fn names(mut self, rule: NameRule) -> Row {
        self.0.name_rule = rule;
        self
    }
    /// PUT of a missing object creates it.
    fn upsert(mut self) -> Row {
        self.0.allow_create_on_update = true;
        self
    }
    fn strategy(mut self, s: &'static dyn Strategy) -> Row {
        self.0.strategy = s;
        self
    }
    fn verbs(mut self, v: &'static [&'static str]) -> Row {
        self.0.verbs = v;
        self
    }
    /// A resource answered on create and never stored (reviews, bindings).
    fn special(mut self, s: Special) -> Row {
        self.0.special = s;
        self.0.verbs = match s {
            Special::ComponentStatuses => GET_LIST,
            _ => CREATE_ONLY,
        };
        self
    }
    fn plural(mut self, p: &'static str) -> Row {
        self.0.plural = p;
        self
    }
    fn singular(mut self, s: &'static str) -> Row {
        self.0.singular = s;
        self
    }
    fn done(self) -> ResourceDef {
        self.0
    }
}

/// Every served resource, in discovery order: groups as kube-apiserver
/// lists them, a group's preferred version first.
fn resources() -> Vec<ResourceDef> {
    use NameRule::{Dns1035, Label, PathSegment};
    let pod_subresources: &'static [&'static str] = &[
        "attach",
        "binding",
        "ephemeralcontainers",
        "eviction",
        "exec",
        "log",
        "portforward",
        "proxy",
        "resize",
        "status",
    ];
    vec![
        // core/v1
        row::<core::v1::Binding>()
            .plural("bindings")
            .special(Special::Bindings)
            .done(),
        row::<core::v1::ComponentStatus>()
            .short(&["cs"])
            .special(Special::ComponentStatuses)
            .done(),
        row::<core::v1::ConfigMap>()
            .short(&["cm"])
            .strategy(&ConfigMapStrategy)
            .done(),
        row::<core::v1::Endpoints>()
            .short(&["ep"])
            .upsert()
            .strategy(&EndpointsStrategy)
            .singular("endpoints")
            .done(),
        row::<core::v1::Event>()
            .short(&["ev"])
            .names(PathSegment)
            .upsert()
            .strategy(&EventStrategy)
            .done(),
        row::<core::v1::LimitRange>()
            .short(&["limits"])
            .strategy(&LimitRangeStrategy)
            .done(),
        row::<core::v1::Namespace>()
            .short(&["ns"])
            .subresources(&["finalize", "status"])
            .names(Label)
            .strategy(&NamespaceStrategy)
            .verbs(NAMESPACE_VERBS)
            .done(),
        row::<core::v1::Node>()
            .short(&["no"])
            .subresources(&["proxy", "status"])
            .strategy(&NodeStrategy)
            .done(),
        row::<core::v1::PersistentVolumeClaim>()
            .short(&["pvc"])
            .subresources(STATUS)
            .strategy(&PersistentVolumeClaimStrategy)
            .done(),
        row::<core::v1::PersistentVolume>()
            .short(&["pv"])
            .subresources(STATUS)
            .strategy(&PersistentVolumeStrategy)
            .done(),
        row::<core::v1::Pod>()
            .short(&["po"])
            .categories(ALL)
            .subresources(pod_subresources)
            .strategy(&PodStrategy)
            .done(),
        row::<core::v1::PodTemplate>()
            .strategy(&PodTemplateStrategy)
            .done(),
        row::<core::v1::ReplicationController>()
            .short(&["rc"])
            .categories(ALL)
            .subresources(STATUS_SCALE)
            .strategy(&ReplicationControllerStrategy)
            .done(),
        row::<core::v1::ResourceQuota>()
            .short(&["quota"])
            .subresources(STATUS)
            .strategy(&ResourceQuotaStrategy)
            .done(),
        row::<core::v1::Secret>().strategy(&SecretStrategy).done(),
        row::<core::v1::ServiceAccount>()
            .short(&["sa"])
            .subresources(&["token"])
            .upsert()
            .done(),
        row::<core::v1::Service>()
            .short(&["svc"])
            .categories(ALL)
            .subresources(&["proxy", "status"])
            .names(Dns1035)
            .upsert()
            .strategy(&ServiceStrategy)
            .done(),
        // apiregistration.k8s.io/v1
        row::<apiregistration::v1::APIService>()
            .categories(API_EXTENSIONS)
            .subresources(STATUS)
            .names(PathSegment)
            .strategy(&ApiServiceStrategy)
            .done(),
        // apps/v1
        row::<apps::v1::ControllerRevision>()
            .strategy(&ControllerRevisionStrategy)
            .done(),
        row::<apps::v1::DaemonSet>()
            .short(&["ds"])
            .categories(ALL)
            .subresources(STATUS)
            .strategy(&DaemonSetStrategy)
            .done(),
        row::<apps::v1::Deployment>()
            .short(&["deploy"])
            .categories(ALL)
            .subresources(STATUS_SCALE)
            .strategy(&DeploymentStrategy)
            .done(),
        row::<apps::v1::ReplicaSet>()
            .short(&["rs"])
            .categories(ALL)
            .subresources(STATUS_SCALE)
            .strategy(&ReplicaSetStrategy)
            .done(),
        row::<apps::v1::StatefulSet>()
            .short(&["sts"])
            .categories(ALL)
            .subresources(STATUS_SCALE)
            .names(Label)
            .strategy(&StatefulSetStrategy)
            .done(),
        // events.k8s.io/v1: stored with core/v1 events.
        row::<events::v1::Event>()
            .short(&["ev"])
            .names(PathSegment)
            .upsert()
            .strategy(&EventsV1Strategy)
            .done(),
        // authentication.k8s.io/v1
        row::<authentication::v1::SelfSubjectReview>()
            .special(Special::SelfSubjectReview)
            .done(),
        row::<authentication::v1::TokenReview>()
            .special(Special::TokenReview)
            .done(),
        // authorization.k8s.io/v1
        row::<authorization::v1::LocalSubjectAccessReview>()
            .special(Special::AccessReview)
            .done(),
        row::<authorization::v1::SelfSubjectAccessReview>()
            .special(Special::AccessReview)
            .done(),
        row::<authorization::v1::SelfSubjectRulesReview>()
            .special(Special::RulesReview)
            .done(),
        row::<authorization::v1::SubjectAccessReview>()
            .special(Special::AccessReview)
            .done(),
        // autoscaling/v2 (preferred) and v1: one storage.
        row::<autoscaling::v2::HorizontalPodAutoscaler>()
            .short(&["hpa"])
            .categories(ALL)
            .subresources(STATUS)
            .strategy(&HpaStrategy)
            .done(),
        row::<autoscaling::v1::HorizontalPodAutoscaler>()
            .short(&["hpa"])
            .categories(ALL)
            .subresources(STATUS)
            .strategy(&HpaV1Strategy)
            .done(),
        // batch/v1
        row::<batch::v1::CronJob>()
            .short(&["cj"])
            .categories(ALL)
            .subresources(STATUS)
            .strategy(&CronJobStrategy)
            .done(),
        row::<batch::v1::Job>()
            .categories(ALL)
            .subresources(STATUS)
            .strategy(&JobStrategy)
            .done(),
        // certificates.k8s.io/v1
        row::<certificates::v1::CertificateSigningRequest>()
            .short(&["csr"])
            .subresources(&["approval", "status"])
            .names(PathSegment)
            .strategy(&CertificateSigningRequestStrategy)
            .done(),
        // networking.k8s.io/v1
        row::<networking::v1::IngressClass>()
            .strategy(&IngressClassStrategy)
            .done(),
        row::<networking::v1::Ingress>()
            .short(&["ing"])
            .subresources(STATUS)
            .strategy(&IngressStrategy)
            .done(),
        row::<networking::v1::IPAddress>()
            .short(&["ip"])
            .names(PathSegment)
            .strategy(&IpAddressStrategy)
            .done(),
        row::<networking::v1::NetworkPolicy>()
            .short(&["netpol"])
            .strategy(&NetworkPolicyStrategy)
            .done(),
        row::<networking::v1::ServiceCIDR>()
            .subresources(STATUS)
            .strategy(&ServiceCidrStrategy)
            .done(),
        // policy/v1
        row::<policy::v1::PodDisruptionBudget>()
            .short(&["pdb"])
            .subresources(STATUS)
            .strategy(&PdbStrategy)
            .done(),
        // rbac.authorization.k8s.io/v1
        row::<rbac::v1::ClusterRoleBinding>()
            .names(PathSegment)
            .strategy(&ClusterRoleBindingStrategy)
            .done(),
        row::<rbac::v1::ClusterRole>()
            .names(PathSegment)
            .strategy(&ClusterRoleStrategy)
            .done(),
        row::<rbac::v1::RoleBinding>()
            .names(PathSegment)
            .strategy(&RoleBindingStrategy)
            .done(),
        row::<rbac::v1::Role>()
            .names(PathSegment)
            .strategy(&RoleStrategy)
            .done(),
        // storage.k8s.io/v1
        row::<storage::v1::CSIDriver>()
            .strategy(&CsiDriverStrategy)
            .done(),
        row::<storage::v1::CSINode>()
            .strategy(&CsiNodeStrategy)
            .done(),
        row::<storage::v1::CSIStorageCapacity>()
            .strategy(&CsiStorageCapacityStrategy)
            .done(),
        row::<storage::v1::StorageClass>()
            .short(&["sc"])
            .strategy(&StorageClassStrategy)
            .done(),
        row::<storage::v1::VolumeAttachment>()
            .subresources(STATUS)
            .strategy(&VolumeAttachmentStrategy)
            .done(),
        row::<storage::v1::VolumeAttributesClass>()
            .short(&["vac"])
            .strategy(&VolumeAttributesClassStrategy)
            .done(),
        // admissionregistration.k8s.io/v1
        row::<admissionregistration::v1::MutatingWebhookConfiguration>()
            .categories(API_EXTENSIONS)
            .strategy(&MutatingWebhookConfigurationStrategy)
            .done(),
        row::<admissionregistration::v1::ValidatingAdmissionPolicy>()
            .categories(API_EXTENSIONS)
            .subresources(STATUS)
            .strategy(&ValidatingAdmissionPolicyStrategy)
            .done(),
        row::<admissionregistration::v1::ValidatingAdmissionPolicyBinding>()
            .categories(API_EXTENSIONS)
            .strategy(&ValidatingAdmissionPolicyBindingStrategy)
            .done(),
        row::<admissionregistration::v1::ValidatingWebhookConfiguration>()
            .categories(API_EXTENSIONS)
            .strategy(&ValidatingWebhookConfigurationStrategy)
            .done(),
        // apiextensions.k8s.io/v1
        row::<apiextensions::v1::CustomResourceDefinition>()
            .short(&["crd", "crds"])
            .categories(API_EXTENSIONS)
            .subresources(STATUS)
            .strategy(&CustomResourceDefinitionStrategy)
            .done(),
        // scheduling.k8s.io/v1
        row::<scheduling::v1::PriorityClass>()
            .short(&["pc"])
            .strategy(&PriorityClassStrategy)
            .done(),
        // coordination.k8s.io/v1
        row::<coordination::v1::Lease>().upsert().done(),
        // node.k8s.io/v1
        row::<node::v1::RuntimeClass>()
            .strategy(&RuntimeClassStrategy)
            .done(),
        // discovery.k8s.io/v1
        row::<discovery::v1::EndpointSlice>()
            .upsert()
            .strategy(&EndpointSliceStrategy)
            .done(),
        // flowcontrol.apiserver.k8s.io/v1
        row::<flowcontrol::v1::FlowSchema>()
            .subresources(STATUS)
            .strategy(&FlowSchemaStrategy)
            .done(),
        row::<flowcontrol::v1::PriorityLevelConfiguration>()
            .subresources(STATUS)
            .strategy(&PriorityLevelConfigurationStrategy)
            .done(),
        // resource.k8s.io/v1
        row::<resource::v1::DeviceClass>()
            .strategy(&DeviceClassStrategy)
            .done(),
        row::<resource::v1::ResourceClaimTemplate>()
            .strategy(&ResourceClaimTemplateStrategy)
            .done(),
        row::<resource::v1::ResourceClaim>()
            .subresources(STATUS)
            .strategy(&ResourceClaimStrategy)
            .done(),
        row::<resource::v1::ResourceSlice>()
            .strategy(&ResourceSliceStrategy)
            .done(),
    ]
}

static RESOURCES: LazyLock<Vec<ResourceDef>> = LazyLock::new(resources);

/// Index over the served resources.
pub struct Catalog {
    by_gvr: HashMap<(&'static str, &'static str, &'static str), &'static ResourceDef>,
}

impl Catalog {
    pub fn all(&self) -> &'static [ResourceDef] {
        RESOURCES.as_slice()
    }

    pub fn lookup(&self, group: &str, version: &str, plural: &str) -> Option<&'static ResourceDef> {
        self.by_gvr.get(&(group, version, plural)).copied()
    }

    /// The resource of a kind in its group's preferred version.
    pub fn by_kind(&self, group: &str, kind: &str) -> Option<&'static ResourceDef> {
        self.all()
            .iter()
            .find(|d| d.group == group && d.kind == kind)
    }

    /// Group versions served, in discovery order (a group's preferred
    /// version first).
    pub fn group_versions(&self) -> Vec<(&'static str, &'static str)> {
        let mut out: Vec<(&'static str, &'static str)> = Vec::new();
        for d in self.all() {
            if !out.contains(&(d.group, d.version)) {
                out.push((d.group, d.version));
            }
        }
        out
    }

    /// The versions of a group, preferred first.
    pub fn versions_of(&self, group: &str) -> Vec<&'static str> {
        self.group_versions()
            .into_iter()
            .filter(|(g, _)| *g == group)
            .map(|(_, v)| v)
            .collect()
    }
}

pub fn catalog() -> &'static Catalog {
    static CATALOG: LazyLock<Catalog> = LazyLock::new(|| Catalog {
        by_gvr: RESOURCES
            .iter()
            .map(|d| ((d.group, d.version, d.plural), d))
            .collect(),
    });
    &CATALOG
}
