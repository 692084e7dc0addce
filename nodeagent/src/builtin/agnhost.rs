//! `registry.k8s.io/e2e-test-images/agnhost`: the subcommands e2e tests use
//! most: `netexec`, `serve-hostname`, `pause`.

use super::http::{self, Request, Response};
use std::net::{SocketAddr, UdpSocket};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// `--name=value` or `--name value` (single dash too).
fn flag(args: &[String], name: &str) -> Option<String> {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let a2 = a.trim_start_matches('-');
        if a2 == name && a.starts_with('-') {
            return it.next().cloned();
        }
        if let Some(v) = a2.strip_prefix(&format!("{name}=")) {
            return Some(v.to_string());
        }
    }
    None
}

fn bool_flag(args: &[String], name: &str, default: bool) -> bool {
    args.iter()
        .find_map(|a| {
            let a2 = a.trim_start_matches('-');
            if a2 == name {
                Some(true)
            } else {
                a2.strip_prefix(&format!("{name}=")).map(|v| v == "true")
            }
        })
        .unwrap_or(default)
}

pub fn main(args: Vec<String>) -> ExitCode {
    let Some(sub) = args.first().cloned() else {
        eprintln!("Usage: agnhost [command]\n\nAvailable Commands (mkube builtin): netexec, serve-hostname, pause");
        return ExitCode::from(1);
    };
    let rest = args[1..].to_vec();
    match sub.as_str() {
        "netexec" => netexec(rest),
        "serve-hostname" => serve_hostname(rest),
        "pause" => super::pause::main(),
        other => {
            eprintln!("Error: unknown command \"{other}\" for \"agnhost\" (mkube builds in: netexec, serve-hostname, pause)");
            ExitCode::from(1)
        }
    }
}

fn udp_reply(msg: &str, peer: SocketAddr) -> String {
    let msg = msg.trim();
    if msg == "hostname" {
        http::hostname()
    } else if let Some(rest) = msg.strip_prefix("echo ") {
        rest.to_string()
    } else if msg == "clientip" {
        peer.to_string()
    } else {
        String::new()
    }
}

fn serve_udp(sock: UdpSocket) {
    let mut buf = [0u8; 2048];
    loop {
        if let Ok((n, peer)) = sock.recv_from(&mut buf) {
            let msg = String::from_utf8_lossy(&buf[..n]).to_string();
            let reply = udp_reply(&msg, peer);
            let _ = sock.send_to(reply.as_bytes(), peer);
        }
    }
}

/// One dial of `/dial`: the target's answer to `request`.
fn dial_once(protocol: &str, host: &str, port: u16, request: &str) -> Result<String, String> {
    let addr: SocketAddr = format!("{host}:{port}")
        .parse()
        .or_else(|_| {
            use std::net::ToSocketAddrs;
            (host, port)
                .to_socket_addrs()
                .ok()
                .and_then(|mut a| a.next())
                .ok_or(())
        })
        .map_err(|_| format!("cannot resolve {host}"))?;
    match protocol {
        "udp" => {
            let sock = UdpSocket::bind(SocketAddr::new(
                if addr.is_ipv4() {
                    "0.0.0.0".parse().map_err(|_| "bind")?
                } else {
                    "::".parse().map_err(|_| "bind")?
                },
                0,
            ))
            .map_err(|e| e.to_string())?;
            sock.set_read_timeout(Some(Duration::from_secs(1)))
                .map_err(|e| e.to_string())?;
            sock.send_to(request.as_bytes(), addr)
                .map_err(|e| e.to_string())?;
            let mut buf = [0u8; 2048];
            let (n, _) = sock
                .recv_from(&mut buf)
                .map_err(|e| format!("reading from udp connection failed. err:'{e}'"))?;
            Ok(String::from_utf8_lossy(&buf[..n]).to_string())
        }
        _ => {
            let path = if request.starts_with('/') {
                request.to_string()
            } else {
                format!("/{request}")
            };
            let r = http::get(addr, &addr.to_string(), &path, Duration::from_secs(5))
                .map_err(|e| e.to_string())?;
            Ok(String::from_utf8_lossy(&r.body).to_string())
        }
    }
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

pub fn netexec_handler(req: &Request) -> Response {
    let q = |k: &str| req.query_param(k);
    match req.path.as_str() {
        "/" => Response::text(200, format!("NOW: {}", k8s_openapi::jiff::Timestamp::now())),
        "/hostname" => Response::text(200, http::hostname()),
        "/echo" => Response::text(200, q("msg").unwrap_or_default()),
        "/clientip" => Response::text(200, req.peer.to_string()),
        "/healthz" | "/healthz/" => Response::text(200, ""),
        "/header" => {
            let key = q("key").unwrap_or_default();
            Response::text(200, req.header(&key).unwrap_or("").to_string())
        }
        "/exit" => {
            let code: i32 = q("code").and_then(|c| c.parse().ok()).unwrap_or(0);
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                std::process::exit(code);
            });
            Response::text(200, "")
        }
        "/shell" => {
            let cmd = q("shellCommand").or_else(|| q("cmd")).unwrap_or_default();
            match std::process::Command::new("/bin/sh")
                .arg("-c")
                .arg(&cmd)
                .output()
            {
                Ok(o) => {
                    let mut out = String::from_utf8_lossy(&o.stdout).to_string();
                    out.push_str(&String::from_utf8_lossy(&o.stderr));
                    let body = if o.status.success() {
                        format!("{{\"output\":{}}}", json_string(&out))
                    } else {
                        format!(
                            "{{\"error\":{},\"output\":{}}}",
                            json_string(&o.status.to_string()),
                            json_string(&out)
                        )
                    };
                    Response::new(200, "application/json", body)
                }
                Err(e) => Response::new(
                    200,
                    "application/json",
                    format!("{{\"error\":{}}}", json_string(&e.to_string())),
                ),
            }
        }
        "/dial" => {
            let request = q("request").unwrap_or_else(|| "hostname".into());
            let protocol = q("protocol").unwrap_or_else(|| "http".into());
            let host = q("host").unwrap_or_default();
            let Some(port) = q("port").and_then(|p| p.parse::<u16>().ok()) else {
                return Response::text(400, "port is required");
            };
            let tries: usize = q("tries").and_then(|t| t.parse().ok()).unwrap_or(1).max(1);
            let mut responses = Vec::new();
            let mut errors = Vec::new();
            for _ in 0..tries {
                match dial_once(&protocol, &host, port, &request) {
                    Ok(r) => responses.push(r),
                    Err(e) => errors.push(e),
                }
            }
            let body = serde_json::json!({"responses": responses, "errors": errors});
            Response::new(200, "application/json", body.to_string())
        }
        _ => Response::text(404, "404 page not found\n"),
    }
}

fn netexec(args: Vec<String>) -> ExitCode {
    super::exit_on_term();
    let http_port: u16 = flag(&args, "http-port")
        .and_then(|p| p.parse().ok())
        .unwrap_or(8080);
    let udp_port: i32 = flag(&args, "udp-port")
        .and_then(|p| p.parse().ok())
        .unwrap_or(8081);
    if udp_port > 0 {
        let addr = http::pod_addr(udp_port as u16);
        match UdpSocket::bind(addr) {
            Ok(sock) => {
                eprintln!("Started UDP server on port {udp_port}");
                std::thread::spawn(move || serve_udp(sock));
            }
            Err(e) => {
                eprintln!("failed to listen on udp {addr}: {e}");
                return ExitCode::from(1);
            }
        }
    }
    let addr = http::pod_addr(http_port);
    let listener = match http::bind(addr, "netexec") {
        Ok(l) => l,
        Err(code) => return code,
    };
    eprintln!("Started HTTP server on port {http_port}");
    http::serve(
        listener,
        Arc::new(|req: &Request| {
            eprintln!("{} {} {}", req.method, req.request_line(), req.peer);
            netexec_handler(req)
        }),
    )
}

fn serve_hostname(args: Vec<String>) -> ExitCode {
    super::exit_on_term();
    let port: u16 = flag(&args, "port")
        .and_then(|p| p.parse().ok())
        .unwrap_or(9376);
    let udp = bool_flag(&args, "udp", false);
    let http_on = bool_flag(&args, "http", true);
    let tcp = bool_flag(&args, "tcp", false);
    let addr = http::pod_addr(port);
    let name = http::hostname();
    eprintln!("Serving on port {port}.");
    if udp {
        match UdpSocket::bind(addr) {
            Ok(sock) => {
                let n = name.clone();
                std::thread::spawn(move || {
                    let mut buf = [0u8; 1024];
                    loop {
                        if let Ok((_, peer)) = sock.recv_from(&mut buf) {
                            let _ = sock.send_to(n.as_bytes(), peer);
                        }
                    }
                });
            }
            Err(e) => {
                eprintln!("serve-hostname: udp {addr}: {e}");
                return ExitCode::from(1);
            }
        }
    }
    if http_on || tcp {
        let listener = match http::bind(addr, "serve-hostname") {
            Ok(l) => l,
            Err(code) => return code,
        };
        if tcp && !http_on {
            loop {
                if let Ok((mut s, _)) = listener.accept() {
                    use std::io::Write;
                    let _ = s.write_all(name.as_bytes());
                }
            }
        }
        http::serve(
            listener,
            Arc::new(move |_req: &Request| Response::text(200, name.clone())),
        )
    }
    super::pause::main()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(path: &str, query: &str) -> Request {
        Request {
            method: "GET".into(),
            path: path.into(),
            query: query.into(),
            version: "HTTP/1.1".into(),
            headers: vec![],
            peer: "127.0.0.9:4000".parse().unwrap(),
            body: vec![],
        }
    }

    #[test]
    fn netexec_endpoints() {
        assert_eq!(
            netexec_handler(&req("/echo", "msg=hi%20there")).body,
            b"hi there"
        );
        assert_eq!(
            netexec_handler(&req("/clientip", "")).body,
            b"127.0.0.9:4000"
        );
        assert_eq!(netexec_handler(&req("/healthz", "")).status, 200);
        assert_eq!(netexec_handler(&req("/nope", "")).status, 404);
        let peer: SocketAddr = "127.0.0.1:1".parse().unwrap();
        assert_eq!(udp_reply("echo abc", peer), "abc");
        assert_eq!(udp_reply("clientip", peer), "127.0.0.1:1");
    }
}
