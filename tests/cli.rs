//! The binary's own command line: `up --detach` returns once the cluster is
//! ready and `down` stops it. (Being an integration test of the root package,
//! this also makes `cargo test` build `target/*/mkube` for the e2e suite.)

use std::process::Command;
use std::time::{Duration, Instant};

const MKUBE: &str = env!("CARGO_BIN_EXE_mkube");

#[test]
fn version_and_help() {
    let out = Command::new(MKUBE).arg("--version").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("mkube "));
    let out = Command::new(MKUBE).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for sub in [
        "up",
        "down",
        "apiserver",
        "controllers",
        "nodeagent",
        "migrate",
        "bench",
    ] {
        assert!(help.contains(sub), "help lacks {sub}: {help}");
    }
}

#[test]
fn detach_then_down() {
    let dir = tempfile_dir();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let n = port % 250 + 1;
    let out = Command::new(MKUBE)
        .args(["up", "--detach", "--port", &port.to_string()])
        .arg("--data-dir")
        .arg(&dir)
        // Ranges registered apart from the machine's and the other tests'.
        .env("MKUBE_CLAIMS_DIR", dir.join("claims"))
        .args([
            "--service-cidr",
            &format!("127.96.{n}.0/24"),
            "--lb-ip-range",
            &format!("127.240.{n}.0/24"),
        ])
        .args([
            "--cluster-cidr",
            &format!("127.{}.0.0/16", 128 + n % 100),
            "--node-ip",
            &format!("127.1.{n}.1"),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("mkube is ready"), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "export KUBECONFIG={}",
            dir.join("kubeconfig").display()
        )),
        "{stdout}"
    );
    let pid: i32 = std::fs::read_to_string(dir.join("mkube.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let down = Command::new(MKUBE)
        .arg("down")
        .arg("--data-dir")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(down.status.success());
    let started = Instant::now();
    // SAFETY: signal 0 only checks that the process exists.
    while unsafe { libc::kill(pid, 0) } == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "mkube still running after down"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn detach_reports_failure_with_the_log() {
    let dir = tempfile_dir();
    // A port that is already taken makes start-up fail.
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let out = Command::new(MKUBE)
        .args(["up", "--detach", "--port", &port.to_string()])
        .arg("--data-dir")
        .arg(&dir)
        .env("MKUBE_CLAIMS_DIR", dir.join("claims"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("before it was ready"), "{stderr}");
    assert!(stderr.contains("binding 127.0.0.1"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "mkube-cli-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64
}
