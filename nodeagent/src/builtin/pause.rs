//! `pause`: sleeps until SIGTERM/SIGINT, then exits 0.

use std::process::ExitCode;

pub fn main() -> ExitCode {
    super::exit_on_term();
    loop {
        std::thread::park();
    }
}
