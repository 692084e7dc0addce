//! Core/v1 Events, aggregated like client-go's recorder: a repeat of the same
//! (object, reason, message) bumps `count` and `lastTimestamp` of the event
//! already written instead of creating a new one.

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

type Queued = (String, ObjectReference, bool, String, String);

#[derive(Clone)]
pub struct Recorder {
    queue: tokio::sync::mpsc::UnboundedSender<Queued>,
}

/// The background writer (holds no sender, so it ends with the last
/// Recorder).
struct Writer {
    client: Client,
    component: String,
    host: Option<String>,
    seen: Arc<Mutex<HashMap<String, (String, i32)>>>,
}

impl Recorder {
    /// A recorder writing its events in order from a background task (call
    /// inside a tokio runtime).
    pub fn new(client: Client, component: &str, host: Option<String>) -> Self {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Queued>();
        let writer = Writer {
            client,
            component: component.to_string(),
            host,
            seen: Arc::default(),
        };
        tokio::spawn(async move {
            while let Some((ns, involved, warning, reason, message)) = rx.recv().await {
                if let Err(e) = writer
                    .write(&ns, involved, warning, &reason, &message)
                    .await
                {
                    tracing::debug!(error = %e, reason, "cannot record event");
                }
            }
        });
        Recorder { queue: tx }
    }

    /// Records an event about a pod (optionally about one of its containers)
    /// in the background; failures are logged, never returned.
    pub fn pod_event(
        &self,
        pod: &Pod,
        container: Option<&str>,
        warning: bool,
        reason: &str,
        message: String,
    ) {
        let ns = pod
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into());
        let involved = ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Pod".into()),
            name: pod.metadata.name.clone(),
            namespace: Some(ns.clone()),
            uid: pod.metadata.uid.clone(),
            resource_version: pod.metadata.resource_version.clone(),
            field_path: container.map(|c| container_field_path(pod, c)),
        };
        self.record(ns, involved, warning, reason, message);
    }

    pub fn record(
        &self,
        ns: String,
        involved: ObjectReference,
        warning: bool,
        reason: &str,
        message: String,
    ) {
        let _ = self
            .queue
            .send((ns, involved, warning, reason.to_string(), message));
    }
}

impl Writer {
    async fn write(
        &self,
        ns: &str,
        involved: ObjectReference,
        warning: bool,
        reason: &str,
        message: &str,
    ) -> anyhow::Result<()> {
        let api: Api<Event> = Api::namespaced(self.client.clone(), ns);
        let now = Timestamp::now();
        let key = format!(
            "{}/{}/{}/{reason}/{message}",
            involved.uid.as_deref().unwrap_or_default(),
            involved.field_path.as_deref().unwrap_or_default(),
            self.component
        );
        let existing = self.seen.lock().ok().and_then(|m| m.get(&key).cloned());
        if let Some((name, count)) = existing {
            let patch = serde_json::json!({
                "count": count + 1,
                "lastTimestamp": Time(now),
            });
            if api
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .is_ok()
            {
                if let Ok(mut m) = self.seen.lock() {
                    m.insert(key, (name, count + 1));
                }
                return Ok(());
            }
        }
        let obj_name = involved.name.clone().unwrap_or_default();
        let name = format!("{obj_name}.{:x}", rand::random::<u64>() & 0xffff_ffff_ffff);
        let ev = Event {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(ns.to_string()),
                ..Default::default()
            },
            involved_object: involved,
            reason: Some(reason.to_string()),
            message: Some(message.to_string()),
            type_: Some(if warning { "Warning" } else { "Normal" }.to_string()),
            count: Some(1),
            first_timestamp: Some(Time(now)),
            last_timestamp: Some(Time(now)),
            event_time: None::<MicroTime>,
            source: Some(EventSource {
                component: Some(self.component.clone()),
                host: self.host.clone(),
            }),
            reporting_component: Some(self.component.clone()),
            reporting_instance: Some(self.host.clone().unwrap_or_else(|| self.component.clone())),
            ..Default::default()
        };
        api.create(&PostParams::default(), &ev).await?;
        if let Ok(mut m) = self.seen.lock() {
            if m.len() > 4096 {
                m.clear();
            }
            m.insert(key, (name, 1));
        }
        Ok(())
    }
}

/// `spec.containers{name}` or `spec.initContainers{name}`, as the kubelet
/// writes into involvedObject.fieldPath.
pub fn container_field_path(pod: &Pod, container: &str) -> String {
    let is_init = pod
        .spec
        .as_ref()
        .and_then(|s| s.init_containers.as_ref())
        .is_some_and(|ics| ics.iter().any(|c| c.name == container));
    if is_init {
        format!("spec.initContainers{{{container}}}")
    } else {
        format!("spec.containers{{{container}}}")
    }
}
