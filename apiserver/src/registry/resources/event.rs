//! Events: core/v1 and events.k8s.io/v1 are two views of one stored object.
//!
//! kube-apiserver keeps a single `events` resource in storage and converts
//! between the versions on every read and write, so an event a controller
//! records through events.k8s.io/v1 is what `kubectl describe` finds with its
//! core/v1 `involvedObject` field selector, and the other way round. mkube
//! stores the core/v1 form; the events.k8s.io/v1 strategy converts with the
//! field mapping of Kubernetes' `pkg/apis/events/v1` conversion:
//! regarding <-> involvedObject, note <-> message, reportingController <->
//! reportingComponent, deprecatedSource <-> source, deprecatedFirstTimestamp /
//! deprecatedLastTimestamp / deprecatedCount <-> firstTimestamp /
//! lastTimestamp / count. `series`, `eventTime`, `action`, `reason`,
//! `related`, `type` and `reportingInstance` are spelled alike.

use crate::registry::Strategy;
use serde_json::{json, Value};

/// (core/v1 field, events.k8s.io/v1 field) pairs that differ only in name.
const RENAMED: &[(&str, &str)] = &[
    ("involvedObject", "regarding"),
    ("message", "note"),
    ("reportingComponent", "reportingController"),
    ("source", "deprecatedSource"),
    ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"),
    ("count", "deprecatedCount"),
];

const CORE_API_VERSION: &str = "v1";
const EVENTS_API_VERSION: &str = "events.k8s.io/v1";

/// core/v1 events: the stored form.
pub struct EventStrategy;

/// events.k8s.io/v1 events: stored as core/v1, converted on the way in and out.
pub struct EventsV1Strategy;

impl Strategy for EventStrategy {}

impl Strategy for EventsV1Strategy {
    fn storage_group(&self) -> Option<&'static str> {
        Some("")
    }

    fn stored_form(&self, obj: Value) -> Value {
        events_v1_to_core(obj)
    }

    fn served_form(&self, obj: Value) -> Value {
        core_to_events_v1(obj)
    }
}

/// An events.k8s.io/v1 Event in its core/v1 form.
pub fn events_v1_to_core(obj: Value) -> Value {
    convert(obj, CORE_API_VERSION, |(core, v1)| (v1, core))
}

/// A core/v1 Event in its events.k8s.io/v1 form.
pub fn core_to_events_v1(obj: Value) -> Value {
    convert(obj, EVENTS_API_VERSION, |pair| pair)
}

/// Renames the fields of [`RENAMED`] (`direction` picks (from, to) out of each
/// (core, v1) pair) and stamps the target apiVersion.
fn convert(
    mut obj: Value,
    api_version: &str,
    direction: fn((&'static str, &'static str)) -> (&'static str, &'static str),
) -> Value {
    let Some(map) = obj.as_object_mut() else {
        return obj;
    };
    for &pair in RENAMED {
        let (from, to) = direction(pair);
        match map.remove(from) {
            Some(v) => {
                map.insert(to.to_string(), v);
            }
            None => {
                map.remove(to);
            }
        }
    }
    map.insert("apiVersion".into(), json!(api_version));
    map.insert("kind".into(), json!("Event"));
    obj
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What kube-rs's Recorder posts for a new event.
    fn recorded() -> Value {
        json!({
            "apiVersion": "events.k8s.io/v1",
            "kind": "Event",
            "metadata": {"name": "web.17a", "namespace": "default"},
            "eventTime": "2026-01-01T00:00:00.000000Z",
            "series": {"count": 2, "lastObservedTime": "2026-01-01T00:00:05.000000Z"},
            "regarding": {"kind": "Deployment", "name": "web", "namespace": "default", "uid": "u1", "apiVersion": "apps/v1"},
            "note": "Scaled up replica set web-abc to 3",
            "reason": "ScalingReplicaSet",
            "action": "Scaling",
            "type": "Normal",
            "reportingController": "deployment-controller",
            "reportingInstance": "mkube",
            "deprecatedCount": 2
        })
    }

    #[test]
    fn events_v1_becomes_core_v1() {
        let core = events_v1_to_core(recorded());
        assert_eq!(core["apiVersion"], "v1");
        assert_eq!(core["involvedObject"]["name"], "web");
        assert_eq!(core["involvedObject"]["uid"], "u1");
        assert_eq!(core["message"], "Scaled up replica set web-abc to 3");
        assert_eq!(core["reportingComponent"], "deployment-controller");
        assert_eq!(core["count"], 2);
        assert_eq!(core["series"]["count"], 2);
        assert_eq!(core["reportingInstance"], "mkube");
        for gone in [
            "regarding",
            "note",
            "reportingController",
            "deprecatedCount",
        ] {
            assert!(core.get(gone).is_none(), "{gone} left in {core}");
        }
    }

    #[test]
    fn round_trip_is_lossless() {
        let back = core_to_events_v1(events_v1_to_core(recorded()));
        assert_eq!(back, recorded());
    }

    #[test]
    fn core_event_reads_as_events_v1() {
        let core = json!({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": "x", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": "p"},
            "message": "hello", "source": {"component": "kubelet", "host": "n1"},
            "firstTimestamp": "2026-01-01T00:00:00Z", "count": 1
        });
        let v1 = core_to_events_v1(core);
        assert_eq!(v1["apiVersion"], "events.k8s.io/v1");
        assert_eq!(v1["regarding"]["name"], "p");
        assert_eq!(v1["note"], "hello");
        assert_eq!(v1["deprecatedSource"]["component"], "kubelet");
        assert_eq!(v1["deprecatedFirstTimestamp"], "2026-01-01T00:00:00Z");
        assert_eq!(v1["deprecatedCount"], 1);
    }
}
