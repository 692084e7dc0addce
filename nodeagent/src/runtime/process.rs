//! Host processes for containers: each in its own process group, spawned
//! from one long-lived thread with PR_SET_PDEATHSIG (the death signal follows
//! the thread that forked), registered with a watchdog process that kills
//! every registered group when the agent goes away (even by `kill -9`), and
//! recorded in pidfiles so a restarted agent can kill leftovers.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};

type Job = Box<dyn FnOnce() + Send>;

fn spawner() -> &'static Mutex<mpsc::Sender<Job>> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<Job>>> = OnceLock::new();
    SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        let _ = std::thread::Builder::new()
            .name("mkube-spawner".into())
            .spawn(move || {
                while let Ok(job) = rx.recv() {
                    job();
                }
            });
        Mutex::new(tx)
    })
}

/// Runs `f` on the spawner thread (inside the caller's tokio runtime).
pub async fn on_spawner<T: Send + 'static>(
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> std::io::Result<T> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let handle = tokio::runtime::Handle::current();
    let job: Job = Box::new(move || {
        let _guard = handle.enter();
        let _ = tx.send(f());
    });
    spawner()
        .lock()
        .map_err(|_| std::io::Error::other("spawner lock poisoned"))?
        .send(job)
        .map_err(|_| std::io::Error::other("spawner thread is gone"))?;
    rx.await
        .map_err(|_| std::io::Error::other("spawner dropped the request"))?
}

/// What to run.
#[derive(Debug, Clone)]
pub struct ProcSpec {
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: PathBuf,
}

/// The process as every container process starts: its argv, env and cwd,
/// and the death signal that follows the agent.
fn base_command(spec: &ProcSpec) -> std::io::Result<std::process::Command> {
    let Some(program) = spec.argv.first() else {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "no command to run",
        ));
    };
    let mut cmd = std::process::Command::new(program);
    cmd.args(&spec.argv[1..])
        .env_clear()
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&spec.cwd);
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent died before prctl took effect.
            if libc::getppid() != parent {
                libc::_exit(137);
            }
            Ok(())
        });
    }
    Ok(cmd)
}

/// A process in its own group with no stdin.
fn command(spec: &ProcSpec) -> std::io::Result<tokio::process::Command> {
    let mut cmd = base_command(spec)?;
    cmd.stdin(Stdio::null()).process_group(0);
    Ok(tokio::process::Command::from(cmd))
}

/// How an interactive process (an exec, a container with `stdin` or `tty`)
/// is wired to the agent.
#[derive(Debug, Clone, Copy)]
pub enum Console {
    /// Separate pipes; stdin piped only when asked for.
    Pipes { stdin: bool },
    /// One terminal for all three streams.
    Tty(super::pty::WindowSize),
}

/// A spawned interactive process: with `Console::Tty` its I/O is the
/// terminal master, otherwise the child's pipes.
pub struct Interactive {
    pub child: tokio::process::Child,
    pub pty: Option<super::pty::PtyMaster>,
}

/// Spawns a process wired as `console` says. A TTY process leads its own
/// session (and so its own process group) with the terminal as its
/// controlling terminal, as in a container with `tty: true`.
pub async fn spawn_interactive(spec: ProcSpec, console: Console) -> std::io::Result<Interactive> {
    on_spawner(move || {
        let mut cmd = base_command(&spec)?;
        match console {
            Console::Pipes { stdin } => {
                cmd.process_group(0)
                    .stdin(if stdin { Stdio::piped() } else { Stdio::null() })
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped());
                let child = tokio::process::Command::from(cmd).spawn()?;
                Ok(Interactive { child, pty: None })
            }
            Console::Tty(size) => {
                let (master, slave) = super::pty::open(size)?;
                cmd.stdin(Stdio::from(slave.try_clone()?))
                    .stdout(Stdio::from(slave.try_clone()?))
                    .stderr(Stdio::from(slave));
                // SAFETY: setsid and ioctl only, after stdio is in place.
                unsafe {
                    cmd.pre_exec(|| super::pty::make_controlling_terminal(0));
                }
                let child = tokio::process::Command::from(cmd).spawn()?;
                Ok(Interactive {
                    child,
                    pty: Some(master),
                })
            }
        }
    })
    .await
}

/// Spawns a container process with piped stdout/stderr.
pub async fn spawn(spec: ProcSpec) -> std::io::Result<tokio::process::Child> {
    on_spawner(move || {
        let mut cmd = command(&spec)?;
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd.spawn()
    })
    .await
}

/// Runs a short command (exec probes and hooks) to completion, returning
/// (exit code, combined output), or an error on timeout.
pub async fn run_to_end(
    spec: ProcSpec,
    timeout: std::time::Duration,
    watchdog: &Watchdog,
) -> std::io::Result<(i32, String)> {
    let child = on_spawner(move || {
        let mut cmd = command(&spec)?;
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd.spawn()
    })
    .await?;
    let pid = child.id().map(|p| p as i32).unwrap_or(0);
    watchdog.add(pid);
    let out = tokio::time::timeout(timeout, child.wait_with_output()).await;
    kill_group(pid, libc::SIGKILL);
    watchdog.remove(pid);
    match out {
        Ok(Ok(o)) => {
            let code = exit_code(&o.status).0;
            let mut text = String::from_utf8_lossy(&o.stdout).to_string();
            text.push_str(&String::from_utf8_lossy(&o.stderr));
            Ok((code, text))
        }
        Ok(Err(e)) => Err(e),
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "timed out",
        )),
    }
}

/// Exit code as the runtime reports it (128+n for a signal n), and the
/// signal.
pub fn exit_code(status: &std::process::ExitStatus) -> (i32, Option<i32>) {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => (c, None),
        (None, Some(s)) => (128 + s, Some(s)),
        _ => (255, None),
    }
}

pub fn kill_group(pgid: i32, sig: i32) {
    if pgid > 1 {
        // SAFETY: plain syscall.
        unsafe {
            libc::kill(-pgid, sig);
        }
    }
}

/// A process's start time (field 22 of /proc/PID/stat), to tell a pid from
/// a reused one.
pub fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    after.split_whitespace().nth(19)?.parse().ok()
}

pub fn write_pidfile(path: &Path, pid: i32) {
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let st = start_time(pid).unwrap_or(0);
    let _ = std::fs::write(path, format!("{pid} {st}\n"));
}

/// Members of process group `pgid` whose environment carries
/// `MKUBE_POD_UID=<uid>` (the marker every container process gets).
fn marked_group_members(pgid: i32, uid: &str) -> Vec<i32> {
    let marker = format!("MKUBE_POD_UID={uid}");
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    procs
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()))
        .filter(|pid| {
            let in_group = std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| {
                    s.rsplit_once(')').and_then(|(_, r)| {
                        r.split_whitespace()
                            .nth(2)
                            .and_then(|g| g.parse::<i32>().ok())
                    })
                })
                == Some(pgid);
            in_group
                && std::fs::read(format!("/proc/{pid}/environ"))
                    .map(|env| env.split(|b| *b == 0).any(|kv| kv == marker.as_bytes()))
                    .unwrap_or(false)
        })
        .collect()
}

/// Kills the process groups recorded in pidfiles under `root` (a previous
/// agent's containers: `root/<pod uid>/pids/<container>.pid`) and removes
/// the files. A group whose leader is gone is found by its members' marker.
pub fn kill_leftovers(root: &Path) -> usize {
    let mut killed = 0;
    let Ok(pods) = std::fs::read_dir(root) else {
        return 0;
    };
    for pod in pods.flatten() {
        let uid = pod.file_name().to_string_lossy().to_string();
        let Ok(files) = std::fs::read_dir(pod.path().join("pids")) else {
            continue;
        };
        for f in files.flatten() {
            let path = f.path();
            if let Ok(text) = std::fs::read_to_string(&path) {
                let mut it = text.split_whitespace();
                let pid: Option<i32> = it.next().and_then(|p| p.parse().ok());
                let st: Option<u64> = it.next().and_then(|p| p.parse().ok());
                if let Some(pid) = pid.filter(|p| *p > 1) {
                    if start_time(pid).is_some() && start_time(pid) == st {
                        kill_group(pid, libc::SIGKILL);
                        killed += 1;
                    } else {
                        for m in marked_group_members(pid, &uid) {
                            // SAFETY: plain syscall.
                            unsafe {
                                libc::kill(m, libc::SIGKILL);
                            }
                            killed += 1;
                        }
                    }
                }
            }
            let _ = std::fs::remove_file(&path);
        }
    }
    killed
}

/// The watchdog: a helper process (`mkube builtin __watchdog`) holding the
/// read end of a pipe; when the agent dies the pipe closes and the watchdog
/// kills every process group still registered.
pub struct Watchdog {
    stdin: Mutex<Option<std::process::ChildStdin>>,
    groups: Mutex<std::collections::BTreeSet<i32>>,
}

impl Watchdog {
    pub fn start(mkube_bin: &Path) -> std::io::Result<Self> {
        let mut child = std::process::Command::new(mkube_bin)
            .args(["builtin", "__watchdog"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .process_group(0)
            .spawn()?;
        let stdin = child.stdin.take();
        // Reap it whenever it ends.
        std::thread::spawn(move || {
            let _ = child.wait();
        });
        Ok(Watchdog {
            stdin: Mutex::new(stdin),
            groups: Mutex::default(),
        })
    }

    /// A watchdog that does nothing (when the helper cannot be started).
    pub fn disabled() -> Self {
        Watchdog {
            stdin: Mutex::new(None),
            groups: Mutex::default(),
        }
    }

    fn send(&self, line: String) {
        if let Ok(mut g) = self.stdin.lock() {
            if let Some(s) = g.as_mut() {
                let _ = s.write_all(line.as_bytes());
            }
        }
    }

    pub fn add(&self, pgid: i32) {
        if pgid <= 1 {
            return;
        }
        if let Ok(mut g) = self.groups.lock() {
            g.insert(pgid);
        }
        self.send(format!("+{pgid}\n"));
    }

    pub fn remove(&self, pgid: i32) {
        if let Ok(mut g) = self.groups.lock() {
            g.remove(&pgid);
        }
        self.send(format!("-{pgid}\n"));
    }

    /// Kills every registered group now and lets the helper exit.
    pub fn kill_all(&self) {
        if let Ok(g) = self.groups.lock() {
            for pgid in g.iter() {
                kill_group(*pgid, libc::SIGKILL);
            }
        }
        if let Ok(mut g) = self.stdin.lock() {
            g.take();
        }
    }
}

/// The helper's main loop (runs in the `mkube builtin __watchdog` process).
pub fn watchdog_main() -> std::process::ExitCode {
    use std::io::BufRead;
    // SAFETY: setting signal dispositions.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_IGN);
        libc::signal(libc::SIGTERM, libc::SIG_IGN);
        libc::signal(libc::SIGHUP, libc::SIG_IGN);
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    let mut groups = std::collections::BTreeSet::new();
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        let line = line.trim();
        if let Some(p) = line.strip_prefix('+').and_then(|p| p.parse::<i32>().ok()) {
            groups.insert(p);
        } else if let Some(p) = line.strip_prefix('-').and_then(|p| p.parse::<i32>().ok()) {
            groups.remove(&p);
        }
    }
    for g in groups {
        kill_group(g, libc::SIGKILL);
    }
    std::process::ExitCode::SUCCESS
}
