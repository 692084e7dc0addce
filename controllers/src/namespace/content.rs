//! What is left in a terminating namespace, and the status conditions that
//! describe it (the five `NamespaceDeletion*`/`NamespaceContentRemaining`/
//! `NamespaceFinalizersRemaining` conditions kube-controller-manager sets, so
//! `kubectl describe namespace` explains why a namespace is stuck).

use k8s_openapi::api::core::v1::NamespaceCondition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use std::collections::BTreeMap;

/// The namespace finalizer this controller owns.
pub const FINALIZER: &str = "kubernetes";

#[derive(Debug, Default, Clone)]
pub struct ContentReport {
    /// `plural.group` -> objects still present
    pub remaining: BTreeMap<String, usize>,
    /// finalizer -> objects still carrying it
    pub finalizers: BTreeMap<String, usize>,
    pub delete_errors: Vec<String>,
    pub discovery_error: Option<String>,
}

impl ContentReport {
    /// Nothing left and nothing failed: the namespace can be finalized.
    pub fn is_empty(&self) -> bool {
        self.remaining.is_empty() && self.delete_errors.is_empty() && self.discovery_error.is_none()
    }
}

pub fn without_finalizer(finalizers: &[String]) -> Vec<String> {
    finalizers
        .iter()
        .filter(|f| *f != FINALIZER)
        .cloned()
        .collect()
}

fn cond(type_: &str, on: bool, reason: &str, message: String) -> NamespaceCondition {
    NamespaceCondition {
        type_: type_.into(),
        status: if on { "True" } else { "False" }.into(),
        reason: Some(reason.into()),
        message: Some(message),
        last_transition_time: None,
    }
}

/// The conditions for `report`, or None when `current` already says the same.
pub fn conditions(
    report: &ContentReport,
    current: &[NamespaceCondition],
    now: Timestamp,
) -> Option<Vec<NamespaceCondition>> {
    let mut want = vec![
        match &report.discovery_error {
            Some(e) => cond(
                "NamespaceDeletionDiscoveryFailure",
                true,
                "DiscoveryFailed",
                format!("Discovery failed for some groups: {e}"),
            ),
            None => cond(
                "NamespaceDeletionDiscoveryFailure",
                false,
                "ResourcesDiscovered",
                "All resources successfully discovered".into(),
            ),
        },
        cond(
            "NamespaceDeletionGroupVersionParsingFailure",
            false,
            "ParsedGroupVersions",
            "All legacy kube types successfully parsed".into(),
        ),
        if report.delete_errors.is_empty() {
            cond(
                "NamespaceDeletionContentFailure",
                false,
                "ContentDeleted",
                "All content successfully deleted, may be waiting on finalization".into(),
            )
        } else {
            cond(
                "NamespaceDeletionContentFailure",
                true,
                "ContentDeletionFailed",
                format!(
                    "Failed to delete all resource types, {} remaining: {}",
                    report.delete_errors.len(),
                    report.delete_errors.join(", ")
                ),
            )
        },
        if report.remaining.is_empty() {
            cond(
                "NamespaceContentRemaining",
                false,
                "ContentRemoved",
                "All content successfully removed".into(),
            )
        } else {
            let parts: Vec<String> = report
                .remaining
                .iter()
                .map(|(r, n)| format!("{r} has {n} resource instances"))
                .collect();
            cond(
                "NamespaceContentRemaining",
                true,
                "SomeResourcesRemain",
                format!("Some resources are remaining: {}", parts.join(", ")),
            )
        },
        if report.finalizers.is_empty() {
            cond(
                "NamespaceFinalizersRemaining",
                false,
                "ContentHasNoFinalizers",
                "All content-preserving finalizers finished".into(),
            )
        } else {
            let parts: Vec<String> = report
                .finalizers
                .iter()
                .map(|(f, n)| format!("{f} in {n} resource instances"))
                .collect();
            cond(
                "NamespaceFinalizersRemaining",
                true,
                "SomeFinalizersRemain",
                format!(
                    "Some content in the namespace has finalizers remaining: {}",
                    parts.join(", ")
                ),
            )
        },
    ];
    let same = want.iter().all(|w| {
        current.iter().any(|c| {
            c.type_ == w.type_
                && c.status == w.status
                && c.reason == w.reason
                && c.message == w.message
        })
    });
    if same {
        return None;
    }
    for w in want.iter_mut() {
        w.last_transition_time = Some(
            current
                .iter()
                .find(|c| c.type_ == w.type_ && c.status == w.status)
                .and_then(|c| c.last_transition_time.clone())
                .unwrap_or(Time(now)),
        );
    }
    Some(want)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remaining_content_is_reported_then_cleared() {
        let mut r = ContentReport::default();
        r.remaining.insert("pods.".into(), 2);
        r.finalizers.insert("example.com/hold".into(), 1);
        let now = Timestamp::now();
        let c = conditions(&r, &[], now).unwrap();
        let rem = c
            .iter()
            .find(|c| c.type_ == "NamespaceContentRemaining")
            .unwrap();
        assert_eq!(rem.status, "True");
        assert_eq!(
            rem.message.as_deref(),
            Some("Some resources are remaining: pods. has 2 resource instances")
        );
        let fin = c
            .iter()
            .find(|c| c.type_ == "NamespaceFinalizersRemaining")
            .unwrap();
        assert_eq!(fin.reason.as_deref(), Some("SomeFinalizersRemain"));
        assert!(conditions(&r, &c, now).is_none(), "unchanged: no write");
        assert!(!r.is_empty());
        assert!(ContentReport::default().is_empty());
        assert_eq!(
            without_finalizer(&["kubernetes".into(), "x".into()]),
            vec!["x".to_string()]
        );
    }
}
