//! Test harness: a real mkube API server (the `mkube` binary, `apiserver`
//! subcommand so nothing but our in-process controllers acts on the
//! objects), a kube-rs client from its kubeconfig, and polling helpers.
#![allow(dead_code)]

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::Client;
use serde_json::json;
use std::future::Future;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Cluster {
    child: Child,
    dir: PathBuf,
    pub client: Client,
    pub kubeconfig: PathBuf,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn mkube_bin() -> PathBuf {
    match std::env::var_os("MKUBE_BIN") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/release/mkube"),
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MKUBE_TEST_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_test_writer()
        .try_init();
}

impl Cluster {
    /// Starts an API server; None (after printing why) when the binary is absent.
    pub async fn start(test: &str) -> Option<Cluster> {
        init_tracing();
        let bin = mkube_bin();
        if !bin.exists() {
            eprintln!(
                "SKIPPED {test}: mkube binary not found at {} (build it, or set MKUBE_BIN)",
                bin.display()
            );
            return None;
        }
        let subcommand =
            std::env::var("MKUBE_TEST_SUBCOMMAND").unwrap_or_else(|_| "apiserver".into());
        let dir = std::env::temp_dir().join(format!(
            "mkube-ctrl-{test}-{}-{}",
            std::process::id(),
            Instant::now().elapsed().as_nanos() ^ u128::from(free_port())
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        for _attempt in 0..3 {
            let port = free_port();
            let log = std::fs::File::create(dir.join("mkube.log")).expect("log file");
            let mut child = Command::new(&bin)
                .arg(&subcommand)
                .arg("--data-dir")
                .arg(&dir)
                .arg("--port")
                .arg(port.to_string())
                .env("MKUBE_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("spawning mkube");
            let kubeconfig = dir.join("kubeconfig");
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if kubeconfig.exists() {
                    if let Ok(client) = client_from(&kubeconfig).await {
                        let ns: Api<k8s_openapi::api::core::v1::Namespace> =
                            Api::all(client.clone());
                        if ns.get("default").await.is_ok() {
                            return Some(Cluster {
                                child,
                                dir,
                                client,
                                kubeconfig,
                            });
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let log = std::fs::read_to_string(dir.join("mkube.log")).unwrap_or_default();
            eprintln!("mkube did not become ready on port {port}; log:\n{log}");
            let _ = child.kill();
            let _ = child.wait();
            let _ = std::fs::remove_file(&kubeconfig);
        }
        panic!("mkube API server did not start");
    }

    pub async fn controllers(&self) -> controllers::ControllerHandle {
        controllers::start(
            &informers::Informers::new(self.client.clone()),
            controllers::ControllerOptions::default(),
        )
        .await
        .expect("controllers start")
    }

    pub async fn controllers_only(&self, names: &[&str]) -> controllers::ControllerHandle {
        self.controllers_with(names, controllers::ControllerOptions::default())
            .await
    }

    /// The controllers `names` with tuned options.
    pub async fn controllers_with(
        &self,
        names: &[&str],
        opts: controllers::ControllerOptions,
    ) -> controllers::ControllerHandle {
        let opts = controllers::ControllerOptions {
            enabled: names.iter().map(|s| s.to_string()).collect(),
            ..opts
        };
        controllers::start(&informers::Informers::new(self.client.clone()), opts)
            .await
            .expect("controllers start")
    }
}

pub async fn client_from(path: &std::path::Path) -> anyhow::Result<Client> {
    let kc = kube::config::Kubeconfig::read_from(path)?;
    let cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await?;
    Ok(Client::try_from(cfg)?)
}

/// Polls `f` until it returns Some, or panics with `what` after `timeout`.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        if Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

pub async fn create<K>(client: &Client, ns: &str, obj: serde_json::Value) -> K
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + serde::Serialize
        + std::fmt::Debug,
{
    let api: Api<K> = Api::namespaced(client.clone(), ns);
    let obj: K = serde_json::from_value(obj).expect("object json");
    api.create(&PostParams::default(), &obj)
        .await
        .expect("create")
}

/// A pod with one container named `c` exposing `ports` (name, number).
pub async fn make_pod(
    client: &Client,
    ns: &str,
    name: &str,
    labels: serde_json::Value,
    ports: &[(&str, i32)],
) -> Pod {
    let ports: Vec<_> = ports
        .iter()
        .map(|(n, p)| json!({"name": n, "containerPort": p}))
        .collect();
    create(
        client,
        ns,
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": name, "labels": labels},
               "spec": {"containers": [{"name": "c", "image": "nginx", "ports": ports}]}}),
    )
    .await
}

/// Sets what a kubelet would: phase Running, the pod IP, and the Ready condition.
pub async fn set_pod_status(client: &Client, ns: &str, name: &str, ip: &str, ready: bool) -> Pod {
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    let now = k8s_openapi::jiff::Timestamp::now().to_string();
    let status = if ready { "True" } else { "False" };
    let patch = json!({"status": {
        "phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
        "conditions": [{"type": "Ready", "status": status, "lastTransitionTime": now},
                       {"type": "ContainersReady", "status": status, "lastTransitionTime": now}]}});
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("patch pod status")
}

pub async fn create_namespace(client: &Client, name: &str) {
    let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let ns = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
    api.create(&PostParams::default(), &ns)
        .await
        .expect("create namespace");
}

/// Plays the kubelet for every pod in `ns`: once a pod exists it gets an IP,
/// phase Running and Ready=True (nothing else runs pods in these tests).
pub fn fake_kubelet(client: &Client, ns: &str) -> tokio::task::JoinHandle<()> {
    use futures::StreamExt;
    use kube::runtime::{watcher, WatchStreamExt};
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    let client = client.clone();
    let ns = ns.to_string();
    tokio::spawn(async move {
        let mut n: u32 = 0;
        let mut s = watcher(api, watcher::Config::default())
            .applied_objects()
            .boxed();
        while let Some(Ok(p)) = s.next().await {
            let ready = p.status.as_ref().and_then(|s| s.pod_ip.as_ref()).is_some();
            if ready || p.metadata.deletion_timestamp.is_some() {
                continue;
            }
            n += 1;
            let ip = format!("10.7.{}.{}", n / 250, n % 250 + 1);
            let name = p.metadata.name.clone().unwrap_or_default();
            let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
            let now = k8s_openapi::jiff::Timestamp::now().to_string();
            let patch = json!({"status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": now}]}});
            let _ = api
                .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await;
        }
    })
}

/// kubectl for the checks that drive it (optional): `$KUBECTL`, else the copy
/// the e2e harness unpacks into `target/e2e-tools/`.
pub fn kubectl() -> Option<PathBuf> {
    let p = match std::env::var_os("KUBECTL") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/e2e-tools/kubectl"),
    };
    if !p.exists() {
        eprintln!(
            "kubectl not found at {} (set KUBECTL): skipping the kubectl checks",
            p.display()
        );
        return None;
    }
    Some(p)
}
