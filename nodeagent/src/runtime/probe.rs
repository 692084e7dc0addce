//! Probes (startup, liveness, readiness) with httpGet, tcpSocket and exec,
//! honouring initialDelaySeconds, periodSeconds, timeoutSeconds,
//! successThreshold and failureThreshold. Each probe of a running container
//! instance is a task that reports transitions to the pod worker.

use super::process::{ProcSpec, Watchdog};
use k8s_openapi::api::core::v1::{Container, HTTPGetAction, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Startup,
    Liveness,
    Readiness,
}

impl Kind {
    pub fn title(self) -> &'static str {
        match self {
            Kind::Startup => "Startup",
            Kind::Liveness => "Liveness",
            Kind::Readiness => "Readiness",
        }
    }
}

/// What a probe task reports.
#[derive(Debug, Clone, PartialEq)]
pub enum Report {
    Started,
    Ready(bool),
    /// A liveness or startup probe reached its failure threshold.
    Failed(Kind, String),
    /// One failed probe (for the Unhealthy event).
    Unhealthy(Kind, String),
    /// The postStart hook failed.
    PostStartFailed(String),
}

/// Where and how to probe.
#[derive(Clone)]
pub struct Target {
    pub pod_ip: IpAddr,
    pub container: Container,
    pub exec_env: Vec<(String, String)>,
    pub cwd: std::path::PathBuf,
    pub watchdog: Arc<Watchdog>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Success,
    Failure(String),
}

fn resolve_port(port: &IntOrString, c: &Container) -> Result<u16, String> {
    match port {
        IntOrString::Int(p) => u16::try_from(*p).map_err(|_| format!("invalid port {p}")),
        IntOrString::String(name) => {
            if let Ok(p) = name.parse::<u16>() {
                return Ok(p);
            }
            c.ports
                .iter()
                .flatten()
                .find(|p| p.name.as_deref() == Some(name.as_str()))
                .and_then(|p| u16::try_from(p.container_port).ok())
                .ok_or_else(|| format!("couldn't find port {name} in container"))
        }
    }
}

fn host_ip(host: Option<&str>, pod_ip: IpAddr) -> IpAddr {
    host.filter(|h| !h.is_empty())
        .and_then(|h| h.parse().ok())
        .unwrap_or(pod_ip)
}

/// A GET as the kubelet's prober does it: 200..399 is success.
pub async fn http_get(action: &HTTPGetAction, t: &Target, timeout: Duration) -> Outcome {
    let port = match resolve_port(&action.port, &t.container) {
        Ok(p) => p,
        Err(e) => return Outcome::Failure(e),
    };
    let ip = host_ip(action.host.as_deref(), t.pod_ip);
    let scheme = action.scheme.as_deref().unwrap_or("HTTP").to_lowercase();
    let mut path = action.path.clone().unwrap_or_else(|| "/".into());
    if !path.starts_with('/') {
        path.insert(0, '/');
    }
    let addr = SocketAddr::new(ip, port);
    let url = format!("{scheme}://{addr}{path}");
    let headers: Vec<(String, String)> = action
        .http_headers
        .iter()
        .flatten()
        .map(|h| (h.name.clone(), h.value.clone()))
        .collect();
    let fut = async {
        let mut s = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| format!("Get \"{url}\": dial tcp {addr}: connect: {}", io_text(&e)))?;
        let mut req = format!("GET {path} HTTP/1.1\r\n");
        if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
            req.push_str(&format!("Host: {addr}\r\n"));
        }
        if !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("user-agent"))
        {
            req.push_str("User-Agent: kube-probe/1.37\r\n");
        }
        req.push_str("Accept: */*\r\nConnection: close\r\n");
        for (k, v) in &headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        s.write_all(req.as_bytes())
            .await
            .map_err(|e| format!("Get \"{url}\": {e}"))?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 1024];
        loop {
            let n = s
                .read(&mut chunk)
                .await
                .map_err(|e| format!("Get \"{url}\": {e}"))?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
            if buf.windows(2).any(|w| w == b"\r\n") {
                break;
            }
        }
        let text = String::from_utf8_lossy(&buf);
        let code: u16 = text
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| format!("Get \"{url}\": malformed HTTP response"))?;
        Ok::<u16, String>(code)
    };
    match tokio::time::timeout(timeout, fut).await {
        Err(_) => Outcome::Failure(format!(
            "Get \"{url}\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
        )),
        Ok(Err(e)) => Outcome::Failure(e),
        Ok(Ok(code)) if (200..400).contains(&code) => Outcome::Success,
        Ok(Ok(code)) => Outcome::Failure(format!("HTTP probe failed with statuscode: {code}")),
    }
}

fn io_text(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "connection refused".into(),
        _ => e.to_string(),
    }
}

pub async fn tcp(port: &IntOrString, host: Option<&str>, t: &Target, timeout: Duration) -> Outcome {
    let port = match resolve_port(port, &t.container) {
        Ok(p) => p,
        Err(e) => return Outcome::Failure(e),
    };
    let addr = SocketAddr::new(host_ip(host, t.pod_ip), port);
    match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr)).await {
        Ok(Ok(_)) => Outcome::Success,
        Ok(Err(e)) => Outcome::Failure(format!("dial tcp {addr}: connect: {}", io_text(&e))),
        Err(_) => Outcome::Failure(format!("dial tcp {addr}: i/o timeout")),
    }
}

pub async fn exec(command: &[String], t: &Target, timeout: Duration) -> Outcome {
    if command.is_empty() {
        return Outcome::Failure("exec probe has no command".into());
    }
    let spec = ProcSpec {
        argv: command.to_vec(),
        env: t.exec_env.clone(),
        cwd: t.cwd.clone(),
        bind_mounts: Vec::new(),
    };
    match super::process::run_to_end(spec, timeout, &t.watchdog).await {
        Ok((0, _)) => Outcome::Success,
        Ok((code, out)) => {
            let out = out.trim();
            if out.is_empty() {
                Outcome::Failure(format!("command {command:?} exited with {code}"))
            } else {
                Outcome::Failure(out.to_string())
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
            Outcome::Failure(format!("command {command:?} timed out"))
        }
        Err(e) => Outcome::Failure(format!("exec {command:?}: {e}")),
    }
}

/// Runs one probe attempt.
pub async fn run_once(p: &Probe, t: &Target) -> Outcome {
    let timeout = Duration::from_secs(p.timeout_seconds.unwrap_or(1).max(1) as u64);
    if let Some(h) = &p.http_get {
        return http_get(h, t, timeout).await;
    }
    if let Some(s) = &p.tcp_socket {
        return tcp(&s.port, s.host.as_deref(), t, timeout).await;
    }
    if let Some(e) = &p.exec {
        return exec(e.command.as_deref().unwrap_or_default(), t, timeout).await;
    }
    if let Some(g) = &p.grpc {
        // No gRPC client here: a TCP connect to the port stands in.
        return tcp(&IntOrString::Int(g.port), None, t, timeout).await;
    }
    Outcome::Failure("probe has no handler".into())
}

/// Probe timing with the API defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    pub initial_delay: Duration,
    pub period: Duration,
    pub success_threshold: u32,
    pub failure_threshold: u32,
}

impl Timing {
    pub fn of(p: &Probe, kind: Kind) -> Self {
        let success = p.success_threshold.unwrap_or(1).max(1) as u32;
        Timing {
            initial_delay: Duration::from_secs(p.initial_delay_seconds.unwrap_or(0).max(0) as u64),
            period: Duration::from_secs(p.period_seconds.unwrap_or(10).max(1) as u64),
            // Liveness and startup must use 1 (validation enforces it).
            success_threshold: if kind == Kind::Readiness { success } else { 1 },
            failure_threshold: p.failure_threshold.unwrap_or(3).max(1) as u32,
        }
    }
}

/// Counts consecutive results and says when the probe's result flips.
#[derive(Debug, Clone)]
pub struct Counter {
    timing: Timing,
    successes: u32,
    failures: u32,
    pub result: Option<bool>,
}

impl Counter {
    pub fn new(timing: Timing) -> Self {
        Counter {
            timing,
            successes: 0,
            failures: 0,
            result: None,
        }
    }

    /// Feeds one attempt; returns the new result if it changed.
    pub fn observe(&mut self, ok: bool) -> Option<bool> {
        if ok {
            self.successes += 1;
            self.failures = 0;
            if self.successes >= self.timing.success_threshold && self.result != Some(true) {
                self.result = Some(true);
                return Some(true);
            }
        } else {
            self.failures += 1;
            self.successes = 0;
            if self.failures >= self.timing.failure_threshold && self.result != Some(false) {
                self.result = Some(false);
                return Some(false);
            }
        }
        None
    }
}

/// The loop of one probe for one container instance. `started` turns true
/// when the startup probe has succeeded (liveness and readiness wait for
/// it); `report` goes to the pod worker.
pub async fn probe_loop(
    kind: Kind,
    probe: Probe,
    target: Target,
    container_started: tokio::time::Instant,
    mut started: tokio::sync::watch::Receiver<bool>,
    report: impl Fn(Report) + Send + 'static,
) {
    if kind != Kind::Startup && started.wait_for(|s| *s).await.is_err() {
        return;
    }
    let timing = Timing::of(&probe, kind);
    let since = container_started.elapsed();
    if since < timing.initial_delay {
        tokio::time::sleep(timing.initial_delay - since).await;
    }
    let mut counter = Counter::new(timing);
    loop {
        let outcome = run_once(&probe, &target).await;
        let ok = outcome == Outcome::Success;
        if let Outcome::Failure(msg) = &outcome {
            report(Report::Unhealthy(kind, msg.clone()));
        }
        if let Some(result) = counter.observe(ok) {
            match (kind, result) {
                (Kind::Readiness, r) => report(Report::Ready(r)),
                (Kind::Startup, true) => {
                    report(Report::Started);
                    return;
                }
                (Kind::Liveness, true) => {}
                (_, false) => {
                    let msg = match outcome {
                        Outcome::Failure(m) => m,
                        Outcome::Success => String::new(),
                    };
                    report(Report::Failed(kind, msg));
                    return;
                }
            }
        }
        tokio::time::sleep(timing.period).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds() {
        let t = Timing {
            initial_delay: Duration::ZERO,
            period: Duration::from_secs(1),
            success_threshold: 2,
            failure_threshold: 3,
        };
        let mut c = Counter::new(t);
        assert_eq!(c.observe(true), None);
        assert_eq!(c.observe(true), Some(true));
        assert_eq!(c.observe(true), None);
        assert_eq!(c.observe(false), None);
        assert_eq!(c.observe(false), None);
        assert_eq!(c.observe(true), None, "a success resets the failures");
        assert_eq!(c.observe(false), None);
        assert_eq!(c.observe(false), None);
        assert_eq!(c.observe(false), Some(false));
        assert_eq!(c.observe(false), None);
    }

    #[test]
    fn defaults() {
        let t = Timing::of(&Probe::default(), Kind::Liveness);
        assert_eq!(t.period, Duration::from_secs(10));
        assert_eq!(t.failure_threshold, 3);
        assert_eq!(t.success_threshold, 1);
    }
}
