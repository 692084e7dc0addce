//! The pure part of the pod runtime: container records and their
//! transitions, the crash-loop back-off, which containers to start next, and
//! the pod status (phase, conditions, container statuses) computed from the
//! records the way the kubelet computes it. No I/O here.

use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateRunning, ContainerStateTerminated,
    ContainerStateWaiting, ContainerStatus, PodCondition, PodSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use std::collections::BTreeMap;
use std::time::Duration;

pub const BACKOFF_INITIAL: Duration = Duration::from_secs(10);
pub const BACKOFF_MAX: Duration = Duration::from_secs(300);
pub const IMAGE_BACKOFF_INITIAL: Duration = Duration::from_secs(10);

fn since(later: Timestamp, earlier: Timestamp) -> Duration {
    let d = later.duration_since(earlier);
    if d.is_negative() {
        Duration::ZERO
    } else {
        d.unsigned_abs()
    }
}

/// Per-container crash-loop back-off, as the kubelet keeps it: the first
/// restart is immediate, then 10 s doubling to 5 min; a container that ran
/// for more than twice the maximum since the last failure starts over.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Backoff {
    pub period: Duration,
    pub last_update: Option<Timestamp>,
}

impl Backoff {
    fn expired(&self, event: Timestamp) -> bool {
        match self.last_update {
            None => true,
            Some(last) => since(event, last) > 2 * BACKOFF_MAX,
        }
    }

    /// Time left before a container that finished at `finished` may start
    /// again, or None if it may start now.
    pub fn remaining(&self, finished: Timestamp, now: Timestamp) -> Option<Duration> {
        if self.expired(finished) {
            return None;
        }
        let elapsed = since(now, finished);
        (elapsed < self.period).then(|| self.period - elapsed)
    }

    /// Records a restart of a container that finished at `finished`.
    pub fn next(&mut self, finished: Timestamp) {
        if self.expired(finished) || self.period.is_zero() {
            self.period = BACKOFF_INITIAL;
        } else {
            self.period = (self.period * 2).min(BACKOFF_MAX);
        }
        self.last_update = Some(finished);
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Terminated {
    pub exit_code: i32,
    pub signal: Option<i32>,
    pub reason: String,
    pub message: Option<String>,
    pub started_at: Option<Timestamp>,
    pub finished_at: Timestamp,
    pub container_id: Option<String>,
}

impl Terminated {
    /// The record of a process that ended with `exit_code` (128+n for a
    /// signal n), with the runtime's reason.
    pub fn exited(
        exit_code: i32,
        signal: Option<i32>,
        started_at: Timestamp,
        finished_at: Timestamp,
        container_id: Option<String>,
    ) -> Self {
        Terminated {
            exit_code,
            signal,
            reason: if exit_code == 0 { "Completed" } else { "Error" }.into(),
            message: None,
            started_at: Some(started_at),
            finished_at,
            container_id,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum CState {
    Waiting {
        reason: String,
        message: Option<String>,
    },
    Running {
        started_at: Timestamp,
    },
    Terminated(Terminated),
}

/// What the agent knows about one container of a pod.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerRec {
    pub name: String,
    pub image: String,
    pub image_id: String,
    pub init: bool,
    /// An init container with restartPolicy Always.
    pub sidecar: bool,
    pub restart_count: i32,
    /// False until the first start of the container on this agent (or a
    /// recorded previous instance).
    pub ever_started: bool,
    pub state: CState,
    pub last: Option<Terminated>,
    pub ready: bool,
    /// Startup probe passed (or none) while running.
    pub started: bool,
    pub container_id: Option<String>,
    pub backoff: Backoff,
    /// When the image may be resolved again after a failure.
    pub image_retry_at: Option<Timestamp>,
    pub image_backoff: Duration,
}

impl ContainerRec {
    pub fn new(c: &Container, init: bool) -> Self {
        ContainerRec {
            name: c.name.clone(),
            image: c.image.clone().unwrap_or_default(),
            image_id: String::new(),
            init,
            sidecar: init && c.restart_policy.as_deref() == Some("Always"),
            restart_count: 0,
            ever_started: false,
            state: CState::Waiting {
                reason: if init {
                    "PodInitializing"
                } else {
                    "ContainerCreating"
                }
                .into(),
                message: None,
            },
            last: None,
            ready: false,
            started: false,
            container_id: None,
            backoff: Backoff::default(),
            image_retry_at: None,
            image_backoff: Duration::ZERO,
        }
    }

    pub fn is_running(&self) -> bool {
        matches!(self.state, CState::Running { .. })
    }

    /// The last termination of this container, current or previous.
    pub fn finished(&self) -> Option<&Terminated> {
        match &self.state {
            CState::Terminated(t) => Some(t),
            CState::Waiting { .. } => self.last.as_ref(),
            CState::Running { .. } => None,
        }
    }

    /// Marks the container started with a new instance id.
    pub fn mark_running(&mut self, id: String, image_id: String, now: Timestamp) {
        if let CState::Terminated(t) = &self.state {
            self.last = Some(t.clone());
        }
        if self.ever_started {
            self.restart_count += 1;
        }
        self.ever_started = true;
        self.state = CState::Running { started_at: now };
        self.container_id = Some(id);
        self.image_id = image_id;
        self.ready = false;
        self.started = false;
        self.image_retry_at = None;
        self.image_backoff = Duration::ZERO;
    }

    /// Marks the running instance ended.
    pub fn mark_exited(&mut self, exit_code: i32, signal: Option<i32>, now: Timestamp) {
        let started_at = match self.state {
            CState::Running { started_at } => started_at,
            _ => now,
        };
        self.state = CState::Terminated(Terminated::exited(
            exit_code,
            signal,
            started_at,
            now,
            self.container_id.clone(),
        ));
        self.ready = false;
        self.started = false;
    }

    /// A start that failed before the process ran (StartError, exit 128).
    pub fn mark_start_error(&mut self, id: String, message: String, now: Timestamp) {
        if let CState::Terminated(t) = &self.state {
            self.last = Some(t.clone());
        }
        if self.ever_started {
            self.restart_count += 1;
        }
        self.ever_started = true;
        self.state = CState::Terminated(Terminated {
            exit_code: 128,
            signal: None,
            reason: "StartError".into(),
            message: Some(message),
            started_at: Some(Timestamp::UNIX_EPOCH),
            finished_at: now,
            container_id: Some(id.clone()),
        });
        self.container_id = Some(id);
        self.ready = false;
        self.started = false;
    }

    /// The image cannot be had: waiting with ErrImagePull, retried later.
    pub fn mark_image_error(&mut self, message: String, now: Timestamp) {
        self.mark_waiting_error("ErrImagePull", message, now)
    }

    /// The container cannot be created yet (ErrImagePull,
    /// CreateContainerConfigError): waiting with `reason`, retried later.
    pub fn mark_waiting_error(&mut self, reason: &str, message: String, now: Timestamp) {
        self.image_backoff = if self.image_backoff.is_zero() {
            IMAGE_BACKOFF_INITIAL
        } else {
            (self.image_backoff * 2).min(BACKOFF_MAX)
        };
        self.image_retry_at = Some(now + self.image_backoff);
        if let CState::Terminated(t) = &self.state {
            self.last = Some(t.clone());
        }
        self.state = CState::Waiting {
            reason: reason.into(),
            message: Some(message),
        };
    }
}

pub fn should_restart(policy: &str, exit_code: i32) -> bool {
    match policy {
        "Never" => false,
        "OnFailure" => exit_code != 0,
        _ => true,
    }
}

/// What to do next for a pod.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Plan {
    /// Containers to start now, in order.
    pub start: Vec<String>,
    /// Running containers to stop (sidecars of a finished pod).
    pub stop: Vec<String>,
    /// When to look again even if nothing happens.
    pub wake_in: Option<Duration>,
    /// Back-off events to report: (container, message).
    pub backoff_events: Vec<(String, String)>,
}

fn restart_policy(spec: &PodSpec) -> &str {
    spec.restart_policy.as_deref().unwrap_or("Always")
}

fn min_wake(plan: &mut Plan, d: Duration) {
    plan.wake_in = Some(plan.wake_in.map_or(d, |w| w.min(d)));
}

/// Whether the container may be started now; sets the waiting state and
/// the plan's wake-up otherwise.
fn try_start(
    rec: &mut ContainerRec,
    policy_restarts: bool,
    pod_ref: &str,
    now: Timestamp,
    plan: &mut Plan,
) -> bool {
    if let Some(at) = rec.image_retry_at {
        if now < at {
            min_wake(plan, since(at, now));
            return false;
        }
    }
    let Some(fin) = rec.finished().cloned() else {
        return true; // never ran
    };
    if !policy_restarts {
        return false;
    }
    match rec.backoff.remaining(fin.finished_at, now) {
        Some(left) => {
            let msg = format!(
                "back-off {} restarting failed container={} pod={pod_ref}",
                fmt_duration(rec.backoff.period),
                rec.name
            );
            let already = matches!(&rec.state, CState::Waiting { reason, .. } if reason == "CrashLoopBackOff");
            if !already {
                plan.backoff_events.push((rec.name.clone(), msg.clone()));
            }
            if let CState::Terminated(t) = &rec.state {
                rec.last = Some(t.clone());
            }
            rec.state = CState::Waiting {
                reason: "CrashLoopBackOff".into(),
                message: Some(msg),
            };
            min_wake(plan, left);
            false
        }
        None => {
            rec.backoff.next(fin.finished_at);
            true
        }
    }
}

/// Go's time.Duration formatting for whole seconds ("10s", "1m20s", "5m0s").
pub fn fmt_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 {
        format!("{}m{}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// Decides which containers to start (init containers one by one first),
/// updating waiting states of the records. `pod_ref` is "name_ns(uid)".
pub fn plan(
    spec: &PodSpec,
    recs: &mut BTreeMap<String, ContainerRec>,
    pod_ref: &str,
    now: Timestamp,
) -> Plan {
    let mut plan = Plan::default();
    let policy = restart_policy(spec).to_string();
    if is_terminal(spec, recs) {
        plan.stop = recs
            .values()
            .filter(|r| r.is_running())
            .map(|r| r.name.clone())
            .collect();
        return plan;
    }
    let mut blocked = false;
    for ic in spec.init_containers.iter().flatten() {
        let Some(rec) = recs.get_mut(&ic.name) else {
            continue;
        };
        if rec.sidecar {
            match &rec.state {
                CState::Running { .. } => {
                    if !rec.started {
                        blocked = true;
                        break;
                    }
                }
                _ => {
                    if try_start(rec, true, pod_ref, now, &mut plan) {
                        plan.start.push(rec.name.clone());
                    }
                    blocked = true;
                    break;
                }
            }
            continue;
        }
        match rec.finished().cloned() {
            _ if rec.is_running() => {
                blocked = true;
                break;
            }
            Some(t) if t.exit_code == 0 && matches!(rec.state, CState::Terminated(_)) => continue,
            _ => {
                let restarts = policy != "Never";
                if try_start(rec, restarts, pod_ref, now, &mut plan) {
                    plan.start.push(rec.name.clone());
                }
                blocked = true;
                break;
            }
        }
    }
    for c in &spec.containers {
        let Some(rec) = recs.get_mut(&c.name) else {
            continue;
        };
        if blocked {
            if !rec.ever_started
                && !matches!(&rec.state, CState::Waiting { reason, .. } if reason == "ErrImagePull" || reason == "CreateContainerConfigError")
            {
                rec.state = CState::Waiting {
                    reason: "PodInitializing".into(),
                    message: None,
                };
            }
            continue;
        }
        if rec.is_running() {
            continue;
        }
        let restarts = rec
            .finished()
            .map(|t| should_restart(&policy, t.exit_code))
            .unwrap_or(true);
        if !rec.ever_started
            && matches!(&rec.state, CState::Waiting { reason, .. } if reason == "PodInitializing")
        {
            rec.state = CState::Waiting {
                reason: "ContainerCreating".into(),
                message: None,
            };
        }
        if try_start(rec, restarts, pod_ref, now, &mut plan) {
            plan.start.push(rec.name.clone());
        }
    }
    plan
}

/// An init container failed for good (restartPolicy Never).
fn init_failed(spec: &PodSpec, recs: &BTreeMap<String, ContainerRec>) -> bool {
    restart_policy(spec) == "Never"
        && spec.init_containers.iter().flatten().any(|ic| {
            recs.get(&ic.name).is_some_and(|r| {
                !r.sidecar && !r.is_running() && r.finished().is_some_and(|t| t.exit_code != 0)
            })
        })
}

/// No container will run again: every regular container finished and
/// will not be restarted, or initialization failed for good.
pub fn is_terminal(spec: &PodSpec, recs: &BTreeMap<String, ContainerRec>) -> bool {
    if init_failed(spec, recs) {
        return true;
    }
    let policy = restart_policy(spec);
    !spec.containers.is_empty()
        && spec.containers.iter().all(|c| {
            recs.get(&c.name).is_some_and(|r| {
                r.ever_started
                    && !r.is_running()
                    && r.finished()
                        .is_some_and(|t| !should_restart(policy, t.exit_code))
            })
        })
}

fn time(t: Timestamp) -> Time {
    Time(t)
}

fn terminated_k8s(t: &Terminated) -> ContainerStateTerminated {
    ContainerStateTerminated {
        container_id: t.container_id.clone(),
        exit_code: t.exit_code,
        finished_at: Some(time(t.finished_at)),
        message: t.message.clone(),
        reason: Some(t.reason.clone()),
        signal: t.signal,
        started_at: t.started_at.map(time),
    }
}

/// The container status the kubelet reports for a record.
pub fn container_status(rec: &ContainerRec) -> ContainerStatus {
    let state = match &rec.state {
        CState::Waiting { reason, message } => ContainerState {
            waiting: Some(ContainerStateWaiting {
                reason: Some(reason.clone()),
                message: message.clone(),
            }),
            ..Default::default()
        },
        CState::Running { started_at } => ContainerState {
            running: Some(ContainerStateRunning {
                started_at: Some(time(*started_at)),
            }),
            ..Default::default()
        },
        CState::Terminated(t) => ContainerState {
            terminated: Some(terminated_k8s(t)),
            ..Default::default()
        },
    };
    let last_state = rec.last.as_ref().map(|t| ContainerState {
        terminated: Some(terminated_k8s(t)),
        ..Default::default()
    });
    ContainerStatus {
        name: rec.name.clone(),
        image: rec.image.clone(),
        image_id: rec.image_id.clone(),
        container_id: match &rec.state {
            CState::Waiting { .. } => None,
            _ => rec.container_id.clone(),
        },
        ready: rec.ready && rec.is_running(),
        started: Some(rec.started && rec.is_running()),
        restart_count: rec.restart_count,
        state: Some(state),
        last_state: Some(last_state.unwrap_or_default()),
        ..Default::default()
    }
}

/// The pod phase from container statuses (the kubelet's getPhase).
pub fn pod_phase(
    spec: &PodSpec,
    init: &[ContainerStatus],
    regular: &[ContainerStatus],
    terminal: bool,
) -> &'static str {
    let policy = restart_policy(spec);
    let mut pending_init = 0;
    let mut failed_init = 0;
    for ic in spec.init_containers.iter().flatten() {
        let sidecar = ic.restart_policy.as_deref() == Some("Always");
        let Some(cs) = init.iter().find(|s| s.name == ic.name) else {
            pending_init += 1;
            continue;
        };
        let st = cs.state.clone().unwrap_or_default();
        if sidecar {
            let never_ran = st.terminated.is_none()
                && cs
                    .last_state
                    .as_ref()
                    .and_then(|l| l.terminated.as_ref())
                    .is_none();
            if (st.running.is_none() || cs.started != Some(true)) && never_ran {
                pending_init += 1;
            }
            continue;
        }
        if st.running.is_some() {
            pending_init += 1;
        } else if let Some(t) = &st.terminated {
            if t.exit_code != 0 {
                failed_init += 1;
            }
        } else if st.waiting.is_some() {
            match cs.last_state.as_ref().and_then(|l| l.terminated.as_ref()) {
                Some(t) if t.exit_code != 0 => failed_init += 1,
                Some(_) => {}
                None => pending_init += 1,
            }
        } else {
            pending_init += 1;
        }
    }
    let (mut unknown, mut running, mut waiting, mut stopped, mut succeeded) = (0, 0, 0, 0, 0);
    for c in &spec.containers {
        let Some(cs) = regular.iter().find(|s| s.name == c.name) else {
            unknown += 1;
            continue;
        };
        let st = cs.state.clone().unwrap_or_default();
        if st.running.is_some() {
            running += 1;
        } else if let Some(t) = &st.terminated {
            stopped += 1;
            if t.exit_code == 0 {
                succeeded += 1;
            }
        } else if st.waiting.is_some() {
            if cs
                .last_state
                .as_ref()
                .and_then(|l| l.terminated.as_ref())
                .is_some()
            {
                stopped += 1;
            } else {
                waiting += 1;
            }
        } else {
            unknown += 1;
        }
    }
    if failed_init > 0 && policy == "Never" {
        return "Failed";
    }
    if pending_init > 0 || (failed_init > 0 && running == 0 && stopped == 0) {
        return "Pending";
    }
    if waiting > 0 {
        return "Pending";
    }
    if running > 0 && unknown == 0 {
        return "Running";
    }
    if running > 0 {
        return "Pending";
    }
    if stopped == spec.containers.len() && unknown == 0 && stopped > 0 {
        if terminal {
            return if stopped == succeeded {
                "Succeeded"
            } else {
                "Failed"
            };
        }
        if policy == "Always" {
            return "Running";
        }
        if stopped == succeeded {
            return "Succeeded";
        }
        if policy == "Never" {
            return "Failed";
        }
        return "Running";
    }
    "Pending"
}

fn cond(type_: &str, ok: bool, reason: Option<&str>, message: Option<String>) -> PodCondition {
    PodCondition {
        type_: type_.into(),
        status: if ok { "True" } else { "False" }.into(),
        reason: reason.map(str::to_string),
        message,
        ..Default::default()
    }
}

/// The conditions the kubelet owns, with transition times kept from
/// `existing` where the status did not change; conditions it does not own
/// (PodScheduled, readiness gates' own types, ...) are kept as they are.
pub fn pod_conditions(
    spec: &PodSpec,
    phase: &str,
    sandbox_ready: bool,
    init: &[ContainerStatus],
    regular: &[ContainerStatus],
    existing: &[PodCondition],
    now: Timestamp,
) -> Vec<PodCondition> {
    let mut out: Vec<PodCondition> = Vec::new();
    out.push(cond("PodReadyToStartContainers", sandbox_ready, None, None));
    // Initialized.
    let incomplete: Vec<&str> = spec
        .init_containers
        .iter()
        .flatten()
        .filter(|ic| {
            let cs = init.iter().find(|s| s.name == ic.name);
            let sidecar = ic.restart_policy.as_deref() == Some("Always");
            match cs.and_then(|c| c.state.as_ref()) {
                None => true,
                Some(st) if sidecar => {
                    st.running.is_none() || cs.and_then(|c| c.started) != Some(true)
                }
                Some(st) => st.terminated.as_ref().is_none_or(|t| t.exit_code != 0),
            }
        })
        .map(|ic| ic.name.as_str())
        .collect();
    let initialized = incomplete.is_empty() || phase == "Succeeded";
    out.push(if initialized {
        cond("Initialized", true, None, None)
    } else {
        cond(
            "Initialized",
            false,
            Some("ContainersNotInitialized"),
            Some(format!(
                "containers with incomplete status: [{}]",
                incomplete.join(" ")
            )),
        )
    });
    // ContainersReady and Ready.
    let mut unknown = Vec::new();
    let mut unready = Vec::new();
    for c in &spec.containers {
        match regular.iter().find(|s| s.name == c.name) {
            None => unknown.push(c.name.as_str()),
            Some(s) if !s.ready => unready.push(c.name.as_str()),
            _ => {}
        }
    }
    for ic in spec.init_containers.iter().flatten() {
        if ic.restart_policy.as_deref() == Some("Always") {
            match init.iter().find(|s| s.name == ic.name) {
                None => unknown.push(ic.name.as_str()),
                Some(s) if !s.ready => unready.push(ic.name.as_str()),
                _ => {}
            }
        }
    }
    let containers_ready = if phase == "Succeeded" && unknown.is_empty() {
        cond("ContainersReady", false, Some("PodCompleted"), None)
    } else if !initialized {
        // Not initialized: every container is unready.
        let all: Vec<&str> = spec.containers.iter().map(|c| c.name.as_str()).collect();
        cond(
            "ContainersReady",
            false,
            Some("ContainersNotReady"),
            Some(format!(
                "containers with unready status: [{}]",
                all.join(" ")
            )),
        )
    } else if unknown.is_empty() && unready.is_empty() {
        cond("ContainersReady", true, None, None)
    } else {
        let mut msgs = Vec::new();
        if !unknown.is_empty() {
            msgs.push(format!(
                "containers with unknown status: [{}]",
                unknown.join(" ")
            ));
        }
        if !unready.is_empty() {
            msgs.push(format!(
                "containers with unready status: [{}]",
                unready.join(" ")
            ));
        }
        cond(
            "ContainersReady",
            false,
            Some("ContainersNotReady"),
            Some(msgs.join(", ")),
        )
    };
    let mut ready = containers_ready.clone();
    ready.type_ = "Ready".into();
    if ready.status == "True" {
        let mut missing = Vec::new();
        for gate in spec.readiness_gates.iter().flatten() {
            let ok = existing
                .iter()
                .find(|c| c.type_ == gate.condition_type)
                .map(|c| c.status == "True");
            match ok {
                None => missing.push(format!(
                    "corresponding condition of pod readiness gate \"{}\" does not exist.",
                    gate.condition_type
                )),
                Some(false) => missing.push(format!(
                    "the status of pod readiness gate \"{}\" is not \"True\", but False",
                    gate.condition_type
                )),
                Some(true) => {}
            }
        }
        if !missing.is_empty() {
            ready = cond(
                "Ready",
                false,
                Some("ReadinessGatesNotReady"),
                Some(missing.join(", ")),
            );
        }
    }
    out.push(containers_ready);
    out.push(ready);
    // Keep transition times, and the conditions owned by others.
    let owned = [
        "PodReadyToStartContainers",
        "Initialized",
        "ContainersReady",
        "Ready",
    ];
    for c in out.iter_mut() {
        let old = existing.iter().find(|o| o.type_ == c.type_);
        c.last_transition_time = match old {
            Some(o) if o.status == c.status && o.last_transition_time.is_some() => {
                o.last_transition_time.clone()
            }
            _ => Some(time(now)),
        };
    }
    let mut result: Vec<PodCondition> = existing
        .iter()
        .filter(|c| !owned.contains(&c.type_.as_str()))
        .cloned()
        .collect();
    // A pod on a node is scheduled (the kubelet sets it if missing).
    if !result.iter().any(|c| c.type_ == "PodScheduled") {
        result.insert(
            0,
            PodCondition {
                type_: "PodScheduled".into(),
                status: "True".into(),
                last_transition_time: Some(time(now)),
                ..Default::default()
            },
        );
    }
    result.extend(out);
    result
}

/// The pod's QoS class from its requests and limits.
pub fn qos_class(spec: &PodSpec) -> &'static str {
    let all: Vec<&Container> = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .collect();
    let mut any = false;
    let mut guaranteed = true;
    for c in &all {
        let res = c.resources.clone().unwrap_or_default();
        let requests = res.requests.unwrap_or_default();
        let limits = res.limits.unwrap_or_default();
        let relevant =
            |m: &BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>| {
                m.iter()
                    .filter(|(k, q)| {
                        (k.as_str() == "cpu" || k.as_str() == "memory")
                            && crate::quantity::parse_quantity(&q.0).is_some_and(|v| v != 0.0)
                    })
                    .count()
            };
        if relevant(&requests) > 0 || relevant(&limits) > 0 {
            any = true;
        }
        for r in ["cpu", "memory"] {
            let lim = limits
                .get(r)
                .and_then(|q| crate::quantity::parse_quantity(&q.0));
            let req = requests
                .get(r)
                .and_then(|q| crate::quantity::parse_quantity(&q.0))
                .or(lim);
            match (lim, req) {
                (Some(l), Some(q)) if (l - q).abs() < 1e-12 => {}
                _ => guaranteed = false,
            }
        }
    }
    if !any {
        "BestEffort"
    } else if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + s).unwrap()
    }

    fn container(name: &str) -> Container {
        Container {
            name: name.into(),
            image: Some("busybox".into()),
            ..Default::default()
        }
    }

    fn spec(policy: &str, init: &[&str], regular: &[&str]) -> PodSpec {
        PodSpec {
            restart_policy: Some(policy.into()),
            init_containers: (!init.is_empty())
                .then(|| init.iter().map(|n| container(n)).collect()),
            containers: regular.iter().map(|n| container(n)).collect(),
            ..Default::default()
        }
    }

    fn recs(spec: &PodSpec) -> BTreeMap<String, ContainerRec> {
        let mut m = BTreeMap::new();
        for c in spec.init_containers.iter().flatten() {
            m.insert(c.name.clone(), ContainerRec::new(c, true));
        }
        for c in &spec.containers {
            m.insert(c.name.clone(), ContainerRec::new(c, false));
        }
        m
    }

    fn statuses(
        spec: &PodSpec,
        recs: &BTreeMap<String, ContainerRec>,
    ) -> (Vec<ContainerStatus>, Vec<ContainerStatus>) {
        let init = spec
            .init_containers
            .iter()
            .flatten()
            .map(|c| container_status(&recs[&c.name]))
            .collect();
        let reg = spec
            .containers
            .iter()
            .map(|c| container_status(&recs[&c.name]))
            .collect();
        (init, reg)
    }

    fn phase(spec: &PodSpec, recs: &BTreeMap<String, ContainerRec>) -> &'static str {
        let (i, r) = statuses(spec, recs);
        pod_phase(spec, &i, &r, is_terminal(spec, recs))
    }

    #[test]
    fn backoff_doubles_to_five_minutes_and_resets() {
        let mut b = Backoff::default();
        assert_eq!(
            b.remaining(ts(0), ts(0)),
            None,
            "first restart is immediate"
        );
        b.next(ts(0));
        assert_eq!(b.period, Duration::from_secs(10));
        assert_eq!(b.remaining(ts(1), ts(3)), Some(Duration::from_secs(8)));
        assert_eq!(b.remaining(ts(1), ts(11)), None);
        let mut t = 1;
        let mut periods = vec![];
        for _ in 0..8 {
            b.next(ts(t));
            periods.push(b.period.as_secs());
            t += 1;
        }
        assert_eq!(periods, vec![20, 40, 80, 160, 300, 300, 300, 300]);
        // Ran for more than 10 minutes since the last failure: back to 10 s.
        assert_eq!(b.remaining(ts(t + 700), ts(t + 700)), None);
        b.next(ts(t + 700));
        assert_eq!(b.period, Duration::from_secs(10));
    }

    #[test]
    fn crash_loop_sequence() {
        let s = spec("Always", &[], &["app"]);
        let mut r = recs(&s);
        let p = plan(&s, &mut r, "p_ns(u)", ts(0));
        assert_eq!(p.start, vec!["app"]);
        r.get_mut("app")
            .unwrap()
            .mark_running("id1".into(), "img".into(), ts(0));
        assert_eq!(phase(&s, &r), "Running");
        r.get_mut("app").unwrap().mark_exited(1, None, ts(1));
        assert_eq!(phase(&s, &r), "Running");
        // First restart is immediate.
        let p = plan(&s, &mut r, "p_ns(u)", ts(1));
        assert_eq!(p.start, vec!["app"]);
        r.get_mut("app")
            .unwrap()
            .mark_running("id2".into(), "img".into(), ts(1));
        assert_eq!(r["app"].restart_count, 1);
        assert_eq!(r["app"].last.as_ref().unwrap().exit_code, 1);
        r.get_mut("app").unwrap().mark_exited(2, None, ts(2));
        let p = plan(&s, &mut r, "p_ns(u)", ts(3));
        assert!(p.start.is_empty());
        assert_eq!(p.wake_in, Some(Duration::from_secs(9)));
        assert_eq!(p.backoff_events.len(), 1);
        let cs = container_status(&r["app"]);
        let w = cs.state.unwrap().waiting.unwrap();
        assert_eq!(w.reason.as_deref(), Some("CrashLoopBackOff"));
        assert_eq!(
            w.message.as_deref(),
            Some("back-off 10s restarting failed container=app pod=p_ns(u)")
        );
        assert_eq!(cs.last_state.unwrap().terminated.unwrap().exit_code, 2);
        // A second plan while still backing off reports no new event.
        let p = plan(&s, &mut r, "p_ns(u)", ts(5));
        assert!(p.backoff_events.is_empty());
        let p = plan(&s, &mut r, "p_ns(u)", ts(12));
        assert_eq!(p.start, vec!["app"]);
        r.get_mut("app")
            .unwrap()
            .mark_running("id3".into(), "img".into(), ts(12));
        assert_eq!(r["app"].restart_count, 2);
        r.get_mut("app").unwrap().mark_exited(2, None, ts(13));
        plan(&s, &mut r, "p_ns(u)", ts(14));
        assert_eq!(r["app"].backoff.period, Duration::from_secs(20));
    }

    #[test]
    fn never_and_on_failure() {
        let s = spec("Never", &[], &["a"]);
        let mut r = recs(&s);
        r.get_mut("a")
            .unwrap()
            .mark_running("1".into(), "".into(), ts(0));
        r.get_mut("a").unwrap().mark_exited(0, None, ts(1));
        assert!(plan(&s, &mut r, "x", ts(2)).start.is_empty());
        assert_eq!(phase(&s, &r), "Succeeded");
        r.get_mut("a").unwrap().state =
            CState::Terminated(Terminated::exited(3, None, ts(0), ts(1), None));
        assert_eq!(phase(&s, &r), "Failed");

        let s = spec("OnFailure", &[], &["a"]);
        let mut r = recs(&s);
        r.get_mut("a")
            .unwrap()
            .mark_running("1".into(), "".into(), ts(0));
        r.get_mut("a").unwrap().mark_exited(1, None, ts(1));
        assert_eq!(plan(&s, &mut r, "x", ts(2)).start, vec!["a"]);
        r.get_mut("a")
            .unwrap()
            .mark_running("2".into(), "".into(), ts(2));
        r.get_mut("a").unwrap().mark_exited(0, None, ts(3));
        assert!(plan(&s, &mut r, "x", ts(4)).start.is_empty());
        assert_eq!(phase(&s, &r), "Succeeded");
        let (_, reg) = statuses(&s, &r);
        let t = reg[0].state.as_ref().unwrap().terminated.as_ref().unwrap();
        assert_eq!(t.reason.as_deref(), Some("Completed"));
    }

    #[test]
    fn init_containers_run_in_order() {
        let s = spec("Always", &["i1", "i2"], &["app"]);
        let mut r = recs(&s);
        let p = plan(&s, &mut r, "x", ts(0));
        assert_eq!(p.start, vec!["i1"]);
        let (i, reg) = statuses(&s, &r);
        assert_eq!(
            reg[0]
                .state
                .as_ref()
                .unwrap()
                .waiting
                .as_ref()
                .unwrap()
                .reason
                .as_deref(),
            Some("PodInitializing")
        );
        let conds = pod_conditions(&s, "Pending", true, &i, &reg, &[], ts(0));
        let init = conds.iter().find(|c| c.type_ == "Initialized").unwrap();
        assert_eq!(
            init.message.as_deref(),
            Some("containers with incomplete status: [i1 i2]")
        );
        r.get_mut("i1")
            .unwrap()
            .mark_running("1".into(), "".into(), ts(0));
        assert!(plan(&s, &mut r, "x", ts(0)).start.is_empty());
        r.get_mut("i1").unwrap().mark_exited(0, None, ts(1));
        assert_eq!(plan(&s, &mut r, "x", ts(1)).start, vec!["i2"]);
        r.get_mut("i2")
            .unwrap()
            .mark_running("2".into(), "".into(), ts(1));
        r.get_mut("i2").unwrap().mark_exited(0, None, ts(2));
        assert_eq!(plan(&s, &mut r, "x", ts(2)).start, vec!["app"]);
        assert_eq!(phase(&s, &r), "Pending");
        r.get_mut("app")
            .unwrap()
            .mark_running("3".into(), "".into(), ts(2));
        r.get_mut("app").unwrap().ready = true;
        r.get_mut("app").unwrap().started = true;
        assert_eq!(phase(&s, &r), "Running");
        let (i, reg) = statuses(&s, &r);
        let conds = pod_conditions(&s, "Running", true, &i, &reg, &[], ts(3));
        assert!(conds.iter().all(|c| c.status == "True"), "{conds:?}");
    }

    #[test]
    fn failed_init_with_never_fails_the_pod() {
        let s = spec("Never", &["i1"], &["app"]);
        let mut r = recs(&s);
        plan(&s, &mut r, "x", ts(0));
        r.get_mut("i1")
            .unwrap()
            .mark_running("1".into(), "".into(), ts(0));
        r.get_mut("i1").unwrap().mark_exited(1, None, ts(1));
        let p = plan(&s, &mut r, "x", ts(1));
        assert!(p.start.is_empty());
        assert!(is_terminal(&s, &r));
        assert_eq!(phase(&s, &r), "Failed");
    }

    #[test]
    fn failed_init_with_always_restarts_with_backoff() {
        let s = spec("Always", &["i1"], &["app"]);
        let mut r = recs(&s);
        plan(&s, &mut r, "x", ts(0));
        r.get_mut("i1")
            .unwrap()
            .mark_running("1".into(), "".into(), ts(0));
        r.get_mut("i1").unwrap().mark_exited(1, None, ts(1));
        assert_eq!(plan(&s, &mut r, "x", ts(1)).start, vec!["i1"]);
        r.get_mut("i1")
            .unwrap()
            .mark_running("2".into(), "".into(), ts(1));
        r.get_mut("i1").unwrap().mark_exited(1, None, ts(2));
        let p = plan(&s, &mut r, "x", ts(3));
        assert!(p.start.is_empty());
        assert!(p.wake_in.is_some());
        assert_eq!(phase(&s, &r), "Pending");
    }

    #[test]
    fn ready_conditions_and_transition_times() {
        let s = spec("Always", &[], &["a", "b"]);
        let mut r = recs(&s);
        for n in ["a", "b"] {
            r.get_mut(n)
                .unwrap()
                .mark_running("1".into(), "".into(), ts(0));
        }
        r.get_mut("a").unwrap().ready = true;
        let (i, reg) = statuses(&s, &r);
        let scheduled = PodCondition {
            type_: "PodScheduled".into(),
            status: "True".into(),
            ..Default::default()
        };
        let c1 = pod_conditions(&s, "Running", true, &i, &reg, &[scheduled], ts(0));
        assert_eq!(c1[0].type_, "PodScheduled");
        let ready = c1.iter().find(|c| c.type_ == "Ready").unwrap();
        assert_eq!(ready.status, "False");
        assert_eq!(ready.reason.as_deref(), Some("ContainersNotReady"));
        assert_eq!(
            ready.message.as_deref(),
            Some("containers with unready status: [b]")
        );
        let c2 = pod_conditions(&s, "Running", true, &i, &reg, &c1, ts(50));
        assert_eq!(
            c2.iter()
                .find(|c| c.type_ == "Ready")
                .unwrap()
                .last_transition_time,
            Some(Time(ts(0)))
        );
        r.get_mut("b").unwrap().ready = true;
        let (i, reg) = statuses(&s, &r);
        let c3 = pod_conditions(&s, "Running", true, &i, &reg, &c2, ts(60));
        let ready = c3.iter().find(|c| c.type_ == "Ready").unwrap();
        assert_eq!(ready.status, "True");
        assert_eq!(ready.last_transition_time, Some(Time(ts(60))));
    }

    #[test]
    fn succeeded_pod_conditions() {
        let s = spec("Never", &[], &["a"]);
        let mut r = recs(&s);
        r.get_mut("a")
            .unwrap()
            .mark_running("1".into(), "".into(), ts(0));
        r.get_mut("a").unwrap().mark_exited(0, None, ts(1));
        let (i, reg) = statuses(&s, &r);
        let c = pod_conditions(&s, "Succeeded", false, &i, &reg, &[], ts(2));
        let ready = c.iter().find(|c| c.type_ == "Ready").unwrap();
        assert_eq!(ready.reason.as_deref(), Some("PodCompleted"));
    }

    #[test]
    fn image_error_waits_and_retries() {
        let s = spec("Always", &[], &["a"]);
        let mut r = recs(&s);
        assert_eq!(plan(&s, &mut r, "x", ts(0)).start, vec!["a"]);
        r.get_mut("a")
            .unwrap()
            .mark_image_error("no such image".into(), ts(0));
        let p = plan(&s, &mut r, "x", ts(1));
        assert!(p.start.is_empty());
        assert_eq!(p.wake_in, Some(Duration::from_secs(9)));
        assert_eq!(phase(&s, &r), "Pending");
        let cs = container_status(&r["a"]);
        assert_eq!(
            cs.state.unwrap().waiting.unwrap().reason.as_deref(),
            Some("ErrImagePull")
        );
        assert_eq!(plan(&s, &mut r, "x", ts(10)).start, vec!["a"]);
    }

    #[test]
    fn start_error_counts_as_a_crash() {
        let s = spec("Always", &[], &["a"]);
        let mut r = recs(&s);
        r.get_mut("a")
            .unwrap()
            .mark_start_error("id".into(), "exec: not found".into(), ts(0));
        let cs = container_status(&r["a"]);
        let t = cs.state.unwrap().terminated.unwrap();
        assert_eq!(
            (t.exit_code, t.reason.as_deref()),
            (128, Some("StartError"))
        );
        assert_eq!(plan(&s, &mut r, "x", ts(0)).start, vec!["a"]);
    }

    #[test]
    fn qos() {
        use k8s_openapi::api::core::v1::ResourceRequirements;
        use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
        let mut s = spec("Always", &[], &["a"]);
        assert_eq!(qos_class(&s), "BestEffort");
        let q = |v: &str| Quantity(v.into());
        s.containers[0].resources = Some(ResourceRequirements {
            limits: Some(BTreeMap::from([
                ("cpu".into(), q("1")),
                ("memory".into(), q("1Gi")),
            ])),
            ..Default::default()
        });
        assert_eq!(qos_class(&s), "Guaranteed");
        s.containers[0].resources = Some(ResourceRequirements {
            requests: Some(BTreeMap::from([("cpu".into(), q("100m"))])),
            ..Default::default()
        });
        assert_eq!(qos_class(&s), "Burstable");
    }

    #[test]
    fn durations_like_go() {
        assert_eq!(fmt_duration(Duration::from_secs(10)), "10s");
        assert_eq!(fmt_duration(Duration::from_secs(80)), "1m20s");
        assert_eq!(fmt_duration(Duration::from_secs(300)), "5m0s");
    }
}
