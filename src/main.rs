//! mkube: a Kubernetes-compatible mini control plane in one binary.

mod bench;
mod cli;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("mkube: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
