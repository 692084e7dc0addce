//! Streaming with the official Python client (`pip install kubernetes`):
//! an interactive shell over exec with stdin in text and binary frames,
//! the v5 close of stdin, the client closing the WebSocket, and
//! port-forward with the client's raw-socket API. The scenarios are in
//! `python/kube_stream.py`; each prints what it saw as JSON.

use e2e::{text, Cluster};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(120);

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/kube_stream.py")
}

/// Runs one scenario against `pod`; its JSON report.
fn scenario(c: &Cluster, name: &str, pod: &str, arg: Option<&str>) -> Value {
    let mut cmd = Command::new(e2e::python_with_client());
    cmd.arg(script())
        .arg(c.kubeconfig())
        .arg(name)
        .arg(pod)
        .args(arg)
        .env_remove("KUBECONFIG");
    let out = e2e::run_with_timeout(&mut cmd, None, WAIT);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(
        out.status.success(),
        "scenario {name} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("scenario {name} printed no JSON ({e}):\n{stdout}\n{stderr}"))
}

fn busybox(c: &Cluster, name: &str) {
    c.kubectl_ok([
        "run",
        name,
        "--image=busybox",
        "--restart=Never",
        "--",
        "sleep",
        "3600",
    ]);
    c.wait_ready(&format!("pod/{name}"));
}

/// Host processes whose command line contains `marker` (pods are host
/// processes here).
fn processes_with(marker: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(marker) {
            found.push(format!(
                "{}: {cmdline}",
                entry.file_name().to_string_lossy()
            ));
        }
    }
    found
}

#[test]
fn python_exec_shell_answers_text_and_binary_stdin() {
    let c = Cluster::start();
    busybox(&c, "bb");
    let r = scenario(&c, "interactive-shell", "bb", None);
    assert_eq!(r["text"], "text-42");
    assert_eq!(r["binary"], "bytes-42");
    assert_eq!(r["stderr"], "oops\n");
    assert_eq!(r["returncode"], 3);
    assert_eq!(r["subprotocol"], "v5.channel.k8s.io");
}

#[test]
fn python_exec_close_of_stdin_and_of_the_session() {
    let c = Cluster::start();
    busybox(&c, "bb");
    let r = scenario(&c, "close-stdin", "bb", None);
    assert_eq!(r["first"], "line one");
    assert_eq!(r["after"], "after-eof");
    assert_eq!(r["returncode"], 5);

    let marker = format!("mkube-e2e-close-{}", std::process::id());
    let r = scenario(&c, "close-session", "bb", Some(&marker));
    assert_eq!(r["echoed"], "ping");
    assert_eq!(r["connected"], false);
    // The session's command ended with it.
    e2e::eventually(Duration::from_secs(30), "the exec'd command to end", || {
        processes_with(&marker).is_empty().then_some(())
    });
}

#[test]
fn python_port_forward_over_websocket() {
    let c = Cluster::start();
    c.deploy("web", "nginx", 1);
    let pod = c.kubectl_ok([
        "get",
        "pods",
        "-l",
        "app=web",
        "-o",
        "jsonpath={.items[0].metadata.name}",
    ]);
    let r = scenario(&c, "port-forward", &pod, Some("81"));
    assert_eq!(r["status"], 200);
    let error = r["error"].as_str().unwrap_or_default();
    assert!(
        error.starts_with(&format!("error forwarding port 81 to pod {pod}_default")),
        "{error}"
    );
    assert!(error.ends_with("connect: connection refused"), "{error}");
}
