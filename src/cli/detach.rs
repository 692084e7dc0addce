//! `mkube up --detach` and `mkube down`: a background cluster for CI scripts.

use super::{DataDirArgs, UpArgs};
use anyhow::Context;
use std::io::{BufRead, Read, Seek};
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// Starts `mkube up` in the background and waits for its ready line.
pub fn up_detached(args: &UpArgs) -> anyhow::Result<ExitCode> {
    let data_dir = args.server.data.resolve();
    // Leave a running cluster's log and pid file alone.
    super::data_dir_lock::ensure_free(&data_dir)?;
    std::fs::create_dir_all(&data_dir)?;
    let log_path = data_dir.join("mkube.log");
    let log = std::fs::File::create(&log_path)
        .with_context(|| format!("creating {}", log_path.display()))?;
    let exe = std::env::current_exe()?;
    let forwarded: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--detach")
        .collect();
    let mut child = Command::new(exe)
        .args(&forwarded)
        .env("MKUBE_DATA_DIR", &data_dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0)
        .spawn()
        .context("starting mkube up in the background")?;
    std::fs::write(data_dir.join("mkube.pid"), child.id().to_string())?;
    let started = Instant::now();
    loop {
        if let Some(line) = ready_line(&log_path)? {
            println!("{line}");
            return Ok(ExitCode::SUCCESS);
        }
        if let Some(status) = child.try_wait()? {
            eprintln!("mkube up exited ({status}) before it was ready; last log lines:");
            eprintln!("{}", tail(&log_path, 20));
            let _ = std::fs::remove_file(data_dir.join("mkube.pid"));
            return Ok(ExitCode::FAILURE);
        }
        if started.elapsed() > READY_TIMEOUT {
            let _ = child.kill();
            eprintln!("mkube up was not ready after {READY_TIMEOUT:?}; last log lines:");
            eprintln!("{}", tail(&log_path, 20));
            return Ok(ExitCode::FAILURE);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The ready line, preceded by the line naming the ranges picked when the
/// defaults were taken, once the cluster is ready.
fn ready_line(log: &std::path::Path) -> anyhow::Result<Option<String>> {
    let f = std::fs::File::open(log)?;
    let wanted: Vec<String> = std::io::BufReader::new(f)
        .lines()
        .map_while(Result::ok)
        .filter(|l| l.starts_with("mkube is ready") || l.starts_with("mkube: the default"))
        .collect();
    let ready = wanted.iter().any(|l| l.starts_with("mkube is ready"));
    Ok(ready.then(|| wanted.join("\n")))
}

fn tail(path: &std::path::Path, lines: usize) -> String {
    let mut s = String::new();
    if let Ok(mut f) = std::fs::File::open(path) {
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        let _ = f.seek(std::io::SeekFrom::Start(len.saturating_sub(16 * 1024)));
        let _ = f.read_to_string(&mut s);
    }
    let all: Vec<&str> = s.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Stops the detached cluster of this data dir (SIGTERM, then waits).
pub fn down(args: &DataDirArgs) -> anyhow::Result<ExitCode> {
    let data_dir = args.resolve();
    let pid_file = data_dir.join("mkube.pid");
    let pid: i32 = match std::fs::read_to_string(&pid_file) {
        Ok(s) => s.trim().parse().context("corrupt mkube.pid")?,
        Err(_) => {
            println!("no detached mkube running for {}", data_dir.display());
            return Ok(ExitCode::SUCCESS);
        }
    };
    // SAFETY: kill(2) with a pid we wrote; no memory is involved.
    if unsafe { libc::kill(pid, libc::SIGTERM) } != 0 {
        let _ = std::fs::remove_file(&pid_file);
        println!("mkube (pid {pid}) was not running");
        return Ok(ExitCode::SUCCESS);
    }
    let started = Instant::now();
    // SAFETY: signal 0 only checks that the process exists.
    while unsafe { libc::kill(pid, 0) } == 0 && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = std::fs::remove_file(&pid_file);
    println!("mkube stopped");
    Ok(ExitCode::SUCCESS)
}
