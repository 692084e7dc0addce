//! `httpd`: Apache's "It works!" page on POD_IP:80, common-log-format
//! access lines on stdout.

use super::http::{self, Request, Response};
use std::process::ExitCode;
use std::sync::Arc;

pub const INDEX: &str = "<html><body><h1>It works!</h1></body></html>\n";

fn not_found(path: &str) -> String {
    format!(
        "<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\n<html><head>\n<title>404 Not Found</title>\n</head><body>\n<h1>Not Found</h1>\n<p>The requested URL {path} was not found on this server.</p>\n</body></html>\n"
    )
}

pub fn handle(req: &Request) -> Response {
    let resp = if req.path == "/" || req.path == "/index.html" {
        Response::new(200, "text/html", INDEX)
    } else {
        Response::new(404, "text/html; charset=iso-8859-1", not_found(&req.path))
    };
    let resp = resp.header("Server", "Apache/2.4");
    println!(
        "{} - - [{}] \"{}\" {} {}",
        req.peer.ip(),
        super::clf_time(),
        req.request_line(),
        resp.status,
        resp.body.len()
    );
    resp
}

pub fn main(_args: Vec<String>) -> ExitCode {
    super::exit_on_term();
    let addr = http::pod_addr(80);
    let listener = match http::bind(
        addr,
        "(13)Permission denied: AH00072: make_sock: could not bind to address",
    ) {
        Ok(l) => l,
        Err(code) => return code,
    };
    eprintln!("[mpm_event:notice] AH00489: Apache/2.4 (mkube builtin) configured -- resuming normal operations on {addr}");
    http::serve(listener, Arc::new(handle))
}
