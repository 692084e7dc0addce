//! The pod runtime: a watch on the pods bound to this node feeding one
//! worker task per pod (by uid).

pub mod attach;
pub mod env;
pub mod image;
pub mod logs;
pub mod pod_dns;
pub mod probe;
pub mod process;
pub mod pty;
pub mod worker;

use crate::events::Recorder;
use futures::StreamExt;
use ipnet::IpNet;
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client};
use process::Watchdog;
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// A container's current instance, for the agent's endpoint (logs, exec).
#[derive(Debug, Clone, Default)]
pub struct Live {
    pub restart_count: i32,
    pub running: bool,
    pub waiting_reason: Option<String>,
    /// Where `exec` runs while the instance is running.
    pub exec: Option<ExecTarget>,
    /// The console for `attach`: the running instance's, or after it exited
    /// the last one's (an attach to it ends at once).
    pub attach: Option<Arc<attach::AttachHub>>,
}

/// Where an exec runs: the running instance's environment and directory.
#[derive(Debug, Clone, Default)]
pub struct ExecTarget {
    pub env: Vec<(String, String)>,
    pub cwd: PathBuf,
    /// The pod's resolv.conf and hosts, as the container sees them.
    pub bind_mounts: Vec<(PathBuf, PathBuf)>,
}

/// Everything the workers share.
pub struct Ctx {
    pub client: Client,
    pub node_name: String,
    pub node_ip: IpAddr,
    pub data_dir: PathBuf,
    pub image_map: Option<PathBuf>,
    pub mkube_bin: PathBuf,
    pub recorder: Recorder,
    pub watchdog: Arc<Watchdog>,
    pub ipam: Mutex<Ipam>,
    pub pod_cidr: tokio::sync::watch::Receiver<Option<IpNet>>,
    /// The cluster DNS address and domain pods are configured with.
    pub dns: crate::clusterdns::resolv::NodeDns,
    /// Handed to builtin images that need the API (coredns).
    pub pod_kubeconfig: Option<PathBuf>,
    /// (uid, container) -> state, for logs.
    pub live: Mutex<HashMap<(String, String), Live>>,
    /// (namespace, name) -> uid of the pod running here, for the HTTP
    /// endpoint (only the uid: the workers hold the pods).
    pub index: Mutex<HashMap<(String, String), String>>,
}

impl Ctx {
    pub fn pods_root(&self) -> PathBuf {
        self.data_dir.join("pods")
    }

    pub fn pod_dir(&self, uid: &str) -> PathBuf {
        self.pods_root().join(uid)
    }

    pub fn log_dir(&self, pod: &Pod) -> PathBuf {
        self.log_dir_of(
            pod.metadata.namespace.as_deref().unwrap_or("default"),
            pod.metadata.name.as_deref().unwrap_or_default(),
            pod.metadata.uid.as_deref().unwrap_or_default(),
        )
    }

    /// The kubelet's `/var/log/pods/<ns>_<name>_<uid>` layout.
    pub fn log_dir_of(&self, namespace: &str, name: &str, uid: &str) -> PathBuf {
        self.data_dir
            .join("logs")
            .join(format!("{namespace}_{name}_{uid}"))
    }
}

/// Pod IPs from the node's podCIDR, unique per pod: a pod keeps its
/// address until it is deleted; only when the range is full do finished
/// pods give theirs up.
#[derive(Debug, Default)]
pub struct Ipam {
    used: HashMap<IpAddr, String>,
    finished: HashSet<String>,
}

impl Ipam {
    /// An address for `uid`: its own if it has one, `preferred` if free and
    /// inside the range, else the first free host address (skipping the
    /// network address and .1, the gateway by convention).
    pub fn allocate(
        &mut self,
        cidr: IpNet,
        uid: &str,
        preferred: Option<IpAddr>,
    ) -> Option<IpAddr> {
        if let Some((ip, _)) = self.used.iter().find(|(_, u)| *u == uid) {
            return Some(*ip);
        }
        self.finished.remove(uid);
        if let Some(p) = preferred {
            if cidr.contains(&p) && !self.used.contains_key(&p) {
                self.used.insert(p, uid.to_string());
                return Some(p);
            }
        }
        let hosts = || {
            cidr.hosts()
                .filter(move |ip| *ip != cidr.network())
                .skip(1)
                .take(65536)
        };
        let ip = hosts().find(|ip| !self.used.contains_key(ip)).or_else(|| {
            hosts().find(|ip| self.used.get(ip).is_some_and(|u| self.finished.contains(u)))
        })?;
        if let Some(old) = self.used.insert(ip, uid.to_string()) {
            self.finished.remove(&old);
        }
        Some(ip)
    }

    /// The pod finished: its address may go to another pod if the range
    /// runs out.
    pub fn finished(&mut self, uid: &str) {
        if self.used.values().any(|u| u == uid) {
            self.finished.insert(uid.to_string());
        }
    }

    /// The address `uid` holds, if any.
    pub fn ip_of(&self, uid: &str) -> Option<IpAddr> {
        self.used
            .iter()
            .find_map(|(ip, u)| (u == uid).then_some(*ip))
    }

    pub fn release(&mut self, uid: &str) {
        self.used.retain(|_, u| u != uid);
        self.finished.remove(uid);
    }
}

pub struct WorkerHandle {
    pub tx: mpsc::UnboundedSender<worker::Msg>,
    pub task: tokio::task::JoinHandle<()>,
}

/// The workers, aborted when this is dropped.
#[derive(Default)]
pub struct Workers(pub HashMap<String, WorkerHandle>);

impl Drop for Workers {
    fn drop(&mut self) {
        for w in self.0.values() {
            w.task.abort();
        }
    }
}

fn key(pod: &Pod) -> (String, String) {
    (
        pod.metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into()),
        pod.metadata.name.clone().unwrap_or_default(),
    )
}

/// Watches this node's pods and feeds the workers until dropped; signals
/// `synced` after the first complete list was dispatched.
pub async fn run(ctx: Arc<Ctx>, synced: tokio::sync::oneshot::Sender<()>) {
    let mut synced = Some(synced);
    let api: Api<Pod> = Api::all(ctx.client.clone());
    let cfg = watcher::Config::default().fields(&format!("spec.nodeName={}", ctx.node_name));
    let stream = watcher(api, cfg).default_backoff();
    futures::pin_mut!(stream);
    let mut workers = Workers::default();
    let mut listed: HashSet<String> = HashSet::new();
    while let Some(ev) = stream.next().await {
        let ev = match ev {
            Ok(ev) => ev,
            Err(e) => {
                tracing::debug!(error = %e, "pod watch error; retrying");
                continue;
            }
        };
        match ev {
            watcher::Event::Init => listed.clear(),
            watcher::Event::InitApply(pod) => {
                if let Some(uid) = pod.metadata.uid.clone() {
                    listed.insert(uid);
                }
                dispatch(&ctx, &mut workers, pod);
            }
            watcher::Event::InitDone => {
                let gone: Vec<String> = workers
                    .0
                    .keys()
                    .filter(|u| !listed.contains(*u))
                    .cloned()
                    .collect();
                for uid in gone {
                    if let Some(w) = workers.0.get(&uid) {
                        let _ = w.tx.send(worker::Msg::Removed);
                    }
                }
                if let Some(s) = synced.take() {
                    let _ = s.send(());
                }
            }
            watcher::Event::Apply(pod) => dispatch(&ctx, &mut workers, pod),
            watcher::Event::Delete(pod) => {
                if let Ok(mut idx) = ctx.index.lock() {
                    if idx.get(&key(&pod)) == pod.metadata.uid.as_ref() {
                        idx.remove(&key(&pod));
                    }
                }
                if let Some(w) = pod.metadata.uid.as_ref().and_then(|u| workers.0.get(u)) {
                    let _ = w.tx.send(worker::Msg::Removed);
                }
            }
        }
        workers.0.retain(|_, w| !w.task.is_finished());
    }
}

fn dispatch(ctx: &Arc<Ctx>, workers: &mut Workers, mut pod: Pod) {
    let Some(uid) = pod.metadata.uid.clone() else {
        return;
    };
    // Nothing on the node reads them; each worker would hold them for
    // the pod's life.
    pod.metadata.managed_fields = None;
    if let Ok(mut idx) = ctx.index.lock() {
        idx.insert(key(&pod), uid.clone());
    }
    if let Some(w) = workers.0.get(&uid) {
        if !w.task.is_finished() {
            let _ = w.tx.send(worker::Msg::Pod(Box::new(pod)));
            return;
        }
    }
    let (tx, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(worker::Worker::new(ctx.clone(), pod, tx.clone(), rx).run());
    workers.0.insert(uid, WorkerHandle { tx, task });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipam_unique_and_sticky() {
        let cidr: IpNet = "127.244.0.0/24".parse().unwrap();
        let mut ipam = Ipam::default();
        let a = ipam.allocate(cidr, "a", None).unwrap();
        assert_eq!(a.to_string(), "127.244.0.2");
        let b = ipam.allocate(cidr, "b", None).unwrap();
        assert_eq!(b.to_string(), "127.244.0.3");
        assert_eq!(ipam.allocate(cidr, "a", None), Some(a));
        let c = ipam.allocate(cidr, "c", Some(b)).unwrap();
        assert_ne!(c, b);
        ipam.release("a");
        assert_eq!(ipam.allocate(cidr, "d", None), Some(a));
        let kept = ipam
            .allocate(cidr, "e", Some("127.244.0.77".parse().unwrap()))
            .unwrap();
        assert_eq!(kept.to_string(), "127.244.0.77");
        // A full range reuses the address of a finished pod.
        let small: IpNet = "127.244.1.0/30".parse().unwrap();
        let mut ipam = Ipam::default();
        let x = ipam.allocate(small, "x", None).unwrap();
        assert_eq!(ipam.allocate(small, "y", None), None);
        ipam.finished("x");
        assert_eq!(ipam.allocate(small, "y", None), Some(x));
    }
}
