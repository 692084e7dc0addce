//! Small helpers every controller shares: pod predicates, label selectors,
//! owner references, the reconcile error type, the event recorder.

pub mod error;
pub mod events;
pub mod owner;
pub mod per_namespace;
pub mod pod;
pub mod selector;
pub mod watch;

use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

/// `namespace/name` of an object, for logs and map keys.
pub fn key<K: ResourceExt>(obj: &K) -> String {
    format!("{}/{}", obj.namespace().unwrap_or_default(), obj.name_any())
}

/// Now, as the API's time type uses it.
pub fn now() -> Timestamp {
    Timestamp::now()
}

/// RFC 3339 with nanoseconds and no trailing zeros, as Go's `time.RFC3339Nano`
/// renders a UTC time (the format of the last-change-trigger-time annotation).
pub fn rfc3339_nano(t: Timestamp) -> String {
    let secs = t.as_second();
    let nanos = t.subsec_nanosecond();
    let whole = Timestamp::from_second(secs).unwrap_or(t);
    let base = whole.strftime("%Y-%m-%dT%H:%M:%S").to_string();
    if nanos == 0 {
        format!("{base}Z")
    } else {
        let frac = format!("{nanos:09}");
        format!("{base}.{}Z", frac.trim_end_matches('0'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_nano_trims_zeros() {
        let t: Timestamp = "2024-05-01T10:00:00Z".parse().unwrap();
        assert_eq!(rfc3339_nano(t), "2024-05-01T10:00:00Z");
        let t: Timestamp = "2024-05-01T10:00:00.120Z".parse().unwrap();
        assert_eq!(rfc3339_nano(t), "2024-05-01T10:00:00.12Z");
    }
}
