//! A small default-scheduler: binds pending pods to Ready nodes that fit
//! (nodeSelector, required node affinity, taints/tolerations, pod count,
//! cpu/memory requests), spreading by fewest pods. The decision (`schedule`)
//! is pure; the loop around it talks to the API.

use crate::events::Recorder;
use crate::quantity::parse_quantity;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{
    Binding, Node, NodeSelectorRequirement, NodeSelectorTerm, ObjectReference, Pod, Taint,
    Toleration,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams, PostParams};
use kube::runtime::{reflector, watcher, WatchStreamExt};
use kube::{Api, Client};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

pub const SCHEDULER_NAME: &str = "default-scheduler";

const REASON_AFFINITY: &str = "node(s) didn't match Pod's node affinity/selector";
const REASON_UNSCHEDULABLE: &str = "node(s) were unschedulable";
const REASON_TOO_MANY_PODS: &str = "Too many pods";

/// What a node offers, for the decision.
#[derive(Debug, Clone)]
pub struct NodeInfo<'a> {
    pub node: &'a Node,
    /// Non-terminal pods bound to it (including ones bound in this round).
    pub pods: usize,
    pub cpu_requested: f64,
    pub memory_requested: f64,
}

/// The outcome for one pod.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Bind(String),
    Unschedulable(String),
}

fn node_ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
        .is_some_and(|c| c.status == "True")
}

fn tolerates(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations.iter().any(|t| {
        let effect_ok = t
            .effect
            .as_deref()
            .is_none_or(|e| e.is_empty() || e == taint.effect);
        let op = t.operator.as_deref().unwrap_or("Equal");
        let key_ok = match t.key.as_deref() {
            None | Some("") => op == "Exists",
            Some(k) => k == taint.key,
        };
        let value_ok = match op {
            "Exists" => true,
            _ => t.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or(""),
        };
        effect_ok && key_ok && value_ok
    })
}

fn requirement_matches(req: &NodeSelectorRequirement, value: Option<&str>) -> bool {
    let values = req.values.as_deref().unwrap_or_default();
    match req.operator.as_str() {
        "In" => value.is_some_and(|v| values.iter().any(|x| x == v)),
        "NotIn" => value.is_none_or(|v| !values.iter().any(|x| x == v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" | "Lt" => {
            let (Some(v), Some(bound)) = (
                value.and_then(|v| v.parse::<i64>().ok()),
                values.first().and_then(|b| b.parse::<i64>().ok()),
            ) else {
                return false;
            };
            if req.operator == "Gt" {
                v > bound
            } else {
                v < bound
            }
        }
        _ => false,
    }
}

fn term_matches(term: &NodeSelectorTerm, node: &Node) -> bool {
    let labels = node.metadata.labels.clone().unwrap_or_default();
    let exprs = term.match_expressions.as_deref().unwrap_or_default();
    let fields = term.match_fields.as_deref().unwrap_or_default();
    if exprs.is_empty() && fields.is_empty() {
        return false;
    }
    exprs
        .iter()
        .all(|r| requirement_matches(r, labels.get(&r.key).map(String::as_str)))
        && fields.iter().all(|r| {
            let v = if r.key == "metadata.name" {
                node.metadata.name.as_deref()
            } else {
                None
            };
            requirement_matches(r, v)
        })
}

fn affinity_matches(pod: &Pod, node: &Node) -> bool {
    let Some(spec) = pod.spec.as_ref() else {
        return true;
    };
    let labels = node.metadata.labels.clone().unwrap_or_default();
    if let Some(sel) = &spec.node_selector {
        if !sel.iter().all(|(k, v)| labels.get(k) == Some(v)) {
            return false;
        }
    }
    let required = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|na| {
            na.required_during_scheduling_ignored_during_execution
                .as_ref()
        });
    match required {
        Some(sel) => sel
            .node_selector_terms
            .iter()
            .any(|t| term_matches(t, node)),
        None => true,
    }
}

/// Sum of the container requests (cpu in cores, memory in bytes), as the
/// scheduler counts them: max(sum of containers, any init container).
pub fn pod_requests(pod: &Pod) -> (f64, f64) {
    let Some(spec) = pod.spec.as_ref() else {
        return (0.0, 0.0);
    };
    let req = |c: &k8s_openapi::api::core::v1::Container, r: &str| -> f64 {
        let res = c.resources.as_ref();
        res.and_then(|r| r.requests.as_ref())
            .and_then(|m| m.get(r))
            .or_else(|| res.and_then(|x| x.limits.as_ref()).and_then(|m| m.get(r)))
            .and_then(|q| parse_quantity(&q.0))
            .unwrap_or(0.0)
    };
    let mut cpu: f64 = spec.containers.iter().map(|c| req(c, "cpu")).sum();
    let mut mem: f64 = spec.containers.iter().map(|c| req(c, "memory")).sum();
    for ic in spec.init_containers.iter().flatten() {
        cpu = cpu.max(req(ic, "cpu"));
        mem = mem.max(req(ic, "memory"));
    }
    (cpu, mem)
}

fn allocatable(node: &Node, r: &str) -> Option<f64> {
    node.status
        .as_ref()
        .and_then(|s| s.allocatable.as_ref())
        .and_then(|a| a.get(r))
        .and_then(|q| parse_quantity(&q.0))
}

/// The first filter a node fails for the pod, as the scheduler words it.
fn filter(pod: &Pod, info: &NodeInfo) -> Option<String> {
    let node = info.node;
    let tolerations = pod
        .spec
        .as_ref()
        .and_then(|s| s.tolerations.clone())
        .unwrap_or_default();
    let unschedulable = node
        .spec
        .as_ref()
        .and_then(|s| s.unschedulable)
        .unwrap_or(false);
    if unschedulable {
        let taint = Taint {
            key: "node.kubernetes.io/unschedulable".into(),
            effect: "NoSchedule".into(),
            ..Default::default()
        };
        if !tolerates(&tolerations, &taint) {
            return Some(REASON_UNSCHEDULABLE.into());
        }
    }
    let mut taints: Vec<Taint> = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default();
    if !node_ready(node) {
        taints.push(Taint {
            key: "node.kubernetes.io/not-ready".into(),
            effect: "NoSchedule".into(),
            ..Default::default()
        });
    }
    for t in &taints {
        if (t.effect == "NoSchedule" || t.effect == "NoExecute") && !tolerates(&tolerations, t) {
            return Some(format!(
                "node(s) had untolerated taint {{{}: {}}}",
                t.key,
                t.value.as_deref().unwrap_or("")
            ));
        }
    }
    if !affinity_matches(pod, node) {
        return Some(REASON_AFFINITY.into());
    }
    let max_pods = allocatable(node, "pods").unwrap_or(110.0);
    if info.pods as f64 + 1.0 > max_pods {
        return Some(REASON_TOO_MANY_PODS.into());
    }
    let (cpu, mem) = pod_requests(pod);
    if cpu > 0.0 {
        if let Some(a) = allocatable(node, "cpu") {
            if info.cpu_requested + cpu > a + 1e-9 {
                return Some("Insufficient cpu".into());
            }
        }
    }
    if mem > 0.0 {
        if let Some(a) = allocatable(node, "memory") {
            if info.memory_requested + mem > a {
                return Some("Insufficient memory".into());
            }
        }
    }
    None
}

/// Picks the node for a pod: among the nodes passing every filter, the one
/// with the fewest pods (ties by name).
pub fn schedule(pod: &Pod, nodes: &[NodeInfo]) -> Decision {
    if nodes.is_empty() {
        return Decision::Unschedulable("no nodes available to schedule pods".into());
    }
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    let mut best: Option<&NodeInfo> = None;
    for info in nodes {
        match filter(pod, info) {
            Some(r) => *reasons.entry(r).or_default() += 1,
            None => {
                let better = match best {
                    None => true,
                    Some(b) => {
                        (info.pods, info.node.metadata.name.as_deref())
                            < (b.pods, b.node.metadata.name.as_deref())
                    }
                };
                if better {
                    best = Some(info);
                }
            }
        }
    }
    match best {
        Some(b) => Decision::Bind(b.node.metadata.name.clone().unwrap_or_default()),
        None => {
            let parts: Vec<String> = reasons.iter().map(|(r, n)| format!("{n} {r}")).collect();
            Decision::Unschedulable(format!(
                "0/{} nodes are available: {}.",
                nodes.len(),
                parts.join(", ")
            ))
        }
    }
}

fn is_terminal(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded") | Some("Failed")
    )
}

fn wants_scheduling(pod: &Pod) -> bool {
    let Some(spec) = pod.spec.as_ref() else {
        return false;
    };
    spec.node_name.as_deref().unwrap_or("").is_empty()
        && spec
            .scheduler_name
            .as_deref()
            .is_none_or(|s| s.is_empty() || s == SCHEDULER_NAME)
        && pod.metadata.deletion_timestamp.is_none()
        && !is_terminal(pod)
}

/// Pods, CPU and memory requested per node: pods bound to it, and pods this
/// process bound there that the cache does not show bound yet (`assumed`).
fn node_usage(
    all_pods: &[Arc<Pod>],
    assumed: &HashMap<String, (String, tokio::time::Instant)>,
) -> HashMap<String, (usize, f64, f64)> {
    let mut usage: HashMap<String, (usize, f64, f64)> = HashMap::new();
    for p in all_pods.iter().filter(|p| !is_terminal(p)) {
        let node = p
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .filter(|n| !n.is_empty());
        let node = node.or_else(|| {
            p.metadata
                .uid
                .as_ref()
                .and_then(|u| assumed.get(u))
                .map(|(n, _)| n.clone())
        });
        if let Some(n) = node {
            let (cpu, mem) = pod_requests(p);
            let e = usage.entry(n).or_default();
            e.0 += 1;
            e.1 += cpu;
            e.2 += mem;
        }
    }
    usage
}

/// Runs the scheduler until the task is dropped.
/// The scheduling queue's order (the default `PrioritySort` plugin): higher
/// `spec.priority` first, then the longest waiting.
pub fn queue_order(a: &Pod, b: &Pod) -> std::cmp::Ordering {
    let priority = |p: &Pod| p.spec.as_ref().and_then(|s| s.priority).unwrap_or(0);
    priority(b).cmp(&priority(a)).then_with(|| {
        a.metadata
            .creation_timestamp
            .cmp(&b.metadata.creation_timestamp)
    })
}

pub async fn run(client: Client) -> anyhow::Result<()> {
    let changed = Arc::new(Notify::new());
    let (pods, pod_writer) = reflector::store::<Pod>();
    let (nodes, node_writer) = reflector::store::<Node>();
    let tasks = vec![
        spawn_reflector(Api::<Pod>::all(client.clone()), pod_writer, changed.clone()),
        spawn_reflector(
            Api::<Node>::all(client.clone()),
            node_writer,
            changed.clone(),
        ),
    ];
    struct AbortOnDrop(Vec<tokio::task::JoinHandle<()>>);
    impl Drop for AbortOnDrop {
        fn drop(&mut self) {
            self.0.iter().for_each(|t| t.abort());
        }
    }
    let _guard = AbortOnDrop(tasks);
    pods.wait_until_ready().await?;
    nodes.wait_until_ready().await?;
    let recorder = Recorder::new(client.clone(), SCHEDULER_NAME, None);
    // Pod uid -> the unschedulable message last reported and when.
    let mut reported: HashMap<String, (String, tokio::time::Instant)> = HashMap::new();
    // Pods bound in this process whose binding the cache may not show yet.
    let mut assumed: HashMap<String, (String, tokio::time::Instant)> = HashMap::new();
    loop {
        let all_pods = pods.state();
        let all_nodes = nodes.state();
        assumed.retain(|uid, (_, at)| {
            at.elapsed() < Duration::from_secs(30)
                && all_pods
                    .iter()
                    .any(|p| p.metadata.uid.as_deref() == Some(uid) && wants_scheduling(p))
        });
        let mut pending: Vec<_> = all_pods
            .iter()
            .filter(|p| wants_scheduling(p))
            .filter(|p| {
                !p.metadata
                    .uid
                    .as_ref()
                    .is_some_and(|u| assumed.contains_key(u))
            })
            .cloned()
            .collect();
        pending.sort_by(|a, b| queue_order(a, b));
        // Pod status churn (every Ready flip) wakes this loop; the per-node
        // usage pass over every pod is only needed when there is a pod to place.
        let mut usage = if pending.is_empty() {
            HashMap::new()
        } else {
            node_usage(&all_pods, &assumed)
        };
        let mut retry_soon = false;
        for pod in pending {
            let infos: Vec<NodeInfo> = all_nodes
                .iter()
                .map(|n| {
                    let u = usage
                        .get(n.metadata.name.as_deref().unwrap_or_default())
                        .copied()
                        .unwrap_or_default();
                    NodeInfo {
                        node: n,
                        pods: u.0,
                        cpu_requested: u.1,
                        memory_requested: u.2,
                    }
                })
                .collect();
            let uid = pod.metadata.uid.clone().unwrap_or_default();
            match schedule(&pod, &infos) {
                Decision::Bind(node) => match bind(&client, &pod, &node).await {
                    Ok(()) => {
                        reported.remove(&uid);
                        let (cpu, mem) = pod_requests(&pod);
                        let e = usage.entry(node.clone()).or_default();
                        e.0 += 1;
                        e.1 += cpu;
                        e.2 += mem;
                        recorder.pod_event(
                            &pod,
                            None,
                            false,
                            "Scheduled",
                            format!(
                                "Successfully assigned {}/{} to {node}",
                                pod.metadata.namespace.as_deref().unwrap_or("default"),
                                pod.metadata.name.as_deref().unwrap_or_default()
                            ),
                        );
                        assumed.insert(uid, (node, tokio::time::Instant::now()));
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "binding failed; will retry");
                        retry_soon = true;
                    }
                },
                Decision::Unschedulable(msg) => {
                    retry_soon = true;
                    let fresh = reported
                        .get(&uid)
                        .is_none_or(|(m, at)| *m != msg || at.elapsed() > Duration::from_secs(300));
                    if fresh {
                        if let Err(e) = mark_unschedulable(&client, &pod, &msg).await {
                            tracing::debug!(error = %e, "cannot set PodScheduled=False");
                        }
                        recorder.pod_event(&pod, None, true, "FailedScheduling", msg.clone());
                        reported.insert(uid, (msg, tokio::time::Instant::now()));
                    }
                }
            }
        }
        reported.retain(|uid, _| {
            all_pods
                .iter()
                .any(|p| p.metadata.uid.as_deref() == Some(uid))
        });
        let wait = if retry_soon {
            Duration::from_secs(5)
        } else {
            Duration::from_secs(60)
        };
        let _ = tokio::time::timeout(wait, changed.notified()).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn bind(client: &Client, pod: &Pod, node: &str) -> anyhow::Result<()> {
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let name = pod.metadata.name.clone().unwrap_or_default();
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    let binding = Binding {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(ns.to_string()),
            uid: pod.metadata.uid.clone(),
            ..Default::default()
        },
        target: ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Node".into()),
            name: Some(node.to_string()),
            ..Default::default()
        },
    };
    let result: Result<serde_json::Value, kube::Error> = api
        .create_subresource("binding", &name, &PostParams::default(), &binding)
        .await;
    match result {
        Ok(_) => Ok(()),
        // An API server that does not serve pods/binding yet: set the node
        // directly, as the binding would.
        Err(kube::Error::Api(e)) if e.code == 405 => {
            static WARNED: std::sync::Once = std::sync::Once::new();
            WARNED.call_once(|| {
                tracing::warn!("the API server does not serve POST pods/binding; setting spec.nodeName directly")
            });
            // The condition first: the node's agent sees the pod once
            // nodeName is set.
            let pp = PatchParams::default();
            let scheduled = serde_json::json!({"status": {"conditions": [{
                "type": "PodScheduled", "status": "True", "lastProbeTime": null,
                "lastTransitionTime": k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(Timestamp::now()),
            }]}});
            api.patch_status(&name, &pp, &Patch::Merge(&scheduled))
                .await?;
            let patch = serde_json::json!({"spec": {"nodeName": node}});
            api.patch(&name, &pp, &Patch::Merge(&patch)).await?;
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

async fn mark_unschedulable(client: &Client, pod: &Pod, msg: &str) -> anyhow::Result<()> {
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let name = pod.metadata.name.clone().unwrap_or_default();
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    let mut conditions: Vec<serde_json::Value> = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .map(|cs| {
            cs.iter()
                .filter(|c| c.type_ != "PodScheduled")
                .filter_map(|c| serde_json::to_value(c).ok())
                .collect()
        })
        .unwrap_or_default();
    conditions.push(serde_json::json!({
        "type": "PodScheduled",
        "status": "False",
        "reason": "Unschedulable",
        "message": msg,
        "lastProbeTime": null,
        "lastTransitionTime": k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(Timestamp::now()),
    }));
    let patch = serde_json::json!({"status": {"conditions": conditions}});
    api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    Ok(())
}

fn spawn_reflector<K>(
    api: Api<K>,
    writer: reflector::store::Writer<K>,
    changed: Arc<Notify>,
) -> tokio::task::JoinHandle<()>
where
    K: kube::Resource
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone + Send + Sync,
{
    tokio::spawn(async move {
        let stream = reflector::reflector(
            writer,
            watcher(api, watcher::Config::default())
                .default_backoff()
                // Not needed here, and often half of an object's memory.
                .modify(|o| o.meta_mut().managed_fields = None),
        );
        futures::pin_mut!(stream);
        while let Some(ev) = stream.next().await {
            if let Err(e) = ev {
                tracing::debug!(error = %e, "scheduler watch error; retrying");
            }
            changed.notify_one();
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{NodeCondition, NodeSpec, NodeStatus, PodSpec};

    fn node(name: &str, labels: &[(&str, &str)], ready: bool, taints: Vec<Taint>) -> Node {
        Node {
            metadata: ObjectMeta {
                name: Some(name.into()),
                labels: Some(
                    labels
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
                ..Default::default()
            },
            spec: Some(NodeSpec {
                taints: Some(taints),
                ..Default::default()
            }),
            status: Some(NodeStatus {
                conditions: Some(vec![NodeCondition {
                    type_: "Ready".into(),
                    status: if ready { "True" } else { "False" }.into(),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn higher_priority_pods_are_placed_first_then_the_oldest() {
        let at = |p: i32, secs: i64| {
            let mut pod = pod(&[], vec![]);
            if let Some(spec) = pod.spec.as_mut() {
                spec.priority = Some(p);
            }
            pod.metadata.creation_timestamp =
                Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                    Timestamp::from_second(secs).unwrap_or_default(),
                ));
            pod
        };
        let mut queue = [at(0, 1), at(1000, 3), at(0, 0), at(1000, 2)];
        queue.sort_by(queue_order);
        let order: Vec<(i32, i64)> = queue
            .iter()
            .map(|p| {
                let prio = p.spec.as_ref().and_then(|s| s.priority).unwrap_or(0);
                let t = p
                    .metadata
                    .creation_timestamp
                    .as_ref()
                    .map_or(0, |t| t.0.as_second());
                (prio, t)
            })
            .collect();
        assert_eq!(order, vec![(1000, 2), (1000, 3), (0, 0), (0, 1)]);
    }

    fn pod(selector: &[(&str, &str)], tolerations: Vec<Toleration>) -> Pod {
        Pod {
            spec: Some(PodSpec {
                node_selector: (!selector.is_empty()).then(|| {
                    selector
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect()
                }),
                tolerations: Some(tolerations),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn infos(nodes: &[Node], pods: &[usize]) -> Vec<NodeInfo<'static>> {
        let nodes: &'static [Node] = Box::leak(nodes.to_vec().into_boxed_slice());
        nodes
            .iter()
            .zip(pods)
            .map(|(n, p)| NodeInfo {
                node: n,
                pods: *p,
                cpu_requested: 0.0,
                memory_requested: 0.0,
            })
            .collect()
    }

    #[test]
    fn selector_mismatch_message() {
        let nodes = [node("n1", &[("disk", "hdd")], true, vec![])];
        let d = schedule(&pod(&[("disk", "ssd")], vec![]), &infos(&nodes, &[0]));
        assert_eq!(
            d,
            Decision::Unschedulable(
                "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector."
                    .into()
            )
        );
    }

    #[test]
    fn spreads_to_fewest_pods() {
        let nodes = [node("a", &[], true, vec![]), node("b", &[], true, vec![])];
        assert_eq!(
            schedule(&pod(&[], vec![]), &infos(&nodes, &[3, 1])),
            Decision::Bind("b".into())
        );
        assert_eq!(
            schedule(&pod(&[], vec![]), &infos(&nodes, &[1, 1])),
            Decision::Bind("a".into())
        );
    }

    #[test]
    fn taints_and_tolerations() {
        let taint = Taint {
            key: "dedicated".into(),
            value: Some("gpu".into()),
            effect: "NoSchedule".into(),
            ..Default::default()
        };
        let nodes = [
            node("a", &[], true, vec![taint]),
            node("b", &[], false, vec![]),
        ];
        let d = schedule(&pod(&[], vec![]), &infos(&nodes, &[0, 0]));
        assert_eq!(
            d,
            Decision::Unschedulable(
                "0/2 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }.".into()
            )
        );
        let tol = Toleration {
            key: Some("dedicated".into()),
            operator: Some("Equal".into()),
            value: Some("gpu".into()),
            effect: Some("NoSchedule".into()),
            ..Default::default()
        };
        assert_eq!(
            schedule(&pod(&[], vec![tol]), &infos(&nodes, &[0, 0])),
            Decision::Bind("a".into())
        );
        let all = Toleration {
            operator: Some("Exists".into()),
            ..Default::default()
        };
        assert_eq!(
            schedule(&pod(&[], vec![all]), &infos(&nodes, &[5, 0])),
            Decision::Bind("b".into())
        );
    }

    #[test]
    fn too_many_pods_and_no_nodes() {
        let nodes = [node("a", &[], true, vec![])];
        assert_eq!(
            schedule(&pod(&[], vec![]), &infos(&nodes, &[110])),
            Decision::Unschedulable("0/1 nodes are available: 1 Too many pods.".into())
        );
        assert_eq!(
            schedule(&pod(&[], vec![]), &[]),
            Decision::Unschedulable("no nodes available to schedule pods".into())
        );
    }
}
