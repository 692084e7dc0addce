//! `exec`: a new process in a running container's context (its environment,
//! working directory and, for builtin images, the busybox applets first on
//! PATH), wired to the client through pipes or a terminal.

use super::remotecommand::{self, Options};
use super::session::{self, Ending, SessionIo};
use crate::runtime::process::{self, Console, ProcSpec, Watchdog};
use crate::runtime::pty::WindowSize;
use crate::runtime::ExecTarget;
use axum::extract::ws::WebSocket;
use bytes::Bytes;
use futures::StreamExt;
use std::sync::Arc;

pub async fn serve(socket: WebSocket, opts: Options, target: ExecTarget, watchdog: Arc<Watchdog>) {
    let console = if opts.tty {
        Console::Tty(WindowSize::default())
    } else {
        Console::Pipes { stdin: opts.stdin }
    };
    let spec = ProcSpec {
        argv: opts.command.clone(),
        env: target.env,
        cwd: target.cwd,
    };
    let proc = match process::spawn_interactive(spec, console).await {
        Ok(p) => p,
        Err(e) => return refuse(socket, &opts, &e).await,
    };
    let mut child = proc.child;
    let pid = child.id().map(|p| p as i32).unwrap_or(0);
    watchdog.add(pid);
    let mut io = SessionIo::default();
    match proc.pty {
        Some(pty) => {
            io.stdout = Some(session::output(pty.clone()));
            if opts.stdin {
                io.stdin = Some(session::stdin_writer(pty.clone()));
            }
            io.pty = Some(pty);
        }
        None => {
            io.stdout = child.stdout.take().map(session::output);
            io.stderr = child.stderr.take().map(session::output);
            io.stdin = child.stdin.take().map(session::stdin_writer);
        }
    }
    if !opts.stdout {
        drain(io.stdout.take());
    }
    if !opts.stderr {
        drain(io.stderr.take());
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
    if let Ending::ClientGone = session::run(socket, io, done).await {
        process::kill_group(pid, libc::SIGKILL);
    }
    watchdog.remove(pid);
}

/// The command could not start: say why on stderr and end with the code a
/// shell gives (127 not found, 126 not executable), as runc-based runtimes
/// report a failed exec.
async fn refuse(socket: WebSocket, opts: &Options, e: &std::io::Error) {
    let prog = opts.command.first().cloned().unwrap_or_default();
    let (code, why) = match e.kind() {
        std::io::ErrorKind::NotFound => (127, "executable file not found in $PATH".to_string()),
        std::io::ErrorKind::PermissionDenied => (126, "permission denied".to_string()),
        std::io::ErrorKind::InvalidInput => (126, "no command given".to_string()),
        _ => (126, e.to_string()),
    };
    let msg = format!("exec failed: unable to start container process: exec: \"{prog}\": {why}\n");
    let message = Some(futures::stream::once(async move { Ok(Bytes::from(msg)) }).boxed());
    // With a terminal there is no separate stderr.
    let io = if opts.tty {
        SessionIo {
            stdout: message,
            ..Default::default()
        }
    } else {
        SessionIo {
            stderr: message,
            ..Default::default()
        }
    };
    let status = remotecommand::exit_status(&opts.command, code);
    session::run(socket, io, async move { status }).await;
}

fn drain(output: Option<session::Output>) {
    if let Some(mut o) = output {
        tokio::spawn(async move { while o.next().await.is_some() {} });
    }
}
