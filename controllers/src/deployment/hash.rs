//! The `pod-template-hash` label: FNV-32a over the pod template, plus the
//! collision count, rendered in the "safe" alphabet kube-controller-manager
//! uses (`controller.ComputeHash` + `rand.SafeEncodeString`).
//!
//! Why it matters: the hash names the ReplicaSet (`<deployment>-<hash>`) and
//! labels its pods, so each template version gets its own ReplicaSet and pods
//! of different versions never match each other's selectors. Go hashes its
//! in-memory struct dump; we hash the template's canonical JSON, so values
//! differ from a real cluster's, but they have the same form, are stable for
//! a given template, and change whenever the template does.

use k8s_openapi::api::core::v1::PodTemplateSpec;

pub const LABEL: &str = "pod-template-hash";

/// Alphabet without vowels and look-alikes, so hashes never spell words.
const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

pub fn fnv32a(data: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in data {
        h ^= u32::from(*b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

pub fn safe_encode(s: &str) -> String {
    s.bytes()
        .map(|b| ALPHANUMS[usize::from(b) % ALPHANUMS.len()] as char)
        .collect()
}

/// The template with the hash label removed (what the hash, and template
/// equality, are computed on).
pub fn without_hash_label(t: &PodTemplateSpec) -> PodTemplateSpec {
    let mut t = t.clone();
    if let Some(m) = t.metadata.as_mut() {
        if let Some(l) = m.labels.as_mut() {
            l.remove(LABEL);
            if l.is_empty() {
                m.labels = None;
            }
        }
    }
    t
}

pub fn compute_hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    let canonical = serde_json::to_vec(&without_hash_label(template)).unwrap_or_default();
    let mut data = canonical;
    if let Some(c) = collision_count {
        let mut b = [0u8; 8];
        b[..4].copy_from_slice(&(c as u32).to_le_bytes());
        data.extend_from_slice(&b);
    }
    safe_encode(&fnv32a(&data).to_string())
}

/// `EqualIgnoreHash`: same template apart from the hash label.
pub fn equal_ignore_hash(a: &PodTemplateSpec, b: &PodTemplateSpec) -> bool {
    serde_json::to_value(without_hash_label(a)).ok()
        == serde_json::to_value(without_hash_label(b)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fnv_and_encoding() {
        // FNV-1a 32 reference values.
        assert_eq!(fnv32a(b""), 0x811c9dc5);
        assert_eq!(fnv32a(b"a"), 0xe40c292c);
        assert_eq!(safe_encode("0123456789"), "456789bcdf");
    }

    #[test]
    fn stable_changes_with_template_and_collisions() {
        let t: PodTemplateSpec =
            serde_json::from_value(json!({"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "nginx:1"}]}}))
            .unwrap();
        let h = compute_hash(&t, None);
        assert!(!h.is_empty() && h.len() <= 10);
        assert!(h.bytes().all(|b| ALPHANUMS.contains(&b)));
        assert_eq!(h, compute_hash(&t, None));
        let mut labelled = t.clone();
        labelled
            .metadata
            .as_mut()
            .unwrap()
            .labels
            .as_mut()
            .unwrap()
            .insert(LABEL.into(), h.clone());
        assert_eq!(
            h,
            compute_hash(&labelled, None),
            "the hash label itself is ignored"
        );
        assert!(equal_ignore_hash(&t, &labelled));
        let mut t2 = t.clone();
        t2.spec.as_mut().unwrap().containers[0].image = Some("nginx:2".into());
        assert_ne!(h, compute_hash(&t2, None));
        assert!(!equal_ignore_hash(&t, &t2));
        assert_ne!(h, compute_hash(&t, Some(1)));
    }
}
