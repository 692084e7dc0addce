//! LoadBalancer addresses for `type: LoadBalancer` Services (the role k3s's
//! ServiceLB or MetalLB plays): an address from `--lb-ip-range` (inside
//! 127.0.0.0/8 by default, so the proxy can bind it without root) written to
//! `status.loadBalancer.ingress`, `spec.loadBalancerIP` honoured when free,
//! released when the Service goes or changes type. Services of another
//! `loadBalancerClass` are left alone.

use futures::StreamExt;
use informers::Informers;
use ipnet::IpNet;
use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{reflector, watcher};
use std::borrow::Borrow;
use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// The class this controller serves besides the default (unset) one.
pub const LOAD_BALANCER_CLASS: &str = "mkube.dev/loopback";

/// What a Service's `status.loadBalancer.ingress` should be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub namespace: String,
    pub name: String,
    /// None: the Service should have no ingress from us.
    pub ip: Option<IpAddr>,
}

fn ours(svc: &Service) -> bool {
    let spec = svc.spec.as_ref();
    let is_lb = spec.and_then(|s| s.type_.as_deref()) == Some("LoadBalancer");
    let class = spec.and_then(|s| s.load_balancer_class.as_deref());
    is_lb && (class.is_none() || class == Some(LOAD_BALANCER_CLASS))
}

fn current_ip(svc: &Service) -> Option<IpAddr> {
    svc.status
        .as_ref()?
        .load_balancer
        .as_ref()?
        .ingress
        .as_ref()?
        .first()?
        .ip
        .as_deref()?
        .parse()
        .ok()
}

/// Decides every Service's address: keep valid current ones, then honour
/// requested `loadBalancerIP`s, then hand out the lowest free address.
/// Takes the cache's shared objects as they are: copying every Service on
/// each change was most of this controller's cost with thousands of them.
pub fn plan<S: Borrow<Service>>(services: &[S], range: &IpNet) -> Vec<Assignment> {
    let services: Vec<&Service> = services.iter().map(Borrow::borrow).collect();
    let mut used: HashSet<IpAddr> = HashSet::new();
    let mut out: BTreeMap<(String, String), Option<IpAddr>> = BTreeMap::new();
    let key = |s: &Service| {
        (
            s.metadata.namespace.clone().unwrap_or_default(),
            s.metadata.name.clone().unwrap_or_default(),
        )
    };
    let requested = |s: &Service| -> Option<IpAddr> {
        s.spec.as_ref()?.load_balancer_ip.as_deref()?.parse().ok()
    };
    // Pass 1: keep what is already assigned and still right.
    for s in services.iter().filter(|s| ours(s)) {
        if let Some(ip) =
            current_ip(s).filter(|ip| range.contains(ip) && requested(s).is_none_or(|r| r == *ip))
        {
            if used.insert(ip) {
                out.insert(key(s), Some(ip));
            }
        }
    }
    // Pass 2: requested addresses.
    let pending: Vec<&Service> = services
        .iter()
        .copied()
        .filter(|s| ours(s) && !out.contains_key(&key(s)))
        .collect();
    for s in pending {
        if let Some(ip) = requested(s).filter(|ip| range.contains(ip) && !used.contains(ip)) {
            used.insert(ip);
            out.insert(key(s), Some(ip));
        }
    }
    // Pass 3: the rest get the lowest free host address (none if requested is unusable or the range is full).
    let pending: Vec<&Service> = services
        .iter()
        .copied()
        .filter(|s| ours(s) && !out.contains_key(&key(s)))
        .collect();
    for s in pending {
        let ip = if requested(s).is_some() {
            None
        } else {
            range.hosts().find(|ip| !used.contains(ip))
        };
        if let Some(ip) = ip {
            used.insert(ip);
        }
        out.insert(key(s), ip);
    }
    // Services that are no longer ours lose an ingress we gave them.
    for s in services.iter().filter(|s| !ours(s)) {
        let class_other = s
            .spec
            .as_ref()
            .and_then(|sp| sp.load_balancer_class.as_deref())
            .is_some_and(|c| c != LOAD_BALANCER_CLASS);
        if current_ip(s).is_some_and(|ip| range.contains(&ip)) && !class_other {
            out.insert(key(s), None);
        }
    }
    out.into_iter()
        .map(|((namespace, name), ip)| Assignment {
            namespace,
            name,
            ip,
        })
        .collect()
}

/// Whether the controller must look at `svc`: it is ours, or it holds an
/// address we may have to take back.
fn relevant(svc: &Service) -> bool {
    ours(svc) || current_ip(svc).is_some()
}

/// The Services [`relevant`] to this controller, kept from watch events so a
/// change costs work in proportion to the LoadBalancer Services, not to all
/// Services. Entries whose object is gone are dropped when planning.
#[derive(Default)]
struct RelevantSet(std::sync::Mutex<HashSet<ObjectRef<Service>>>);

impl RelevantSet {
    fn observe(&self, event: &watcher::Event<Service>) {
        let mut set = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match event {
            watcher::Event::Apply(s) | watcher::Event::InitApply(s) => {
                let key = ObjectRef::from_obj(s);
                if relevant(s) {
                    set.insert(key);
                } else {
                    set.remove(&key);
                }
            }
            watcher::Event::Delete(s) => {
                set.remove(&ObjectRef::from_obj(s));
            }
            watcher::Event::Init | watcher::Event::InitDone => {}
        }
    }

    /// The current objects of the set, from `store`.
    fn objects(&self, store: &reflector::Store<Service>) -> Vec<Arc<Service>> {
        let mut set = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = Vec::with_capacity(set.len());
        set.retain(|key| match store.get(key) {
            Some(svc) => {
                out.push(svc);
                true
            }
            None => false,
        });
        out
    }
}

/// Runs the controller until the returned task is dropped or aborted;
/// returns once its cache synced.
pub async fn start(
    informers: &Informers,
    range: IpNet,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let client = informers.client().clone();
    let (store, synced, events) = informers.cached::<Service>(watcher::Config::default());
    let changed = Arc::new(Notify::new());
    let relevant = Arc::new(RelevantSet::default());
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<()>();
    // One task for both halves, so stopping it stops the event stream too.
    let task = tokio::spawn(async move {
        let observe = {
            let changed = changed.clone();
            let relevant = relevant.clone();
            events.for_each(move |event| {
                if let Ok(event) = &event {
                    relevant.observe(event);
                }
                changed.notify_one();
                futures::future::ready(())
            })
        };
        let assign = async move {
            if synced.wait().await.is_err() {
                return;
            }
            let _ = ready_tx.send(());
            loop {
                let services = relevant.objects(&store);
                for a in plan(&services, &range) {
                    let svc = store.get(&ObjectRef::new(&a.name).within(&a.namespace));
                    if svc.as_deref().map(current_ip) == Some(a.ip) {
                        continue;
                    }
                    if let Err(e) = write_status(&client, &a).await {
                        tracing::warn!(service = %format!("{}/{}", a.namespace, a.name), error = %e, "updating load balancer status failed");
                    }
                }
                tokio::select! {
                    _ = changed.notified() => {}
                    // Retry failed writes now and then even without changes.
                    _ = tokio::time::sleep(Duration::from_secs(10)) => {}
                }
            }
        };
        futures::join!(observe, assign);
    });
    if ready_rx.await.is_err() {
        task.abort();
        anyhow::bail!("the Service watch ended before the cache synced");
    }
    Ok(task)
}

async fn write_status(client: &kube::Client, a: &Assignment) -> anyhow::Result<()> {
    let api: Api<Service> = Api::namespaced(client.clone(), &a.namespace);
    let ingress = match a.ip {
        Some(ip) => serde_json::json!([{"ip": ip.to_string(), "ipMode": "VIP"}]),
        None => serde_json::json!(null),
    };
    let patch = serde_json::json!({"status": {"loadBalancer": {"ingress": ingress}}});
    api.patch_status(&a.name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn svc(name: &str, spec: serde_json::Value, status: serde_json::Value) -> Service {
        serde_json::from_value(json!({"metadata": {"name": name, "namespace": "default"}, "spec": spec, "status": status})).unwrap()
    }

    #[test]
    fn assigns_keeps_honours_and_releases() {
        let range: IpNet = "127.240.0.0/29".parse().unwrap();
        let services = vec![
            svc(
                "kept",
                json!({"type": "LoadBalancer"}),
                json!({"loadBalancer": {"ingress": [{"ip": "127.240.0.3"}]}}),
            ),
            svc(
                "asks",
                json!({"type": "LoadBalancer", "loadBalancerIP": "127.240.0.1"}),
                json!({}),
            ),
            svc("new", json!({"type": "LoadBalancer"}), json!({})),
            svc(
                "other-class",
                json!({"type": "LoadBalancer", "loadBalancerClass": "example.com/lb"}),
                json!({}),
            ),
            svc(
                "was-lb",
                json!({"type": "ClusterIP"}),
                json!({"loadBalancer": {"ingress": [{"ip": "127.240.0.5"}]}}),
            ),
        ];
        let plan = plan(&services, &range);
        let ip_of = |n: &str| plan.iter().find(|a| a.name == n).map(|a| a.ip);
        assert_eq!(ip_of("kept"), Some(Some("127.240.0.3".parse().unwrap())));
        assert_eq!(ip_of("asks"), Some(Some("127.240.0.1".parse().unwrap())));
        assert_eq!(ip_of("new"), Some(Some("127.240.0.2".parse().unwrap())));
        assert_eq!(ip_of("other-class"), None, "another class is left alone");
        assert_eq!(
            ip_of("was-lb"),
            Some(None),
            "type change releases the address"
        );
    }

    #[test]
    fn full_range_leaves_pending() {
        let range: IpNet = "127.240.0.0/30".parse().unwrap();
        let services: Vec<Service> = (0..3)
            .map(|i| svc(&format!("s{i}"), json!({"type": "LoadBalancer"}), json!({})))
            .collect();
        let plan = plan(&services, &range);
        assert_eq!(plan.iter().filter(|a| a.ip.is_some()).count(), 2);
    }

    #[test]
    fn relevant_set_follows_type_changes_and_deletes() {
        let (store, mut writer) = reflector::store::<Service>();
        let set = RelevantSet::default();
        let lb = svc("lb", json!({"type": "LoadBalancer"}), json!({}));
        let plain = svc("plain", json!({"type": "ClusterIP"}), json!({}));
        for s in [&lb, &plain] {
            let ev = watcher::Event::Apply(s.clone());
            writer.apply_watcher_event(&ev);
            set.observe(&ev);
        }
        let names = |v: Vec<Arc<Service>>| -> Vec<String> {
            v.iter().filter_map(|s| s.metadata.name.clone()).collect()
        };
        assert_eq!(names(set.objects(&store)), vec!["lb".to_string()]);
        // Turned into a ClusterIP Service while still holding our address:
        // still relevant, so the address can be taken back.
        let was_lb = svc(
            "lb",
            json!({"type": "ClusterIP"}),
            json!({"loadBalancer": {"ingress": [{"ip": "127.240.0.1"}]}}),
        );
        let ev = watcher::Event::Apply(was_lb.clone());
        writer.apply_watcher_event(&ev);
        set.observe(&ev);
        assert_eq!(names(set.objects(&store)), vec!["lb".to_string()]);
        // Gone from the cache (a delete missed during a relist): dropped.
        writer.apply_watcher_event(&watcher::Event::Delete(was_lb));
        assert!(set.objects(&store).is_empty());
    }
}
