//! Merge metadata of the built-in kinds, as data.
//!
//! Two consumers read it:
//!
//! * strategic merge patch, which needs the `patchStrategy` /
//!   `patchMergeKey` struct tags of the Go types;
//! * server-side apply, which needs the structured-merge-diff view of the
//!   same types: `+listType` (`atomic`, `set`, `map` with `+listMapKey`s and
//!   their defaults), `+mapType` and `+structType`, and which keys of an
//!   object are declared fields (structs) rather than free-form map keys.
//!
//! Only the fields whose behaviour differs from the default are listed.  The
//! defaults are: a JSON object is a struct whose keys are declared fields and
//! that merges key by key; a JSON array is atomic (replaced as a whole by a
//! strategic merge patch, owned as one leaf by server-side apply).  A list
//! that has `patchStrategy:"merge"` but no `+listType` is treated by
//! server-side apply as a set, or as a map keyed by its merge key, like the
//! OpenAPI to structured-merge-diff converter does.

use serde_json::{json, Value};

/// The `patchStrategy` struct tag of a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchStrategy {
    /// No tag: objects merge key by key, lists are replaced.
    Default,
    /// `merge`: lists merge (by merge key, or as a set of primitives).
    Merge,
    /// `retainKeys`: the client sends a `$retainKeys` list for this object.
    RetainKeys,
    /// `merge,retainKeys`.
    MergeRetainKeys,
    /// `replace`: the value is replaced as a whole.
    Replace,
}

impl PatchStrategy {
    /// The strategy that decides how a list or map merges, with
    /// `retainKeys` split off (what `extractRetainKeysPatchStrategy` yields).
    pub fn merge_part(self) -> PatchStrategy {
        match self {
            PatchStrategy::MergeRetainKeys => PatchStrategy::Merge,
            PatchStrategy::RetainKeys => PatchStrategy::Default,
            other => other,
        }
    }

    /// Whether the tag includes `retainKeys`.
    pub fn retain_keys(self) -> bool {
        matches!(
            self,
            PatchStrategy::RetainKeys | PatchStrategy::MergeRetainKeys
        )
    }

    /// The tag text as written on the Go field.
    pub fn as_tag(self) -> &'static str {
        match self {
            PatchStrategy::Default => "",
            PatchStrategy::Merge => "merge",
            PatchStrategy::RetainKeys => "retainKeys",
            PatchStrategy::MergeRetainKeys => "merge,retainKeys",
            PatchStrategy::Replace => "replace",
        }
    }
}

/// The server-side apply shape of a list (`+listType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListType {
    /// Replaced and owned as a whole.
    Atomic,
    /// A set of scalars: each value is an item (`v:<json>`).
    Set,
    /// A map keyed by `keys` (`k:{...}`).
    Map,
}

/// Everything known about one list field.
#[derive(Debug)]
pub struct ListSchema {
    pub list_type: ListType,
    /// `+listMapKey`s, in declaration order (server-side apply).
    pub keys: &'static [&'static str],
    /// Defaults of key fields (`+default=`), used when an item omits them.
    pub key_defaults: &'static [(&'static str, &'static str)],
    /// `patchStrategy` tag (strategic merge patch).
    pub patch_strategy: PatchStrategy,
    /// `patchMergeKey` tag (strategic merge patch).
    pub patch_merge_key: Option<&'static str>,
    /// The item type when it has non-default fields itself.
    pub elem: Option<&'static TypeDef>,
}

/// How a declared field behaves.
#[derive(Debug)]
pub enum FieldType {
    /// A nested struct; `ty` is `None` when nothing in it is special.
    Struct {
        ty: Option<&'static TypeDef>,
        patch_strategy: PatchStrategy,
    },
    /// A free-form map (`map[string]...`): its keys are not declared fields.
    Map { atomic: bool },
    /// A list.
    List(ListSchema),
}

/// A declared field with non-default behaviour.
#[derive(Debug)]
pub struct FieldDef {
    pub name: &'static str,
    pub ty: FieldType,
}

/// A Go struct type.
#[derive(Debug)]
pub struct TypeDef {
    pub name: &'static str,
    /// `+structType=atomic`.
    pub atomic: bool,
    pub fields: &'static [FieldDef],
}

/// A position in an object's schema, walked from the root.
#[derive(Clone, Copy, Debug)]
pub enum Node {
    /// A struct: its keys are declared fields.  `None` when every field of
    /// it has the default behaviour (or the type is unknown).
    Struct(Option<&'static TypeDef>),
    /// A free-form string-keyed map (labels, annotations, data...).
    Map { atomic: bool },
    /// A list.
    List(&'static ListSchema),
}

/// What a field is, from its parent's point of view.
#[derive(Clone, Copy, Debug)]
pub struct Field {
    pub node: Node,
    pub patch_strategy: PatchStrategy,
    pub patch_merge_key: Option<&'static str>,
}

const PLAIN: Field = Field {
    node: Node::Struct(None),
    patch_strategy: PatchStrategy::Default,
    patch_merge_key: None,
};

impl Node {
    /// The field `name` of this node (for a map, its values).
    pub fn field(&self, name: &str) -> Field {
        match self {
            Node::Struct(Some(td)) => match td.fields.iter().find(|f| f.name == name) {
                Some(fd) => match &fd.ty {
                    FieldType::Struct { ty, patch_strategy } => Field {
                        node: Node::Struct(*ty),
                        patch_strategy: *patch_strategy,
                        patch_merge_key: None,
                    },
                    FieldType::Map { atomic } => Field {
                        node: Node::Map { atomic: *atomic },
                        patch_strategy: PatchStrategy::Default,
                        patch_merge_key: None,
                    },
                    FieldType::List(ls) => Field {
                        node: Node::List(ls),
                        patch_strategy: ls.patch_strategy,
                        patch_merge_key: ls.patch_merge_key,
                    },
                },
                None => PLAIN,
            },
            _ => PLAIN,
        }
    }

    /// The item node of a list (a plain struct for anything else).
    pub fn elem(&self) -> Node {
        match self {
            Node::List(ls) => Node::Struct(ls.elem),
            _ => Node::Struct(None),
        }
    }

    /// Whether server-side apply treats the whole value as one leaf.
    pub fn is_atomic(&self) -> bool {
        match self {
            Node::Struct(Some(td)) => td.atomic,
            Node::Struct(None) => false,
            Node::Map { atomic } => *atomic,
            Node::List(ls) => ls.list_type == ListType::Atomic,
        }
    }

    /// Whether the keys of an object at this node are declared fields
    /// (structs) rather than free-form map keys.
    pub fn has_named_fields(&self) -> bool {
        matches!(self, Node::Struct(_))
    }

    /// The list schema, for list nodes.
    pub fn list(&self) -> Option<&'static ListSchema> {
        match self {
            Node::List(ls) => Some(ls),
            _ => None,
        }
    }
}

/// The schema root of `kind`.  Unknown kinds get a plain struct: objects
/// merge key by key and every list is atomic (strategic merge patch then
/// behaves like JSON merge patch).
pub fn root(kind: &str) -> Node {
    Node::Struct(kind_def(kind))
}

/// The schema root used by server-side apply: like [`root`], except that
/// unknown kinds (custom resources) still get `metadata` as an ObjectMeta,
/// as their OpenAPI schema would declare it.
pub fn apply_root(kind: &str) -> Node {
    match kind_def(kind) {
        Some(td) => Node::Struct(Some(td)),
        None => Node::Struct(Some(&GENERIC_OBJECT)),
    }
}

/// Whether `kind` has merge metadata here.
pub fn is_known_kind(kind: &str) -> bool {
    kind_def(kind).is_some()
}

/// What the field at `path` (field names only; list indices and keys are
/// skipped) of an object of `kind` is.
pub fn lookup(kind: &str, path: &[&str]) -> Field {
    let mut field = Field {
        node: apply_root(kind),
        patch_strategy: PatchStrategy::Default,
        patch_merge_key: None,
    };
    for name in path {
        let node = match field.node {
            Node::List(_) => field.node.elem(),
            other => other,
        };
        field = node.field(name);
    }
    field
}

/// Fields the registry strategy resets (and the field manager ignores) for
/// writes to the main resource (`subresource` `None`) or to a subresource.
pub fn reset_fields(kind: &str, subresource: Option<&str>) -> Vec<Vec<&'static str>> {
    let has_status = crate::registry::catalog()
        .all()
        .iter()
        .any(|d| d.kind == kind && d.has_status());
    match subresource {
        None | Some("") => {
            if has_status {
                vec![vec!["status"]]
            } else {
                Vec::new()
            }
        }
        Some("status") => match kind {
            "Pod" => vec![
                vec!["spec"],
                vec!["metadata", "deletionTimestamp"],
                vec!["metadata", "ownerReferences"],
            ],
            "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet" => {
                vec![vec!["spec"], vec!["metadata", "labels"]]
            }
            _ => vec![vec!["spec"]],
        },
        Some(_) => Vec::new(),
    }
}

/// The JSON form of a zero-valued object of `kind` (what the Go type
/// serializes to when nothing is set): the "live" object of a create, for
/// field ownership tracking.  Fields that are not `omitempty` show up as
/// `null` or empty objects, which decides where `.` markers appear.
pub fn empty_object(kind: &str) -> Value {
    let template = json!({"metadata": {"creationTimestamp": null}, "spec": {"containers": null}});
    match kind {
        "Pod" => {
            json!({"metadata": {"creationTimestamp": null}, "spec": {"containers": null}, "status": {}})
        }
        "Service" => {
            json!({"metadata": {"creationTimestamp": null}, "spec": {}, "status": {"loadBalancer": {}}})
        }
        "Deployment" => json!({
            "metadata": {"creationTimestamp": null},
            "spec": {"selector": null, "template": template, "strategy": {}},
            "status": {}
        }),
        "ReplicaSet" => json!({
            "metadata": {"creationTimestamp": null},
            "spec": {"selector": null, "template": template},
            "status": {"replicas": 0}
        }),
        "PodTemplate" => json!({"metadata": {"creationTimestamp": null}, "template": template}),
        "StatefulSet" | "DaemonSet" | "ReplicationController" => json!({
            "metadata": {"creationTimestamp": null},
            "spec": {"selector": null, "template": template},
            "status": {}
        }),
        "Job" => json!({
            "metadata": {"creationTimestamp": null},
            "spec": {"template": template},
            "status": {}
        }),
        "CronJob" => json!({
            "metadata": {"creationTimestamp": null},
            "spec": {"schedule": "", "jobTemplate": {"metadata": {"creationTimestamp": null},
                     "spec": {"template": template}}},
            "status": {}
        }),
        "EndpointSlice" => json!({
            "metadata": {"creationTimestamp": null},
            "addressType": "",
            "endpoints": null,
            "ports": null
        }),
        "Node" | "Namespace" => {
            json!({"metadata": {"creationTimestamp": null}, "spec": {}, "status": {}})
        }
        "Event" => json!({
            "metadata": {"creationTimestamp": null},
            "involvedObject": {},
            "source": {},
            "firstTimestamp": null,
            "lastTimestamp": null,
            "eventTime": null,
            "reportingComponent": "",
            "reportingInstance": ""
        }),
        "Lease" => json!({"metadata": {"creationTimestamp": null}, "spec": {}}),
        _ => json!({"metadata": {"creationTimestamp": null}}),
    }
}

fn kind_def(kind: &str) -> Option<&'static TypeDef> {
    Some(match kind {
        "Pod" => &POD,
        "Service" => &SERVICE,
        "Deployment" => &DEPLOYMENT,
        "ReplicaSet" => &REPLICA_SET,
        "Endpoints" => &ENDPOINTS,
        "EndpointSlice" => &ENDPOINT_SLICE,
        "Node" => &NODE,
        "Namespace" => &NAMESPACE,
        "ConfigMap" => &CONFIG_MAP,
        "Secret" => &SECRET,
        "ServiceAccount" => &SERVICE_ACCOUNT,
        "Event" => &EVENT,
        "Lease" => &LEASE,
        "PodTemplate" => &POD_TEMPLATE,
        "StatefulSet" => &STATEFUL_SET,
        "DaemonSet" => &DAEMON_SET,
        "Job" => &JOB,
        "CronJob" => &CRON_JOB,
        "ReplicationController" => &REPLICATION_CONTROLLER,
        _ => return None,
    })
}

// ---------------------------------------------------------------------------
// Table helpers.

const fn strukt(name: &'static str, ty: &'static TypeDef) -> FieldDef {
    FieldDef {
        name,
        ty: FieldType::Struct {
            ty: Some(ty),
            patch_strategy: PatchStrategy::Default,
        },
    }
}

const fn map(name: &'static str) -> FieldDef {
    FieldDef {
        name,
        ty: FieldType::Map { atomic: false },
    }
}

const fn atomic_map(name: &'static str) -> FieldDef {
    FieldDef {
        name,
        ty: FieldType::Map { atomic: true },
    }
}

/// A list keyed by `keys` for apply; merged on `merge_key` by strategic
/// merge patch when `strategy` says so.
const fn keyed(
    name: &'static str,
    keys: &'static [&'static str],
    strategy: PatchStrategy,
    merge_key: Option<&'static str>,
    elem: Option<&'static TypeDef>,
) -> FieldDef {
    keyed_with_defaults(name, keys, &[], strategy, merge_key, elem)
}

const fn keyed_with_defaults(
    name: &'static str,
    keys: &'static [&'static str],
    key_defaults: &'static [(&'static str, &'static str)],
    strategy: PatchStrategy,
    merge_key: Option<&'static str>,
    elem: Option<&'static TypeDef>,
) -> FieldDef {
    FieldDef {
        name,
        ty: FieldType::List(ListSchema {
            list_type: ListType::Map,
            keys,
            key_defaults,
            patch_strategy: strategy,
            patch_merge_key: merge_key,
            elem,
        }),
    }
}

/// An atomic list (what an unlisted list is anyway; listed where the brief
/// or readers look for it).
const fn atomic_list(name: &'static str) -> FieldDef {
    FieldDef {
        name,
        ty: FieldType::List(ListSchema {
            list_type: ListType::Atomic,
            keys: &[],
            key_defaults: &[],
            patch_strategy: PatchStrategy::Default,
            patch_merge_key: None,
            elem: None,
        }),
    }
}

/// A set of scalars.
const fn set(name: &'static str, strategy: PatchStrategy) -> FieldDef {
    FieldDef {
        name,
        ty: FieldType::List(ListSchema {
            list_type: ListType::Set,
            keys: &[],
            key_defaults: &[],
            patch_strategy: strategy,
            patch_merge_key: None,
            elem: None,
        }),
    }
}

/// An atomic list that strategic merge patch nevertheless merges.
const fn atomic_merged(name: &'static str, merge_key: &'static str) -> FieldDef {
    FieldDef {
        name,
        ty: FieldType::List(ListSchema {
            list_type: ListType::Atomic,
            keys: &[],
            key_defaults: &[],
            patch_strategy: PatchStrategy::Merge,
            patch_merge_key: Some(merge_key),
            elem: None,
        }),
    }
}

const fn typedef(name: &'static str, fields: &'static [FieldDef]) -> TypeDef {
    TypeDef {
        name,
        atomic: false,
        fields,
    }
}

const fn atomic_struct(name: &'static str) -> TypeDef {
    TypeDef {
        name,
        atomic: true,
        fields: &[],
    }
}

use PatchStrategy::{Default as NoStrategy, Merge, MergeRetainKeys};

const TCP: &[(&str, &str)] = &[("protocol", "TCP")];

// ---------------------------------------------------------------------------
// meta/v1

static OBJECT_META: TypeDef = typedef(
    "ObjectMeta",
    &[
        map("labels"),
        map("annotations"),
        keyed(
            "ownerReferences",
            &["uid"],
            Merge,
            Some("uid"),
            Some(&OWNER_REFERENCE),
        ),
        set("finalizers", Merge),
        atomic_list("managedFields"),
    ],
);
static OWNER_REFERENCE: TypeDef = atomic_struct("OwnerReference");
static LABEL_SELECTOR: TypeDef = TypeDef {
    name: "LabelSelector",
    atomic: true,
    fields: &[map("matchLabels")],
};
static CONDITION_LISTS: [FieldDef; 1] = [keyed("conditions", &["type"], Merge, Some("type"), None)];

// A custom resource: only its metadata is known.
static GENERIC_OBJECT: TypeDef = typedef("Object", &[strukt("metadata", &OBJECT_META)]);

// ---------------------------------------------------------------------------
// core/v1: references and selectors

static OBJECT_REFERENCE: TypeDef = atomic_struct("ObjectReference");
static LOCAL_OBJECT_REFERENCE: TypeDef = atomic_struct("LocalObjectReference");
static TYPED_LOCAL_OBJECT_REFERENCE: TypeDef = atomic_struct("TypedLocalObjectReference");
static OBJECT_FIELD_SELECTOR: TypeDef = atomic_struct("ObjectFieldSelector");
static RESOURCE_FIELD_SELECTOR: TypeDef = atomic_struct("ResourceFieldSelector");
static CONFIG_MAP_KEY_SELECTOR: TypeDef = atomic_struct("ConfigMapKeySelector");
static SECRET_KEY_SELECTOR: TypeDef = atomic_struct("SecretKeySelector");
static FILE_KEY_SELECTOR: TypeDef = atomic_struct("FileKeySelector");
static NODE_SELECTOR: TypeDef = atomic_struct("NodeSelector");
static EVICTION_RESPONDER: TypeDef = atomic_struct("EvictionResponder");

// ---------------------------------------------------------------------------
// core/v1: PodSpec and what it embeds

static POD_TEMPLATE_SPEC: TypeDef = typedef(
    "PodTemplateSpec",
    &[strukt("metadata", &OBJECT_META), strukt("spec", &POD_SPEC)],
);

static POD_SPEC: TypeDef = typedef(
    "PodSpec",
    &[
        keyed(
            "volumes",
            &["name"],
            MergeRetainKeys,
            Some("name"),
            Some(&VOLUME),
        ),
        keyed(
            "initContainers",
            &["name"],
            Merge,
            Some("name"),
            Some(&CONTAINER),
        ),
        keyed(
            "containers",
            &["name"],
            Merge,
            Some("name"),
            Some(&CONTAINER),
        ),
        keyed(
            "ephemeralContainers",
            &["name"],
            Merge,
            Some("name"),
            Some(&CONTAINER),
        ),
        atomic_map("nodeSelector"),
        atomic_list("tolerations"),
        atomic_list("readinessGates"),
        keyed_with_defaults(
            "imagePullSecrets",
            &["name"],
            &[("name", "")],
            Merge,
            Some("name"),
            Some(&LOCAL_OBJECT_REFERENCE),
        ),
        strukt("affinity", &AFFINITY),
        keyed("hostAliases", &["ip"], Merge, Some("ip"), None),
        map("overhead"),
        keyed(
            "topologySpreadConstraints",
            &["topologyKey", "whenUnsatisfiable"],
            Merge,
            Some("topologyKey"),
            Some(&TOPOLOGY_SPREAD_CONSTRAINT),
        ),
        keyed("schedulingGates", &["name"], Merge, Some("name"), None),
        keyed(
            "resourceClaims",
            &["name"],
            MergeRetainKeys,
            Some("name"),
            None,
        ),
        strukt("resources", &RESOURCE_REQUIREMENTS),
        keyed(
            "evictionResponders",
            &["name"],
            Merge,
            Some("name"),
            Some(&EVICTION_RESPONDER),
        ),
    ],
);

// Container and EphemeralContainer share these fields.
static CONTAINER: TypeDef = typedef(
    "Container",
    &[
        keyed_with_defaults(
            "ports",
            &["containerPort", "protocol"],
            TCP,
            Merge,
            Some("containerPort"),
            None,
        ),
        keyed("env", &["name"], Merge, Some("name"), Some(&ENV_VAR)),
        atomic_list("envFrom"),
        atomic_list("command"),
        atomic_list("args"),
        strukt("resources", &RESOURCE_REQUIREMENTS),
        keyed(
            "volumeMounts",
            &["mountPath"],
            Merge,
            Some("mountPath"),
            Some(&VOLUME_MOUNT),
        ),
        keyed(
            "volumeDevices",
            &["devicePath"],
            Merge,
            Some("devicePath"),
            None,
        ),
    ],
);

static ENV_VAR: TypeDef = typedef("EnvVar", &[strukt("valueFrom", &ENV_VAR_SOURCE)]);
static ENV_VAR_SOURCE: TypeDef = typedef(
    "EnvVarSource",
    &[
        strukt("fieldRef", &OBJECT_FIELD_SELECTOR),
        strukt("resourceFieldRef", &RESOURCE_FIELD_SELECTOR),
        strukt("configMapKeyRef", &CONFIG_MAP_KEY_SELECTOR),
        strukt("secretKeyRef", &SECRET_KEY_SELECTOR),
        strukt("fileKeyRef", &FILE_KEY_SELECTOR),
    ],
);
static VOLUME_MOUNT: TypeDef = typedef("VolumeMount", &[set("bindMountOptions", NoStrategy)]);
static RESOURCE_REQUIREMENTS: TypeDef = typedef(
    "ResourceRequirements",
    &[
        map("limits"),
        map("requests"),
        keyed("claims", &["name"], NoStrategy, None, None),
    ],
);
static AFFINITY: TypeDef = typedef("Affinity", &[strukt("nodeAffinity", &NODE_AFFINITY)]);
static NODE_AFFINITY: TypeDef = typedef(
    "NodeAffinity",
    &[strukt(
        "requiredDuringSchedulingIgnoredDuringExecution",
        &NODE_SELECTOR,
    )],
);
static TOPOLOGY_SPREAD_CONSTRAINT: TypeDef = typedef(
    "TopologySpreadConstraint",
    &[strukt("labelSelector", &LABEL_SELECTOR)],
);

// Volume embeds VolumeSource inline.
static VOLUME: TypeDef = typedef(
    "Volume",
    &[
        strukt("iscsi", &SECRET_REF_SOURCE),
        strukt("rbd", &SECRET_REF_SOURCE),
        strukt("flexVolume", &FLEX_VOLUME_SOURCE),
        strukt("cinder", &SECRET_REF_SOURCE),
        strukt("cephfs", &SECRET_REF_SOURCE),
        strukt("scaleIO", &SECRET_REF_SOURCE),
        strukt("storageos", &SECRET_REF_SOURCE),
        strukt("csi", &CSI_VOLUME_SOURCE),
        strukt("ephemeral", &EPHEMERAL_VOLUME_SOURCE),
    ],
);
// The volume sources whose only special field is an atomic `secretRef`.
static SECRET_REF_SOURCE: TypeDef = typedef(
    "VolumeSourceWithSecretRef",
    &[strukt("secretRef", &LOCAL_OBJECT_REFERENCE)],
);
static FLEX_VOLUME_SOURCE: TypeDef = typedef(
    "FlexVolumeSource",
    &[strukt("secretRef", &LOCAL_OBJECT_REFERENCE), map("options")],
);
static CSI_VOLUME_SOURCE: TypeDef = typedef(
    "CSIVolumeSource",
    &[
        map("volumeAttributes"),
        strukt("nodePublishSecretRef", &LOCAL_OBJECT_REFERENCE),
    ],
);
static EPHEMERAL_VOLUME_SOURCE: TypeDef = typedef(
    "EphemeralVolumeSource",
    &[strukt("volumeClaimTemplate", &PVC_TEMPLATE)],
);
static PVC_TEMPLATE: TypeDef = typedef(
    "PersistentVolumeClaimTemplate",
    &[strukt("metadata", &OBJECT_META), strukt("spec", &PVC_SPEC)],
);
static PVC_SPEC: TypeDef = typedef(
    "PersistentVolumeClaimSpec",
    &[
        strukt("selector", &LABEL_SELECTOR),
        strukt("resources", &VOLUME_RESOURCE_REQUIREMENTS),
        strukt("dataSource", &TYPED_LOCAL_OBJECT_REFERENCE),
    ],
);
static VOLUME_RESOURCE_REQUIREMENTS: TypeDef = typedef(
    "VolumeResourceRequirements",
    &[map("limits"), map("requests")],
);

static POD_STATUS: TypeDef = typedef(
    "PodStatus",
    &[
        keyed("conditions", &["type"], Merge, Some("type"), None),
        atomic_merged("hostIPs", "ip"),
        atomic_list("initContainerStatuses"),
        atomic_list("containerStatuses"),
        atomic_list("ephemeralContainerStatuses"),
        keyed("podIPs", &["ip"], Merge, Some("ip"), None),
        keyed(
            "resourceClaimStatuses",
            &["name"],
            MergeRetainKeys,
            Some("name"),
            None,
        ),
        map("allocatedResources"),
        strukt("resources", &RESOURCE_REQUIREMENTS),
        keyed(
            "nodeAllocatableResourceClaimStatuses",
            &["resourceClaimName"],
            Merge,
            Some("resourceClaimName"),
            Some(&NODE_ALLOCATABLE_CLAIM_STATUS),
        ),
        keyed(
            "volumeHealth",
            &["name"],
            NoStrategy,
            None,
            Some(&POD_VOLUME_HEALTH),
        ),
    ],
);
static NODE_ALLOCATABLE_CLAIM_STATUS: TypeDef = typedef(
    "NodeAllocatableResourceClaimStatus",
    &[
        set("containers", NoStrategy),
        keyed("mapping", &["name"], Merge, Some("name"), None),
        keyed("overhead", &["name"], Merge, Some("name"), None),
    ],
);
static POD_VOLUME_HEALTH: TypeDef = typedef(
    "PodVolumeHealth",
    &[keyed(
        "healthConditions",
        &["status", "reason"],
        Merge,
        Some("status"),
        None,
    )],
);

// ---------------------------------------------------------------------------
// The kinds

static POD: TypeDef = typedef(
    "Pod",
    &[
        strukt("metadata", &OBJECT_META),
        strukt("spec", &POD_SPEC),
        strukt("status", &POD_STATUS),
    ],
);

static POD_TEMPLATE: TypeDef = typedef(
    "PodTemplate",
    &[
        strukt("metadata", &OBJECT_META),
        strukt("template", &POD_TEMPLATE_SPEC),
    ],
);

static SERVICE: TypeDef = typedef(
    "Service",
    &[
        strukt("metadata", &OBJECT_META),
        strukt("spec", &SERVICE_SPEC),
        strukt("status", &CONDITIONED_STATUS),
    ],
);
static SERVICE_SPEC: TypeDef = typedef(
    "ServiceSpec",
    &[
        keyed_with_defaults(
            "ports",
            &["port", "protocol"],
            TCP,
            Merge,
            Some("port"),
            None,
        ),
        atomic_map("selector"),
        atomic_list("clusterIPs"),
        atomic_list("externalIPs"),
        atomic_list("ipFamilies"),
        atomic_list("loadBalancerSourceRanges"),
    ],
);
// ServiceStatus, NamespaceStatus, DeploymentStatus, ReplicaSetStatus: only
// their conditions are special.
static CONDITIONED_STATUS: TypeDef = typedef("Status", &CONDITION_LISTS);

static DEPLOYMENT: TypeDef = typedef(
    "Deployment",
    &[
        strukt("metadata", &OBJECT_META),
        strukt("spec", &DEPLOYMENT_SPEC),
        strukt("status", &CONDITIONED_STATUS),
    ],
);
static DEPLOYMENT_SPEC: TypeDef = typedef(
    "DeploymentSpec",
    &[
        strukt("selector", &LABEL_SELECTOR),
        strukt("template", &POD_TEMPLATE_SPEC),
        FieldDef {
            name: "strategy",
            ty: FieldType::Struct {
                ty: None,
                patch_strategy: PatchStrategy::RetainKeys,
            },
        },
    ],
);

static REPLICA_SET: TypeDef = typedef(
    "ReplicaSet",
    &[
        strukt("metadata", &OBJECT_META),
        strukt("spec", &REPLICA_SET_SPEC),
        strukt("status", &CONDITIONED_STATUS),
    ],
);
static REPLICA_SET_SPEC: TypeDef = typedef(
    "ReplicaSetSpec",
    &[
        strukt("selector", &LABEL_SELECTOR),
        strukt("template", &POD_TEMPLATE_SPEC),
    ],
);

// The other workloads: their pod templates merge as a Deployment's does.
static STATEFUL_SET: TypeDef = typedef(
    "StatefulSet",
    &[
        strukt("metadata", &OBJECT_META),
        strukt("spec", &STATEFUL_SET_SPEC),
        strukt("status", &CONDITIONED_STATUS),
    ],
);
static STATEFUL_SET_SPEC: TypeDef = typedef(
    "StatefulSetSpec",
    &[
        strukt("selector", &LABEL_SELECTOR),
        strukt("template", &POD_TEMPLATE_SPEC),
        atomic_list("volumeClaimTemplates"),
    ],
);

static DAEMON_SET: TypeDef = typedef(
    "DaemonSet",
    &[
        strukt("metadata", &OBJECT_META),
        strukt("spec", &WORKLOAD_SPEC),
        strukt("status", &CONDITIONED_STATUS),
    ],
);
/// DaemonSetSpec and JobSpec: a selector and a pod template.
static WORKLOAD_SPEC: TypeDef = typedef(
    "WorkloadSpec",
    &[
        strukt("selector", &LABEL_SELECTOR),
        strukt("template", &POD_TEMPLATE_SPEC),
    ],
);

static JOB: TypeDef = typedef(
    "Job",
    &[
        strukt("metadata", &OBJECT_META),
        strukt("spec", &WORKLOAD_SPEC),
        strukt("status", &CONDITIONED_STATUS),
    ],
);

static CRON_JOB: TypeDef = typedef(
    "CronJob",
    &[
        strukt("metadata", &OBJECT_META),
        strukt("spec", &CRON_JOB_SPEC),
    ],
);
static CRON_JOB_SPEC: TypeDef = typedef("CronJobSpec", &[strukt("jobTemplate", &JOB_TEMPLATE)]);
static JOB_TEMPLATE: TypeDef = typedef(
    "JobTemplateSpec",
    &[
        strukt("metadata", &OBJECT_META),
        strukt("spec", &WORKLOAD_SPEC),
    ],
);

static REPLICATION_CONTROLLER: TypeDef = typedef(
    "ReplicationController",
    &[
        strukt("metadata", &OBJECT_META),
        strukt("spec", &REPLICATION_CONTROLLER_SPEC),
        strukt("status", &CONDITIONED_STATUS),
    ],
);
static REPLICATION_CONTROLLER_SPEC: TypeDef = typedef(
    "ReplicationControllerSpec",
    &[
        atomic_map("selector"),
        strukt("template", &POD_TEMPLATE_SPEC),
    ],
);

// Endpoints.subsets and EndpointSlice.endpoints/ports are atomic lists.
static ENDPOINTS: TypeDef = typedef(
    "Endpoints",
    &[strukt("metadata", &OBJECT_META), atomic_list("subsets")],
);
static ENDPOINT_SLICE: TypeDef = typedef(
    "EndpointSlice",
    &[
        strukt("metadata", &OBJECT_META),
        atomic_list("endpoints"),
        atomic_list("ports"),
    ],
);

static NODE: TypeDef = typedef(
    "Node",
    &[
        strukt("metadata", &OBJECT_META),
        strukt("spec", &NODE_SPEC),
        strukt("status", &NODE_STATUS),
    ],
);
static NODE_SPEC: TypeDef = typedef(
    "NodeSpec",
    &[
        set("podCIDRs", Merge),
        atomic_list("taints"),
        strukt("podPreemptionPolicy", &NODE_POD_PREEMPTION_POLICY),
    ],
);
static NODE_POD_PREEMPTION_POLICY: TypeDef = typedef(
    "NodePodPreemptionPolicy",
    &[set("disableResizePreemption", NoStrategy)],
);
static NODE_STATUS: TypeDef = typedef(
    "NodeStatus",
    &[
        map("capacity"),
        map("allocatable"),
        keyed("conditions", &["type"], Merge, Some("type"), None),
        keyed("addresses", &["type"], Merge, Some("type"), None),
        atomic_list("images"),
        atomic_list("volumesInUse"),
        atomic_list("volumesAttached"),
    ],
);

static NAMESPACE: TypeDef = typedef(
    "Namespace",
    &[
        strukt("metadata", &OBJECT_META),
        strukt("spec", &NAMESPACE_SPEC),
        strukt("status", &CONDITIONED_STATUS),
    ],
);
static NAMESPACE_SPEC: TypeDef = typedef("NamespaceSpec", &[atomic_list("finalizers")]);

static CONFIG_MAP: TypeDef = typedef(
    "ConfigMap",
    &[
        strukt("metadata", &OBJECT_META),
        map("data"),
        map("binaryData"),
    ],
);

static SECRET: TypeDef = typedef(
    "Secret",
    &[
        strukt("metadata", &OBJECT_META),
        map("data"),
        map("stringData"),
    ],
);

static SERVICE_ACCOUNT: TypeDef = typedef(
    "ServiceAccount",
    &[
        strukt("metadata", &OBJECT_META),
        keyed(
            "secrets",
            &["name"],
            Merge,
            Some("name"),
            Some(&OBJECT_REFERENCE),
        ),
        atomic_list("imagePullSecrets"),
    ],
);

// core/v1 Event (involvedObject, related) and events.k8s.io/v1 Event
// (regarding, related) share the kind name.
static EVENT: TypeDef = typedef(
    "Event",
    &[
        strukt("metadata", &OBJECT_META),
        strukt("involvedObject", &OBJECT_REFERENCE),
        strukt("regarding", &OBJECT_REFERENCE),
        strukt("related", &OBJECT_REFERENCE),
    ],
);

static LEASE: TypeDef = typedef("Lease", &[strukt("metadata", &OBJECT_META)]);

#[cfg(test)]
mod tests {
    use super::*;

    fn list_of(kind: &str, path: &[&str]) -> &'static ListSchema {
        match lookup(kind, path).node {
            Node::List(ls) => ls,
            other => panic!("{kind} {path:?} is not a list: {other:?}"),
        }
    }

    #[test]
    fn pod_spec_is_shared_by_workloads() {
        for (kind, prefix) in [
            ("Pod", vec!["spec"]),
            ("Deployment", vec!["spec", "template", "spec"]),
            ("ReplicaSet", vec!["spec", "template", "spec"]),
            ("PodTemplate", vec!["template", "spec"]),
            ("StatefulSet", vec!["spec", "template", "spec"]),
            ("DaemonSet", vec!["spec", "template", "spec"]),
            ("Job", vec!["spec", "template", "spec"]),
            ("ReplicationController", vec!["spec", "template", "spec"]),
            (
                "CronJob",
                vec!["spec", "jobTemplate", "spec", "template", "spec"],
            ),
        ] {
            let mut p = prefix.clone();
            p.push("containers");
            let c = list_of(kind, &p);
            assert_eq!(c.list_type, ListType::Map);
            assert_eq!(c.keys, ["name"]);
            assert_eq!(c.patch_merge_key, Some("name"));
            assert_eq!(c.patch_strategy, PatchStrategy::Merge);
            p.push("ports");
            let ports = list_of(kind, &p);
            assert_eq!(ports.keys, ["containerPort", "protocol"]);
            assert_eq!(ports.patch_merge_key, Some("containerPort"));
            assert_eq!(ports.key_defaults, [("protocol", "TCP")]);
            p.pop();
            p.push("envFrom");
            assert_eq!(list_of(kind, &p).list_type, ListType::Atomic);
            p.pop();
            p.pop();
            p.push("volumes");
            let v = list_of(kind, &p);
            assert_eq!(v.patch_strategy, PatchStrategy::MergeRetainKeys);
            assert_eq!(v.patch_merge_key, Some("name"));
            p.pop();
            p.push("tolerations");
            let t = lookup(kind, &p);
            assert!(t.node.is_atomic());
            assert_eq!(t.patch_strategy, PatchStrategy::Default);
        }
    }

    #[test]
    fn metadata_lists() {
        let f = list_of("ConfigMap", &["metadata", "finalizers"]);
        assert_eq!(f.list_type, ListType::Set);
        assert_eq!(f.patch_strategy, PatchStrategy::Merge);
        let o = list_of("Widget", &["metadata", "ownerReferences"]);
        assert_eq!(o.keys, ["uid"]);
        assert!(lookup("Pod", &["metadata", "managedFields"])
            .node
            .is_atomic());
        assert!(!lookup("Pod", &["metadata", "labels"])
            .node
            .has_named_fields());
    }

    #[test]
    fn service_endpoints_node() {
        let p = list_of("Service", &["spec", "ports"]);
        assert_eq!(p.keys, ["port", "protocol"]);
        assert_eq!(p.patch_merge_key, Some("port"));
        assert!(lookup("Service", &["spec", "selector"]).node.is_atomic());
        assert!(lookup("Endpoints", &["subsets"]).node.is_atomic());
        assert_eq!(
            lookup("Endpoints", &["subsets"]).patch_strategy,
            PatchStrategy::Default
        );
        assert_eq!(list_of("Node", &["status", "addresses"]).keys, ["type"]);
        assert!(lookup("Node", &["spec", "taints"]).node.is_atomic());
        assert_eq!(
            lookup("Deployment", &["spec", "strategy"]).patch_strategy,
            PatchStrategy::RetainKeys
        );
        assert!(lookup("Deployment", &["spec", "selector"]).node.is_atomic());
        assert_eq!(list_of("Pod", &["status", "conditions"]).keys, ["type"]);
        let host_ips = list_of("Pod", &["status", "hostIPs"]);
        assert_eq!(host_ips.list_type, ListType::Atomic);
        assert_eq!(host_ips.patch_merge_key, Some("ip"));
    }
}
