//! `kill -9` of `mkube up` leaves no pod process behind: a host-command pod
//! and a builtin-image pod are running, mkube is SIGKILLed (no chance to
//! clean up), and every process of both pods is gone soon after.

use e2e::{eventually, Cluster};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

/// Pids of processes whose environment carries `MARKER=<marker>`.
fn marked_processes(marker: &str) -> Vec<u32> {
    let needle = format!("MARKER={marker}");
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .map(|env| env.split(|b| *b == 0).any(|var| var == needle.as_bytes()))
                .unwrap_or(false)
        })
        .collect()
}

#[test]
fn kill_9_of_mkube_leaves_no_pod_process() {
    let mut c = Cluster::start();
    let marker = format!("kill9-{}", c.port());
    c.apply(&format!(
        r#"apiVersion: v1
kind: Pod
metadata: {{name: host-sleep}}
spec:
  containers:
  - name: sleep
    image: debian
    command: [sleep, "3600"]
    env: [{{name: MARKER, value: {marker}}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: builtin}}
spec:
  containers:
  - name: netexec
    image: registry.k8s.io/e2e-test-images/agnhost:2.53
    args: [netexec, --http-port=8080, --udp-port=-1]
    env: [{{name: MARKER, value: {marker}}}]
"#
    ));
    c.kubectl_ok([
        "wait",
        "--for=condition=Ready",
        "pod/host-sleep",
        "pod/builtin",
        "--timeout=30s",
    ]);
    eventually(WAIT, "both pods' processes", || {
        (marked_processes(&marker).len() >= 2).then_some(())
    });
    c.kill9();
    eventually(WAIT, "no pod process left after kill -9", || {
        marked_processes(&marker).is_empty().then_some(())
    });
}
