//! Test harness: a real `mkube apiserver` on a free port with its own data
//! dir, a kube::Client from its kubeconfig, and the agent and scheduler
//! in-process.
#![allow(dead_code)]

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use std::io::{BufRead, BufReader};
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub struct Cluster {
    pub dir: PathBuf,
    pub client: kube::Client,
    pub agent: Option<nodeagent::AgentHandle>,
    pub scheduler: tokio::task::JoinHandle<()>,
    pub token: String,
    pub node: String,
    pub kubeconfig: PathBuf,
    server: Child,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.agent.take();
        self.scheduler.abort();
        let _ = self.server.kill();
        let _ = self.server.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// True when `bin` is newer than every source file of the workspace.
fn is_fresh(bin: &std::path::Path, root: &std::path::Path) -> bool {
    fn newest(p: &std::path::Path) -> Option<std::time::SystemTime> {
        let meta = std::fs::metadata(p).ok()?;
        if meta.is_file() {
            return meta.modified().ok();
        }
        std::fs::read_dir(p)
            .ok()?
            .filter_map(Result::ok)
            .filter(|e| e.file_name() != "target" && e.file_name() != "tests")
            .filter_map(|e| newest(&e.path()))
            .max()
    }
    let Ok(built) = std::fs::metadata(bin).and_then(|m| m.modified()) else {
        return false;
    };
    [
        "src",
        "apiserver",
        "controllers",
        "nodeagent",
        "Cargo.toml",
        "Cargo.lock",
    ]
    .iter()
    .filter_map(|d| newest(&root.join(d)))
    .max()
    .is_some_and(|src| built >= src)
}

/// The mkube binary with the API server: $MKUBE_APISERVER_BIN, else the
/// workspace's `mkube` built once per test process with
/// `cargo build --workspace --bin mkube --tests` in the tests' profile
/// (`cargo test` does not build that binary by itself), else
/// `<target>/<profile>/mkube` as it is (with MKUBE_TEST_NO_BUILD=1).
fn apiserver_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("MKUBE_APISERVER_BIN").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    static BIN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        let exe = std::env::current_exe().expect("current exe");
        let profile_dir = exe
            .parent()
            .and_then(|d| d.parent())
            .expect("target dir")
            .to_path_buf();
        let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let root = manifest.parent().map(PathBuf::from).unwrap_or(manifest);
        let has_mkube = std::fs::read_to_string(root.join("Cargo.toml"))
            .is_ok_and(|t| t.contains("name = \"mkube\""));
        let no_build =
            std::env::var_os("MKUBE_TEST_NO_BUILD").is_some_and(|v| !v.is_empty() && v != "0");
        // `cargo test --workspace` has just built a fresh binary (the root
        // package's integration tests make it); building again would
        // recompile the workspace with other features.
        let fresh = is_fresh(&profile_dir.join("mkube"), &root);
        if has_mkube && !no_build && !fresh {
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let mut cmd = Command::new(cargo);
            cmd.current_dir(&root)
                .args(["build", "--workspace", "--bin", "mkube", "--tests"])
                .stdin(Stdio::null());
            if !cfg!(debug_assertions) {
                cmd.arg("--release");
            }
            eprintln!("nodeagent tests: building the mkube binary: {cmd:?}");
            let status = cmd.status().expect("running cargo");
            assert!(
                status.success(),
                "building mkube failed; set MKUBE_APISERVER_BIN to use a prebuilt one"
            );
        }
        let p = profile_dir.join("mkube");
        assert!(
            p.exists(),
            "{} not found: build the workspace or set MKUBE_APISERVER_BIN",
            p.display()
        );
        p
    })
    .clone()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A distinct /24 per cluster so pods of tests running side by side never
/// share an address.
pub fn pod_cidr() -> ipnet::IpNet {
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    let third = (std::process::id() % 200 + n * 7) % 250 + 1;
    format!("127.244.{third}.0/24").parse().expect("cidr")
}

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MKUBE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_test_writer()
        .try_init();
}

pub async fn start() -> Cluster {
    start_with(true).await
}

pub async fn start_with(agent: bool) -> Cluster {
    init_tracing();
    // Builtins and applets run from the test build of the builtin binary.
    std::env::set_var("MKUBE_BIN", env!("CARGO_BIN_EXE_mkube-builtin"));
    let dir = std::env::temp_dir().join(format!(
        "mkube-agent-test-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("test dir");
    let port = free_port();
    let mut server = Command::new(apiserver_bin())
        .args(["apiserver", "--data-dir"])
        .arg(dir.join("cluster"))
        .args(["--port", &port.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting mkube apiserver");
    let stdout = server.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.contains("ready") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("mkube apiserver did not become ready");
    let kubeconfig = dir.join("cluster").join("kubeconfig");
    let kc = Kubeconfig::read_from(&kubeconfig).expect("kubeconfig");
    let raw: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(&kubeconfig).expect("kubeconfig"))
            .expect("yaml");
    let token = raw["users"][0]["user"]["token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("config");
    let client = kube::Client::try_from(config).expect("client");
    let node = "node-1".to_string();
    let agent_handle = if agent {
        Some(
            nodeagent::start(
                client.clone(),
                nodeagent::AgentOptions {
                    node_name: node.clone(),
                    node_ip: IpAddr::from([127, 0, 0, 1]),
                    data_dir: dir.join("agent"),
                    image_map: None,
                    pod_cidr: Some(pod_cidr()),
                    api_token: token.clone(),
                    dns: nodeagent::clusterdns::resolv::NodeDns {
                        cluster_dns: Vec::new(),
                        cluster_domain: "cluster.local".into(),
                    },
                    pod_kubeconfig: None,
                    max_pods: nodeagent::node::DEFAULT_MAX_PODS,
                },
            )
            .await
            .expect("starting the agent"),
        )
    } else {
        None
    };
    let sched_client = client.clone();
    let scheduler = tokio::spawn(async move {
        if let Err(e) = nodeagent::start_scheduler(sched_client).await {
            eprintln!("scheduler: {e:#}");
        }
    });
    Cluster {
        dir,
        client,
        agent: agent_handle,
        scheduler,
        token,
        node,
        kubeconfig,
        server,
    }
}

impl Cluster {
    pub fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), "default")
    }

    pub async fn create(&self, pod: serde_json::Value) -> Pod {
        let pod: Pod = serde_json::from_value(pod).expect("pod json");
        self.pods()
            .create(&PostParams::default(), &pod)
            .await
            .expect("create pod")
    }

    /// Polls the pod until `check` holds (or panics after `secs`).
    pub async fn wait_pod(&self, name: &str, secs: u64, check: impl Fn(&Pod) -> bool) -> Pod {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut last = None;
        while Instant::now() < deadline {
            if let Ok(p) = self.pods().get(name).await {
                if check(&p) {
                    return p;
                }
                last = Some(p);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!(
            "pod {name} did not reach the expected state in {secs}s; last: {}",
            serde_json::to_string_pretty(&last.map(|p| p.status)).unwrap_or_default()
        );
    }

    /// GET on the agent's endpoint with the token.
    pub async fn agent_get(&self, path: &str) -> (u16, String) {
        let addr = self.agent.as_ref().expect("agent").endpoint;
        http_get(&addr.ip().to_string(), addr.port(), path, Some(&self.token)).await
    }

    pub fn pod_dir(&self, uid: &str) -> PathBuf {
        self.dir.join("agent").join("pods").join(uid)
    }
}

pub fn condition(p: &Pod, t: &str) -> Option<String> {
    p.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == t)
        .map(|c| c.status.clone())
}

pub fn waiting_reason(p: &Pod) -> Option<String> {
    p.status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .first()?
        .state
        .as_ref()?
        .waiting
        .as_ref()?
        .reason
        .clone()
}

/// A plain HTTP/1.1 GET; returns (status, body).
pub async fn http_get(host: &str, port: u16, path: &str, token: Option<&str>) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect((host, port))
        .await
        .unwrap_or_else(|e| panic!("connect {host}:{port}: {e}"));
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n{auth}Connection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.expect("read");
    let text = String::from_utf8_lossy(&buf).to_string();
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    (code, body)
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

pub fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            !s.rsplit_once(')')
                .map(|(_, r)| r.trim_start().starts_with('Z'))
                .unwrap_or(false)
        })
        .unwrap_or(false)
}

/// Processes whose process group is `pgid`.
pub fn group_members(pgid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            if let Some((_, rest)) = stat.rsplit_once(')') {
                let f: Vec<&str> = rest.split_whitespace().collect();
                if f.get(2).and_then(|g| g.parse::<i32>().ok()) == Some(pgid) {
                    out.push(pid);
                }
            }
        }
    }
    out
}
