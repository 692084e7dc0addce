//! Builtin images and busybox applets, run in their own process as
//! `mkube builtin NAME ARGS...` (or through an applet symlink).

pub mod agnhost;
pub mod busybox;
pub mod dns;
pub mod http;
pub mod http_echo;
pub mod httpd;
pub mod nc;
pub mod nginx;
pub mod nslookup;
pub mod pause;
pub mod wget;

use crate::runtime::image::{builtin_for, Builtin};
use std::process::ExitCode;

/// Dispatches on an image reference (`nginx:1.25`, ...) or an applet name.
pub fn main(name: &str, args: Vec<String>) -> ExitCode {
    if name == "__watchdog" {
        return crate::runtime::process::watchdog_main();
    }
    if let Some(code) = busybox::applet(name, &args) {
        return code;
    }
    match builtin_for(name) {
        Some(Builtin::Nginx) => nginx::main(args),
        Some(Builtin::Httpd) => httpd::main(args),
        Some(Builtin::HttpEcho) => http_echo::main(args),
        Some(Builtin::Agnhost) => agnhost::main(args),
        Some(Builtin::Pause) => pause::main(),
        Some(Builtin::Busybox) => busybox::main(args),
        Some(Builtin::CoreDns) => crate::clusterdns::main(args),
        None => {
            eprintln!(
                "mkube builtin: unknown image or applet {name:?} (images: {}; applets: {})",
                crate::runtime::image::CATALOG,
                crate::runtime::image::APPLETS.join(", ")
            );
            ExitCode::from(127)
        }
    }
}

/// `[23/Nov/2026:08:39:01 +0000]`-style local time for access logs.
pub fn clf_time() -> String {
    let now = k8s_openapi::jiff::Timestamp::now();
    now.strftime("%d/%b/%Y:%H:%M:%S +0000").to_string()
}

/// `2026/11/23 08:39:01`-style time for error logs.
pub fn log_time() -> String {
    let now = k8s_openapi::jiff::Timestamp::now();
    now.strftime("%Y/%m/%d %H:%M:%S").to_string()
}

/// Ends the process with status 0 on SIGTERM/SIGINT (as servers that shut
/// down cleanly do).
pub fn exit_on_term() {
    extern "C" fn on_signal(_: libc::c_int) {
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(0) }
    }
    // SAFETY: installing a handler that only calls _exit.
    unsafe {
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
    }
}
