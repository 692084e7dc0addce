//! storage.k8s.io StorageClasses, VolumeAttributesClasses, CSIDrivers,
//! CSINodes and VolumeAttachments, and core/v1 PersistentVolumes and
//! PersistentVolumeClaims (printers.go `printStorageClass`,
//! `printVolumeAttributesClass`, `printCSIDriver`, `printCSINode`,
//! `printVolumeAttachment`, `printPersistentVolume`,
//! `printPersistentVolumeClaim`). CSIStorageCapacities are served with the
//! default table: their store registers the default table convertor.

use super::{
    age_cell, age_col, arr_at, at, bool_at, col, get, is_deleting, name_cell, name_col,
    quantity_at, str_at, wide, Column, Printer,
};
use chrono::{DateTime, Utc};
use serde_json::Value;

/// The annotation value at `/metadata/annotations/<key>` ("" when absent).
fn annotation<'a>(obj: &'a Value, key: &str) -> &'a str {
    get(obj, "/metadata/annotations")
        .and_then(|a| a.get(key))
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// The name, suffixed " (default)" when any of `keys` is annotated "true".
fn name_with_default(obj: &Value, keys: &[&str]) -> Value {
    let name = str_at(obj, "/metadata/name");
    if keys.iter().any(|k| annotation(obj, k) == "true") {
        Value::from(format!("{} (default)", name))
    } else {
        Value::from(name)
    }
}

/// A boolean pointer with the default decoding fills in.
fn bool_or(obj: &Value, ptr: &str, default: bool) -> bool {
    at(obj, ptr).and_then(Value::as_bool).unwrap_or(default)
}

pub struct StorageClassPrinter;

impl Printer for StorageClassPrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            col("Provisioner", "string", "The provisioner of the class."),
            col(
                "ReclaimPolicy",
                "string",
                "Reclaim policy of provisioned volumes.",
            ),
            col(
                "VolumeBindingMode",
                "string",
                "When volumes are bound and provisioned.",
            ),
            col(
                "AllowVolumeExpansion",
                "string",
                "Whether volumes may be expanded.",
            ),
            age_col(),
        ]
    }

    fn cells(&self, obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
        let or = |ptr: &str, default: &'static str| match str_at(obj, ptr) {
            "" => default.to_string(),
            s => s.to_string(),
        };
        vec![
            name_with_default(
                obj,
                &[
                    "storageclass.kubernetes.io/is-default-class",
                    "storageclass.beta.kubernetes.io/is-default-class",
                ],
            ),
            Value::from(str_at(obj, "/provisioner")),
            Value::from(or("/reclaimPolicy", "Delete")),
            Value::from(or("/volumeBindingMode", "Immediate")),
            Value::from(bool_at(obj, "/allowVolumeExpansion")),
            age_cell(obj, now),
        ]
    }
}

pub struct VolumeAttributesClassPrinter;

impl Printer for VolumeAttributesClassPrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            col("DriverName", "string", "The CSI driver of the class."),
            age_col(),
        ]
    }

    fn cells(&self, obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
        vec![
            name_with_default(
                obj,
                &["volumeattributesclass.alpha.kubernetes.io/is-default-class"],
            ),
            Value::from(str_at(obj, "/driverName")),
            age_cell(obj, now),
        ]
    }
}

pub struct CsiDriverPrinter;

impl Printer for CsiDriverPrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            col(
                "AttachRequired",
                "boolean",
                "Whether the driver needs attaching.",
            ),
            col(
                "PodInfoOnMount",
                "boolean",
                "Whether pod information is passed on mount.",
            ),
            col(
                "StorageCapacity",
                "boolean",
                "Whether the driver reports capacity.",
            ),
            col(
                "TokenRequests",
                "string",
                "Audiences of service account tokens passed.",
            ),
            col(
                "RequiresRepublish",
                "boolean",
                "Whether volumes are remounted periodically.",
            ),
            col("Modes", "string", "Volume lifecycle modes supported."),
            age_col(),
        ]
    }

    fn cells(&self, obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
        let spec = get(obj, "/spec").unwrap_or(&Value::Null);
        let tokens = match get(spec, "/tokenRequests") {
            None => "<unset>".to_string(),
            Some(_) => arr_at(spec, "/tokenRequests")
                .iter()
                .map(|r| str_at(r, "/audience"))
                .collect::<Vec<_>>()
                .join(","),
        };
        // Decoding defaults the lifecycle modes to Persistent.
        let modes: Vec<&str> = arr_at(spec, "/volumeLifecycleModes")
            .iter()
            .map(|m| m.as_str().unwrap_or(""))
            .collect();
        let modes = if modes.is_empty() {
            "Persistent".to_string()
        } else {
            modes.join(",")
        };
        vec![
            name_cell(obj),
            Value::from(bool_or(spec, "/attachRequired", true)),
            Value::from(bool_at(spec, "/podInfoOnMount")),
            Value::from(bool_at(spec, "/storageCapacity")),
            Value::from(tokens),
            Value::from(bool_at(spec, "/requiresRepublish")),
            Value::from(modes),
            age_cell(obj, now),
        ]
    }
}

pub struct CsiNodePrinter;

impl Printer for CsiNodePrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            col(
                "Drivers",
                "integer",
                "Drivers indicates the number of CSI drivers registered on the node",
            ),
            age_col(),
        ]
    }

    fn cells(&self, obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
        let drivers = arr_at(obj, "/spec/drivers").len() as i64;
        vec![name_cell(obj), Value::from(drivers), age_cell(obj, now)]
    }
}

pub struct VolumeAttachmentPrinter;

impl Printer for VolumeAttachmentPrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            // printers.go gives this column the "name" format too.
            Column {
                format: "name",
                ..col(
                    "Attacher",
                    "string",
                    "The CSI driver handling the attachment.",
                )
            },
            col("PV", "string", "The persistent volume attached."),
            col("Node", "string", "The node attached to."),
            col("Attached", "boolean", "Whether the volume is attached."),
            age_col(),
        ]
    }

    fn cells(&self, obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
        vec![
            name_cell(obj),
            Value::from(str_at(obj, "/spec/attacher")),
            Value::from(str_at(obj, "/spec/source/persistentVolumeName")),
            Value::from(str_at(obj, "/spec/nodeName")),
            Value::from(bool_at(obj, "/status/attached")),
            age_cell(obj, now),
        ]
    }
}

/// printers.go's helper.GetAccessModesAsString: RWO, ROX, RWX, RWOP in
/// that order, each once.
fn access_modes(modes: &[Value]) -> String {
    let has = |m: &str| modes.iter().any(|v| v.as_str() == Some(m));
    [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ]
    .iter()
    .filter(|(mode, _)| has(mode))
    .map(|(_, short)| *short)
    .collect::<Vec<_>>()
    .join(",")
}

/// The class from the beta annotation, else `spec.storageClassName`.
fn storage_class(obj: &Value) -> &str {
    match get(obj, "/metadata/annotations")
        .and_then(|a| a.get("volume.beta.kubernetes.io/storage-class"))
        .and_then(Value::as_str)
    {
        Some(class) => class,
        None => str_at(obj, "/spec/storageClassName"),
    }
}

/// The phase (defaulted to Pending), or Terminating while deleting.
fn volume_phase(obj: &Value) -> &str {
    match str_at(obj, "/status/phase") {
        _ if is_deleting(obj) => "Terminating",
        "" => "Pending",
        phase => phase,
    }
}

/// `spec.volumeAttributesClassName`, `<unset>` when nil.
fn attributes_class(obj: &Value) -> &str {
    get(obj, "/spec/volumeAttributesClassName")
        .and_then(Value::as_str)
        .unwrap_or("<unset>")
}

/// `spec.volumeMode`, defaulted to Filesystem by decoding.
fn volume_mode(obj: &Value) -> &str {
    match str_at(obj, "/spec/volumeMode") {
        "" => "Filesystem",
        mode => mode,
    }
}

pub struct PersistentVolumePrinter;

impl Printer for PersistentVolumePrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            col("Capacity", "string", "Storage capacity of the volume."),
            col("Access Modes", "string", "Ways the volume can be mounted."),
            col(
                "Reclaim Policy",
                "string",
                "What happens when released from its claim.",
            ),
            col("Status", "string", "Phase of the volume."),
            col("Claim", "string", "The claim bound to the volume."),
            col("StorageClass", "string", "StorageClass of the pv"),
            col(
                "VolumeAttributesClass",
                "string",
                "VolumeAttributesClass of the pv",
            ),
            col("Reason", "string", "Why the volume is in its phase."),
            age_col(),
            wide("VolumeMode", "string", "Filesystem or Block."),
        ]
    }

    fn cells(&self, obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
        let claim = match get(obj, "/spec/claimRef") {
            Some(r) => format!("{}/{}", str_at(r, "/namespace"), str_at(r, "/name")),
            None => String::new(),
        };
        let reclaim = match str_at(obj, "/spec/persistentVolumeReclaimPolicy") {
            "" => "Retain",
            p => p,
        };
        vec![
            name_cell(obj),
            Value::from(quantity_at(obj, "/spec/capacity/storage").unwrap_or_else(|| "0".into())),
            Value::from(access_modes(arr_at(obj, "/spec/accessModes"))),
            Value::from(reclaim),
            Value::from(volume_phase(obj)),
            Value::from(claim),
            Value::from(storage_class(obj)),
            Value::from(attributes_class(obj)),
            Value::from(str_at(obj, "/status/reason")),
            age_cell(obj, now),
            Value::from(volume_mode(obj)),
        ]
    }
}

pub struct PersistentVolumeClaimPrinter;

impl Printer for PersistentVolumeClaimPrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            col("Status", "string", "Phase of the claim."),
            col("Volume", "string", "The volume bound to the claim."),
            col(
                "Capacity",
                "string",
                "Storage capacity of the bound volume.",
            ),
            col(
                "Access Modes",
                "string",
                "Access modes of the bound volume.",
            ),
            col("StorageClass", "string", "StorageClass of the pvc"),
            col(
                "VolumeAttributesClass",
                "string",
                "VolumeAttributesClass of the pvc",
            ),
            age_col(),
            wide("VolumeMode", "string", "Filesystem or Block."),
        ]
    }

    fn cells(&self, obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
        let volume = str_at(obj, "/spec/volumeName");
        // Capacity and access modes show only once bound.
        let (capacity, modes) = if volume.is_empty() {
            (String::new(), String::new())
        } else {
            (
                quantity_at(obj, "/status/capacity/storage").unwrap_or_else(|| "0".into()),
                access_modes(arr_at(obj, "/status/accessModes")),
            )
        };
        vec![
            name_cell(obj),
            Value::from(volume_phase(obj)),
            Value::from(volume),
            Value::from(capacity),
            Value::from(modes),
            Value::from(storage_class(obj)),
            Value::from(attributes_class(obj)),
            age_cell(obj, now),
            Value::from(volume_mode(obj)),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::testutil::{ago, now};
    use serde_json::json;

    use crate::table::testutil::names;

    #[test]
    fn storage_class() {
        assert_eq!(
            names(&StorageClassPrinter),
            [
                "Name",
                "Provisioner",
                "ReclaimPolicy",
                "VolumeBindingMode",
                "AllowVolumeExpansion",
                "Age"
            ]
        );
        let sc = json!({
            "metadata": {"name": "standard", "creationTimestamp": ago(600),
                         "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            "provisioner": "rancher.io/local-path", "reclaimPolicy": "Retain",
            "volumeBindingMode": "WaitForFirstConsumer", "allowVolumeExpansion": true
        });
        assert_eq!(
            StorageClassPrinter.cells(&sc, now()),
            vec![
                json!("standard (default)"),
                json!("rancher.io/local-path"),
                json!("Retain"),
                json!("WaitForFirstConsumer"),
                json!(true),
                json!("10m")
            ]
        );
        assert_eq!(
            StorageClassPrinter.cells(&json!({}), now()),
            vec![
                json!(""),
                json!(""),
                json!("Delete"),
                json!("Immediate"),
                json!(false),
                json!("<unknown>")
            ]
        );
    }

    #[test]
    fn volume_attributes_class() {
        assert_eq!(
            names(&VolumeAttributesClassPrinter),
            ["Name", "DriverName", "Age"]
        );
        let vac = json!({"metadata": {"name": "gold", "creationTimestamp": ago(30),
            "annotations": {"volumeattributesclass.alpha.kubernetes.io/is-default-class": "true"}},
            "driverName": "pd.csi.storage.gke.io", "parameters": {"iops": "3000"}});
        assert_eq!(
            VolumeAttributesClassPrinter.cells(&vac, now()),
            vec![
                json!("gold (default)"),
                json!("pd.csi.storage.gke.io"),
                json!("30s")
            ]
        );
        assert_eq!(
            VolumeAttributesClassPrinter.cells(&json!({}), now()),
            vec![json!(""), json!(""), json!("<unknown>")]
        );
    }

    #[test]
    fn csi_driver() {
        assert_eq!(
            names(&CsiDriverPrinter),
            [
                "Name",
                "AttachRequired",
                "PodInfoOnMount",
                "StorageCapacity",
                "TokenRequests",
                "RequiresRepublish",
                "Modes",
                "Age"
            ]
        );
        let d = json!({"metadata": {"name": "hostpath.csi.k8s.io", "creationTimestamp": ago(86400)},
            "spec": {"attachRequired": false, "podInfoOnMount": true, "storageCapacity": true,
                     "tokenRequests": [{"audience": "vault"}, {"audience": "gcp", "expirationSeconds": 3600}],
                     "volumeLifecycleModes": ["Persistent", "Ephemeral"]}});
        assert_eq!(
            CsiDriverPrinter.cells(&d, now()),
            vec![
                json!("hostpath.csi.k8s.io"),
                json!(false),
                json!(true),
                json!(true),
                json!("vault,gcp"),
                json!(false),
                json!("Persistent,Ephemeral"),
                json!("24h")
            ]
        );
        assert_eq!(
            CsiDriverPrinter.cells(&json!({}), now()),
            vec![
                json!(""),
                json!(true),
                json!(false),
                json!(false),
                json!("<unset>"),
                json!(false),
                json!("Persistent"),
                json!("<unknown>")
            ]
        );
        let empty_tokens = json!({"spec": {"tokenRequests": []}});
        assert_eq!(CsiDriverPrinter.cells(&empty_tokens, now())[4], json!(""));
    }

    #[test]
    fn csi_node() {
        assert_eq!(names(&CsiNodePrinter), ["Name", "Drivers", "Age"]);
        let n = json!({"metadata": {"name": "w1", "creationTimestamp": ago(90)},
            "spec": {"drivers": [{"name": "a", "nodeID": "w1"}, {"name": "b", "nodeID": "w1"}]}});
        assert_eq!(
            CsiNodePrinter.cells(&n, now()),
            vec![json!("w1"), json!(2), json!("90s")]
        );
        assert_eq!(
            CsiNodePrinter.cells(&json!({}), now()),
            vec![json!(""), json!(0), json!("<unknown>")]
        );
    }

    #[test]
    fn volume_attachment() {
        let c = VolumeAttachmentPrinter.columns();
        assert_eq!(
            c.iter().map(|c| c.name).collect::<Vec<_>>(),
            ["Name", "Attacher", "PV", "Node", "Attached", "Age"]
        );
        assert_eq!((c[1].format, c[4].type_), ("name", "boolean"));
        let va = json!({"metadata": {"name": "csi-123", "creationTimestamp": ago(5)},
            "spec": {"attacher": "hostpath.csi.k8s.io", "nodeName": "w1", "source": {"persistentVolumeName": "pv-1"}},
            "status": {"attached": true}});
        assert_eq!(
            VolumeAttachmentPrinter.cells(&va, now()),
            vec![
                json!("csi-123"),
                json!("hostpath.csi.k8s.io"),
                json!("pv-1"),
                json!("w1"),
                json!(true),
                json!("5s")
            ]
        );
        assert_eq!(
            VolumeAttachmentPrinter.cells(&json!({}), now()),
            vec![
                json!(""),
                json!(""),
                json!(""),
                json!(""),
                json!(false),
                json!("<unknown>")
            ]
        );
    }

    #[test]
    fn persistent_volume() {
        assert_eq!(
            names(&PersistentVolumePrinter),
            [
                "Name",
                "Capacity",
                "Access Modes",
                "Reclaim Policy",
                "Status",
                "Claim",
                "StorageClass",
                "VolumeAttributesClass",
                "Reason",
                "Age",
                "VolumeMode"
            ]
        );
        assert_eq!(PersistentVolumePrinter.columns()[10].priority, 1);
        let pv = json!({
            "metadata": {"name": "pv-1", "creationTimestamp": ago(3600)},
            "spec": {"capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteMany", "ReadWriteOnce", "ReadWriteOnce"],
                     "persistentVolumeReclaimPolicy": "Delete", "storageClassName": "standard",
                     "claimRef": {"namespace": "default", "name": "data"}, "volumeMode": "Block",
                     "volumeAttributesClassName": "gold"},
            "status": {"phase": "Bound"}
        });
        assert_eq!(
            PersistentVolumePrinter.cells(&pv, now()),
            vec![
                json!("pv-1"),
                json!("10Gi"),
                json!("RWO,RWX"),
                json!("Delete"),
                json!("Bound"),
                json!("default/data"),
                json!("standard"),
                json!("gold"),
                json!(""),
                json!("60m"),
                json!("Block")
            ]
        );
        assert_eq!(
            PersistentVolumePrinter.cells(&json!({}), now()),
            vec![
                json!(""),
                json!("0"),
                json!(""),
                json!("Retain"),
                json!("Pending"),
                json!(""),
                json!(""),
                json!("<unset>"),
                json!(""),
                json!("<unknown>"),
                json!("Filesystem")
            ]
        );
    }

    #[test]
    fn persistent_volume_claim() {
        assert_eq!(
            names(&PersistentVolumeClaimPrinter),
            [
                "Name",
                "Status",
                "Volume",
                "Capacity",
                "Access Modes",
                "StorageClass",
                "VolumeAttributesClass",
                "Age",
                "VolumeMode"
            ]
        );
        let pvc = json!({
            "metadata": {"name": "data", "creationTimestamp": ago(60),
                         "annotations": {"volume.beta.kubernetes.io/storage-class": "legacy"}},
            "spec": {"volumeName": "pv-1", "storageClassName": "standard", "accessModes": ["ReadWriteOnce"],
                     "resources": {"requests": {"storage": "1Gi"}}},
            "status": {"phase": "Bound", "capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteOncePod"]}
        });
        assert_eq!(
            PersistentVolumeClaimPrinter.cells(&pvc, now()),
            vec![
                json!("data"),
                json!("Bound"),
                json!("pv-1"),
                json!("10Gi"),
                json!("RWOP"),
                json!("legacy"),
                json!("<unset>"),
                json!("60s"),
                json!("Filesystem")
            ]
        );
        let pending = json!({"metadata": {"deletionTimestamp": ago(1)},
            "spec": {"resources": {"requests": {"storage": "1Gi"}}, "storageClassName": "standard"}});
        assert_eq!(
            PersistentVolumeClaimPrinter.cells(&pending, now())[1..6],
            [
                json!("Terminating"),
                json!(""),
                json!(""),
                json!(""),
                json!("standard")
            ]
        );
        assert_eq!(
            PersistentVolumeClaimPrinter.cells(&json!({}), now())[1],
            json!("Pending")
        );
    }
}
