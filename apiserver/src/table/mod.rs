//! Server-side table printing (`Accept: application/json;as=Table;g=meta.k8s.io;v=v1`).
//!
//! Each built-in resource family has its own printer producing the same column
//! definitions and cell values kube-apiserver produces (the server always
//! generates the wide variant; `kubectl` hides priority-1 columns itself).
//! Resources without a dedicated printer get the generic NAME / CREATED AT table.
//!
//! Objects are read straight from their stored JSON. Absent or malformed fields
//! never panic: they read as the Go zero value, except where kube-apiserver's
//! decode-time defaulting would have filled a value that shows up in a cell
//! (service type / port protocol, secret type, namespace phase, workload
//! replicas), in which case that default is used.

use chrono::{DateTime, Utc};
use serde_json::Value;

pub mod admission;
pub mod apiregistration;
pub mod apps;
pub mod autoscaling;
pub mod batch;
pub mod certificates;
pub mod config;
pub mod core_extra;
pub mod default;
pub mod duration;
pub mod endpoints;
pub mod endpointslices;
pub mod events;
pub mod flowcontrol;
pub mod leases;
pub mod namespaces;
pub mod networking;
pub mod nodes;
pub mod pods;
pub mod policy;
pub mod rbac;
pub mod resource_claims;
pub mod scheduling;
pub mod services;
pub mod storage;
pub mod workloads;

/// One column of a meta.k8s.io/v1 Table.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Column {
    pub name: &'static str,
    #[serde(rename = "type")]
    pub type_: &'static str,
    pub format: &'static str,
    pub description: &'static str,
    pub priority: i32,
}

/// Printer for one resource (plural name like "pods", group-independent except events).
pub trait Printer: Send + Sync {
    fn columns(&self) -> Vec<Column>;
    /// One row's cells for `obj` (the full JSON object as stored), given the current time.
    fn cells(&self, obj: &Value, now: chrono::DateTime<chrono::Utc>) -> Vec<Value>;
}

/// Shortens registration lines so each stays on one line.
const ADMISSION: &str = "admissionregistration.k8s.io";
const FLOWCONTROL: &str = "flowcontrol.apiserver.k8s.io";

/// The printer for a resource, keyed by (group, resource) e.g. ("", "pods"),
/// ("apps", "deployments"), ("discovery.k8s.io", "endpointslices"),
/// ("events.k8s.io", "events"); falls back to the default printer.
pub fn printer_for(group: &str, resource: &str) -> &'static dyn Printer {
    match (group, resource) {
        ("", "pods") => &pods::PodPrinter,
        ("", "services") => &services::ServicePrinter,
        ("", "endpoints") => &endpoints::EndpointsPrinter,
        ("discovery.k8s.io", "endpointslices") => &endpointslices::EndpointSlicePrinter,
        ("", "nodes") => &nodes::NodePrinter,
        ("", "namespaces") => &namespaces::NamespacePrinter,
        ("", "events") | ("events.k8s.io", "events") => &events::EventPrinter,
        ("", "configmaps") => &config::ConfigMapPrinter,
        ("", "secrets") => &config::SecretPrinter,
        ("", "serviceaccounts") => &config::ServiceAccountPrinter,
        ("coordination.k8s.io", "leases") => &leases::LeasePrinter,
        ("apps", "deployments") | ("extensions", "deployments") => &apps::DeploymentPrinter,
        ("apps", "replicasets") | ("extensions", "replicasets") => &apps::REPLICA_SET_PRINTER,
        ("apps", "statefulsets") => &workloads::StatefulSetPrinter,
        ("apps", "daemonsets") => &workloads::DaemonSetPrinter,
        ("apps", "controllerrevisions") => &workloads::ControllerRevisionPrinter,
        ("", "replicationcontrollers") => &workloads::REPLICATION_CONTROLLER_PRINTER,
        ("", "podtemplates") => &workloads::PodTemplatePrinter,
        ("batch", "jobs") => &batch::JobPrinter,
        ("batch", "cronjobs") => &batch::CronJobPrinter,
        ("autoscaling", "horizontalpodautoscalers") => &autoscaling::HpaPrinter,
        ("policy", "poddisruptionbudgets") => &policy::PdbPrinter,
        ("networking.k8s.io", "networkpolicies") => &networking::NetworkPolicyPrinter,
        ("networking.k8s.io", "ingresses") => &networking::IngressPrinter,
        ("networking.k8s.io", "ingressclasses") => &networking::IngressClassPrinter,
        ("networking.k8s.io", "ipaddresses") => &networking::IpAddressPrinter,
        ("networking.k8s.io", "servicecidrs") => &networking::ServiceCidrPrinter,
        ("rbac.authorization.k8s.io", "rolebindings") => &rbac::ROLE_BINDING,
        ("rbac.authorization.k8s.io", "clusterrolebindings") => &rbac::CLUSTER_ROLE_BINDING,
        ("storage.k8s.io", "storageclasses") => &storage::StorageClassPrinter,
        ("storage.k8s.io", "volumeattributesclasses") => &storage::VolumeAttributesClassPrinter,
        ("storage.k8s.io", "csidrivers") => &storage::CsiDriverPrinter,
        ("storage.k8s.io", "csinodes") => &storage::CsiNodePrinter,
        ("storage.k8s.io", "volumeattachments") => &storage::VolumeAttachmentPrinter,
        ("", "persistentvolumes") => &storage::PersistentVolumePrinter,
        ("", "persistentvolumeclaims") => &storage::PersistentVolumeClaimPrinter,
        ("", "resourcequotas") => &core_extra::ResourceQuotaPrinter,
        ("", "componentstatuses") => &core_extra::ComponentStatusPrinter,
        ("scheduling.k8s.io", "priorityclasses") => &scheduling::PriorityClassPrinter,
        ("node.k8s.io", "runtimeclasses") => &scheduling::RuntimeClassPrinter,
        ("certificates.k8s.io", "certificatesigningrequests") => &certificates::CsrPrinter,
        ("certificates.k8s.io", "clustertrustbundles") => &certificates::ClusterTrustBundlePrinter,
        (ADMISSION, "mutatingwebhookconfigurations") => &admission::WebhookConfigurationPrinter,
        (ADMISSION, "validatingwebhookconfigurations") => &admission::WebhookConfigurationPrinter,
        (ADMISSION, "validatingadmissionpolicies") => &admission::VALIDATING_POLICY,
        (ADMISSION, "validatingadmissionpolicybindings") => &admission::PolicyBindingPrinter,
        (ADMISSION, "mutatingadmissionpolicies") => &admission::MUTATING_POLICY,
        (ADMISSION, "mutatingadmissionpolicybindings") => &admission::PolicyBindingPrinter,
        ("apiregistration.k8s.io", "apiservices") => &apiregistration::ApiServicePrinter,
        (FLOWCONTROL, "flowschemas") => &flowcontrol::FlowSchemaPrinter,
        (FLOWCONTROL, "prioritylevelconfigurations") => &flowcontrol::PriorityLevelPrinter,
        ("resource.k8s.io", "deviceclasses") => &resource_claims::NameAgePrinter,
        ("resource.k8s.io", "resourceclaims") => &resource_claims::ResourceClaimPrinter,
        ("resource.k8s.io", "resourceclaimtemplates") => &resource_claims::NameAgePrinter,
        ("resource.k8s.io", "resourceslices") => &resource_claims::ResourceSlicePrinter,
        _ => &default::DefaultPrinter,
    }
}

// ---------------------------------------------------------------------------
// Column helpers and shared descriptions.
// ---------------------------------------------------------------------------

/// ObjectMeta.name documentation (the NAME column of every table), as upstream.
pub(crate) const NAME_DESC: &str =
    "Name must be unique within a namespace. Is required when creating resources, \
    although some resources may allow a client to request the generation of an \
    appropriate name automatically. Name is primarily intended for creation \
    idempotence and configuration definition. Cannot be updated. More info: \
    https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";

/// ObjectMeta.creationTimestamp documentation (AGE / CREATED AT columns), as upstream.
pub(crate) const CREATED_DESC: &str =
    "CreationTimestamp is a timestamp representing the server time when this object \
    was created. It is not guaranteed to be set in happens-before order across \
    separate operations. Clients may not set this value. It is represented in \
    RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for \
    lists. More info: \
    https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

/// printers.go's literal description of the CONTAINERS columns.
/// The SELECTOR column of the workload tables.
pub(crate) const POD_SELECTOR_DESC: &str = "Label selector of the pods.";

/// spec.replicas of a workload, 1 when unset as decoding defaults it.
pub(crate) fn desired_replicas(obj: &Value) -> i64 {
    opt_int_at(obj, "/spec/replicas").unwrap_or(1)
}

pub(crate) const CONTAINERS_DESC: &str = "Names of each container in the template.";
/// printers.go's literal description of the IMAGES columns.
pub(crate) const IMAGES_DESC: &str = "Images referenced by each container in the template.";

/// A normal (priority 0) column.
pub(crate) const fn col(
    name: &'static str,
    type_: &'static str,
    description: &'static str,
) -> Column {
    Column {
        name,
        type_,
        format: "",
        description,
        priority: 0,
    }
}

/// A `-o wide` (priority 1) column.
pub(crate) const fn wide(
    name: &'static str,
    type_: &'static str,
    description: &'static str,
) -> Column {
    Column {
        name,
        type_,
        format: "",
        description,
        priority: 1,
    }
}

/// The leading NAME column.
pub(crate) const fn name_col() -> Column {
    Column {
        name: "Name",
        type_: "string",
        format: "name",
        description: NAME_DESC,
        priority: 0,
    }
}

/// The AGE column.
pub(crate) const fn age_col() -> Column {
    col("Age", "string", CREATED_DESC)
}

// ---------------------------------------------------------------------------
// Tolerant JSON accessors: a missing or mistyped field reads as the zero value.
// ---------------------------------------------------------------------------

/// The value at a JSON pointer, treating `null` as absent.
/// `Value::pointer` without its per-segment allocations (it unescapes every
/// segment into a new String); printers call it several times per row, for
/// every row of a list. Escaped segments fall back to `pointer`.
pub(crate) fn at<'a>(v: &'a Value, ptr: &str) -> Option<&'a Value> {
    if ptr.contains('~') {
        return v.pointer(ptr);
    }
    let mut cur = v;
    for segment in ptr.split('/').skip(1) {
        cur = match cur {
            Value::Object(map) => map.get(segment)?,
            Value::Array(items) => items.get(segment.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

pub(crate) fn get<'a>(v: &'a Value, ptr: &str) -> Option<&'a Value> {
    at(v, ptr).filter(|x| !x.is_null())
}

/// The object at `ptr` if present (Go: a non-nil pointer to a struct).
pub(crate) fn get_obj<'a>(v: &'a Value, ptr: &str) -> Option<&'a Value> {
    at(v, ptr).filter(|x| x.is_object())
}

/// The string at `ptr`, or "".
pub(crate) fn str_at<'a>(v: &'a Value, ptr: &str) -> &'a str {
    at(v, ptr).and_then(Value::as_str).unwrap_or("")
}

/// A JSON number as an integer, truncating fractions and saturating.
pub(crate) fn as_int(v: &Value) -> Option<i64> {
    if let Some(i) = v.as_i64() {
        return Some(i);
    }
    if v.as_u64().is_some() {
        return Some(i64::MAX);
    }
    v.as_f64().map(|f| f as i64)
}

/// The integer at `ptr`, or 0.
pub(crate) fn int_at(v: &Value, ptr: &str) -> i64 {
    at(v, ptr).and_then(as_int).unwrap_or(0)
}

/// The integer at `ptr` if present (Go: a non-nil *int32).
pub(crate) fn opt_int_at(v: &Value, ptr: &str) -> Option<i64> {
    at(v, ptr).and_then(as_int)
}

/// The boolean at `ptr`, or false.
pub(crate) fn bool_at(v: &Value, ptr: &str) -> bool {
    at(v, ptr).and_then(Value::as_bool).unwrap_or(false)
}

/// The array at `ptr`, or an empty slice.
pub(crate) fn arr_at<'a>(v: &'a Value, ptr: &str) -> &'a [Value] {
    at(v, ptr)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// The number of entries of the map at `ptr` (0 when absent).
pub(crate) fn map_len(v: &Value, ptr: &str) -> usize {
    at(v, ptr).and_then(Value::as_object).map_or(0, |m| m.len())
}

/// printers.go `printBoolPtr`: "True" / "False", or `<unset>` when absent.
pub(crate) fn bool_ptr_string(v: &Value, ptr: &str) -> &'static str {
    match at(v, ptr).and_then(Value::as_bool) {
        Some(true) => "True",
        Some(false) => "False",
        None => "<unset>",
    }
}

/// A resource.Quantity (a JSON string, or a bare number) as given, if present.
pub(crate) fn quantity_at(v: &Value, ptr: &str) -> Option<String> {
    match get(v, ptr)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// An intstr.IntOrString as its `String()` renders it, if present.
pub(crate) fn int_or_string_at(v: &Value, ptr: &str) -> Option<String> {
    match get(v, ptr)? {
        Value::String(s) => Some(s.clone()),
        n @ Value::Number(_) => as_int(n).map(|i| i.to_string()),
        _ => None,
    }
}

/// The status of the first condition of type `type_` in the array at `ptr`.
pub(crate) fn condition_status<'a>(v: &'a Value, ptr: &str, type_: &str) -> Option<&'a str> {
    arr_at(v, ptr)
        .iter()
        .find(|c| str_at(c, "/type") == type_)
        .map(|c| str_at(c, "/status"))
}

/// `metadata.name` as a cell.
pub(crate) fn name_cell(obj: &Value) -> Value {
    Value::from(str_at(obj, "/metadata/name"))
}

/// Whether `metadata.deletionTimestamp` is set.
pub(crate) fn is_deleting(obj: &Value) -> bool {
    get(obj, "/metadata/deletionTimestamp").is_some()
}

// ---------------------------------------------------------------------------
// Time.
// ---------------------------------------------------------------------------

/// Parses a metav1.Time / MicroTime string. `None` stands for Go's zero time
/// (absent, null, unparsable, or 0001-01-01T00:00:00Z).
pub(crate) fn parse_time(v: Option<&Value>) -> Option<DateTime<Utc>> {
    let s = v?.as_str()?;
    let t = DateTime::parse_from_rfc3339(s).ok()?.with_timezone(&Utc);
    if t == go_zero_time() {
        return None;
    }
    Some(t)
}

/// The timestamp at `ptr` (see [`parse_time`]).
pub(crate) fn time_at(v: &Value, ptr: &str) -> Option<DateTime<Utc>> {
    parse_time(at(v, ptr))
}

/// Go's `time.Time{}` in UTC: 0001-01-01T00:00:00Z.
pub(crate) fn go_zero_time() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("0001-01-01T00:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// Elapsed time since `t` in kubectl's human form, `<unknown>` for the zero time.
pub(crate) fn since(t: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    match t {
        None => "<unknown>".to_string(),
        Some(t) => duration::human_duration(now.signed_duration_since(t)),
    }
}

/// The AGE cell: elapsed time since `metadata.creationTimestamp`.
pub(crate) fn age_cell(obj: &Value, now: DateTime<Utc>) -> Value {
    Value::from(since(time_at(obj, "/metadata/creationTimestamp"), now))
}

// ---------------------------------------------------------------------------
// Labels and selectors.
// ---------------------------------------------------------------------------

/// Renders a label map as sorted `k=v` pairs joined by ",", or "" when empty.
pub(crate) fn labels_string(map: Option<&Value>) -> String {
    let mut pairs: Vec<String> = map
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{}={}", k, v.as_str().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default();
    pairs.sort();
    pairs.join(",")
}

/// Like [`labels_string`] but `<none>` when empty.
pub(crate) fn format_labels(map: Option<&Value>) -> String {
    let s = labels_string(map);
    if s.is_empty() {
        "<none>".to_string()
    } else {
        s
    }
}

/// Renders a metav1.LabelSelector the way its labels.Selector prints:
/// requirements sorted by key, e.g. `app=web,tier in (a,b),!legacy`.
/// A missing or empty selector renders as "". `Err` when the selector would
/// not convert (bad operator, bad key or value, wrong number of values).
pub(crate) fn selector_string(sel: Option<&Value>) -> Result<String, ()> {
    let sel = match sel {
        None => return Ok(String::new()),
        Some(v) if v.is_null() => return Ok(String::new()),
        Some(v) => v,
    };
    // (key, rendered requirement)
    let mut reqs: Vec<(String, String)> = Vec::new();
    if let Some(m) = sel.get("matchLabels").and_then(Value::as_object) {
        for (k, v) in m {
            let v = v.as_str().unwrap_or("");
            if !is_label_key(k) || !is_label_value(v) {
                return Err(());
            }
            reqs.push((k.clone(), format!("{}={}", k, v)));
        }
    }
    for expr in sel
        .get("matchExpressions")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
    {
        let key = str_at(expr, "/key");
        let op = str_at(expr, "/operator");
        let values: Vec<&str> = arr_at(expr, "/values")
            .iter()
            .map(|v| v.as_str().unwrap_or(""))
            .collect();
        if !is_label_key(key) || values.iter().any(|v| !is_label_value(v)) {
            return Err(());
        }
        let rendered = match op {
            "In" | "NotIn" => {
                if values.is_empty() {
                    return Err(());
                }
                let word = if op == "In" { "in" } else { "notin" };
                let joined = if values.len() == 1 {
                    values[0].to_string()
                } else {
                    let mut sorted = values.clone();
                    sorted.sort_unstable();
                    sorted.join(",")
                };
                format!("{} {} ({})", key, word, joined)
            }
            "Exists" => {
                if !values.is_empty() {
                    return Err(());
                }
                key.to_string()
            }
            "DoesNotExist" => {
                if !values.is_empty() {
                    return Err(());
                }
                format!("!{}", key)
            }
            _ => return Err(()),
        };
        reqs.push((key.to_string(), rendered));
    }
    // Stable sort by key: requirements sharing a key keep their order.
    reqs.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(reqs
        .into_iter()
        .map(|(_, r)| r)
        .collect::<Vec<_>>()
        .join(","))
}

/// metav1.FormatLabelSelector: `<none>` when empty, `<error>` when invalid.
pub(crate) fn format_label_selector(sel: Option<&Value>) -> String {
    match selector_string(sel) {
        Err(()) => "<error>".to_string(),
        Ok(s) if s.is_empty() => "<none>".to_string(),
        Ok(s) => s,
    }
}

fn is_label_name(name: &str) -> bool {
    let b = name.as_bytes();
    if b.is_empty() || b.len() > 63 {
        return false;
    }
    let alnum = |c: u8| c.is_ascii_alphanumeric();
    alnum(b[0])
        && alnum(b[b.len() - 1])
        && b.iter()
            .all(|&c| alnum(c) || c == b'-' || c == b'_' || c == b'.')
}

fn is_dns1123_subdomain(s: &str) -> bool {
    if s.is_empty() || s.len() > 253 {
        return false;
    }
    s.split('.').all(|label| {
        let b = label.as_bytes();
        let ok = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
        !b.is_empty() && ok(b[0]) && ok(b[b.len() - 1]) && b.iter().all(|&c| ok(c) || c == b'-')
    })
}

/// A label key: an optional DNS-subdomain prefix and '/', then a name.
pub(crate) fn is_label_key(key: &str) -> bool {
    let parts: Vec<&str> = key.split('/').collect();
    match parts.as_slice() {
        [name] => is_label_name(name),
        [prefix, name] => is_dns1123_subdomain(prefix) && is_label_name(name),
        _ => false,
    }
}

/// A label value: empty, or a name-like string of at most 63 characters.
pub(crate) fn is_label_value(v: &str) -> bool {
    v.is_empty() || is_label_name(v)
}

// ---------------------------------------------------------------------------
// Pod templates.
// ---------------------------------------------------------------------------

/// Container names and images of a pod template, each comma-joined.
pub(crate) fn layout_containers(containers: &[Value]) -> (String, String) {
    let names: Vec<&str> = containers.iter().map(|c| str_at(c, "/name")).collect();
    let images: Vec<&str> = containers.iter().map(|c| str_at(c, "/image")).collect();
    (names.join(","), images.join(","))
}

#[cfg(test)]
pub(crate) mod testutil {
    use chrono::{DateTime, Utc};

    /// The fixed "now" used by the tests.
    pub fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2024-05-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    /// A printer's column names.
    pub fn names(p: &dyn super::Printer) -> Vec<&'static str> {
        p.columns().iter().map(|c| c.name).collect()
    }

    /// A printer's columns as (name, type, priority).
    pub fn cols(p: &dyn super::Printer) -> Vec<(&'static str, &'static str, i32)> {
        p.columns()
            .iter()
            .map(|c| (c.name, c.type_, c.priority))
            .collect()
    }

    /// An RFC3339 timestamp `secs` seconds before [`now`].
    pub fn ago(secs: i64) -> String {
        (now() - chrono::Duration::seconds(secs))
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn column_serializes_like_metav1() {
        let v = serde_json::to_value(name_col()).unwrap();
        assert_eq!(
            v,
            json!({"name": "Name", "type": "string", "format": "name", "description": NAME_DESC, "priority": 0})
        );
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["name", "type", "format", "description", "priority"]);
    }

    #[test]
    fn metadata_descriptions_are_upstreams() {
        assert!(NAME_DESC.starts_with("Name must be unique within a namespace. Is required"));
        assert!(NAME_DESC.ends_with("working-with-objects/names#names"));
        assert!(CREATED_DESC
            .contains("is in UTC.\n\nPopulated by the system. Read-only. Null for lists."));
        assert!(!NAME_DESC.contains("  ") && !CREATED_DESC.contains("  "));
    }

    #[test]
    fn printer_lookup() {
        let names =
            |p: &dyn Printer| -> Vec<&'static str> { p.columns().iter().map(|c| c.name).collect() };
        assert_eq!(names(printer_for("", "pods"))[1], "Ready");
        assert_eq!(names(printer_for("apps", "deployments"))[2], "Up-to-date");
        assert_eq!(
            names(printer_for("events.k8s.io", "events"))[0],
            "Last Seen"
        );
        assert_eq!(names(printer_for("", "events"))[0], "Last Seen");
        assert_eq!(
            names(printer_for("discovery.k8s.io", "endpointslices"))[1],
            "AddressType"
        );
        assert_eq!(
            names(printer_for("coordination.k8s.io", "leases"))[1],
            "Holder"
        );
        assert_eq!(
            names(printer_for("example.com", "widgets")),
            ["Name", "Created At"]
        );
        // Upstream serves these with the default table convertor.
        for (group, resource) in [
            ("", "limitranges"),
            ("rbac.authorization.k8s.io", "roles"),
            ("rbac.authorization.k8s.io", "clusterroles"),
            ("storage.k8s.io", "csistoragecapacities"),
            ("apiextensions.k8s.io", "customresourcedefinitions"),
        ] {
            assert_eq!(names(printer_for(group, resource)), ["Name", "Created At"]);
        }
        assert_eq!(names(printer_for("batch", "jobs"))[1], "Status");
        assert_eq!(
            names(printer_for("autoscaling", "horizontalpodautoscalers"))[2],
            "Targets"
        );
        assert_eq!(
            names(printer_for("apiregistration.k8s.io", "apiservices"))[1],
            "Service"
        );
        assert_eq!(
            names(printer_for(FLOWCONTROL, "flowschemas"))[5],
            "MissingPL"
        );
        // A core plural under another group is not the core printer.
        assert_eq!(
            names(printer_for("example.com", "pods")),
            ["Name", "Created At"]
        );
    }

    #[test]
    fn selectors() {
        let sel = json!({
            "matchLabels": {"tier": "web", "app": "nginx"},
            "matchExpressions": [
                {"key": "env", "operator": "In", "values": ["prod", "dev"]},
                {"key": "legacy", "operator": "DoesNotExist"},
                {"key": "zone", "operator": "NotIn", "values": ["a"]},
                {"key": "canary", "operator": "Exists"}
            ]
        });
        assert_eq!(
            selector_string(Some(&sel)).unwrap(),
            "app=nginx,canary,env in (dev,prod),!legacy,tier=web,zone notin (a)"
        );
        assert_eq!(selector_string(None).unwrap(), "");
        assert_eq!(format_label_selector(Some(&json!({}))), "<none>");
        assert_eq!(format_label_selector(None), "<none>");
        let bad = json!({"matchExpressions": [{"key": "a", "operator": "Sometimes"}]});
        assert_eq!(format_label_selector(Some(&bad)), "<error>");
        let bad = json!({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]});
        assert!(selector_string(Some(&bad)).is_err());
        let bad = json!({"matchLabels": {"a b": "c"}});
        assert!(selector_string(Some(&bad)).is_err());
        let ok = json!({"matchLabels": {"app.kubernetes.io/name": ""}});
        assert_eq!(
            selector_string(Some(&ok)).unwrap(),
            "app.kubernetes.io/name="
        );
    }

    #[test]
    fn labels() {
        assert_eq!(format_labels(None), "<none>");
        assert_eq!(format_labels(Some(&json!({}))), "<none>");
        assert_eq!(format_labels(Some(&json!({"b": "2", "a": "1"}))), "a=1,b=2");
    }

    #[test]
    fn times() {
        assert_eq!(time_at(&json!({"t": "0001-01-01T00:00:00Z"}), "/t"), None);
        assert_eq!(time_at(&json!({"t": null}), "/t"), None);
        assert_eq!(time_at(&json!({"t": "garbage"}), "/t"), None);
        let now = testutil::now();
        let obj = json!({"metadata": {"creationTimestamp": testutil::ago(310)}});
        assert_eq!(age_cell(&obj, now), json!("5m10s"));
        assert_eq!(age_cell(&json!({}), now), json!("<unknown>"));
        // MicroTime with fractional seconds.
        let t = json!({"t": "2024-05-01T11:59:00.123456Z"});
        assert_eq!(since(time_at(&t, "/t"), now), "59s");
    }

    #[test]
    fn accessors_never_panic_on_wrong_types() {
        let v = json!({"a": "x", "b": 3, "c": [1], "d": {"k": 1}, "e": 2.7});
        assert_eq!(int_at(&v, "/a"), 0);
        assert_eq!(int_at(&v, "/e"), 2);
        assert_eq!(str_at(&v, "/b"), "");
        assert!(arr_at(&v, "/d").is_empty());
        assert_eq!(map_len(&v, "/c"), 0);
        assert_eq!(map_len(&v, "/d"), 1);
        assert!(!bool_at(&v, "/zz"));
    }
}
