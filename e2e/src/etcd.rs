//! Multi-process clusters: real etcd members and separate mkube components
//! (`mkube controllers`, `mkube nodeagent`), all on 127.0.0.1.

use crate::{free_port, mkube_bin, run_with_timeout, text};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Time an etcd cluster gets to become healthy.
const ETCD_READY_TIMEOUT: Duration = Duration::from_secs(30);

/// The etcd server binary: `$ETCD_BIN`, else `etcd` on the PATH (Debian's
/// `etcd-server` package installs /usr/bin/etcd). None when there is none.
pub fn etcd_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("ETCD_BIN").map(PathBuf::from) {
        return p.is_file().then_some(p);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("etcd"))
            .find(|p| p.is_file())
    })
}

/// Certificates for etcd with client-certificate authentication, made with
/// the `openssl` command: a CA, a server certificate for 127.0.0.1, and a
/// client certificate.
pub struct EtcdTls {
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

impl EtcdTls {
    /// Writes the files into `dir`; None (with the reason printed) without openssl.
    pub fn create(dir: &Path) -> Option<EtcdTls> {
        let openssl = |args: &[&str]| {
            Command::new("openssl")
                .args(args)
                .current_dir(dir)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .output()
        };
        if openssl(&["version"]).is_err() {
            eprintln!("e2e: SKIPPED: no openssl command to make etcd certificates");
            return None;
        }
        let run = |args: &[&str]| {
            let out = openssl(args).expect("running openssl");
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                text(&out.stderr)
            );
        };
        run(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=etcd-ca",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
        ]);
        for (name, usage) in [("server", "serverAuth"), ("client", "clientAuth")] {
            run(&[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                &format!("/CN=mkube-{name}"),
                "-addext",
                "subjectAltName=IP:127.0.0.1",
                "-addext",
                &format!("extendedKeyUsage={usage}"),
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.csr"),
            ]);
            run(&[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "1",
                "-copy_extensions",
                "copy",
                "-out",
                &format!("{name}.crt"),
            ]);
        }
        Some(EtcdTls {
            ca: dir.join("ca.crt"),
            server_cert: dir.join("server.crt"),
            server_key: dir.join("server.key"),
            client_cert: dir.join("client.crt"),
            client_key: dir.join("client.key"),
        })
    }
}

/// One etcd member process.
struct Member {
    name: String,
    client_url: String,
    args: Vec<String>,
    child: Option<Child>,
    log: PathBuf,
}

/// An etcd cluster of real members on loopback ports; killed on drop.
pub struct EtcdCluster {
    bin: PathBuf,
    members: Vec<Member>,
    dir: Option<tempfile::TempDir>,
    tls: Option<EtcdTls>,
}

impl EtcdCluster {
    /// Starts `size` members and waits until every one reports healthy.
    /// None (with the reason printed) when no etcd binary is installed.
    pub fn start(size: usize) -> Option<EtcdCluster> {
        Self::start_with(size, false)
    }

    /// Like [`EtcdCluster::start`], serving clients over TLS and requiring
    /// client certificates ([`EtcdCluster::tls`]).
    pub fn start_tls(size: usize) -> Option<EtcdCluster> {
        Self::start_with(size, true)
    }

    fn start_with(size: usize, with_tls: bool) -> Option<EtcdCluster> {
        let Some(bin) = etcd_binary() else {
            eprintln!(
                "e2e: SKIPPED: no etcd binary (install Debian's etcd-server or set ETCD_BIN)"
            );
            return None;
        };
        let dir = tempfile::Builder::new()
            .prefix("mkube-e2e-etcd-")
            .tempdir()
            .expect("creating the etcd data dir");
        let tls = match with_tls {
            true => Some(EtcdTls::create(dir.path())?),
            false => None,
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        let ports: Vec<(u16, u16)> = (0..size).map(|_| (free_port(), free_port())).collect();
        let initial = ports
            .iter()
            .enumerate()
            .map(|(i, (_, peer))| format!("m{i}=http://127.0.0.1:{peer}"))
            .collect::<Vec<_>>()
            .join(",");
        let members = ports
            .iter()
            .enumerate()
            .map(|(i, (client, peer))| {
                let name = format!("m{i}");
                let client_url = format!("{scheme}://127.0.0.1:{client}");
                let peer_url = format!("http://127.0.0.1:{peer}");
                let data = dir.path().join(&name);
                let mut args = vec![
                    "--name".into(),
                    name.clone(),
                    "--data-dir".into(),
                    data.display().to_string(),
                    "--listen-client-urls".into(),
                    client_url.clone(),
                    "--advertise-client-urls".into(),
                    client_url.clone(),
                    "--listen-peer-urls".into(),
                    peer_url.clone(),
                    "--initial-advertise-peer-urls".into(),
                    peer_url,
                    "--initial-cluster".into(),
                    initial.clone(),
                    "--initial-cluster-state".into(),
                    "new".into(),
                    "--initial-cluster-token".into(),
                    "mkube-e2e".into(),
                    // etcd's defaults, spelled out: a loaded 2-core CI machine
                    // must not make the members flap between leaders.
                    "--heartbeat-interval".into(),
                    "100".into(),
                    "--election-timeout".into(),
                    "1000".into(),
                ];
                if let Some(t) = &tls {
                    for (flag, path) in [
                        ("--cert-file", &t.server_cert),
                        ("--key-file", &t.server_key),
                        ("--trusted-ca-file", &t.ca),
                    ] {
                        args.push(flag.into());
                        args.push(path.display().to_string());
                    }
                    args.push("--client-cert-auth".into());
                }
                Member {
                    log: dir.path().join(format!("{name}.log")),
                    name,
                    client_url,
                    args,
                    child: None,
                }
            })
            .collect();
        let mut cluster = EtcdCluster {
            bin,
            members,
            dir: Some(dir),
            tls,
        };
        for i in 0..size {
            cluster.start_member(i);
        }
        let deadline = Instant::now() + ETCD_READY_TIMEOUT;
        while !(0..size).all(|i| cluster.is_healthy(i)) {
            if Instant::now() > deadline {
                panic!("etcd did not become healthy\n{}", cluster.logs());
            }
            thread::sleep(Duration::from_millis(100));
        }
        Some(cluster)
    }

    fn start_member(&mut self, i: usize) {
        let m = &mut self.members[i];
        let log = File::create(&m.log).expect("creating an etcd log");
        let child = Command::new(&self.bin)
            .args(&m.args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("etcd log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", self.bin.display()));
        m.child = Some(child);
    }

    /// The certificates, when clients must use TLS.
    pub fn tls(&self) -> Option<&EtcdTls> {
        self.tls.as_ref()
    }

    /// curl on a member's URL, with the client certificate under TLS.
    fn curl(&self, i: usize, path: &str, args: &[&str]) -> String {
        let mut cmd = Command::new("curl");
        cmd.args(["-s", "--max-time", "10"]).args(args);
        if let Some(t) = &self.tls {
            cmd.arg("--cacert").arg(&t.ca);
            cmd.arg("--cert").arg(&t.client_cert);
            cmd.arg("--key").arg(&t.client_key);
        }
        cmd.arg(format!("{}{path}", self.members[i].client_url));
        text(&run_with_timeout(&mut cmd, None, Duration::from_secs(15)).stdout)
    }

    /// Whether member `i` answers its health endpoint with a healthy status.
    pub fn is_healthy(&self, i: usize) -> bool {
        self.curl(i, "/health", &[]).contains("\"health\":\"true\"")
    }

    /// All client URLs, comma-separated (for `--etcd-servers`).
    pub fn endpoints(&self) -> String {
        self.members
            .iter()
            .map(|m| m.client_url.clone())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Compacts etcd's history up to `revision` (through etcd's JSON gateway),
    /// as kube-apiserver's periodic compaction does.
    pub fn compact(&self, revision: u64) {
        let live = (0..self.members.len())
            .find(|i| self.members[*i].child.is_some())
            .expect("a live etcd member");
        let out = run_with_timeout(
            Command::new("curl")
                .args(["-s", "--max-time", "10", "-X", "POST", "-d"])
                .arg(format!("{{\"revision\":\"{revision}\",\"physical\":true}}"))
                .arg(format!(
                    "{}/v3/kv/compaction",
                    self.members[live].client_url
                )),
            None,
            Duration::from_secs(15),
        );
        let body = text(&out.stdout);
        assert!(body.contains("header"), "etcd compaction failed: {body}");
    }

    /// SIGKILL member `i`.
    pub fn kill_member(&mut self, i: usize) {
        if let Some(mut c) = self.members[i].child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Every member's log tail, for failure messages.
    pub fn logs(&self) -> String {
        self.members
            .iter()
            .map(|m| format!("--- etcd {}:\n{}", m.name, tail_of(&m.log, 15)))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for EtcdCluster {
    fn drop(&mut self) {
        for i in 0..self.members.len() {
            self.kill_member(i);
        }
        if thread::panicking() {
            eprintln!("{}", self.logs());
            if let Some(d) = self.dir.take() {
                eprintln!("e2e: etcd data kept in {}", d.keep().display());
            }
        }
    }
}

/// A separate mkube component process (`mkube controllers`, `mkube
/// nodeagent`) with its log in a file; killed on drop.
pub struct Component {
    name: String,
    child: Option<Child>,
    log: PathBuf,
}

impl Component {
    /// Starts `mkube ARGS...`, logging to `log`.
    pub fn spawn(name: &str, args: &[String], log: &Path) -> Component {
        let file = File::create(log).expect("creating a component log");
        let child = Command::new(mkube_bin())
            .args(args)
            .env_remove("KUBECONFIG")
            .env("MKUBE_LOG", "info")
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("component log"))
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("starting mkube {name}: {e}"));
        Component {
            name: name.to_string(),
            child: Some(child),
            log: log.to_path_buf(),
        }
    }

    /// SIGKILL: no chance to release anything it holds.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The whole log so far.
    pub fn log(&self) -> String {
        tail_of(&self.log, usize::MAX)
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for Component {
    fn drop(&mut self) {
        if thread::panicking() {
            eprintln!("--- {} log:\n{}", self.name, tail_of(&self.log, 40));
        }
        self.kill9();
    }
}

fn tail_of(path: &Path, n: usize) -> String {
    let mut s = String::new();
    if let Ok(mut f) = File::open(path) {
        let _ = f.read_to_string(&mut s);
    }
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
