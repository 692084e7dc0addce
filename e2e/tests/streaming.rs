//! Streaming with the real kubectl: `exec` (pipes, stdin, exit codes, TTY),
//! `attach`, `run -i/-it --rm`, `logs -f`, and the HTTP proxy subresources.

use e2e::terminal::Terminal;
use e2e::{text, Cluster};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

/// A running busybox pod named `name`.
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

/// An nginx Deployment `web` behind the Service `web`; its ClusterIP.
fn nginx_service(c: &Cluster) -> String {
    c.kubectl_ok([
        "create",
        "deployment",
        "web",
        "--image=nginx",
        "--replicas=2",
    ]);
    c.kubectl_ok(["expose", "deployment", "web", "--port=80"]);
    c.kubectl_ok(["rollout", "status", "deployment/web", "--timeout=60s"]);
    c.kubectl_ok(["get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}"])
}

#[test]
fn exec_runs_commands_with_separate_streams_stdin_and_exit_codes() {
    let c = Cluster::start();
    busybox(&c, "bb");
    let web = nginx_service(&c);

    assert_eq!(
        c.kubectl_ok(["exec", "bb", "--", "echo", "hello"]),
        "hello\n"
    );
    let page = c.kubectl_ok(["exec", "bb", "--", "wget", "-qO-", &web]);
    assert!(page.contains("Welcome to nginx!"), "{page}");

    // stdout and stderr stay apart; the exit code comes back.
    let out = c.kubectl([
        "exec",
        "bb",
        "--",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(text(&out.stdout), "out\n");
    let stderr = text(&out.stderr);
    assert!(stderr.starts_with("err\n"), "{stderr}");
    assert!(
        stderr.contains("command terminated with exit code 3"),
        "{stderr}"
    );

    let out = c.kubectl(["exec", "bb", "--", "false"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("command terminated with exit code 1"));

    let out = c.kubectl(["exec", "bb", "--", "no-such-command"]);
    assert_eq!(out.status.code(), Some(127));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("\"no-such-command\": executable file not found in $PATH"),
        "{stderr}"
    );

    // stdin through, 1 MiB of it, intact and in order.
    let payload: String = (0..32 * 1024).map(|i| format!("{i:031}\n")).collect();
    assert_eq!(payload.len(), 1024 * 1024);
    let echoed = c.kubectl_stdin_ok(["exec", "-i", "bb", "--", "cat"], &payload);
    assert!(echoed == payload, "cat returned {} bytes", echoed.len());
    let counted = c.kubectl_stdin_ok(["exec", "-i", "bb", "--", "wc", "-c"], &payload);
    assert_eq!(counted.trim(), "1048576");
}

#[test]
fn exec_tty_session_is_a_real_terminal() {
    let c = Cluster::start();
    busybox(&c, "bb");
    let mut term = Terminal::spawn(c.kubectl_cmd(["exec", "-it", "bb", "--", "sh"]), 101, 33);
    term.expect(WAIT, "# ");
    term.send("echo hi-$((2+3)); stty size; tty\r");
    // The command is echoed by the remote terminal, its result computed
    // there, and the size is the local terminal's.
    term.expect(WAIT, "hi-5");
    let screen = term.expect(WAIT, "33 101");
    assert!(screen.contains("/dev/pts/"), "{screen}");
    term.send("exit 7\r");
    let status = term.wait(WAIT);
    assert_eq!(status.code(), Some(7), "{}", term.screen());
}

/// kubectl's own warning when an attach fails and it prints the logs
/// instead (so everything shows twice).
const ATTACH_FALLBACK: &str = "falling back to streaming logs";

#[test]
fn run_rm_i_prints_the_output_once_and_leaves_no_pod() {
    let c = Cluster::start();
    let web = nginx_service(&c);
    // A command that exits at once: kubectl reads the log, then attaches,
    // often after the exit. Several times, as it is a race.
    for i in 0..4 {
        let name = format!("t{i}");
        let out = c.kubectl([
            "run",
            &name,
            "--image=busybox",
            "--rm",
            "-i",
            "--restart=Never",
            "--",
            "wget",
            "-qO-",
            &web,
        ]);
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert!(out.status.success(), "{stdout}\n{stderr}");
        assert_eq!(
            stdout.matches("<h1>Welcome to nginx!</h1>").count(),
            1,
            "the page exactly once:\n{stdout}\n{stderr}"
        );
        assert!(!stderr.contains(ATTACH_FALLBACK), "{stderr}");
        assert!(!stderr.contains("warning"), "{stderr}");
        assert!(
            stdout.contains(&format!("pod \"{name}\" deleted")),
            "{stdout}"
        );
        let gone = c.kubectl_err(["get", "pod", &name]);
        assert!(gone.contains("not found"), "{gone}");
    }

    // Output written after kubectl attached arrives live, and the
    // container's exit code is kubectl's.
    let out = c.kubectl([
        "run",
        "t2",
        "--image=busybox",
        "--rm",
        "-i",
        "--restart=Never",
        "--",
        "sh",
        "-c",
        "echo early; sleep 2; echo late; exit 4",
    ]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert_eq!(stdout.matches("early").count(), 1, "{stdout}");
    assert_eq!(stdout.matches("late").count(), 1, "{stdout}");
    assert!(!stderr.contains(ATTACH_FALLBACK), "{stderr}");
}

/// kubectl forced onto SPDY/3.1 for exec and attach (what kubectl before
/// 1.30 speaks, and its fallback), verbose enough to show the upgrade.
fn spdy_kubectl(c: &Cluster, args: &[&str], stdin: Option<&str>) -> std::process::Output {
    let mut cmd = c.kubectl_cmd(["-v=8"].iter().chain(args));
    cmd.env("KUBECTL_REMOTE_COMMAND_WEBSOCKETS", "false");
    let out = e2e::run_with_timeout(&mut cmd, stdin.map(str::as_bytes), WAIT);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("101 Switching Protocols")
            && stderr.contains("Upgrade: SPDY/3.1")
            && stderr.contains("X-Stream-Protocol-Version: v4.channel.k8s.io"),
        "not a SPDY v4 session:\n{stderr}"
    );
    assert!(!stderr.contains("websocket"), "{stderr}");
    out
}

/// kubectl's own lines (not its -v logging) from its stderr.
fn kubectl_messages(stderr: &[u8]) -> String {
    text(stderr)
        .lines()
        .filter(|l| !l.starts_with(['I', '\t', ' ']) && !l.is_empty())
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn exec_and_attach_over_spdy() {
    let c = Cluster::start();
    busybox(&c, "bb");

    let out = spdy_kubectl(
        &c,
        &[
            "exec",
            "bb",
            "--",
            "sh",
            "-c",
            "echo out; echo err >&2; exit 3",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(text(&out.stdout), "out\n");
    let messages = kubectl_messages(&out.stderr);
    assert!(messages.starts_with("err\n"), "{messages}");
    assert!(
        messages.contains("command terminated with exit code 3"),
        "{messages}"
    );

    let payload: String = (0..4096).map(|i| format!("{i:015}\n")).collect();
    let out = spdy_kubectl(&c, &["exec", "-i", "bb", "--", "cat"], Some(&payload));
    assert!(out.status.success());
    assert!(text(&out.stdout) == payload, "stdin came back altered");

    // Attach: kubectl run -i, a quick command and one that runs a while.
    let out = spdy_kubectl(
        &c,
        &[
            "run",
            "q",
            "--image=busybox",
            "--rm",
            "-i",
            "--restart=Never",
            "--",
            "echo",
            "quick",
        ],
        None,
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert_eq!(stdout.matches("quick").count(), 1, "{stdout}");
    assert!(!text(&out.stderr).contains(ATTACH_FALLBACK));
    let out = spdy_kubectl(
        &c,
        &[
            "run",
            "slow",
            "--image=busybox",
            "--rm",
            "-i",
            "--restart=Never",
            "--",
            "sh",
            "-c",
            "echo early; sleep 2; echo late; exit 4",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(4));
    let stdout = text(&out.stdout);
    assert_eq!(stdout.matches("early").count(), 1, "{stdout}");
    assert_eq!(stdout.matches("late").count(), 1, "{stdout}");
    assert!(!text(&out.stderr).contains(ATTACH_FALLBACK));

    // A terminal over SPDY: the resize stream sets its size.
    let mut cmd = c.kubectl_cmd(["exec", "-it", "bb", "--", "sh"]);
    cmd.env("KUBECTL_REMOTE_COMMAND_WEBSOCKETS", "false");
    let mut term = Terminal::spawn(cmd, 97, 31);
    term.expect(WAIT, "# ");
    term.send("stty size; exit 6\r");
    term.expect(WAIT, "31 97");
    assert_eq!(term.wait(WAIT).code(), Some(6), "{}", term.screen());
}

#[test]
fn run_it_rm_gives_an_interactive_shell() {
    let c = Cluster::start();
    let cmd = c.kubectl_cmd([
        "run",
        "shell",
        "-it",
        "--rm",
        "--restart=Never",
        "--image=busybox",
        "--",
        "sh",
    ]);
    let mut term = Terminal::spawn(cmd, 90, 30);
    term.expect(
        WAIT,
        "If you don't see a command prompt, try pressing enter.",
    );
    term.send("echo hi-$((4+5)); stty size\r");
    term.expect(WAIT, "hi-9");
    term.expect(WAIT, "30 90");
    term.send("exit\r");
    term.expect(WAIT, "pod \"shell\" deleted");
    assert_eq!(term.wait(WAIT).code(), Some(0), "{}", term.screen());
    let gone = c.kubectl_err(["get", "pod", "shell"]);
    assert!(gone.contains("not found"), "{gone}");
}

#[test]
fn attach_feeds_stdin_to_a_running_container() {
    let c = Cluster::start();
    c.apply(
        r#"
apiVersion: v1
kind: Pod
metadata:
  name: reader
spec:
  restartPolicy: Never
  containers:
  - name: reader
    image: busybox
    stdin: true
    stdinOnce: true
    command: ["sh", "-c", "while read l; do echo got:$l; done; echo bye"]
"#,
    );
    c.wait_ready("pod/reader");
    let out = c.kubectl_stdin_ok(["attach", "-i", "reader"], "a\nb\n");
    assert!(out.contains("got:a\ngot:b\nbye\n"), "{out}");
    // stdinOnce: the end of the client's input ended the container's.
    let phase = e2e::eventually(WAIT, "the reader to finish", || {
        let p = c.kubectl_ok(["get", "pod", "reader", "-o", "jsonpath={.status.phase}"]);
        (p == "Succeeded").then_some(p)
    });
    assert_eq!(phase, "Succeeded");
}

#[test]
fn logs_follow_streams_lines_as_they_are_written() {
    let c = Cluster::start();
    c.kubectl_ok([
        "run",
        "ticker",
        "--image=busybox",
        "--restart=Never",
        "--",
        "sh",
        "-c",
        "i=0; while true; do echo line-$i; i=$((i+1)); sleep 0.2; done",
    ]);
    c.wait_ready("pod/ticker");
    let mut follow = c.kubectl_spawn(["logs", "-f", "ticker"]);
    follow.expect_line(WAIT, "an early line", |l| l.starts_with("line-"));
    // Lines written after kubectl connected keep coming on the same stream.
    let later = follow.expect_line(WAIT, "line-25", |l| l == "line-25");
    assert_eq!(later, "line-25");
    let seen = follow.seen().to_vec();
    let numbers: Vec<u32> = seen
        .iter()
        .filter_map(|l| l.strip_prefix("line-")?.parse().ok())
        .collect();
    assert!(
        numbers.windows(2).all(|w| w[1] == w[0] + 1),
        "lines in order, none lost: {numbers:?}"
    );
}

#[test]
fn proxy_subresources_reach_pods_and_services() {
    let c = Cluster::start();
    nginx_service(&c);
    let page = c.kubectl_ok([
        "get",
        "--raw",
        "/api/v1/namespaces/default/services/web:80/proxy/",
    ]);
    assert!(page.contains("Welcome to nginx!"), "{page}");
    let page = c.kubectl_ok([
        "get",
        "--raw",
        "/api/v1/namespaces/default/services/http:web:/proxy/",
    ]);
    assert!(page.contains("Welcome to nginx!"), "{page}");
    let pod = c.kubectl_ok([
        "get",
        "pods",
        "-l",
        "app=web",
        "-o",
        "jsonpath={.items[0].metadata.name}",
    ]);
    let page = c.kubectl_ok([
        "get",
        "--raw",
        &format!("/api/v1/namespaces/default/pods/{pod}/proxy/"),
    ]);
    assert!(page.contains("Welcome to nginx!"), "{page}");

    c.kubectl_ok(["create", "service", "clusterip", "empty", "--tcp=80"]);
    let err = c.kubectl_err([
        "get",
        "--raw",
        "/api/v1/namespaces/default/services/empty/proxy/",
    ]);
    assert!(
        err.contains("no endpoints available for service \\\"empty\\\"")
            || err.contains("no endpoints available for service \"empty\""),
        "{err}"
    );
}
