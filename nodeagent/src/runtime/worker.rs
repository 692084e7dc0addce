//! One pod's worker: owns its container processes, applies the decisions
//! of `state::plan`, runs probes, reports status, and carries out graceful
//! deletion.

use super::attach::{AttachHub, HubOptions};
use super::image::{self, ImageMap};
use super::logs::{self, LogWriter};
use super::probe::{self, Kind, Report};
use super::process::Console;
use super::process::{self, ProcSpec};
use super::pty::WindowSize;
use super::{Ctx, Live};
use crate::state::{self, CState, ContainerRec, Terminated};
use crate::streaming::remotecommand::{STDERR, STDOUT};
use k8s_openapi::api::core::v1::{Container, HostIP, LifecycleHandler, Pod, PodIP};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, Patch, PatchParams, Preconditions};
use kube::Api;
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

#[derive(Debug)]
pub enum Msg {
    /// The pod changed in the API.
    Pod(Box<Pod>),
    /// The pod is gone from the API.
    Removed,
    Exited {
        container: String,
        instance: u64,
        code: i32,
        signal: Option<i32>,
    },
    Probe {
        container: String,
        instance: u64,
        report: Report,
    },
}

/// A running container process.
struct Instance {
    id: u64,
    pgid: i32,
    probes: Vec<tokio::task::JoinHandle<()>>,
    started_tx: watch::Sender<bool>,
    probe_key: String,
    image: String,
    exited: watch::Receiver<bool>,
    target: probe::Target,
    started_at: tokio::time::Instant,
    has_readiness: bool,
    attach: Arc<AttachHub>,
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.probes.iter().for_each(|p| p.abort());
    }
}

pub struct Worker {
    ctx: Arc<Ctx>,
    pod: Pod,
    uid: String,
    tx: mpsc::UnboundedSender<Msg>,
    rx: mpsc::UnboundedReceiver<Msg>,
    recs: BTreeMap<String, ContainerRec>,
    /// Boxed: a map allocates room for several entries, and an instance
    /// is large (it holds its container's spec for probes).
    running: HashMap<String, Box<Instance>>,
    /// The console of each container's last instance once it exited: an
    /// attach that arrives just after the exit (`kubectl run -i` of a quick
    /// command) still connects and ends at once with the status, as it
    /// would have a moment earlier, instead of failing to upgrade.
    exited_consoles: HashMap<String, Arc<AttachHub>>,
    pod_ip: Option<IpAddr>,
    /// The pod's resolv.conf and hosts, once it has an address.
    dns_files: Option<super::pod_dns::PodDnsFiles>,
    start_time: Timestamp,
    last_sent: Option<serde_json::Value>,
    next_instance: u64,
    removed: bool,
    /// activeDeadlineSeconds passed: everything stopped, the pod failed.
    deadline_exceeded: bool,
}

fn probe_key(c: &Container) -> String {
    serde_json::to_string(&(&c.startup_probe, &c.liveness_probe, &c.readiness_probe))
        .unwrap_or_default()
}

fn ts_of(t: &Option<Time>) -> Option<Timestamp> {
    t.as_ref().map(|t| t.0)
}

impl Worker {
    pub fn new(
        ctx: Arc<Ctx>,
        pod: Pod,
        tx: mpsc::UnboundedSender<Msg>,
        rx: mpsc::UnboundedReceiver<Msg>,
    ) -> Self {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let mut w = Worker {
            ctx,
            uid,
            tx,
            rx,
            recs: BTreeMap::new(),
            running: HashMap::new(),
            exited_consoles: HashMap::new(),
            pod_ip: None,
            dns_files: None,
            start_time: Timestamp::now(),
            last_sent: None,
            next_instance: 1,
            removed: false,
            deadline_exceeded: false,
            pod,
        };
        w.restore();
        w
    }

    fn spec(&self) -> k8s_openapi::api::core::v1::PodSpec {
        self.pod.spec.clone().unwrap_or_default()
    }

    fn name(&self) -> String {
        self.pod.metadata.name.clone().unwrap_or_default()
    }

    fn ns(&self) -> String {
        self.pod
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into())
    }

    fn pod_ref(&self) -> String {
        format!("{}_{}({})", self.name(), self.ns(), self.uid)
    }

    /// Builds the records, taking what a previous agent reported (restart
    /// counts, terminations) from the pod's status.
    fn restore(&mut self) {
        let spec = self.spec();
        let status = self.pod.status.clone().unwrap_or_default();
        if let Some(t) = ts_of(&status.start_time) {
            self.start_time = t;
        }
        let now = Timestamp::now();
        let all = spec
            .init_containers
            .iter()
            .flatten()
            .map(|c| (c, true))
            .chain(spec.containers.iter().map(|c| (c, false)));
        for (c, init) in all {
            let mut rec = ContainerRec::new(c, init);
            let list = if init {
                status.init_container_statuses.as_ref()
            } else {
                status.container_statuses.as_ref()
            };
            if let Some(cs) = list.and_then(|l| l.iter().find(|s| s.name == c.name)) {
                let term = |t: &k8s_openapi::api::core::v1::ContainerStateTerminated| Terminated {
                    exit_code: t.exit_code,
                    signal: t.signal,
                    reason: t.reason.clone().unwrap_or_else(|| "Error".into()),
                    message: t.message.clone(),
                    started_at: ts_of(&t.started_at),
                    finished_at: ts_of(&t.finished_at).unwrap_or(now),
                    container_id: t.container_id.clone(),
                };
                rec.restart_count = cs.restart_count;
                rec.last = cs
                    .last_state
                    .as_ref()
                    .and_then(|l| l.terminated.as_ref())
                    .map(term);
                rec.container_id = cs.container_id.clone();
                rec.image_id = cs.image_id.clone();
                let st = cs.state.clone().unwrap_or_default();
                if let Some(r) = st.running {
                    // Its process went with the previous agent.
                    rec.ever_started = true;
                    rec.state = CState::Terminated(Terminated {
                        exit_code: 137,
                        signal: Some(9),
                        reason: "Error".into(),
                        message: Some("the node agent restarted".into()),
                        started_at: ts_of(&r.started_at),
                        finished_at: now,
                        container_id: cs.container_id.clone(),
                    });
                } else if let Some(t) = st.terminated {
                    rec.ever_started = true;
                    rec.state = CState::Terminated(term(&t));
                } else if rec.last.is_some() {
                    rec.ever_started = true;
                }
            }
            self.recs.insert(c.name.clone(), rec);
        }
        self.pod_ip = status.pod_ip.as_deref().and_then(|ip| ip.parse().ok());
        // Claim the address the pod already has (synchronously, before any
        // later pod's worker allocates).
        let cidr = *self.ctx.pod_cidr.borrow();
        if let (Some(ip), Some(cidr), false) = (self.pod_ip, cidr, spec.host_network == Some(true))
        {
            if let Ok(mut ipam) = self.ctx.ipam.lock() {
                if ipam.allocate(cidr, &self.uid, Some(ip)) != Some(ip) {
                    self.pod_ip = None;
                }
                if state::is_terminal(&spec, &self.recs) {
                    ipam.finished(&self.uid);
                }
            }
        }
    }

    /// The worker's loop. It rests in `rx.recv()` for most of a pod's life,
    /// so the rarer steps are boxed: their state would otherwise be part of
    /// every pod's task for as long as it runs.
    pub async fn run(mut self) {
        let _ = std::fs::create_dir_all(self.ctx.pod_dir(&self.uid).join("work"));
        loop {
            if self.removed {
                Box::pin(self.kill_all_now()).await;
                self.cleanup();
                return;
            }
            if self.pod.metadata.deletion_timestamp.is_some() {
                Box::pin(self.terminate()).await;
                self.cleanup();
                return;
            }
            let mut wake: Option<Duration> = None;
            if let (Some(secs), false) =
                (self.spec().active_deadline_seconds, self.deadline_exceeded)
            {
                let deadline = self.start_time + Duration::from_secs(secs.max(0) as u64);
                let now = Timestamp::now();
                if now >= deadline && !state::is_terminal(&self.spec(), &self.recs) {
                    self.deadline_exceeded = true;
                    self.event(
                        None,
                        true,
                        "DeadlineExceeded",
                        "Pod was active on the node longer than the specified deadline".into(),
                    );
                } else if now < deadline {
                    let left = deadline.duration_since(now).unsigned_abs();
                    wake = Some(left);
                }
            }
            let terminal = self.deadline_exceeded || state::is_terminal(&self.spec(), &self.recs);
            if !terminal {
                if !Box::pin(self.ensure_sandbox()).await {
                    wake = Some(Duration::from_millis(500));
                } else {
                    // Start what the plan says; a start that fails at once
                    // (StartError) is planned again right away.
                    for _ in 0..4 {
                        let spec = self.spec();
                        let now = Timestamp::now();
                        let pod_ref = self.pod_ref();
                        let plan = state::plan(&spec, &mut self.recs, &pod_ref, now);
                        for (c, msg) in &plan.backoff_events {
                            let _ = msg;
                            self.event(
                                Some(c),
                                true,
                                "BackOff",
                                format!(
                                    "Back-off restarting failed container {c} in pod {}",
                                    self.pod_ref()
                                ),
                            );
                        }
                        for c in &plan.stop {
                            self.kill_instance(c, self.grace(), format!("Stopping container {c}"));
                        }
                        wake = match (wake, plan.wake_in) {
                            (Some(a), Some(b)) => Some(a.min(b)),
                            (a, b) => a.or(b),
                        };
                        if plan.start.is_empty() {
                            break;
                        }
                        let mut immediate_failure = false;
                        for c in &plan.start {
                            if !Box::pin(self.start_container(c)).await {
                                immediate_failure = true;
                            }
                        }
                        if !immediate_failure {
                            break;
                        }
                    }
                }
            } else {
                let stop: Vec<String> = self.running.keys().cloned().collect();
                for c in stop {
                    self.kill_instance(&c, self.grace(), format!("Stopping container {c}"));
                }
                if self.running.is_empty() {
                    self.ctx.ipam.lock().map(|mut i| i.finished(&self.uid)).ok();
                }
            }
            self.publish_live();
            if !Box::pin(self.sync_status()).await {
                wake = Some(wake.map_or(Duration::from_secs(1), |w| w.min(Duration::from_secs(1))));
            }
            // Wait for something to happen.
            let msg = match wake {
                Some(d) => {
                    match tokio::time::timeout(d + Duration::from_millis(5), self.rx.recv()).await {
                        Ok(m) => m,
                        Err(_) => continue,
                    }
                }
                None => self.rx.recv().await,
            };
            let Some(msg) = msg else { return };
            self.handle(msg);
            while let Ok(m) = self.rx.try_recv() {
                self.handle(m);
            }
        }
    }

    fn handle(&mut self, msg: Msg) {
        match msg {
            Msg::Pod(p) => self.update_pod(*p),
            Msg::Removed => self.removed = true,
            Msg::Exited {
                container,
                instance,
                code,
                signal,
            } => {
                if self
                    .running
                    .get(&container)
                    .is_some_and(|i| i.id == instance)
                {
                    if let Some(inst) = self.running.remove(&container) {
                        self.exited_consoles
                            .insert(container.clone(), inst.attach.clone());
                    }
                    if let Some(rec) = self.recs.get_mut(&container) {
                        rec.mark_exited(code, signal, Timestamp::now());
                    }
                }
            }
            Msg::Probe {
                container,
                instance,
                report,
            } => self.on_probe(&container, instance, report),
        }
    }

    fn update_pod(&mut self, pod: Pod) {
        let new_spec = pod.spec.clone().unwrap_or_default();
        self.pod = pod;
        let all: Vec<Container> = new_spec
            .init_containers
            .iter()
            .flatten()
            .chain(new_spec.containers.iter())
            .cloned()
            .collect();
        for c in all {
            let new_image = c.image.clone().unwrap_or_default();
            if let Some(rec) = self.recs.get_mut(&c.name) {
                rec.image = new_image.clone();
            }
            let Some(inst) = self.running.get(&c.name) else {
                continue;
            };
            if inst.image != new_image {
                self.kill_instance(
                    &c.name,
                    self.grace(),
                    format!("Container {} definition changed, will be restarted", c.name),
                );
                continue;
            }
            if inst.probe_key != probe_key(&c) {
                self.restart_probes(&c);
            }
        }
    }

    fn grace(&self) -> Duration {
        let s = self
            .spec()
            .termination_grace_period_seconds
            .unwrap_or(30)
            .max(0);
        Duration::from_secs(s as u64)
    }

    fn event(&self, container: Option<&str>, warning: bool, reason: &str, message: String) {
        self.ctx
            .recorder
            .pod_event(&self.pod, container, warning, reason, message);
    }

    fn publish_live(&self) {
        if let Ok(mut live) = self.ctx.live.lock() {
            for rec in self.recs.values() {
                live.insert(
                    (self.uid.clone(), rec.name.clone()),
                    Live {
                        restart_count: rec.restart_count,
                        running: self.running.contains_key(&rec.name),
                        waiting_reason: match &rec.state {
                            CState::Waiting { reason, .. } => Some(reason.clone()),
                            _ => None,
                        },
                        exec: self.running.get(&rec.name).map(|i| super::ExecTarget {
                            env: i.target.exec_env.clone(),
                            cwd: i.target.cwd.clone(),
                            bind_mounts: self
                                .dns_files
                                .as_ref()
                                .map(|f| f.bind_mounts())
                                .unwrap_or_default(),
                        }),
                        attach: self
                            .running
                            .get(&rec.name)
                            .map(|i| i.attach.clone())
                            .or_else(|| self.exited_consoles.get(&rec.name).cloned()),
                    },
                );
            }
        }
    }

    /// The pod's IP (and directories); false while the node has no podCIDR.
    async fn ensure_sandbox(&mut self) -> bool {
        let spec = self.spec();
        if spec.host_network == Some(true) {
            self.pod_ip = Some(self.ctx.node_ip);
            return self.write_dns_files();
        }
        let cidr = *self.ctx.pod_cidr.borrow();
        let Some(cidr) = cidr else {
            return false;
        };
        let preferred = self.pod_ip;
        let ip = self
            .ctx
            .ipam
            .lock()
            .ok()
            .and_then(|mut i| i.allocate(cidr, &self.uid, preferred));
        match ip {
            Some(ip) => {
                self.pod_ip = Some(ip);
                self.write_dns_files()
            }
            None => false,
        }
    }

    /// The pod's resolv.conf and hosts (once; a failure is logged and the
    /// pod runs with the host's).
    fn write_dns_files(&mut self) -> bool {
        if self.dns_files.is_none() {
            match super::pod_dns::write(&self.ctx, &self.pod, &self.uid, self.pod_ip) {
                Ok(f) => self.dns_files = Some(f),
                Err(e) => {
                    tracing::warn!(pod = %self.pod_ref(), error = %e, "cannot write the pod's resolv.conf")
                }
            }
        }
        true
    }

    fn container_spec(&self, name: &str) -> Option<Container> {
        let spec = self.spec();
        spec.init_containers
            .iter()
            .flatten()
            .chain(spec.containers.iter())
            .find(|c| c.name == name)
            .cloned()
    }

    fn bin_dir(&self) -> PathBuf {
        self.ctx.pod_dir(&self.uid).join("bin")
    }

    fn ensure_applets(&self) -> std::io::Result<()> {
        let dir = self.bin_dir();
        std::fs::create_dir_all(&dir)?;
        for a in image::APPLETS {
            let link = dir.join(a);
            if std::fs::symlink_metadata(&link).is_err() {
                std::os::unix::fs::symlink(&self.ctx.mkube_bin, &link)?;
            }
        }
        Ok(())
    }

    /// Base environment of every container process.
    fn base_env(&self, applets: bool, cwd: &std::path::Path) -> Vec<(String, String)> {
        let host_path =
            std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into());
        let path = if applets {
            format!("{}:{host_path}", self.bin_dir().display())
        } else {
            host_path
        };
        let mut env = vec![
            ("PATH".to_string(), path),
            (
                "HOSTNAME".to_string(),
                self.spec()
                    .hostname
                    .filter(|h| !h.is_empty())
                    .unwrap_or_else(|| self.name()),
            ),
            ("HOME".to_string(), cwd.display().to_string()),
            (
                "POD_IP".to_string(),
                self.pod_ip.map(|i| i.to_string()).unwrap_or_default(),
            ),
            // Marks the pod's processes, so a restarted agent finds them.
            ("MKUBE_POD_UID".to_string(), self.uid.clone()),
        ];
        for passthrough in ["MKUBE_RESOLV_CONF", "LANG", "TZ"] {
            if let Ok(v) = std::env::var(passthrough) {
                env.push((passthrough.to_string(), v));
            }
        }
        // The pod's own resolv.conf, for the builtin applets.
        if let Some(f) = &self.dns_files {
            env.retain(|(k, _)| k != "MKUBE_RESOLV_CONF");
            env.push((
                "MKUBE_RESOLV_CONF".to_string(),
                f.resolv_conf.display().to_string(),
            ));
        }
        env
    }

    /// Starts a container; false if it failed at once (StartError).
    async fn start_container(&mut self, name: &str) -> bool {
        let Some(c) = self.container_spec(name) else {
            return true;
        };
        let now = Timestamp::now();
        let image_name = c.image.clone().unwrap_or_default();
        let map = match &self.ctx.image_map {
            Some(p) => match ImageMap::load(p) {
                Ok(m) => Some(m),
                Err(e) => {
                    tracing::warn!(path = %p.display(), error = %e, "cannot read the image map");
                    None
                }
            },
            None => None,
        };
        let launch =
            match image::launch(&c, map.as_ref(), &self.ctx.mkube_bin.display().to_string()) {
                Ok(l) => l,
                Err(msg) => {
                    self.event(Some(name), true, "Failed", msg.clone());
                    self.event(Some(name), true, "Failed", "Error: ErrImagePull".into());
                    if let Some(rec) = self.recs.get_mut(name) {
                        rec.mark_image_error(msg, now);
                    }
                    return true;
                }
            };
        self.event(
            Some(name),
            false,
            "Pulled",
            format!("Container image \"{image_name}\" already present on machine"),
        );
        let default_cwd = self.ctx.pod_dir(&self.uid).join("work");
        let cwd = c
            .working_dir
            .clone()
            .filter(|w| !w.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| default_cwd.clone());
        if cwd == default_cwd {
            let _ = std::fs::create_dir_all(&cwd);
        }
        if launch.applets {
            if let Err(e) = self.ensure_applets() {
                tracing::warn!(error = %e, "cannot create the applet directory");
            }
        }
        let pod_ip = self.pod_ip.map(|i| i.to_string()).unwrap_or_default();
        let env_ctx = super::env::EnvContext {
            pod: &self.pod,
            pod_ip: pod_ip.clone(),
            host_ip: self.ctx.node_ip.to_string(),
            node_name: &self.ctx.node_name,
        };
        let k8s_env = match super::env::container_env(&self.ctx.client, &env_ctx, &c).await {
            Ok(e) => e,
            Err(msg) => {
                self.event(Some(name), true, "Failed", format!("Error: {msg}"));
                if let Some(rec) = self.recs.get_mut(name) {
                    rec.mark_waiting_error("CreateContainerConfigError", msg, now);
                }
                return true;
            }
        };
        let mut env = self.base_env(launch.applets, &cwd);
        if launch.builtin == Some(image::Builtin::CoreDns) {
            if let Some(kc) = super::pod_dns::kubeconfig(&self.ctx, &self.uid) {
                env.push(("KUBECONFIG".to_string(), kc.display().to_string()));
            }
        }
        for (k, v) in k8s_env {
            env.retain(|(x, _)| *x != k);
            env.push((k, v));
        }
        let vars: BTreeMap<String, String> = env.iter().cloned().collect();
        let argv: Vec<String> = launch
            .argv
            .iter()
            .map(|a| super::env::expand(a, &vars))
            .collect();
        let id = format!(
            "{:016x}{:016x}",
            rand::random::<u64>(),
            rand::random::<u64>()
        );
        let container_id = format!("mkube://{id}");
        // Privileged ports of builtins: a clear failure instead of a crash.
        if let (Some(b), Some(ip)) = (launch.builtin, self.pod_ip) {
            for port in image::builtin_privileged_ports(b, &argv) {
                if let Err(e) = std::net::TcpListener::bind((ip, port)) {
                    if e.kind() == std::io::ErrorKind::PermissionDenied {
                        let msg = format!(
                            "cannot listen on {ip}:{port}: permission denied (ports below 1024 need root, CAP_NET_BIND_SERVICE, or sysctl net.ipv4.ip_unprivileged_port_start={port})"
                        );
                        self.event(Some(name), true, "Failed", format!("Error: {msg}"));
                        if let Some(rec) = self.recs.get_mut(name) {
                            rec.mark_start_error(container_id, msg, now);
                        }
                        return false;
                    }
                }
            }
        }
        let spec = ProcSpec {
            argv: argv.clone(),
            env: env.clone(),
            cwd: cwd.clone(),
            bind_mounts: self
                .dns_files
                .as_ref()
                .map(|f| f.bind_mounts())
                .unwrap_or_default(),
        };
        let console = match (c.tty, c.stdin) {
            (Some(true), _) => Some(Console::Tty(WindowSize::default())),
            (_, Some(true)) => Some(Console::Pipes { stdin: true }),
            _ => None,
        };
        let spawned = match console {
            Some(console) => process::spawn_interactive(spec, console)
                .await
                .map(|i| (i.child, i.pty)),
            None => process::spawn(spec).await.map(|ch| (ch, None)),
        };
        let (mut child, pty) = match spawned {
            Ok(pair) => pair,
            Err(e) => {
                let prog = argv.first().cloned().unwrap_or_default();
                let msg = match e.kind() {
                    std::io::ErrorKind::NotFound if !cwd.exists() => format!(
                        "failed to start container process: chdir to cwd (\"{}\") set in config.json failed: no such file or directory",
                        cwd.display()
                    ),
                    std::io::ErrorKind::NotFound => format!(
                        "failed to start container process: exec: \"{prog}\": executable file not found in $PATH"
                    ),
                    _ => format!("failed to start container process: exec: \"{prog}\": {e}"),
                };
                self.event(Some(name), true, "Failed", format!("Error: {msg}"));
                if let Some(rec) = self.recs.get_mut(name) {
                    rec.mark_start_error(container_id, msg, now);
                    // An instance that never ran has an empty log.
                    let path = self
                        .ctx
                        .log_dir(&self.pod)
                        .join(name)
                        .join(format!("{}.log", rec.restart_count));
                    let _ = LogWriter::open(path);
                }
                return false;
            }
        };
        let pid = child.id().map(|p| p as i32).unwrap_or(0);
        self.ctx.watchdog.add(pid);
        let pidfile = self
            .ctx
            .pod_dir(&self.uid)
            .join("pids")
            .join(format!("{name}.pid"));
        process::write_pidfile(&pidfile, pid);
        let Some(rec) = self.recs.get_mut(name) else {
            return true;
        };
        rec.mark_running(container_id, launch.image_id.clone(), now);
        let restart_count = rec.restart_count;
        self.event(
            Some(name),
            false,
            "Created",
            format!("Created container: {name}"),
        );
        self.event(
            Some(name),
            false,
            "Started",
            format!("Started container {name}"),
        );
        // Logs.
        let log_path = self
            .ctx
            .log_dir(&self.pod)
            .join(name)
            .join(format!("{restart_count}.log"));
        let (exited_tx, exited_rx) = watch::channel(false);
        let stdin: Option<Box<dyn tokio::io::AsyncWrite + Unpin + Send>> = match &pty {
            Some(p) if c.stdin == Some(true) => Some(Box::new(p.clone())),
            Some(_) => None,
            None => child
                .stdin
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncWrite + Unpin + Send>),
        };
        let hub = AttachHub::new(HubOptions {
            stdin,
            stdin_once: c.stdin_once == Some(true),
            tty: pty.clone(),
            exited: exited_rx.clone(),
        });
        let mut captures = Vec::new();
        match LogWriter::open(log_path) {
            Ok(w) => {
                let w = Arc::new(Mutex::new(w));
                if let Some(p) = pty {
                    let out = hub.tee(p, STDOUT);
                    captures.push(tokio::spawn(logs::capture(out, "stdout", w.clone())));
                }
                if let Some(out) = child.stdout.take() {
                    let out = hub.tee(out, STDOUT);
                    captures.push(tokio::spawn(logs::capture(out, "stdout", w.clone())));
                }
                if let Some(err) = child.stderr.take() {
                    let err = hub.tee(err, STDERR);
                    captures.push(tokio::spawn(logs::capture(err, "stderr", w)));
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot open the container log"),
        }
        // Exit watcher.
        let instance = self.next_instance;
        self.next_instance += 1;
        let tx = self.tx.clone();
        let watchdog = self.ctx.watchdog.clone();
        let cname = name.to_string();
        tokio::spawn(async move {
            let status = child.wait().await;
            let (code, signal) = match &status {
                Ok(s) => process::exit_code(s),
                Err(_) => (255, None),
            };
            // Like the end of a container's pid namespace: the rest of the
            // group goes with the main process.
            process::kill_group(pid, libc::SIGKILL);
            for c in captures {
                let _ = tokio::time::timeout(Duration::from_secs(2), c).await;
            }
            watchdog.remove(pid);
            let _ = std::fs::remove_file(&pidfile);
            let _ = exited_tx.send(true);
            let _ = tx.send(Msg::Exited {
                container: cname,
                instance,
                code,
                signal,
            });
        });
        let target = probe::Target {
            pod_ip: self.pod_ip.unwrap_or(self.ctx.node_ip),
            container: c.clone(),
            exec_env: env,
            cwd,
            watchdog: self.ctx.watchdog.clone(),
        };
        let (started_tx, _) = watch::channel(false);
        let inst = Instance {
            id: instance,
            pgid: pid,
            probes: Vec::new(),
            started_tx,
            probe_key: probe_key(&c),
            image: image_name,
            exited: exited_rx,
            target,
            started_at: tokio::time::Instant::now(),
            has_readiness: c.readiness_probe.is_some(),
            attach: hub,
        };
        let hook_target = inst.target.clone();
        self.exited_consoles.remove(name);
        self.running.insert(name.to_string(), Box::new(inst));
        self.spawn_probes(&c, true);
        if let Some(h) = c.lifecycle.as_ref().and_then(|l| l.post_start.clone()) {
            let tx = self.tx.clone();
            let cname = name.to_string();
            tokio::spawn(async move {
                if let Err(msg) = run_hook(&h, &hook_target).await {
                    let _ = tx.send(Msg::Probe {
                        container: cname,
                        instance,
                        report: Report::PostStartFailed(msg),
                    });
                }
            });
        }
        true
    }

    /// Starts the probe tasks of a running container (anew after a spec
    /// change, keeping the startup state when `fresh` is false).
    fn spawn_probes(&mut self, c: &Container, fresh: bool) {
        let Some(inst) = self.running.get_mut(&c.name) else {
            return;
        };
        inst.probes.iter().for_each(|p| p.abort());
        inst.probes.clear();
        inst.probe_key = probe_key(c);
        inst.has_readiness = c.readiness_probe.is_some();
        inst.target.container = c.clone();
        let rec = self.recs.get_mut(&c.name);
        let already_started = !fresh && rec.as_ref().is_some_and(|r| r.started);
        let mut started = already_started;
        if c.startup_probe.is_none() {
            started = true;
        }
        if let Some(rec) = rec {
            rec.started = started;
            rec.ready = started && c.readiness_probe.is_none();
        }
        let _ = inst.started_tx.send_replace(started);
        let probes: Vec<(Kind, k8s_openapi::api::core::v1::Probe)> = [
            (Kind::Startup, c.startup_probe.clone().filter(|_| !started)),
            (Kind::Liveness, c.liveness_probe.clone()),
            (Kind::Readiness, c.readiness_probe.clone()),
        ]
        .into_iter()
        .filter_map(|(k, p)| p.map(|p| (k, p)))
        .collect();
        for (kind, p) in probes {
            let tx = self.tx.clone();
            let cname = c.name.clone();
            let id = inst.id;
            let report = move |r: Report| {
                let _ = tx.send(Msg::Probe {
                    container: cname.clone(),
                    instance: id,
                    report: r,
                });
            };
            inst.probes.push(tokio::spawn(probe::probe_loop(
                kind,
                p,
                inst.target.clone(),
                inst.started_at,
                inst.started_tx.subscribe(),
                report,
            )));
        }
    }

    fn restart_probes(&mut self, c: &Container) {
        self.spawn_probes(c, false);
    }

    fn on_probe(&mut self, container: &str, instance: u64, report: Report) {
        let Some(inst) = self.running.get(container) else {
            return;
        };
        if inst.id != instance {
            return;
        }
        let has_readiness = inst.has_readiness;
        match report {
            Report::Unhealthy(kind, msg) => {
                self.event(
                    Some(container),
                    true,
                    "Unhealthy",
                    format!("{} probe failed: {msg}", kind.title()),
                );
            }
            Report::PostStartFailed(msg) => {
                self.event(
                    Some(container),
                    true,
                    "FailedPostStartHook",
                    format!("PostStartHook failed: {msg}"),
                );
                let grace = self.grace();
                self.kill_instance(
                    container,
                    grace,
                    format!("FailedPostStartHook: container {container}"),
                );
            }
            Report::Started => {
                let _ = inst.started_tx.send_replace(true);
                if let Some(rec) = self.recs.get_mut(container) {
                    rec.started = true;
                    if !has_readiness {
                        rec.ready = true;
                    }
                }
            }
            Report::Ready(r) => {
                if let Some(rec) = self.recs.get_mut(container) {
                    rec.ready = r && rec.started;
                }
            }
            Report::Failed(kind, _msg) => {
                let what = if kind == Kind::Startup {
                    "startup"
                } else {
                    "liveness"
                };
                let grace = self
                    .container_spec(container)
                    .and_then(|c| {
                        if kind == Kind::Startup {
                            c.startup_probe
                        } else {
                            c.liveness_probe
                        }
                    })
                    .and_then(|p| p.termination_grace_period_seconds)
                    .map(|s| Duration::from_secs(s.max(0) as u64))
                    .unwrap_or_else(|| self.grace());
                if let Some(rec) = self.recs.get_mut(container) {
                    rec.ready = false;
                }
                self.kill_instance(
                    container,
                    grace,
                    format!("Container {container} failed {what} probe, will be restarted"),
                );
            }
        }
    }

    /// SIGTERM to the container's group, SIGKILL after `grace`; the exit
    /// arrives as Msg::Exited.
    fn kill_instance(&mut self, container: &str, grace: Duration, message: String) {
        let Some(inst) = self.running.get_mut(container) else {
            return;
        };
        inst.probes.iter().for_each(|p| p.abort());
        inst.probes.clear();
        if *inst.exited.borrow() {
            return;
        }
        self.ctx
            .recorder
            .pod_event(&self.pod, Some(container), false, "Killing", message);
        let pgid = inst.pgid;
        let mut exited = inst.exited.clone();
        tokio::spawn(async move {
            process::kill_group(pgid, libc::SIGTERM);
            if tokio::time::timeout(grace, exited.wait_for(|e| *e))
                .await
                .is_err()
            {
                process::kill_group(pgid, libc::SIGKILL);
            }
        });
    }

    async fn kill_all_now(&mut self) {
        for inst in self.running.values() {
            process::kill_group(inst.pgid, libc::SIGKILL);
        }
        self.wait_exits(Duration::from_secs(5)).await;
    }

    /// Waits until every instance has exited (or the timeout).
    async fn wait_exits(&mut self, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        while !self.running.is_empty() {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(m @ Msg::Exited { .. })) => self.handle(m),
                Ok(Some(Msg::Pod(p))) => self.pod = *p,
                Ok(Some(Msg::Removed)) => self.removed = true,
                Ok(Some(Msg::Probe { .. })) => {}
                Ok(None) | Err(_) => break,
            }
        }
    }

    /// Graceful deletion: preStop hooks, SIGTERM, the grace period, SIGKILL;
    /// then the final status and the delete with grace 0.
    async fn terminate(&mut self) {
        let grace_secs = self
            .pod
            .metadata
            .deletion_grace_period_seconds
            .or(self.spec().termination_grace_period_seconds)
            .unwrap_or(30)
            .max(0);
        let grace = Duration::from_secs(grace_secs as u64);
        let deadline = tokio::time::Instant::now() + grace;
        let names: Vec<String> = self.running.keys().cloned().collect();
        for name in names {
            let Some(inst) = self.running.get_mut(&name) else {
                continue;
            };
            inst.probes.iter().for_each(|p| p.abort());
            inst.probes.clear();
            let pgid = inst.pgid;
            let mut exited = inst.exited.clone();
            let target = inst.target.clone();
            let pre_stop = self
                .container_spec(&name)
                .and_then(|c| c.lifecycle)
                .and_then(|l| l.pre_stop);
            self.event(
                Some(&name),
                false,
                "Killing",
                format!("Stopping container {name}"),
            );
            let recorder = self.ctx.recorder.clone();
            let pod = self.pod.clone();
            tokio::spawn(async move {
                if let Some(h) = pre_stop {
                    let run = run_hook(&h, &target);
                    match tokio::time::timeout_at(deadline, run).await {
                        Ok(Err(msg)) => recorder.pod_event(
                            &pod,
                            Some(&target.container.name),
                            true,
                            "FailedPreStopHook",
                            format!("PreStopHook failed: {msg}"),
                        ),
                        Ok(Ok(())) => {}
                        Err(_) => {}
                    }
                }
                process::kill_group(pgid, libc::SIGTERM);
                if tokio::time::timeout_at(deadline, exited.wait_for(|e| *e))
                    .await
                    .is_err()
                {
                    process::kill_group(pgid, libc::SIGKILL);
                }
            });
        }
        self.wait_exits(grace + Duration::from_secs(10)).await;
        // Containers that never ran stay as they are; the pod is over.
        self.publish_live();
        let _ = self.sync_status().await;
        let api: Api<Pod> = Api::namespaced(self.ctx.client.clone(), &self.ns());
        let dp = DeleteParams {
            grace_period_seconds: Some(0),
            preconditions: Some(Preconditions {
                uid: Some(self.uid.clone()),
                resource_version: None,
            }),
            ..Default::default()
        };
        match api.delete(&self.name(), &dp).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {}
            Err(e) => tracing::warn!(pod = %self.pod_ref(), error = %e, "cannot delete the pod"),
        }
    }

    fn cleanup(&mut self) {
        if let Ok(mut i) = self.ctx.ipam.lock() {
            i.release(&self.uid);
        }
        if let Ok(mut live) = self.ctx.live.lock() {
            live.retain(|(u, _), _| *u != self.uid);
        }
        let _ = std::fs::remove_dir_all(self.ctx.pod_dir(&self.uid));
        let _ = std::fs::remove_dir_all(self.ctx.log_dir(&self.pod));
    }

    /// Computes the status and writes it when it changed; false on a failed
    /// write.
    async fn sync_status(&mut self) -> bool {
        let status = self.status();
        if self.last_sent.as_ref() == Some(&status) {
            return true;
        }
        let api: Api<Pod> = Api::namespaced(self.ctx.client.clone(), &self.ns());
        let patch = serde_json::json!({ "status": status });
        match api
            .patch_status(&self.name(), &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(p) => {
                // Keep our view of conditions owned by others current.
                if let Some(st) = p.status {
                    let mut pod = self.pod.clone();
                    pod.status = Some(st);
                    self.pod.status = pod.status;
                }
                self.last_sent = Some(status);
                true
            }
            Err(kube::Error::Api(e)) if e.code == 404 => {
                self.removed = true;
                true
            }
            Err(e) => {
                tracing::debug!(pod = %self.pod_ref(), error = %e, "status update failed");
                false
            }
        }
    }

    fn status(&self) -> serde_json::Value {
        let spec = self.spec();
        let init: Vec<_> = spec
            .init_containers
            .iter()
            .flatten()
            .filter_map(|c| self.recs.get(&c.name).map(state::container_status))
            .collect();
        let regular: Vec<_> = spec
            .containers
            .iter()
            .filter_map(|c| self.recs.get(&c.name).map(state::container_status))
            .collect();
        let deleting = self.pod.metadata.deletion_timestamp.is_some();
        let terminal = state::is_terminal(&spec, &self.recs)
            || ((deleting || self.deadline_exceeded) && self.running.is_empty());
        let mut phase = state::pod_phase(&spec, &init, &regular, terminal);
        if deleting && self.running.is_empty() && phase == "Pending" {
            phase = "Failed";
        }
        if self.deadline_exceeded {
            phase = "Failed";
        }
        let existing = self
            .pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.clone())
            .unwrap_or_default();
        let sandbox_ready = self.pod_ip.is_some() && !(terminal && self.running.is_empty());
        let conditions = state::pod_conditions(
            &spec,
            phase,
            sandbox_ready,
            &init,
            &regular,
            &existing,
            Timestamp::now(),
        );
        let host_ip = self.ctx.node_ip.to_string();
        let mut status = serde_json::json!({
            "phase": phase,
            "conditions": conditions,
            "hostIP": host_ip,
            "hostIPs": [HostIP { ip: host_ip.clone() }],
            "startTime": Time(self.start_time),
            "qosClass": state::qos_class(&spec),
            "containerStatuses": regular,
        });
        if let Some(ip) = self.pod_ip {
            status["podIP"] = serde_json::json!(ip.to_string());
            status["podIPs"] = serde_json::json!([PodIP { ip: ip.to_string() }]);
        }
        if !init.is_empty() {
            status["initContainerStatuses"] = serde_json::json!(init);
        }
        if self.deadline_exceeded {
            status["reason"] = serde_json::json!("DeadlineExceeded");
            status["message"] =
                serde_json::json!("Pod was active on the node longer than the specified deadline");
        }
        status
    }
}

/// Runs a lifecycle handler (exec or httpGet); Err is the failure text.
pub async fn run_hook(h: &LifecycleHandler, target: &probe::Target) -> Result<(), String> {
    let timeout = Duration::from_secs(30);
    let outcome = if let Some(e) = &h.exec {
        probe::exec(e.command.as_deref().unwrap_or_default(), target, timeout).await
    } else if let Some(g) = &h.http_get {
        probe::http_get(g, target, timeout).await
    } else if let Some(s) = &h.sleep {
        tokio::time::sleep(Duration::from_secs(s.seconds.max(0) as u64)).await;
        probe::Outcome::Success
    } else if let Some(t) = &h.tcp_socket {
        probe::tcp(&t.port, t.host.as_deref(), target, timeout).await
    } else {
        probe::Outcome::Success
    };
    match outcome {
        probe::Outcome::Success => Ok(()),
        probe::Outcome::Failure(m) => Err(m),
    }
}
