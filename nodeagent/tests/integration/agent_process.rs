//! The agent as its own process, killed with SIGKILL: its pods' processes
//! must not survive it, and a new agent restarts the pods.

use crate::common;

use crate::common::{alive, group_members};
use k8s_openapi::api::core::v1::Pod;
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct AgentProc(Child);

impl Drop for AgentProc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_agent(c: &common::Cluster, cidr: &str) -> AgentProc {
    let bin = env!("CARGO_BIN_EXE_mkube-builtin");
    let mut child = Command::new(bin)
        .arg("agent")
        .arg(&c.kubeconfig)
        .arg(c.dir.join("agent"))
        .arg(cidr)
        .arg(&c.node)
        .env("MKUBE_BIN", bin)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("agent process");
    let out = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            if l.contains("agent ready") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(30))
        .expect("agent did not start");
    AgentProc(child)
}

fn children_named(ppid: u32, needle: &str) -> Vec<i32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let parent: Option<u32> = rest.split_whitespace().nth(1).and_then(|p| p.parse().ok());
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if parent == Some(ppid) && String::from_utf8_lossy(&cmdline).contains(needle) {
            out.push(pid);
        }
    }
    out
}

async fn running_pid(c: &common::Cluster, uid: &str, restarts: i32) -> i32 {
    c.wait_pod("sleeper", 40, |p: &Pod| {
        p.status
            .as_ref()
            .and_then(|s| s.container_statuses.as_ref())
            .is_some_and(|cs| {
                cs[0].restart_count == restarts
                    && cs[0].state.as_ref().is_some_and(|s| s.running.is_some())
            })
    })
    .await;
    let pidfile = c.pod_dir(uid).join("pids").join("app.pid");
    let text = std::fs::read_to_string(&pidfile).expect("pidfile");
    text.split_whitespace().next().unwrap().parse().unwrap()
}

async fn wait_dead(pids: &[i32]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while pids.iter().any(|p| alive(*p)) {
        assert!(
            Instant::now() < deadline,
            "processes survived: {:?}",
            pids.iter().filter(|p| alive(**p)).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_die_with_a_killed_agent_and_come_back_with_a_new_one() {
    let c = common::start_with(false).await;
    let cidr = common::pod_cidr().to_string();
    let agent = spawn_agent(&c, &cidr);
    let created = c
        .create(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "sleeper"},
            "spec": {"containers": [{"name": "app", "image": "busybox", "command": ["sh", "-c", "sleep 3600 & sleep 3600"]}]}
        }))
        .await;
    let uid = created.metadata.uid.clone().unwrap();
    let pid = running_pid(&c, &uid, 0).await;
    let members = group_members(pid);
    assert!(members.len() >= 2, "{members:?}");

    // kill -9 of the agent: the watchdog kills the pod's processes.
    drop(agent);
    wait_dead(&members).await;

    // A new agent restarts the container.
    let agent = spawn_agent(&c, &cidr);
    let pid2 = running_pid(&c, &uid, 1).await;
    assert_ne!(pid, pid2);
    let members = group_members(pid2);
    assert!(members.len() >= 2, "{members:?}");

    // Watchdog and agent both killed: the shell dies by its death signal,
    // its background child is left over...
    let watchdogs = children_named(agent.0.id(), "__watchdog");
    assert_eq!(watchdogs.len(), 1, "one watchdog per agent");
    unsafe {
        libc::kill(watchdogs[0], libc::SIGKILL);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    drop(agent);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!alive(pid2), "the direct child has PDEATHSIG");
    // ...until the next agent finds it through the pidfile and kills it.
    let _agent = spawn_agent(&c, &cidr);
    wait_dead(&members).await;
    let pid3 = running_pid(&c, &uid, 2).await;
    assert!(alive(pid3));
}
