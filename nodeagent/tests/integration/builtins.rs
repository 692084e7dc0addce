//! The builtin images and applets as processes (no cluster needed).

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_mkube-builtin");

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A loopback address of its own for each server.
fn pod_ip() -> String {
    let n: u32 = std::process::id() ^ (rand_u16() as u32);
    format!("127.251.{}.{}", (n >> 8) % 250 + 1, n % 250 + 2)
}

fn rand_u16() -> u16 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    (t ^ (t >> 16)) as u16
}

fn builtin(ip: &str, args: &[&str]) -> Proc {
    Proc(
        Command::new(BIN)
            .arg("builtin")
            .args(args)
            .env("POD_IP", ip)
            .env("HOSTNAME", "my-pod")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn builtin"),
    )
}

fn get(addr: &str, path: &str) -> (u16, String) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut s = loop {
        match TcpStream::connect(addr) {
            Ok(s) => break s,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("connect {addr}: {e}"),
        }
    };
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nUser-Agent: test\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (code, body)
}

fn applet(name: &str, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    // Symlinks named after the applets, kept in cargo's scratch dir.
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("mkube-applets");
    std::fs::create_dir_all(&dir).unwrap();
    let link = dir.join(name);
    if let Err(e) = std::os::unix::fs::symlink(BIN, &link) {
        assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists, "{e}");
    }
    let out = Command::new(&link)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("applet");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn nginx_and_httpd() {
    let ip = pod_ip();
    let mut nginx = builtin(&ip, &["docker.io/library/nginx:1.25"]);
    let (code, body) = get(&format!("{ip}:80"), "/");
    assert_eq!(code, 200);
    assert!(
        body.contains("<title>Welcome to nginx!</title>")
            && body.contains("<h1>Welcome to nginx!</h1>")
    );
    let (code, body) = get(&format!("{ip}:80"), "/x");
    assert_eq!(code, 404);
    assert!(body.contains("404 Not Found"));
    // Access log lines in the combined format.
    unsafe {
        libc::kill(nginx.0.id() as i32, libc::SIGTERM);
    }
    let status = nginx.0.wait().unwrap();
    assert_eq!(status.code(), Some(0), "nginx stops cleanly on SIGTERM");
    let mut log = String::new();
    nginx
        .0
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    let first = log.lines().next().unwrap_or_default();
    assert!(first.starts_with("127.0.0.1 - - ["), "{log}");
    assert!(
        first.ends_with("\"GET / HTTP/1.1\" 200 576 \"-\" \"test\"")
            || first.contains("\"GET / HTTP/1.1\" 200 "),
        "{first}"
    );

    let ip = pod_ip();
    let _httpd = builtin(&ip, &["httpd:2.4"]);
    let (code, body) = get(&format!("{ip}:80"), "/");
    assert_eq!(code, 200);
    assert_eq!(body, "<html><body><h1>It works!</h1></body></html>\n");
}

#[test]
fn http_echo_and_agnhost() {
    let ip = pod_ip();
    let _echo = builtin(
        &ip,
        &["hashicorp/http-echo", "-text=hello there", "-listen=:5678"],
    );
    assert_eq!(
        get(&format!("{ip}:5678"), "/anything"),
        (200, "hello there\n".into())
    );

    let ip = pod_ip();
    let _net = builtin(
        &ip,
        &[
            "registry.k8s.io/e2e-test-images/agnhost:2.53",
            "netexec",
            "--http-port=8080",
            "--udp-port=8081",
        ],
    );
    let a = format!("{ip}:8080");
    assert_eq!(get(&a, "/hostname"), (200, "my-pod".into()));
    assert_eq!(get(&a, "/echo?msg=hi"), (200, "hi".into()));
    assert_eq!(get(&a, "/healthz").0, 200);
    assert!(get(&a, "/clientip").1.starts_with("127.0.0.1:"));
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut buf = [0u8; 64];
    sock.send_to(b"hostname", format!("{ip}:8081")).unwrap();
    let (n, _) = sock.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"my-pod");
    sock.send_to(b"echo abc", format!("{ip}:8081")).unwrap();
    let (n, _) = sock.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"abc");
    let (_, dial) = get(
        &a,
        &format!("/dial?request=hostname&host={ip}&port=8081&protocol=udp"),
    );
    assert_eq!(dial, "{\"responses\":[\"my-pod\"],\"errors\":[]}");

    let ip = pod_ip();
    let _sh = builtin(
        &ip,
        &[
            "registry.k8s.io/e2e-test-images/agnhost:2.53",
            "serve-hostname",
        ],
    );
    assert_eq!(get(&format!("{ip}:9376"), "/"), (200, "my-pod".into()));
}

#[test]
fn busybox_without_a_command_exits_zero() {
    let out = Command::new(BIN)
        .args(["builtin", "busybox"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let out = Command::new(BIN)
        .args(["builtin", "pause"])
        .spawn()
        .unwrap();
    let mut p = Proc(out);
    std::thread::sleep(Duration::from_millis(100));
    assert!(p.0.try_wait().unwrap().is_none(), "pause keeps running");
    unsafe {
        libc::kill(p.0.id() as i32, libc::SIGTERM);
    }
    assert_eq!(p.0.wait().unwrap().code(), Some(0));
}

#[test]
fn applets() {
    assert_eq!(
        applet("echo", &["-n", "a", "b"], &[]),
        (0, "a b".into(), String::new())
    );
    assert_eq!(applet("true", &[], &[]).0, 0);
    assert_eq!(applet("false", &[], &[]).0, 1);
    assert_eq!(
        applet("hostname", &[], &[("HOSTNAME", "pod-x")]).1,
        "pod-x\n"
    );
    let (code, _, _) = applet("sleep", &["0.1"], &[]);
    assert_eq!(code, 0);
    let (code, _, err) = applet("cat", &["/nonexistent-file"], &[]);
    assert_eq!(code, 1);
    assert!(err.contains("can't open '/nonexistent-file'"));
    let (_, out, _) = applet("env", &[], &[("MKUBE_T", "1")]);
    assert!(out.lines().any(|l| l == "MKUBE_T=1"));

    let ip = pod_ip();
    let _nginx = builtin(&ip, &["nginx"]);
    get(&format!("{ip}:80"), "/");
    let (code, out, _) = applet("wget", &["-qO-", &format!("http://{ip}")], &[]);
    assert_eq!(code, 0);
    assert!(out.contains("Welcome to nginx!"));
    let file = std::env::temp_dir().join(format!("mkube-wget-{}", std::process::id()));
    let (code, _, _) = applet(
        "wget",
        &["-q", "-O", file.to_str().unwrap(), &format!("http://{ip}/")],
        &[],
    );
    assert_eq!(code, 0);
    assert!(std::fs::read_to_string(&file)
        .unwrap()
        .contains("Welcome to nginx!"));
    let _ = std::fs::remove_file(file);
    let (code, _, err) = applet("wget", &["-q", "-O-", &format!("http://{ip}/nope")], &[]);
    assert_eq!(code, 1);
    assert!(
        err.contains("server returned error: HTTP/1.1 404 Not Found"),
        "{err}"
    );
    assert_eq!(applet("nc", &["-z", "-w", "1", &ip, "80"], &[]).0, 0);
    assert_eq!(applet("nc", &["-z", "-w", "1", &ip, "81"], &[]).0, 1);
}

/// A tiny DNS server answering A queries for one name, for nslookup.
#[test]
fn nslookup_prints_busybox_format() {
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    let _ = port;
    // nslookup always uses port 53: serve on a loopback address of its own.
    let ip = pod_ip();
    let server = match UdpSocket::bind(format!("{ip}:53")) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("skipping: cannot bind {ip}:53: {e}");
            return;
        }
    };
    std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        loop {
            let Ok((n, peer)) = server.recv_from(&mut buf) else {
                return;
            };
            let q = &buf[..n];
            let qtype = u16::from_be_bytes([q[n - 4], q[n - 3]]);
            let name_known = String::from_utf8_lossy(q).contains("web");
            let mut r = q.to_vec();
            r[2] = 0x81;
            r[3] = if name_known { 0x80 } else { 0x83 };
            if name_known && qtype == 1 {
                r[7] = 1;
                r.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 127, 96, 0, 7]);
            }
            let _ = server.send_to(&r, peer);
        }
    });
    let conf = std::env::temp_dir().join(format!("mkube-resolv-{}", std::process::id()));
    std::fs::write(
        &conf,
        format!("nameserver {ip}\nsearch default.svc.cluster.local\noptions ndots:5\n"),
    )
    .unwrap();
    let conf_s = conf.to_str().unwrap().to_string();
    let (code, out, _) = applet("nslookup", &["web"], &[("MKUBE_RESOLV_CONF", &conf_s)]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        out,
        format!("Server:\t\t{ip}\nAddress:\t{ip}:53\n\nName:\tweb.default.svc.cluster.local\nAddress: 127.96.0.7\n\n")
    );
    let (code, out, _) = applet(
        "nslookup",
        &["nothing.example."],
        &[("MKUBE_RESOLV_CONF", &conf_s)],
    );
    assert_eq!(code, 1);
    assert!(
        out.contains("** server can't find nothing.example.: NXDOMAIN"),
        "{out}"
    );
    let _ = std::fs::remove_file(conf);
}
