//! `kubectl port-forward` with the real kubectl, through the API server's
//! upgrade proxy to the node agent: pod, service and deployment forms,
//! several ports, many parallel connections, a refused pod port, and the
//! SPDY fallback. Local ports are chosen free at runtime on 127.0.0.1.

use e2e::{free_port, Background, Cluster};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

/// A GET through 127.0.0.1:`port`; the whole response.
fn get(port: u16) -> String {
    let mut t = TcpStream::connect(("127.0.0.1", port)).expect("connect to the forwarded port");
    t.set_read_timeout(Some(WAIT)).unwrap();
    t.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut out = Vec::new();
    let _ = t.read_to_end(&mut out);
    String::from_utf8_lossy(&out).to_string()
}

/// `kubectl port-forward TARGET LOCAL:REMOTE...`, once it listens on every
/// local port; each mapping is (local, port asked for, pod port kubectl
/// resolves it to).
fn forward(
    c: &Cluster,
    target: &str,
    mappings: &[(u16, u16, u16)],
    env: &[(&str, &str)],
) -> Background {
    let mut args = vec!["port-forward".to_string(), target.to_string()];
    args.extend(mappings.iter().map(|(l, r, _)| format!("{l}:{r}")));
    let mut cmd = c.kubectl_cmd(&args);
    cmd.envs(env.iter().copied());
    let mut pf = Background::spawn(cmd);
    for (l, _, pod_port) in mappings {
        let line = format!("Forwarding from 127.0.0.1:{l} -> {pod_port}");
        pf.expect_line(WAIT, &line, |s| s == line);
    }
    pf
}

fn nginx_deployment_and_service(c: &Cluster) {
    c.deploy("web", "nginx", 2);
    c.kubectl_ok([
        "expose",
        "deployment",
        "web",
        "--port=8080",
        "--target-port=80",
    ]);
}

/// A pod serving nginx on 80 and http-echo on 5678.
fn two_port_pod(c: &Cluster) {
    c.apply(
        r#"
apiVersion: v1
kind: Pod
metadata:
  name: two
spec:
  containers:
  - name: nginx
    image: nginx
    ports: [{containerPort: 80}]
  - name: echo
    image: hashicorp/http-echo
    args: ["-text=hello from echo", "-listen=:5678"]
    ports: [{containerPort: 5678}]
"#,
    );
    c.wait_ready("pod/two");
}

#[test]
fn port_forward_pod_service_deployment_several_ports_and_parallel_connections() {
    let c = Cluster::start();
    nginx_deployment_and_service(&c);
    two_port_pod(&c);

    // pod/NAME with two ports at once.
    let (l80, l5678) = (free_port(), free_port());
    let mut pf = forward(&c, "pod/two", &[(l80, 80, 80), (l5678, 5678, 5678)], &[]);
    let page = get(l80);
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("Welcome to nginx!"), "{page}");
    assert!(get(l5678).contains("hello from echo"));
    pf.expect_line(WAIT, "Handling connection", |s| {
        s == format!("Handling connection for {l80}")
    });
    if e2e::curl_available() {
        let out = std::process::Command::new("curl")
            .args([
                "-fsS",
                "--max-time",
                "30",
                &format!("http://127.0.0.1:{l80}/"),
            ])
            .output()
            .unwrap();
        assert!(String::from_utf8_lossy(&out.stdout).contains("Welcome to nginx!"));
    }

    // 50 connections in parallel through one forward.
    let pages: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..50).map(|_| s.spawn(|| get(l80))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for p in &pages {
        assert!(p.contains("Welcome to nginx!"), "{p}");
    }
    pf.kill();

    // svc/NAME: kubectl maps the service port to the pod's target port.
    let local = free_port();
    let _svc = forward(&c, "svc/web", &[(local, 8080, 80)], &[]);
    assert!(get(local).contains("Welcome to nginx!"));

    // deployment/NAME picks one of its pods.
    let local = free_port();
    let _dep = forward(&c, "deployment/web", &[(local, 80, 80)], &[]);
    assert!(get(local).contains("Welcome to nginx!"));
}

#[test]
fn port_forward_refused_port_and_spdy_fallback() {
    let c = Cluster::start();
    two_port_pod(&c);

    // Nothing listens on 81 in the pod: the agent's error comes back on the
    // error stream and kubectl reports it, then (as client-go does on any
    // remote error) drops the connection and exits.
    let local = free_port();
    let mut pf = forward(&c, "pod/two", &[(local, 81, 81)], &[]);
    let page = get(local);
    assert!(!page.contains("HTTP/1.1"), "{page}");
    let status = pf.wait_exit(WAIT).expect("kubectl port-forward exits");
    assert!(!status.success());
    let stderr = pf.stderr();
    assert!(
        stderr.contains("error forwarding port 81 to pod two_default")
            && stderr.contains("connection refused"),
        "{stderr}"
    );
    assert!(stderr.contains("lost connection to pod"), "{stderr}");

    // A new forward to a listening port works.
    let local = free_port();
    let _ok = forward(&c, "pod/two", &[(local, 80, 80)], &[]);
    assert!(get(local).contains("Welcome to nginx!"));

    // SPDY/3.1 upgrade instead of the WebSocket tunnel (kubectl's fallback
    // and older kubectl): same results.
    let local = free_port();
    let spdy = [("KUBECTL_PORT_FORWARD_WEBSOCKETS", "false")];
    let _pf = forward(&c, "pod/two", &[(local, 5678, 5678)], &spdy);
    let pages: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..10).map(|_| s.spawn(|| get(local))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for p in &pages {
        assert!(p.contains("hello from echo"), "{p}");
    }
}
