//! The pod runtime: a watch on the pods bound to this node feeding one
//! worker task per pod (by uid).

pub mod attach;
pub mod env;
pub mod image;
pub mod logs;
pub mod pod_dns;
pub mod pod_ip_allocator;
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
use pod_ip_allocator::PodIpAllocator;
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
    pub ipam: Mutex<PodIpAllocator>,
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
