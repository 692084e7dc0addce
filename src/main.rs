//! mkube: a Kubernetes-compatible mini control plane in one binary.

mod bench;
mod cli;

use clap::Parser;

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
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("mkube: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
