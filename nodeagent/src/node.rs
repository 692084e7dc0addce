//! Node registration, node status and the node Lease (the kubelet's
//! heartbeats).

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::{
    DaemonEndpoint, Node, NodeAddress, NodeCondition, NodeDaemonEndpoints, NodeSpec, NodeStatus,
    NodeSystemInfo,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, OwnerReference, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

pub const LEASE_NAMESPACE: &str = "kube-node-lease";
pub const LEASE_DURATION_SECONDS: i32 = 40;
pub const LEASE_RENEW: Duration = Duration::from_secs(10);
pub const STATUS_REPORT: Duration = Duration::from_secs(60);
pub const KUBELET_VERSION: &str = "v1.37.0-mkube";
/// The kubelet's default `--max-pods`.
pub const DEFAULT_MAX_PODS: u32 = 110;

pub struct NodeConfig {
    pub name: String,
    pub ip: IpAddr,
    pub agent_port: u16,
    pub pod_cidr: Option<ipnet::IpNet>,
    /// The `pods` capacity reported.
    pub max_pods: u32,
}

pub fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "arm" => "arm",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        other => other,
    }
}

fn read_trim(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

fn os_image() -> String {
    std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_string())
        })
        .unwrap_or_else(|| "Linux".into())
}

fn memory_kib() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("MemTotal:")
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            })
        })
        .unwrap_or(0)
}

fn host_name() -> String {
    let h = read_trim("/proc/sys/kernel/hostname");
    if h.is_empty() {
        "localhost".into()
    } else {
        h
    }
}

pub fn node_labels(name: &str) -> BTreeMap<String, String> {
    let mut l = BTreeMap::new();
    l.insert("kubernetes.io/hostname".into(), name.to_string());
    l.insert("kubernetes.io/os".into(), "linux".into());
    l.insert("kubernetes.io/arch".into(), arch().into());
    l.insert("beta.kubernetes.io/os".into(), "linux".into());
    l.insert("beta.kubernetes.io/arch".into(), arch().into());
    l
}

fn condition(
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    now: Timestamp,
) -> NodeCondition {
    NodeCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_heartbeat_time: Some(Time(now)),
        last_transition_time: Some(Time(now)),
    }
}

/// The status the agent reports; transition times of unchanged conditions
/// are kept from `previous`.
pub fn node_status(cfg: &NodeConfig, previous: Option<&NodeStatus>) -> NodeStatus {
    let now = Timestamp::now();
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mut resources = BTreeMap::new();
    resources.insert("cpu".to_string(), Quantity(cpus.to_string()));
    resources.insert(
        "memory".to_string(),
        Quantity(format!("{}Ki", memory_kib())),
    );
    resources.insert("pods".to_string(), Quantity(cfg.max_pods.to_string()));
    resources.insert("ephemeral-storage".to_string(), Quantity("100Gi".into()));
    let mut conditions = vec![
        condition(
            "MemoryPressure",
            "False",
            "KubeletHasSufficientMemory",
            "kubelet has sufficient memory available",
            now,
        ),
        condition(
            "DiskPressure",
            "False",
            "KubeletHasNoDiskPressure",
            "kubelet has no disk pressure",
            now,
        ),
        condition(
            "PIDPressure",
            "False",
            "KubeletHasSufficientPID",
            "kubelet has sufficient PID available",
            now,
        ),
        condition(
            "Ready",
            "True",
            "KubeletReady",
            "kubelet is posting ready status",
            now,
        ),
    ];
    if let Some(prev) = previous.and_then(|p| p.conditions.as_ref()) {
        for c in conditions.iter_mut() {
            if let Some(old) = prev.iter().find(|o| o.type_ == c.type_) {
                if old.status == c.status {
                    c.last_transition_time = old.last_transition_time.clone();
                }
            }
        }
    }
    NodeStatus {
        addresses: Some(vec![
            NodeAddress {
                type_: "InternalIP".into(),
                address: cfg.ip.to_string(),
            },
            NodeAddress {
                type_: "Hostname".into(),
                address: cfg.name.clone(),
            },
        ]),
        allocatable: Some(resources.clone()),
        capacity: Some(resources),
        conditions: Some(conditions),
        daemon_endpoints: Some(NodeDaemonEndpoints {
            kubelet_endpoint: Some(DaemonEndpoint {
                port: cfg.agent_port as i32,
            }),
        }),
        node_info: Some(NodeSystemInfo {
            architecture: arch().into(),
            boot_id: read_trim("/proc/sys/kernel/random/boot_id"),
            container_runtime_version: format!("mkube://{}", env!("CARGO_PKG_VERSION")),
            kernel_version: read_trim("/proc/sys/kernel/osrelease"),
            kube_proxy_version: String::new(),
            kubelet_version: KUBELET_VERSION.into(),
            machine_id: read_trim("/etc/machine-id"),
            operating_system: "linux".into(),
            os_image: os_image(),
            system_uuid: read_trim("/sys/class/dmi/id/product_uuid"),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Creates the Node, or brings an existing one up to date; returns it.
pub async fn register(client: &Client, cfg: &NodeConfig) -> anyhow::Result<Node> {
    let nodes: Api<Node> = Api::all(client.clone());
    let _ = host_name();
    let existing = nodes.get_opt(&cfg.name).await?;
    let node = match existing {
        None => {
            let node = Node {
                metadata: ObjectMeta {
                    name: Some(cfg.name.clone()),
                    labels: Some(node_labels(&cfg.name)),
                    annotations: Some(BTreeMap::from([(
                        "node.alpha.kubernetes.io/ttl".to_string(),
                        "0".to_string(),
                    )])),
                    ..Default::default()
                },
                spec: Some(NodeSpec {
                    pod_cidr: cfg.pod_cidr.map(|c| c.to_string()),
                    pod_cidrs: cfg.pod_cidr.map(|c| vec![c.to_string()]),
                    ..Default::default()
                }),
                status: None,
            };
            match nodes.create(&PostParams::default(), &node).await {
                Ok(n) => n,
                Err(kube::Error::Api(e)) if e.code == 409 => nodes.get(&cfg.name).await?,
                Err(e) => return Err(e.into()),
            }
        }
        Some(n) => n,
    };
    // Labels the kubelet owns, and the pod CIDR when the node has none yet.
    let mut patch = serde_json::json!({"metadata": {"labels": node_labels(&cfg.name)}});
    let has_cidr = node
        .spec
        .as_ref()
        .and_then(|s| s.pod_cidr.as_deref())
        .is_some_and(|c| !c.is_empty());
    if let (false, Some(cidr)) = (has_cidr, cfg.pod_cidr) {
        patch["spec"] =
            serde_json::json!({"podCIDR": cidr.to_string(), "podCIDRs": [cidr.to_string()]});
    }
    let node = nodes
        .patch(&cfg.name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    update_status(client, cfg, &node).await
}

pub async fn update_status(client: &Client, cfg: &NodeConfig, node: &Node) -> anyhow::Result<Node> {
    let nodes: Api<Node> = Api::all(client.clone());
    let status = node_status(cfg, node.status.as_ref());
    let patch = serde_json::json!({ "status": status });
    Ok(nodes
        .patch_status(&cfg.name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?)
}

/// Creates or renews the node's Lease.
pub async fn renew_lease(client: &Client, node: &Node) -> anyhow::Result<()> {
    let leases: Api<Lease> = Api::namespaced(client.clone(), LEASE_NAMESPACE);
    let name = node.metadata.name.clone().unwrap_or_default();
    let now = MicroTime(Timestamp::now());
    match leases.get_opt(&name).await? {
        Some(_) => {
            let patch = serde_json::json!({"spec": {
                "holderIdentity": name,
                "leaseDurationSeconds": LEASE_DURATION_SECONDS,
                "renewTime": now,
            }});
            leases
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await?;
        }
        None => {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(name.clone()),
                    namespace: Some(LEASE_NAMESPACE.into()),
                    owner_references: node.metadata.uid.clone().map(|uid| {
                        vec![OwnerReference {
                            api_version: "v1".into(),
                            kind: "Node".into(),
                            name: name.clone(),
                            uid,
                            ..Default::default()
                        }]
                    }),
                    ..Default::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(name.clone()),
                    lease_duration_seconds: Some(LEASE_DURATION_SECONDS),
                    renew_time: Some(now),
                    ..Default::default()
                }),
            };
            match leases.create(&PostParams::default(), &lease).await {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 409 => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}

/// The stored Node when the control plane has marked it other than Ready
/// (the node lifecycle controller sets Unknown after a stale lease).
async fn marked_not_ready(client: &Client, name: &str) -> Option<Node> {
    let node = Api::<Node>::all(client.clone())
        .get_opt(name)
        .await
        .ok()??;
    let ready = node
        .status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .any(|c| c.type_ == "Ready" && c.status == "True");
    (!ready).then_some(node)
}

/// Heartbeats: the Lease every 10 s, the node status every minute, or at
/// once when the control plane marked the node not Ready (as the kubelet
/// posts a status that differs from the stored one).
pub async fn heartbeat_loop(client: Client, cfg: NodeConfig, mut node: Node) {
    let mut last_status = tokio::time::Instant::now();
    loop {
        if let Err(e) = renew_lease(&client, &node).await {
            tracing::warn!(error = %e, "cannot renew the node lease");
        }
        tokio::time::sleep(LEASE_RENEW).await;
        let marked = marked_not_ready(&client, &cfg.name).await;
        let report = marked.is_some() || last_status.elapsed() >= STATUS_REPORT;
        if let Some(stored) = marked {
            // Transition times must start from the stored (Unknown) status.
            node = stored;
        }
        if report {
            match update_status(&client, &cfg, &node).await {
                Ok(n) => {
                    node = n;
                    last_status = tokio::time::Instant::now();
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot update the node status");
                    // A deleted Node is registered again, as the kubelet does.
                    if let Ok(n) = register(&client, &cfg).await {
                        node = n;
                    }
                }
            }
        }
    }
}
