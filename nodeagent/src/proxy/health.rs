//! kube-proxy's `/healthz` semantics: the proxy is healthy once it has
//! applied rules and no change has waited longer than the health timeout to
//! be applied. The reply is 200 or 503 with `{"lastUpdated", "currentTime"}`;
//! when healthy, lastUpdated is the current time (kube-proxy keeps that for
//! clients that read it as "the sync loop ran recently").

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// kube-proxy's default: twice its 30 s sync period.
pub const DEFAULT_HEALTH_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Default)]
struct State {
    last_updated: Option<SystemTime>,
    /// The oldest change not applied yet.
    oldest_pending: Option<SystemTime>,
}

/// Shared between the sync loop (which reports) and the HTTP server (which asks).
#[derive(Clone, Debug)]
pub struct ProxyHealth {
    state: Arc<Mutex<State>>,
    timeout: Duration,
}

impl Default for ProxyHealth {
    fn default() -> Self {
        Self::with_timeout(DEFAULT_HEALTH_TIMEOUT)
    }
}

/// One answer to `/healthz`.
#[derive(Debug, PartialEq)]
pub struct HealthReport {
    pub healthy: bool,
    pub last_updated: Option<SystemTime>,
    pub current_time: SystemTime,
}

impl ProxyHealth {
    pub fn with_timeout(timeout: Duration) -> Self {
        ProxyHealth {
            state: Arc::default(),
            timeout,
        }
    }

    /// A change arrived at `at` that the next sync must apply.
    pub fn queued(&self, at: SystemTime) {
        self.lock().oldest_pending.get_or_insert(at);
    }

    /// A sync applied every change queued before it started.
    pub fn updated(&self, at: SystemTime) {
        let mut s = self.lock();
        s.last_updated = Some(at);
        s.oldest_pending = None;
    }

    pub fn report(&self, now: SystemTime) -> HealthReport {
        let s = self.lock();
        let waited_too_long = s
            .oldest_pending
            .is_some_and(|queued| now.duration_since(queued).unwrap_or_default() > self.timeout);
        let healthy = s.last_updated.is_some() && !waited_too_long;
        HealthReport {
            healthy,
            last_updated: if healthy { Some(now) } else { s.last_updated },
            current_time: now,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl HealthReport {
    /// The JSON body kube-proxy sends (times in RFC 3339; the zero time
    /// before the first sync, as Go prints an unset time).
    pub fn body(&self) -> String {
        let fmt = |t: Option<SystemTime>| {
            t.and_then(|t| k8s_openapi::jiff::Timestamp::try_from(t).ok())
                .map(|t| t.to_string())
                .unwrap_or_else(|| "0001-01-01T00:00:00Z".to_string())
        };
        serde_json::json!({
            "lastUpdated": fmt(self.last_updated),
            "currentTime": fmt(Some(self.current_time)),
        })
        .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
    }

    #[test]
    fn unhealthy_until_the_first_sync() {
        let h = ProxyHealth::with_timeout(Duration::from_secs(60));
        let r = h.report(at(0));
        assert!(!r.healthy);
        assert_eq!(r.last_updated, None);
        assert!(r
            .body()
            .contains("\"lastUpdated\":\"0001-01-01T00:00:00Z\""));
        h.updated(at(1));
        let r = h.report(at(500));
        assert!(r.healthy, "no pending change: healthy however old the sync");
        assert_eq!(r.last_updated, Some(at(500)));
    }

    #[test]
    fn a_change_pending_past_the_timeout_is_unhealthy() {
        let h = ProxyHealth::with_timeout(Duration::from_secs(60));
        h.updated(at(0));
        h.queued(at(10));
        h.queued(at(50)); // the oldest counts
        assert!(h.report(at(69)).healthy);
        let r = h.report(at(71));
        assert!(!r.healthy);
        assert_eq!(r.last_updated, Some(at(0)));
        h.updated(at(72));
        assert!(h.report(at(73)).healthy);
    }

    #[test]
    fn body_has_kube_proxys_fields() {
        let h = ProxyHealth::default();
        h.updated(at(0));
        let v: serde_json::Value = serde_json::from_str(&h.report(at(0)).body()).expect("json");
        assert_eq!(v["lastUpdated"], "2023-11-14T22:13:20Z");
        assert_eq!(v["currentTime"], "2023-11-14T22:13:20Z");
    }
}
