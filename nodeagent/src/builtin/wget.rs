//! busybox `wget`: `-q`, `-O FILE` (`-` for stdout), `-T SEC`, `-S`,
//! `--spider`; plain HTTP with redirects.

use super::http;
use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, Default, PartialEq)]
pub struct Opts {
    pub quiet: bool,
    pub output: Option<String>,
    pub timeout: Option<u64>,
    pub spider: bool,
    pub server_response: bool,
    pub url: Option<String>,
}

pub fn parse(args: &[String]) -> Result<Opts, String> {
    let mut o = Opts::default();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        let value = |i: &mut usize| -> Result<String, String> {
            *i += 1;
            args.get(*i)
                .cloned()
                .ok_or_else(|| format!("option requires an argument -- {a}"))
        };
        if a == "--spider" {
            o.spider = true;
        } else if let Some(v) = a.strip_prefix("--output-document=") {
            o.output = Some(v.to_string());
        } else if let Some(v) = a.strip_prefix("--timeout=") {
            o.timeout = v.parse().ok();
        } else if a == "--quiet" {
            o.quiet = true;
        } else if a.starts_with("--") {
            // Other long options are accepted and ignored.
        } else if a.starts_with('-') && a.len() > 1 {
            let flags: Vec<char> = a[1..].chars().collect();
            let mut j = 0;
            while j < flags.len() {
                match flags[j] {
                    'q' => o.quiet = true,
                    'S' => o.server_response = true,
                    'O' | 'T' | 'U' | 'Y' | 'P' | 'e' => {
                        let rest: String = flags[j + 1..].iter().collect();
                        let v = if rest.is_empty() {
                            value(&mut i)?
                        } else {
                            rest
                        };
                        match flags[j] {
                            'O' => o.output = Some(v),
                            'T' => o.timeout = v.parse().ok(),
                            _ => {}
                        }
                        break;
                    }
                    _ => {}
                }
                j += 1;
            }
        } else {
            o.url = Some(a.clone());
        }
        i += 1;
    }
    Ok(o)
}

pub fn main(args: &[String]) -> ExitCode {
    let o = match parse(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("wget: {e}");
            return ExitCode::from(1);
        }
    };
    let Some(mut url) = o.url.clone() else {
        eprintln!("BusyBox v1.36.1 (mkube builtin) multi-call binary.\n\nUsage: wget [-cqS] [--spider] [-O FILE] [-T SEC] URL...");
        return ExitCode::from(1);
    };
    let timeout = Duration::from_secs(o.timeout.unwrap_or(900).max(1));
    for _ in 0..6 {
        let u = match http::parse_url(&url) {
            Ok(u) => u,
            Err(e) => {
                eprintln!("wget: {e}");
                return ExitCode::from(1);
            }
        };
        let Some(ip) = super::dns::resolve(&u.host).and_then(|v| v.first().copied()) else {
            eprintln!("wget: bad address '{}'", u.host);
            return ExitCode::from(1);
        };
        let addr = SocketAddr::new(ip, u.port);
        if !o.quiet {
            eprintln!(
                "Connecting to {}{} ({addr})",
                u.host,
                if u.port == 80 {
                    String::new()
                } else {
                    format!(":{}", u.port)
                }
            );
        }
        let host_header = if u.port == 80 {
            u.host.clone()
        } else {
            format!("{}:{}", u.host, u.port)
        };
        let resp = match http::get(addr, &host_header, &u.path, timeout) {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                eprintln!("wget: can't connect to remote host ({ip}): Connection refused");
                return ExitCode::from(1);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
                ) =>
            {
                eprintln!("wget: download timed out");
                return ExitCode::from(1);
            }
            Err(e) => {
                eprintln!("wget: {e}");
                return ExitCode::from(1);
            }
        };
        if o.server_response {
            eprintln!("  {}", resp.status_line);
            for (k, v) in &resp.headers {
                eprintln!("  {k}: {v}");
            }
        }
        if (300..400).contains(&resp.status) {
            if let Some(loc) = resp
                .headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("location"))
                .map(|(_, v)| v.clone())
            {
                url = if loc.starts_with('/') {
                    format!("http://{host_header}{loc}")
                } else {
                    loc
                };
                continue;
            }
        }
        if !(200..300).contains(&resp.status) {
            eprintln!("wget: server returned error: {}", resp.status_line);
            return ExitCode::from(1);
        }
        if o.spider {
            if !o.quiet {
                eprintln!("remote file exists");
            }
            return ExitCode::SUCCESS;
        }
        let out = o.output.clone().unwrap_or_else(|| {
            let p = u.path.split('?').next().unwrap_or("/");
            let base = p.rsplit('/').next().unwrap_or("");
            if base.is_empty() {
                "index.html".into()
            } else {
                base.to_string()
            }
        });
        if out == "-" {
            if !o.quiet {
                eprintln!("writing to stdout");
            }
            let mut stdout = std::io::stdout();
            let _ = stdout.write_all(&resp.body);
            let _ = stdout.flush();
            if !o.quiet {
                eprintln!("written to stdout");
            }
        } else {
            if !o.quiet {
                eprintln!("saving to '{out}'");
            }
            if let Err(e) = std::fs::write(&out, &resp.body) {
                eprintln!("wget: can't open '{out}': {e}");
                return ExitCode::from(1);
            }
            if !o.quiet {
                eprintln!("'{out}' saved");
            }
        }
        return ExitCode::SUCCESS;
    }
    eprintln!("wget: too many redirections");
    ExitCode::from(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn options() {
        let o = parse(&s(&["-qO-", "http://x"])).unwrap();
        assert!(o.quiet);
        assert_eq!(o.output.as_deref(), Some("-"));
        assert_eq!(o.url.as_deref(), Some("http://x"));
        let o = parse(&s(&["-q", "-O", "/tmp/f", "-T", "5", "http://x"])).unwrap();
        assert_eq!(o.output.as_deref(), Some("/tmp/f"));
        assert_eq!(o.timeout, Some(5));
        let o = parse(&s(&["--spider", "-T5", "x"])).unwrap();
        assert!(o.spider);
        assert_eq!(o.timeout, Some(5));
    }
}
