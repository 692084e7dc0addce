//! Events, through kube-rs's Recorder (events.k8s.io/v1), with the reasons and
//! messages kube-controller-manager uses. Publishing is best effort: a failed
//! event is logged and never fails a reconcile.
//!
//! A kube-rs Recorder folds every event with the same object, reason and
//! action into one series and keeps the first note, so "Scaled up ... to 5
//! from 3" after "... to 3 from 0" would be lost. client-go's correlator
//! also keys on the message; to get that, one Recorder is kept per
//! (object, reason, note): repeats of a message become a series, a new
//! message a new event.

use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Resource, ResourceExt};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// (object uid, reason, note) -> the Recorder that publishes that message.
type RecorderMap = HashMap<(String, String, String), Recorder>;

/// Distinct messages remembered before the memory is reset.
const MAX_RECORDERS: usize = 2048;

#[derive(Clone)]
pub struct Events {
    client: kube::Client,
    reporter: Reporter,
    recorders: Arc<Mutex<RecorderMap>>,
}

impl Events {
    /// `component` is the controller's name as kube-controller-manager reports
    /// it (e.g. `deployment-controller`).
    pub fn new(client: kube::Client, component: &str) -> Self {
        let reporter = Reporter {
            controller: component.to_string(),
            instance: None,
        };
        Events {
            client,
            reporter,
            recorders: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    pub async fn normal<K>(&self, obj: &K, reason: &str, action: &str, note: String)
    where
        K: Resource<DynamicType = ()>,
    {
        self.publish(obj, EventType::Normal, reason, action, note)
            .await
    }

    pub async fn warning<K>(&self, obj: &K, reason: &str, action: &str, note: String)
    where
        K: Resource<DynamicType = ()>,
    {
        self.publish(obj, EventType::Warning, reason, action, note)
            .await
    }

    async fn publish<K>(&self, obj: &K, type_: EventType, reason: &str, action: &str, note: String)
    where
        K: Resource<DynamicType = ()>,
    {
        let reference: ObjectReference = obj.object_ref(&());
        let ev = Event {
            type_,
            reason: reason.to_string(),
            note: Some(note),
            action: action.to_string(),
            secondary: None,
        };
        let key = (
            reference.uid.clone().unwrap_or_default(),
            reason.to_string(),
            ev.note.clone().unwrap_or_default(),
        );
        let recorder = {
            let mut map = match self.recorders.lock() {
                Ok(m) => m,
                Err(p) => p.into_inner(),
            };
            if map.len() >= MAX_RECORDERS {
                map.clear();
            }
            map.entry(key)
                .or_insert_with(|| Recorder::new(self.client.clone(), self.reporter.clone()))
                .clone()
        };
        if let Err(e) = recorder.publish(&ev, &reference).await {
            tracing::debug!(object = %format!("{}/{}", obj.namespace().unwrap_or_default(), obj.name_any()), reason, error = %e, "publishing event failed");
        }
    }
}
