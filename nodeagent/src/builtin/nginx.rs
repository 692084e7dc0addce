//! `nginx`: listens on POD_IP:80, serves a welcome page at `/` and
//! nginx's 404 page elsewhere, with one combined-format access-log line per
//! request on stdout.

use super::http::{self, Request, Response};
use std::process::ExitCode;
use std::sync::Arc;

pub const WELCOME: &str = r#"<!DOCTYPE html>
<html>
<head>
<title>Welcome to nginx!</title>
<style>
html { color-scheme: light dark; }
body { width: 35em; margin: 0 auto; font-family: Tahoma, Verdana, Arial, sans-serif; }
</style>
</head>
<body>
<h1>Welcome to nginx!</h1>
<p>This page comes from the nginx image built into mkube: the web server is
running and answering on its pod IP.</p>

<p>Replace it with your own content by giving the container a command, or map
the image to a program of your own with <code>--image-map</code>.</p>

<p><em>Served by mkube's builtin nginx.</em></p>
</body>
</html>
"#;

fn error_page(status: u16) -> String {
    let title = format!("{status} {}", http::reason(status));
    format!(
        "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    )
}

pub fn handle(req: &Request) -> Response {
    let resp = if req.method != "GET" && req.method != "HEAD" {
        Response::new(405, "text/html", error_page(405))
    } else if req.path == "/" || req.path == "/index.html" {
        Response::new(200, "text/html", WELCOME)
    } else {
        Response::new(404, "text/html", error_page(404))
    };
    let resp = resp.header("Server", "nginx");
    println!(
        "{} - - [{}] \"{}\" {} {} \"{}\" \"{}\"",
        req.peer.ip(),
        super::clf_time(),
        req.request_line(),
        resp.status,
        if req.method == "HEAD" {
            0
        } else {
            resp.body.len()
        },
        req.header("referer").unwrap_or("-"),
        req.header("user-agent").unwrap_or("-"),
    );
    resp
}

pub fn main(_args: Vec<String>) -> ExitCode {
    super::exit_on_term();
    let addr = http::pod_addr(80);
    let listener = match http::bind(addr, "nginx: [emerg]") {
        Ok(l) => l,
        Err(code) => return code,
    };
    eprintln!(
        "{} [notice] 1#1: nginx (mkube builtin) listening on {addr}",
        super::log_time()
    );
    eprintln!("{} [notice] 1#1: start worker processes", super::log_time());
    http::serve(listener, Arc::new(handle))
}
