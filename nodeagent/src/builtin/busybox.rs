//! `busybox`: with no command it exits 0 (like the image's `sh` without a
//! tty); the applets dispatch here by name.

use std::io::{Read, Write};
use std::process::ExitCode;

/// Runs `name` if it is an applet.
pub fn applet(name: &str, args: &[String]) -> Option<ExitCode> {
    Some(match name {
        "wget" => super::wget::main(args),
        "nc" => super::nc::main(args),
        "nslookup" => super::nslookup::main(args),
        "sleep" => sleep(args),
        "echo" => echo(args),
        "cat" => cat(args),
        "env" => env(args),
        "hostname" => {
            println!("{}", super::http::hostname());
            ExitCode::SUCCESS
        }
        "true" => ExitCode::SUCCESS,
        "false" => ExitCode::from(1),
        _ => return None,
    })
}

/// `busybox` itself: `busybox APPLET ARGS...`, or nothing to do.
pub fn main(args: Vec<String>) -> ExitCode {
    match args.first() {
        None => ExitCode::SUCCESS,
        Some(a) if a == "sh" || a == "/bin/sh" => {
            // `sh` with no tty and no script exits at once.
            if args.len() == 1 {
                return ExitCode::SUCCESS;
            }
            match std::process::Command::new("/bin/sh")
                .args(&args[1..])
                .status()
            {
                Ok(s) => ExitCode::from(s.code().unwrap_or(1) as u8),
                Err(_) => ExitCode::from(127),
            }
        }
        Some(a) => match applet(a.rsplit('/').next().unwrap_or(a), &args[1..]) {
            Some(c) => c,
            None => {
                eprintln!("{a}: applet not found");
                ExitCode::from(127)
            }
        },
    }
}

/// `1`, `0.5`, `2m`, `1h`, `1d`.
pub fn parse_duration(s: &str) -> Option<f64> {
    let (num, mult) = match s.chars().last()? {
        's' => (&s[..s.len() - 1], 1.0),
        'm' => (&s[..s.len() - 1], 60.0),
        'h' => (&s[..s.len() - 1], 3600.0),
        'd' => (&s[..s.len() - 1], 86400.0),
        _ => (s, 1.0),
    };
    if num == "inf" || num == "infinity" {
        return Some(f64::INFINITY);
    }
    num.parse::<f64>()
        .ok()
        .filter(|v| *v >= 0.0)
        .map(|v| v * mult)
}

fn sleep(args: &[String]) -> ExitCode {
    if args.is_empty() {
        eprintln!("BusyBox v1.36.1 (mkube builtin) multi-call binary.\n\nUsage: sleep [N]...");
        return ExitCode::from(1);
    }
    let mut total = 0.0;
    for a in args {
        match parse_duration(a) {
            Some(v) => total += v,
            None => {
                eprintln!("sleep: invalid number '{a}'");
                return ExitCode::from(1);
            }
        }
    }
    if total.is_infinite() {
        loop {
            std::thread::park();
        }
    }
    std::thread::sleep(std::time::Duration::from_secs_f64(total.min(1e9)));
    ExitCode::SUCCESS
}

fn unescape(s: &str) -> (String, bool) {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('\\') => out.push('\\'),
            Some('r') => out.push('\r'),
            Some('a') => out.push('\x07'),
            Some('c') => return (out, true),
            Some(o) => {
                out.push('\\');
                out.push(o);
            }
            None => out.push('\\'),
        }
    }
    (out, false)
}

fn echo(args: &[String]) -> ExitCode {
    let mut newline = true;
    let mut escapes = false;
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a.len() > 1 && a.starts_with('-') && a[1..].chars().all(|c| "neE".contains(c)) {
            for c in a[1..].chars() {
                match c {
                    'n' => newline = false,
                    'e' => escapes = true,
                    _ => escapes = false,
                }
            }
            i += 1;
        } else {
            break;
        }
    }
    let mut text = args[i..].join(" ");
    if escapes {
        let (t, stop) = unescape(&text);
        text = t;
        if stop {
            newline = false;
        }
    }
    if newline {
        text.push('\n');
    }
    let mut out = std::io::stdout();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
    ExitCode::SUCCESS
}

fn cat(args: &[String]) -> ExitCode {
    let mut out = std::io::stdout();
    let files: Vec<&String> = args
        .iter()
        .filter(|a| !a.starts_with('-') || *a == "-")
        .collect();
    let mut code = ExitCode::SUCCESS;
    if files.is_empty() {
        let mut buf = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut buf);
        let _ = out.write_all(&buf);
    }
    for f in files {
        if f == "-" {
            let mut buf = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut buf);
            let _ = out.write_all(&buf);
            continue;
        }
        match std::fs::read(f) {
            Ok(b) => {
                let _ = out.write_all(&b);
            }
            Err(e) => {
                let what = if e.kind() == std::io::ErrorKind::NotFound {
                    "No such file or directory".to_string()
                } else {
                    e.to_string()
                };
                eprintln!("cat: can't open '{f}': {what}");
                code = ExitCode::from(1);
            }
        }
    }
    let _ = out.flush();
    code
}

fn env(args: &[String]) -> ExitCode {
    // `env` with assignments and a command runs it; alone it prints.
    let mut vars = Vec::new();
    let mut i = 0;
    let mut clear = false;
    while i < args.len() {
        if args[i] == "-i" || args[i] == "-" {
            clear = true;
        } else if args[i].contains('=') && !args[i].starts_with('=') {
            vars.push(args[i].clone());
        } else {
            break;
        }
        i += 1;
    }
    if i < args.len() {
        let mut cmd = std::process::Command::new(&args[i]);
        cmd.args(&args[i + 1..]);
        if clear {
            cmd.env_clear();
        }
        for v in &vars {
            if let Some((k, val)) = v.split_once('=') {
                cmd.env(k, val);
            }
        }
        return match cmd.status() {
            Ok(s) => ExitCode::from(s.code().unwrap_or(1) as u8),
            Err(e) => {
                eprintln!("env: can't execute '{}': {e}", args[i]);
                ExitCode::from(127)
            }
        };
    }
    let mut out = std::io::stdout();
    if !clear {
        for (k, v) in std::env::vars_os() {
            let _ = writeln!(out, "{}={}", k.to_string_lossy(), v.to_string_lossy());
        }
    }
    for v in vars {
        let _ = writeln!(out, "{v}");
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1"), Some(1.0));
        assert_eq!(parse_duration("0.5"), Some(0.5));
        assert_eq!(parse_duration("2m"), Some(120.0));
        assert_eq!(parse_duration("x"), None);
        assert_eq!(unescape("a\\nb"), ("a\nb".to_string(), false));
    }
}
