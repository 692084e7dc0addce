//! `exec`: a new process in a running container's context (its environment,
//! working directory and, for builtin images, the busybox applets first on
//! PATH), wired to the client through pipes or a terminal.

use super::connection::Connection;
use super::remotecommand::{self, Options, STDERR, STDOUT};
use super::session::{self, Ending, SessionIo};
use crate::runtime::process::{self, Console, ProcSpec, Watchdog};
use crate::runtime::pty::WindowSize;
use crate::runtime::ExecTarget;
use bytes::Bytes;
use futures::StreamExt;
use std::sync::Arc;

pub async fn serve(conn: Connection, opts: Options, target: ExecTarget, watchdog: Arc<Watchdog>) {
    let console = if opts.tty {
        Console::Tty(WindowSize::default())
    } else {
        Console::Pipes { stdin: opts.stdin }
    };
    let spec = ProcSpec {
        argv: opts.command.clone(),
        env: target.env,
        cwd: target.cwd,
        bind_mounts: target.bind_mounts,
    };
    let proc = match process::spawn_interactive(spec, console).await {
        Ok(p) => p,
        Err(e) => return refuse(conn, &opts, &e).await,
    };
    let mut child = proc.child;
    let pid = child.id().map(|p| p as i32).unwrap_or(0);
    watchdog.add(pid);
    let mut io = SessionIo::default();
    match proc.pty {
        Some(pty) => {
            keep_or_drain(&mut io, session::output(pty.clone(), STDOUT), opts.stdout);
            if opts.stdin {
                io.stdin = Some(session::stdin_writer(pty.clone()));
            }
            io.pty = Some(pty);
        }
        None => {
            if let Some(out) = child.stdout.take() {
                keep_or_drain(&mut io, session::output(out, STDOUT), opts.stdout);
            }
            if let Some(err) = child.stderr.take() {
                keep_or_drain(&mut io, session::output(err, STDERR), opts.stderr);
            }
            io.stdin = child.stdin.take().map(session::stdin_writer);
        }
    }
    let command = opts.command.clone();
    let done = async move {
        let code = match child.wait().await {
            Ok(status) => process::exit_code(&status).0,
            Err(_) => 255,
        };
        // What the command left running goes with it, as in a container's
        // exec session.
        process::kill_group(pid, libc::SIGKILL);
        remotecommand::exit_status(&command, code)
    };
    if let Ending::ClientGone = session::run(conn, io, done).await {
        process::kill_group(pid, libc::SIGKILL);
    }
    watchdog.remove(pid);
}

/// The command could not start: say why on stderr and end with the code a
/// shell gives (127 not found, 126 not executable), as runc-based runtimes
/// report a failed exec.
async fn refuse(conn: Connection, opts: &Options, e: &std::io::Error) {
    let prog = opts.command.first().cloned().unwrap_or_default();
    let (code, why) = match e.kind() {
        std::io::ErrorKind::NotFound => (127, "executable file not found in $PATH".to_string()),
        std::io::ErrorKind::PermissionDenied => (126, "permission denied".to_string()),
        std::io::ErrorKind::InvalidInput => (126, "no command given".to_string()),
        _ => (126, e.to_string()),
    };
    let msg = format!("exec failed: unable to start container process: exec: \"{prog}\": {why}\n");
    // With a terminal there is no separate stderr.
    let channel = if opts.tty { STDOUT } else { STDERR };
    let io = SessionIo {
        outputs: vec![futures::stream::once(async move { (channel, Bytes::from(msg)) }).boxed()],
        ..Default::default()
    };
    let status = remotecommand::exit_status(&opts.command, code);
    session::run(conn, io, async move { status }).await;
}

/// Sends an output to the client if it asked for it; otherwise reads it to
/// nowhere so the process never blocks on a full pipe.
fn keep_or_drain(io: &mut SessionIo, mut output: session::Output, wanted: bool) {
    if wanted {
        io.outputs.push(output);
    } else {
        tokio::spawn(async move { while output.next().await.is_some() {} });
    }
}
