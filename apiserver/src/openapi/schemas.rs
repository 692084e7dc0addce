//! Component schemas, generated from the `schemars::JsonSchema`
//! implementations that k8s-openapi ships behind its `schemars` feature.
//!
//! k8s-openapi names every schema the way kube-apiserver names its
//! definitions (`io.k8s.api.core.v1.Service`) and keeps the upstream
//! descriptions, so the documents read like kube-apiserver's. What the crate
//! does not carry is added here: the `x-kubernetes-group-version-kind`
//! extension on top-level kinds, the `<Kind>List` wrappers, and a permissive
//! schema for kinds k8s-openapi does not know.

use super::Gvk;
use k8s_openapi::schemars::generate::SchemaSettings;
use k8s_openapi::schemars::transform::{AddNullable, RemoveRefSiblings};
use k8s_openapi::schemars::{JsonSchema, Schema, SchemaGenerator};
use k8s_openapi::Resource;
use serde_json::{json, Map, Value};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

/// Which document the schemas are for: Swagger 2.0 (`/openapi/v2`) or
/// OpenAPI 3.0 (`/openapi/v3/...`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Format {
    V2,
    V3,
}

impl Format {
    /// Prefix of a `$ref` to a component schema.
    pub(super) fn ref_prefix(self) -> &'static str {
        match self {
            Format::V2 => "#/definitions/",
            Format::V3 => "#/components/schemas/",
        }
    }

    pub(super) fn schema_ref(self, name: &str) -> Value {
        json!({ "$ref": format!("{}{name}", self.ref_prefix()) })
    }

    /// A reference that carries its own description. Swagger 2.0 documents
    /// (like kube-apiserver's) keep the description beside `$ref`; OpenAPI 3.0
    /// ignores siblings of `$ref`, so the reference goes into `allOf`.
    fn described_ref(self, name: &str, description: &str) -> Value {
        match self {
            Format::V2 => {
                json!({
                    "$ref": format!("{}{name}", self.ref_prefix()),
                    "description": description,
                })
            }
            Format::V3 => json!({ "allOf": [self.schema_ref(name)], "description": description }),
        }
    }
}

/// A Rust type of k8s-openapi that is a Kubernetes kind, with its schema.
struct Known {
    gvk: Gvk,
    name: fn() -> Cow<'static, str>,
    schema: fn(&mut SchemaGenerator) -> Schema,
}

fn known<T: Resource + JsonSchema>() -> Known {
    Known {
        gvk: Gvk {
            group: T::GROUP,
            version: T::VERSION,
            kind: T::KIND,
        },
        name: T::schema_name,
        schema: SchemaGenerator::subschema_for::<T>,
    }
}

/// Kinds whose schema comes from k8s-openapi: the served ones, the kinds of
/// their subresources, and the other stable built-in kinds so that serving
/// one more resource needs no change here.
fn known_kinds() -> Vec<Known> {
    use k8s_openapi::api::{
        admissionregistration, apps, authentication, authorization, autoscaling, batch,
        certificates, coordination, core, discovery, events, flowcontrol, networking, node, policy,
        rbac, resource, scheduling, storage,
    };
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions;
    use k8s_openapi::kube_aggregator::pkg::apis::apiregistration;
    vec![
        known::<core::v1::Binding>(),
        known::<core::v1::ComponentStatus>(),
        known::<core::v1::ConfigMap>(),
        known::<core::v1::Endpoints>(),
        known::<core::v1::Event>(),
        known::<core::v1::LimitRange>(),
        known::<core::v1::Namespace>(),
        known::<core::v1::Node>(),
        known::<core::v1::PersistentVolume>(),
        known::<core::v1::PersistentVolumeClaim>(),
        known::<core::v1::Pod>(),
        known::<core::v1::PodTemplate>(),
        known::<core::v1::ReplicationController>(),
        known::<core::v1::ResourceQuota>(),
        known::<core::v1::Secret>(),
        known::<core::v1::Service>(),
        known::<core::v1::ServiceAccount>(),
        known::<apps::v1::ControllerRevision>(),
        known::<apps::v1::DaemonSet>(),
        known::<apps::v1::Deployment>(),
        known::<apps::v1::ReplicaSet>(),
        known::<apps::v1::StatefulSet>(),
        known::<autoscaling::v1::Scale>(),
        known::<autoscaling::v1::HorizontalPodAutoscaler>(),
        known::<autoscaling::v2::HorizontalPodAutoscaler>(),
        known::<batch::v1::CronJob>(),
        known::<batch::v1::Job>(),
        known::<coordination::v1::Lease>(),
        known::<discovery::v1::EndpointSlice>(),
        known::<events::v1::Event>(),
        known::<networking::v1::Ingress>(),
        known::<networking::v1::IngressClass>(),
        known::<networking::v1::NetworkPolicy>(),
        known::<policy::v1::Eviction>(),
        known::<policy::v1::PodDisruptionBudget>(),
        known::<rbac::v1::ClusterRole>(),
        known::<rbac::v1::ClusterRoleBinding>(),
        known::<rbac::v1::Role>(),
        known::<rbac::v1::RoleBinding>(),
        known::<scheduling::v1::PriorityClass>(),
        known::<storage::v1::CSIDriver>(),
        known::<storage::v1::CSINode>(),
        known::<storage::v1::StorageClass>(),
        known::<storage::v1::VolumeAttachment>(),
        known::<authentication::v1::TokenRequest>(),
        known::<authentication::v1::TokenReview>(),
        known::<authorization::v1::SelfSubjectAccessReview>(),
        known::<authorization::v1::SubjectAccessReview>(),
        known::<admissionregistration::v1::MutatingWebhookConfiguration>(),
        known::<admissionregistration::v1::ValidatingWebhookConfiguration>(),
        known::<certificates::v1::CertificateSigningRequest>(),
        known::<node::v1::RuntimeClass>(),
        known::<apiextensions::v1::CustomResourceDefinition>(),
        known::<apiregistration::v1::APIService>(),
        known::<storage::v1::CSIStorageCapacity>(),
        known::<storage::v1::VolumeAttributesClass>(),
        known::<authentication::v1::SelfSubjectReview>(),
        known::<authorization::v1::LocalSubjectAccessReview>(),
        known::<authorization::v1::SelfSubjectRulesReview>(),
        known::<admissionregistration::v1::ValidatingAdmissionPolicy>(),
        known::<admissionregistration::v1::ValidatingAdmissionPolicyBinding>(),
        known::<networking::v1::IPAddress>(),
        known::<networking::v1::ServiceCIDR>(),
        known::<flowcontrol::v1::FlowSchema>(),
        known::<flowcontrol::v1::PriorityLevelConfiguration>(),
        known::<resource::v1::DeviceClass>(),
        known::<resource::v1::ResourceClaim>(),
        known::<resource::v1::ResourceClaimTemplate>(),
        known::<resource::v1::ResourceSlice>(),
    ]
}

pub(super) const STATUS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";
pub(super) const DELETE_OPTIONS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions";
pub(super) const PATCH: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";
pub(super) const WATCH_EVENT: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent";
pub(super) const API_RESOURCE_LIST: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.APIResourceList";
const LIST_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";
const LIST_METADATA: &str =
    "Standard list metadata: the list's resourceVersion and, when paginated, the continue token.";

/// A list type to synthesize once the item schema is known.
struct ListDef {
    name: String,
    item: String,
    item_kind: &'static str,
}

/// The component schemas of one document, collected as paths ask for them.
pub(super) struct Components {
    format: Format,
    gen: SchemaGenerator,
    known: Vec<Known>,
    /// Schema name -> the kinds it is the schema of (GVK objects).
    gvks: BTreeMap<String, Vec<Value>>,
    /// Schemas of API objects: `metadata` is optional on the wire.
    objects: BTreeSet<String>,
    lists: Vec<ListDef>,
    /// Schemas not generated by schemars (kinds k8s-openapi lacks).
    extra: Map<String, Value>,
}

impl Components {
    pub(super) fn new(format: Format) -> Components {
        let mut settings = SchemaSettings::openapi3();
        settings.meta_schema = None;
        if format == Format::V2 {
            settings.definitions_path = "/definitions".into();
            // Swagger 2.0 keeps siblings of `$ref` and has no `nullable`.
            settings
                .transforms
                .retain(|t| !t.is::<RemoveRefSiblings>() && !t.is::<AddNullable>());
        }
        Components {
            format,
            gen: settings.into_generator(),
            known: known_kinds(),
            gvks: BTreeMap::new(),
            objects: BTreeSet::new(),
            lists: Vec::new(),
            extra: Map::new(),
        }
    }

    fn add_gvk(&mut self, name: &str, gvk: Value) {
        let list = self.gvks.entry(name.to_string()).or_default();
        if !list.contains(&gvk) {
            list.push(gvk);
        }
    }

    /// Makes sure the schema of `gvk` is in the document; returns its name.
    pub(super) fn kind(&mut self, gvk: Gvk) -> String {
        let found = self
            .known
            .iter()
            .find(|k| k.gvk == gvk)
            .map(|k| (k.name, k.schema));
        let name = match found {
            Some((name, schema)) => {
                schema(&mut self.gen);
                name().into_owned()
            }
            None => {
                let name = fallback_name(gvk);
                let description = format!(
                    "{} is served by this server; its schema is not published, \
                     so any fields are accepted.",
                    gvk.kind
                );
                self.extra.entry(name.clone()).or_insert_with(|| {
                    json!({
                        "description": description,
                        "type": "object",
                        "x-kubernetes-preserve-unknown-fields": true,
                    })
                });
                name
            }
        };
        self.objects.insert(name.clone());
        self.add_gvk(&name, gvk.to_value());
        name
    }

    /// Makes sure `<Kind>List` of `gvk` is in the document; returns its name.
    pub(super) fn list(&mut self, gvk: Gvk) -> String {
        let item = self.kind(gvk);
        let name = format!("{item}List");
        self.meta::<k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta>();
        if !self.lists.iter().any(|l| l.name == name) {
            self.lists.push(ListDef {
                name: name.clone(),
                item,
                item_kind: gvk.kind,
            });
        }
        let list_kind = json!({
            "group": gvk.group,
            "kind": format!("{}List", gvk.kind),
            "version": gvk.version,
        });
        self.add_gvk(&name, list_kind);
        name
    }

    /// Makes sure the schema of a non-kind type (meta types) is in the document.
    pub(super) fn meta<T: JsonSchema>(&mut self) -> String {
        self.gen.subschema_for::<T>();
        T::schema_name().into_owned()
    }

    /// Kinds of the meta types as kube-apiserver tags them (`Status`,
    /// `DeleteOptions` and `WatchEvent` of the document's group version).
    pub(super) fn tag_meta(&mut self, name: &str, gvk: Gvk) {
        self.add_gvk(name, gvk.to_value());
    }

    /// The finished `definitions` / `components.schemas` map, sorted by name.
    pub(super) fn finish(mut self) -> Map<String, Value> {
        let mut defs: BTreeMap<String, Value> =
            self.gen.take_definitions(true).into_iter().collect();
        for (name, schema) in std::mem::take(&mut self.extra) {
            defs.entry(name).or_insert(schema);
        }
        untyped_json_schema_unions(&mut defs);
        for list in &self.lists {
            let schema = list_schema(self.format, list, defs.get(&list.item));
            defs.insert(list.name.clone(), schema);
        }
        for (name, gvks) in &self.gvks {
            let Some(Value::Object(schema)) = defs.get_mut(name) else {
                continue;
            };
            if self.objects.contains(name) {
                // k8s-openapi marks `metadata` required because its Rust
                // field is not optional; on the wire it is optional.
                drop_required(schema, "metadata");
            }
            schema.insert(
                "x-kubernetes-group-version-kind".into(),
                Value::Array(gvks.clone()),
            );
        }
        defs.into_iter().collect()
    }
}

/// The CRD schema's either-or types (`JSONSchemaPropsOrArray`, `...OrBool`,
/// `...OrStringArray`) are published by kube-apiserver with a description
/// only: their `oneOf` has no OpenAPI v2 form (nor a gnostic field).
fn untyped_json_schema_unions(defs: &mut BTreeMap<String, Value>) {
    const PREFIX: &str =
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOr";
    for (name, schema) in defs.iter_mut() {
        if !name.starts_with(PREFIX) {
            continue;
        }
        let description = schema.get("description").cloned();
        *schema = match description {
            Some(d) => json!({ "description": d }),
            None => json!({}),
        };
    }
}

fn drop_required(schema: &mut Map<String, Value>, field: &str) {
    let empty = match schema.get_mut("required") {
        Some(Value::Array(req)) => {
            req.retain(|v| v.as_str() != Some(field));
            req.is_empty()
        }
        _ => false,
    };
    if empty {
        schema.remove("required");
    }
}

/// Schema name for a kind k8s-openapi does not know, following the
/// kube-apiserver convention (`io.k8s.api.<group>.<version>.<Kind>` for
/// `*.k8s.io` and core groups, reversed domain otherwise).
fn fallback_name(gvk: Gvk) -> String {
    let Gvk {
        group,
        version,
        kind,
    } = gvk;
    if group.is_empty() {
        return format!("io.k8s.api.core.{version}.{kind}");
    }
    if let Some(short) = group.strip_suffix(".k8s.io").or(if group.contains('.') {
        None
    } else {
        Some(group)
    }) {
        let short = short.split('.').next().unwrap_or(short);
        return format!("io.k8s.api.{short}.{version}.{kind}");
    }
    let reversed: Vec<&str> = group.split('.').rev().collect();
    format!("{}.{version}.{kind}", reversed.join("."))
}

/// `<Kind>List`: `apiVersion` and `kind` described as on the item (text from
/// k8s-openapi), `items`, and `metadata` (ListMeta).
fn list_schema(format: Format, list: &ListDef, item: Option<&Value>) -> Value {
    let prop = |field: &str| {
        item.and_then(|i| i.pointer(&format!("/properties/{field}")))
            .cloned()
            .unwrap_or_else(|| json!({ "type": "string" }))
    };
    json!({
        "description": format!("{}List is a list of {} objects.", list.item_kind, list.item_kind),
        "type": "object",
        "properties": {
            "apiVersion": prop("apiVersion"),
            "items": {
                "description": format!("The {} objects of this list.", list.item_kind),
                "type": "array",
                "items": format.schema_ref(&list.item),
            },
            "kind": prop("kind"),
            "metadata": format.described_ref(LIST_META, LIST_METADATA),
        },
        "required": ["items"],
    })
}
