//! `hashicorp/http-echo`: answers every request with `-text` (default
//! "hello-world"), `/health` with `{"status":"ok"}`; `-listen=:5678`.

use super::http::{self, Request, Response};
use std::process::ExitCode;
use std::sync::Arc;

fn flag(args: &[String], name: &str) -> Option<String> {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let a2 = a.trim_start_matches('-');
        if a2 == name {
            return it.next().cloned();
        }
        if let Some(v) = a2.strip_prefix(&format!("{name}=")) {
            return Some(v.to_string());
        }
    }
    None
}

pub fn main(args: Vec<String>) -> ExitCode {
    super::exit_on_term();
    let text = flag(&args, "text")
        .unwrap_or_else(|| std::env::var("ECHO_TEXT").unwrap_or_else(|_| "hello-world".into()));
    let listen = flag(&args, "listen").unwrap_or_else(|| ":5678".into());
    let status: u16 = flag(&args, "status-code")
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let Some(addr) = http::parse_listen(&listen) else {
        eprintln!("[ERR] invalid -listen address {listen:?}");
        return ExitCode::from(127);
    };
    let listener = match http::bind(addr, "[ERR] server") {
        Ok(l) => l,
        Err(code) => return code,
    };
    eprintln!(
        "{} [INFO] server is listening on {listen}",
        super::log_time()
    );
    let body = format!("{text}\n");
    http::serve(
        listener,
        Arc::new(move |req: &Request| {
            let resp = if req.path == "/health" {
                Response::new(200, "application/json", "{\"status\":\"ok\"}\n")
            } else {
                Response::text(status, body.clone())
            };
            let resp = resp
                .header("X-App-Name", "http-echo")
                .header("X-App-Version", "1.0.0");
            println!(
                "{} {} \"{}\" {} {} \"{}\"",
                req.header("host").unwrap_or("-"),
                req.peer,
                req.request_line(),
                resp.status,
                resp.body.len(),
                req.header("user-agent").unwrap_or("-")
            );
            resp
        }),
    )
}
