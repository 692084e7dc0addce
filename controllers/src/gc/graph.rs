//! The garbage collector's view of ownership, and its decisions, as pure
//! data (kube-controller-manager's `garbagecollector` graph and
//! `attemptToDeleteItem` / `processDeletingDependentsItem` /
//! `orphanDependents` rules).
//!
//! Why a graph: deciding whether an object is garbage needs its owners'
//! state (present, gone, or being deleted in the foreground), and finishing a
//! foreground deletion needs an owner's dependents. Both directions are kept
//! here, fed by the watches.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use std::collections::{BTreeSet, HashMap};

pub const FOREGROUND: &str = "foregroundDeletion";
pub const ORPHAN: &str = "orphan";

/// What the collector knows of one object.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Index of the object's resource type in the collector's resource list.
    pub resource: usize,
    pub namespace: Option<String>,
    pub name: String,
    pub uid: String,
    pub owners: Vec<OwnerReference>,
    pub deleting: bool,
    pub finalizers: Vec<String>,
}

impl Node {
    pub fn has_finalizer(&self, f: &str) -> bool {
        self.finalizers.iter().any(|x| x == f)
    }

    /// Being deleted, waiting for its blocking dependents to go first.
    pub fn deleting_dependents(&self) -> bool {
        self.deleting && self.has_finalizer(FOREGROUND)
    }
}

#[derive(Debug, Default)]
pub struct Graph {
    nodes: HashMap<String, Node>,
    dependents: HashMap<String, BTreeSet<String>>,
}

impl Graph {
    pub fn get(&self, uid: &str) -> Option<&Node> {
        self.nodes.get(uid)
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Every owner of `node` is in the graph and none is waiting for its
    /// dependents: the verdict can only be "keep", so no live lookup is
    /// needed. (Dependents listed before their owners at start-up are
    /// queued; once the graph has synced most of them are settled here.)
    pub fn owners_all_solid(&self, node: &Node) -> bool {
        !node.owners.is_empty()
            && node.owners.iter().all(|o| {
                self.nodes
                    .get(&o.uid)
                    .is_some_and(|owner| !owner.deleting_dependents())
            })
    }

    pub fn dependents(&self, uid: &str) -> Vec<&Node> {
        self.dependents
            .get(uid)
            .into_iter()
            .flatten()
            .filter_map(|d| self.nodes.get(d))
            .collect()
    }

    /// Adds or replaces a node; returns the previous version.
    pub fn upsert(&mut self, node: Node) -> Option<Node> {
        let prev = self.nodes.insert(node.uid.clone(), node.clone());
        if let Some(p) = &prev {
            for o in &p.owners {
                if let Some(s) = self.dependents.get_mut(&o.uid) {
                    s.remove(&p.uid);
                    if s.is_empty() {
                        self.dependents.remove(&o.uid);
                    }
                }
            }
        }
        for o in &node.owners {
            self.dependents
                .entry(o.uid.clone())
                .or_default()
                .insert(node.uid.clone());
        }
        prev
    }

    pub fn remove(&mut self, uid: &str) -> Option<Node> {
        let prev = self.nodes.remove(uid)?;
        for o in &prev.owners {
            if let Some(s) = self.dependents.get_mut(&o.uid) {
                s.remove(uid);
                if s.is_empty() {
                    self.dependents.remove(&o.uid);
                }
            }
        }
        Some(prev)
    }

    /// Nodes of one resource type (to drop those a re-list no longer shows).
    pub fn uids_of_resource(&self, resource: usize) -> Vec<String> {
        self.nodes
            .values()
            .filter(|n| n.resource == resource)
            .map(|n| n.uid.clone())
            .collect()
    }
}

/// The state of one owner reference, after checking the graph (and, for
/// owners the graph does not know, the API).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerState {
    /// Exists and is not waiting for its dependents.
    Solid,
    /// Gone (or replaced by an object with another uid).
    Dangling,
    /// Being deleted in the foreground.
    WaitingForDependents,
}

/// What to do with a dependent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Keep it as it is.
    Keep,
    /// It has live owners: drop the references to these (gone or foreground-deleting) owners.
    RemoveOwnerRefs(Vec<String>),
    /// Delete it with this propagation policy.
    Delete(&'static str),
}

/// `attemptToDeleteItem`'s decision for a dependent whose owners are in `owners`.
pub fn decide(
    owners: &[(OwnerReference, OwnerState)],
    node: &Node,
    has_dependents: bool,
) -> Verdict {
    if owners.is_empty() {
        return Verdict::Keep;
    }
    let solid = owners
        .iter()
        .filter(|(_, s)| *s == OwnerState::Solid)
        .count();
    let dangling: Vec<String> = owners
        .iter()
        .filter(|(_, s)| *s == OwnerState::Dangling)
        .map(|(o, _)| o.uid.clone())
        .collect();
    let waiting: Vec<&OwnerReference> = owners
        .iter()
        .filter(|(_, s)| *s == OwnerState::WaitingForDependents)
        .map(|(o, _)| o)
        .collect();
    if solid > 0 {
        if dangling.is_empty() && waiting.is_empty() {
            return Verdict::Keep;
        }
        let mut uids = dangling;
        uids.extend(waiting.iter().map(|o| o.uid.clone()));
        return Verdict::RemoveOwnerRefs(uids);
    }
    if !waiting.is_empty() && has_dependents {
        // Its own dependents must go before it, and before its owner.
        return Verdict::Delete("Foreground");
    }
    if node.has_finalizer(ORPHAN) {
        Verdict::Delete("Orphan")
    } else if node.has_finalizer(FOREGROUND) {
        Verdict::Delete("Foreground")
    } else {
        Verdict::Delete("Background")
    }
}

/// The dependents that keep a foreground-deleting owner from going:
/// those whose reference to it has `blockOwnerDeletion: true`.
pub fn blocking_dependents<'a>(graph: &'a Graph, owner_uid: &str) -> Vec<&'a Node> {
    graph
        .dependents(owner_uid)
        .into_iter()
        .filter(|d| {
            d.owners
                .iter()
                .any(|o| o.uid == owner_uid && o.block_owner_deletion == Some(true))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oref(uid: &str, block: bool) -> OwnerReference {
        OwnerReference {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            name: format!("n-{uid}"),
            uid: uid.into(),
            controller: None,
            block_owner_deletion: Some(block),
        }
    }

    fn node(uid: &str, owners: Vec<OwnerReference>, fins: &[&str], deleting: bool) -> Node {
        Node {
            resource: 0,
            namespace: Some("d".into()),
            name: format!("n-{uid}"),
            uid: uid.into(),
            owners,
            deleting,
            finalizers: fins.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn owners_all_solid_only_when_every_owner_is_known_and_not_waiting() {
        let mut g = Graph::default();
        let dependent = node("x", vec![oref("a", true), oref("b", false)], &[], false);
        assert!(!g.owners_all_solid(&dependent), "owners not seen yet");
        g.upsert(node("a", vec![], &[], false));
        assert!(!g.owners_all_solid(&dependent), "owner b not seen yet");
        g.upsert(node("b", vec![], &[FOREGROUND], true));
        assert!(
            !g.owners_all_solid(&dependent),
            "owner b deletes its dependents first"
        );
        g.upsert(node("b", vec![], &[], false));
        assert!(g.owners_all_solid(&dependent));
        assert!(
            !g.owners_all_solid(&node("y", vec![], &[], false)),
            "an object without owners is never settled by its owners"
        );
    }

    #[test]
    fn verdicts() {
        let n = node("x", vec![oref("a", true)], &[], false);
        assert_eq!(
            decide(&[(oref("a", true), OwnerState::Solid)], &n, false),
            Verdict::Keep
        );
        assert_eq!(
            decide(&[(oref("a", true), OwnerState::Dangling)], &n, false),
            Verdict::Delete("Background")
        );
        assert_eq!(
            decide(
                &[
                    (oref("a", true), OwnerState::Solid),
                    (oref("b", true), OwnerState::Dangling)
                ],
                &n,
                false
            ),
            Verdict::RemoveOwnerRefs(vec!["b".into()])
        );
        assert_eq!(
            decide(
                &[(oref("a", true), OwnerState::WaitingForDependents)],
                &n,
                true
            ),
            Verdict::Delete("Foreground")
        );
        assert_eq!(
            decide(
                &[(oref("a", true), OwnerState::WaitingForDependents)],
                &n,
                false
            ),
            Verdict::Delete("Background")
        );
        let orphaning = node("x", vec![oref("a", true)], &[ORPHAN], false);
        assert_eq!(
            decide(
                &[(oref("a", true), OwnerState::Dangling)],
                &orphaning,
                false
            ),
            Verdict::Delete("Orphan")
        );
        assert_eq!(decide(&[], &n, false), Verdict::Keep);
    }

    #[test]
    fn graph_tracks_dependents_both_ways() {
        let mut g = Graph::default();
        g.upsert(node("owner", vec![], &[FOREGROUND], true));
        g.upsert(node("d1", vec![oref("owner", true)], &[], false));
        g.upsert(node("d2", vec![oref("owner", false)], &[], false));
        assert_eq!(g.dependents("owner").len(), 2);
        assert_eq!(blocking_dependents(&g, "owner").len(), 1);
        // Owner reference dropped on update.
        g.upsert(node("d1", vec![], &[], false));
        assert_eq!(blocking_dependents(&g, "owner").len(), 0);
        g.remove("d2");
        assert!(g.dependents("owner").is_empty());
        assert!(g.get("owner").unwrap().deleting_dependents());
    }
}
