//! mkube: a Kubernetes-compatible mini control plane in one binary.

mod bench;
mod cli;

use clap::{CommandFactory, FromArgMatches};

/// The process's allocator: glibc malloc took about a third of the CPU of
/// listing and decoding 10k objects at start-up (perf), and its arena
/// consolidation shows in every request; mimalloc's thread-local free lists
/// avoid both.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    // Builtin images and busybox applets run as `mkube builtin ...` or under
    // an applet's name; they never reach the command-line parser.
    if let Some(code) = nodeagent::dispatch_builtin_argv() {
        return code;
    }
    let matches = cli::Cli::command().get_matches();
    let args = match cli::Cli::from_arg_matches(&matches) {
        Ok(args) => args,
        Err(e) => e.exit(),
    };
    match cli::run(args, cli::explicit_ranges(&matches)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("mkube: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
