//! The error a reconcile returns, and how soon to retry it.
//!
//! kube-rs's Controller wants a `std::error::Error`; anyhow's error is not one,
//! so it is wrapped. Conflicts (409) and not-yet-synced caches are expected in
//! normal operation and are retried quickly; anything else backs off.

use kube::runtime::controller::Action;
use std::time::Duration;

#[derive(Debug)]
pub struct ReconcileError(pub anyhow::Error);

impl std::fmt::Display for ReconcileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#}", self.0)
    }
}

impl std::error::Error for ReconcileError {}

impl From<anyhow::Error> for ReconcileError {
    fn from(e: anyhow::Error) -> Self {
        ReconcileError(e)
    }
}

impl From<kube::Error> for ReconcileError {
    fn from(e: kube::Error) -> Self {
        ReconcileError(e.into())
    }
}

pub type Result<T, E = ReconcileError> = std::result::Result<T, E>;

/// HTTP status code of an API error, if the error is one.
pub fn api_code(e: &anyhow::Error) -> Option<u16> {
    e.chain()
        .find_map(|c| match c.downcast_ref::<kube::Error>() {
            Some(kube::Error::Api(s)) => Some(s.code),
            _ => None,
        })
}

pub fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

pub fn is_conflict(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 409)
}

/// Whether a create failed because the name is taken (409 AlreadyExists).
pub fn is_already_exists(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 409 && s.reason == "AlreadyExists")
}

/// Whether a create was refused because its namespace is being deleted.
pub fn is_namespace_terminating(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(s) => {
            s.code == 403
                && (s.message.contains("being terminated")
                    || s.message.contains("NamespaceTerminating"))
        }
        _ => false,
    }
}

/// Retry policy shared by every controller.
pub fn retry_after(err: &ReconcileError) -> Action {
    match api_code(&err.0) {
        // Stale read of our own write: the watch will catch up in milliseconds.
        Some(409) => Action::requeue(Duration::from_millis(50)),
        Some(404) => Action::requeue(Duration::from_millis(200)),
        _ => Action::requeue(Duration::from_secs(1)),
    }
}
