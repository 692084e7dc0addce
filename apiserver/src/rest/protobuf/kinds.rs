//! The protobuf messages of every built-in kind, by apiVersion and kind.
//!
//! Each kind is parsed with its generated `k8s-rs-pb` type (the API's
//! `generated.proto`) and rendered through that type's serde form. The
//! option kinds (`DeleteOptions`, ...) are registered in every group
//! version, as in kube-apiserver's scheme, so they resolve through
//! meta.k8s.io/v1 whatever apiVersion the envelope names.

use protobuf::Message;
use serde_json::Value;

/// Parses `raw` as `M` and renders it with serde. The crate's serializers
/// panic on a few malformed values (a Quantity without its string); a client
/// gets an error for those, never a dropped connection.
fn via<M: Message + serde::Serialize>(kind: &str, raw: &[u8]) -> Result<Value, String> {
    let msg =
        M::parse_from_bytes(raw).map_err(|e| format!("error decoding protobuf {kind}: {e}"))?;
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| serde_json::to_value(&msg)))
        .map_err(|_| format!("malformed protobuf {kind}"))?
        .map_err(|e| e.to_string())
}

/// One group version's kinds: `kind` dispatched to its generated type
/// (one kind at a time, so the module path and the kinds repeat apart).
macro_rules! group_version {
    ($kind_var:ident, $raw:ident, [$($module:ident)::+], ) => { None };
    ($kind_var:ident, $raw:ident, [$($module:ident)::+], $first:ident $(, $rest:ident)*) => {
        if $kind_var == stringify!($first) {
            Some(via::<k8s_rs_pb::$($module)::+::$first>($kind_var, $raw))
        } else {
            group_version!($kind_var, $raw, [$($module)::+], $($rest),*)
        }
    };
}

macro_rules! kinds {
    ($( $api_version:literal => $($module:ident)::+ { $($kind:ident),* $(,)? } )*) => {
        /// The message of `kind` in `api_version` as serde JSON; None when
        /// no such kind is registered.
        fn typed(api_version: &str, kind: &str, raw: &[u8]) -> Option<Result<Value, String>> {
            match api_version {
                $( $api_version => group_version!(kind, raw, [$($module)::+], $($kind),*), )*
                _ => None,
            }
        }

        /// Every (apiVersion, kind) that decodes.
        pub const KINDS: &[(&str, &[&str])] = &[ $( ($api_version, &[$(stringify!($kind)),*]) ),* ];
    };
}

kinds! {
    "v1" => api::core::v1 {
        Binding, ComponentStatus, ConfigMap, Endpoints, Event, LimitRange, Namespace, Node,
        PersistentVolume, PersistentVolumeClaim, Pod, PodTemplate, ReplicationController,
        ResourceQuota, Secret, Service, ServiceAccount,
    }
    "apps/v1" => api::apps::v1 { ControllerRevision, DaemonSet, Deployment, ReplicaSet, StatefulSet }
    "autoscaling/v1" => api::autoscaling::v1 { HorizontalPodAutoscaler, Scale }
    "autoscaling/v2" => api::autoscaling::v2 { HorizontalPodAutoscaler }
    "batch/v1" => api::batch::v1 { CronJob, Job }
    "policy/v1" => api::policy::v1 { Eviction, PodDisruptionBudget }
    "networking.k8s.io/v1" => api::networking::v1 {
        IPAddress, Ingress, IngressClass, NetworkPolicy, ServiceCIDR,
    }
    "discovery.k8s.io/v1" => api::discovery::v1 { EndpointSlice }
    "events.k8s.io/v1" => api::events::v1 { Event }
    "coordination.k8s.io/v1" => api::coordination::v1 { Lease }
    "node.k8s.io/v1" => api::node::v1 { RuntimeClass }
    "scheduling.k8s.io/v1" => api::scheduling::v1 { PriorityClass }
    "storage.k8s.io/v1" => api::storage::v1 {
        CSIDriver, CSINode, CSIStorageCapacity, StorageClass, VolumeAttachment,
        VolumeAttributesClass,
    }
    "resource.k8s.io/v1" => api::resource::v1 {
        DeviceClass, ResourceClaim, ResourceClaimTemplate, ResourceSlice,
    }
    "rbac.authorization.k8s.io/v1" => api::rbac::v1 {
        ClusterRole, ClusterRoleBinding, Role, RoleBinding,
    }
    "authentication.k8s.io/v1" => api::authentication::v1 {
        SelfSubjectReview, TokenRequest, TokenReview,
    }
    "authorization.k8s.io/v1" => api::authorization::v1 {
        LocalSubjectAccessReview, SelfSubjectAccessReview, SelfSubjectRulesReview,
        SubjectAccessReview,
    }
    "certificates.k8s.io/v1" => api::certificates::v1 { CertificateSigningRequest }
    "admissionregistration.k8s.io/v1" => api::admissionregistration::v1 {
        MutatingWebhookConfiguration, ValidatingAdmissionPolicy,
        ValidatingAdmissionPolicyBinding, ValidatingWebhookConfiguration,
    }
    "flowcontrol.apiserver.k8s.io/v1" => api::flowcontrol::v1 {
        FlowSchema, PriorityLevelConfiguration,
    }
    "apiextensions.k8s.io/v1" => apiextensions_apiserver::pkg::apis::apiextensions::v1 {
        CustomResourceDefinition,
    }
    "apiregistration.k8s.io/v1" => kube_aggregator::pkg::apis::apiregistration::v1 { APIService }
    "meta.k8s.io/v1" => apimachinery::pkg::apis::meta::v1 {
        DeleteOptions, CreateOptions, UpdateOptions, PatchOptions, GetOptions, ListOptions,
        Status, WatchEvent,
    }
}

/// meta.k8s.io/v1 kinds registered in every group version.
const SHARED_META_KINDS: &[&str] = &[
    "DeleteOptions",
    "CreateOptions",
    "UpdateOptions",
    "PatchOptions",
    "GetOptions",
    "ListOptions",
    "Status",
    "WatchEvent",
];

/// Whether `kind` in `api_version` decodes.
pub fn is_registered(api_version: &str, kind: &str) -> bool {
    let known = |v: &str| {
        KINDS
            .iter()
            .any(|(av, kinds)| *av == v && kinds.contains(&kind))
    };
    known(api_version) || (SHARED_META_KINDS.contains(&kind) && known("meta.k8s.io/v1"))
}

/// The message as serde JSON, falling back to meta.k8s.io/v1 for the
/// kinds every group version shares.
pub fn decode_typed(api_version: &str, kind: &str, raw: &[u8]) -> Option<Result<Value, String>> {
    typed(api_version, kind, raw).or_else(|| {
        SHARED_META_KINDS
            .contains(&kind)
            .then(|| typed("meta.k8s.io/v1", kind, raw))
            .flatten()
    })
}
