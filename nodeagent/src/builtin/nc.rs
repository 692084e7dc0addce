//! busybox `nc`: client `nc [-z] [-w SEC] [-u] HOST PORT`, server
//! `nc -l [-k] -p PORT` (stdin to the peer, the peer to stdout).

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, Default, PartialEq)]
pub struct Opts {
    pub listen: bool,
    pub keep: bool,
    pub zero: bool,
    pub udp: bool,
    pub verbose: bool,
    pub wait: Option<u64>,
    pub port: Option<u16>,
    pub source: Option<String>,
    pub positional: Vec<String>,
}

pub fn parse(args: &[String]) -> Result<Opts, String> {
    let mut o = Opts::default();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a.starts_with('-') && a.len() > 1 {
            let flags: Vec<char> = a[1..].chars().collect();
            let mut j = 0;
            while j < flags.len() {
                match flags[j] {
                    'l' => o.listen = true,
                    'k' => o.keep = true,
                    'z' => o.zero = true,
                    'u' => o.udp = true,
                    'v' => o.verbose = true,
                    'n' => {}
                    'w' | 'p' | 's' | 'i' => {
                        let rest: String = flags[j + 1..].iter().collect();
                        let v = if rest.is_empty() {
                            i += 1;
                            args.get(i).cloned().ok_or_else(|| {
                                format!("option requires an argument -- {}", flags[j])
                            })?
                        } else {
                            rest
                        };
                        match flags[j] {
                            'w' => o.wait = v.parse().ok(),
                            'p' => {
                                o.port = Some(v.parse().map_err(|_| format!("invalid port '{v}'"))?)
                            }
                            's' => o.source = Some(v),
                            _ => {}
                        }
                        break;
                    }
                    c => return Err(format!("invalid option -- '{c}'")),
                }
                j += 1;
            }
        } else {
            o.positional.push(a.clone());
        }
        i += 1;
    }
    Ok(o)
}

/// Copies the socket to stdout and stdin to the socket until the peer
/// closes (or `idle` passes without data).
fn pipe(stream: TcpStream, idle: Option<Duration>) {
    let _ = stream.set_read_timeout(idle);
    if let Ok(mut w) = stream.try_clone() {
        std::thread::spawn(move || {
            let mut stdin = std::io::stdin();
            let mut buf = [0u8; 8192];
            loop {
                match stdin.read(&mut buf) {
                    Ok(0) | Err(_) => {
                        let _ = w.shutdown(std::net::Shutdown::Write);
                        return;
                    }
                    Ok(n) => {
                        if w.write_all(&buf[..n]).is_err() {
                            return;
                        }
                    }
                }
            }
        });
    }
    let mut r = stream;
    let mut out = std::io::stdout();
    let mut buf = [0u8; 8192];
    loop {
        match r.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let _ = out.write_all(&buf[..n]);
                let _ = out.flush();
            }
        }
    }
}

pub fn main(args: &[String]) -> ExitCode {
    let o = match parse(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("nc: {e}");
            return ExitCode::from(1);
        }
    };
    let wait = o.wait.map(|w| Duration::from_secs(w.max(1)));
    if o.listen {
        let port = o
            .port
            .or_else(|| o.positional.last().and_then(|p| p.parse().ok()))
            .unwrap_or(0);
        let ip: IpAddr = o
            .source
            .as_deref()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| super::http::pod_addr(0).ip());
        let addr = SocketAddr::new(ip, port);
        if o.udp {
            let sock = match UdpSocket::bind(addr) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("nc: bind: {e}");
                    return ExitCode::from(1);
                }
            };
            let mut buf = [0u8; 65536];
            let mut out = std::io::stdout();
            loop {
                if let Ok((n, _)) = sock.recv_from(&mut buf) {
                    let _ = out.write_all(&buf[..n]);
                    let _ = out.flush();
                }
            }
        }
        let listener = match TcpListener::bind(addr) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("nc: bind: {e}");
                return ExitCode::from(1);
            }
        };
        if o.verbose {
            if let Ok(a) = listener.local_addr() {
                eprintln!("listening on {a} ...");
            }
        }
        loop {
            match listener.accept() {
                Ok((s, peer)) => {
                    if o.verbose {
                        eprintln!("connect to {addr} from {peer}");
                    }
                    pipe(s, None);
                    if !o.keep {
                        return ExitCode::SUCCESS;
                    }
                }
                Err(e) => {
                    eprintln!("nc: accept: {e}");
                    return ExitCode::from(1);
                }
            }
        }
    }
    let (Some(host), Some(port)) = (o.positional.first(), o.positional.get(1)) else {
        eprintln!("BusyBox v1.36.1 (mkube builtin) multi-call binary.\n\nUsage: nc [-iN] [-wN] [-l] [-p PORT] [-f FILE|IPADDR PORT] [-e PROG]");
        return ExitCode::from(1);
    };
    let Ok(port) = port.parse::<u16>() else {
        eprintln!("nc: bad port '{port}'");
        return ExitCode::from(1);
    };
    let Some(ip) = super::dns::resolve(host).and_then(|v| v.first().copied()) else {
        eprintln!("nc: bad address '{host}'");
        return ExitCode::from(1);
    };
    let addr = SocketAddr::new(ip, port);
    if o.udp {
        let bind: SocketAddr = if ip.is_ipv4() {
            SocketAddr::from(([0, 0, 0, 0], 0))
        } else {
            SocketAddr::from(([0u16; 8], 0))
        };
        let Ok(sock) = UdpSocket::bind(bind) else {
            return ExitCode::from(1);
        };
        if sock.connect(addr).is_err() {
            return ExitCode::from(1);
        }
        if o.zero {
            return ExitCode::SUCCESS;
        }
        let mut input = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut input);
        let _ = sock.send(&input);
        let _ = sock.set_read_timeout(Some(wait.unwrap_or(Duration::from_secs(1))));
        let mut buf = [0u8; 65536];
        if let Ok(n) = sock.recv(&mut buf) {
            let _ = std::io::stdout().write_all(&buf[..n]);
        }
        return ExitCode::SUCCESS;
    }
    let conn = match wait {
        Some(w) => TcpStream::connect_timeout(&addr, w),
        None => TcpStream::connect(addr),
    };
    match conn {
        Ok(s) => {
            if o.verbose {
                eprintln!("{host} ({ip}:{port}) open");
            }
            if o.zero {
                return ExitCode::SUCCESS;
            }
            pipe(s, wait);
            ExitCode::SUCCESS
        }
        Err(e) => {
            if !o.zero || o.verbose {
                let what = match e.kind() {
                    std::io::ErrorKind::ConnectionRefused => "Connection refused".to_string(),
                    std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => {
                        "Connection timed out".to_string()
                    }
                    _ => e.to_string(),
                };
                eprintln!("nc: can't connect to remote host ({ip}): {what}");
            }
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn options() {
        let o = parse(&s(&["-zv", "-w", "2", "10.0.0.1", "80"])).unwrap();
        assert!(o.zero && o.verbose);
        assert_eq!(o.wait, Some(2));
        assert_eq!(o.positional, s(&["10.0.0.1", "80"]));
        let o = parse(&s(&["-lk", "-p", "8080"])).unwrap();
        assert!(o.listen && o.keep);
        assert_eq!(o.port, Some(8080));
        let o = parse(&s(&["-w1", "h", "1"])).unwrap();
        assert_eq!(o.wait, Some(1));
    }
}
