//! The remote-command channel protocol of `exec` and `attach` over WebSocket
//! (`v5.channel.k8s.io`, and `v4.channel.k8s.io` without the close signal):
//! every binary message starts with a channel byte — 0 stdin, 1 stdout,
//! 2 stderr, 3 error (a `metav1.Status` in JSON when the command ends),
//! 4 resize (`{"Width":w,"Height":h}`) — and v5 adds `[255, channel]` for a
//! half-close of that channel by the client. Pure functions, no I/O.

use crate::runtime::pty::WindowSize;
use serde_json::{json, Value};

pub const V5: &str = "v5.channel.k8s.io";
pub const V4: &str = "v4.channel.k8s.io";
/// Protocols served, most preferred first.
pub const PROTOCOLS: [&str; 2] = [V5, V4];

pub const STDIN: u8 = 0;
pub const STDOUT: u8 = 1;
pub const STDERR: u8 = 2;
pub const ERROR: u8 = 3;
pub const RESIZE: u8 = 4;
/// v5: the client will send no more on the channel in the next byte.
const CLOSE: u8 = 255;

/// What a message from the client asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound<'a> {
    Stdin(&'a [u8]),
    /// The client's stdin ended (v5 close signal for channel 0).
    StdinClosed,
    Resize(WindowSize),
    /// Anything else: a channel the server does not read, or a malformed
    /// resize (kubelet ignores those too).
    Ignored,
}

pub fn decode(msg: &[u8]) -> Inbound<'_> {
    match msg {
        [STDIN, data @ ..] => Inbound::Stdin(data),
        [CLOSE, STDIN] => Inbound::StdinClosed,
        [RESIZE, data @ ..] => decode_resize(data).map_or(Inbound::Ignored, Inbound::Resize),
        _ => Inbound::Ignored,
    }
}

fn decode_resize(data: &[u8]) -> Option<WindowSize> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Size {
        width: u16,
        height: u16,
    }
    let s: Size = serde_json::from_slice(data).ok()?;
    (s.width > 0 && s.height > 0).then_some(WindowSize {
        cols: s.width,
        rows: s.height,
    })
}

/// One message on `channel`.
pub fn frame(channel: u8, data: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(data.len() + 1);
    v.push(channel);
    v.extend_from_slice(data);
    v
}

/// The final status of a command, as the kubelet reports it on the error
/// channel: Success for exit 0, otherwise NonZeroExitCode with the code as
/// the ExitCode cause (from which kubectl takes its own exit code).
pub fn exit_status(command: &[String], code: i32) -> Value {
    if code == 0 {
        return json!({"metadata": {}, "status": "Success"});
    }
    json!({
        "metadata": {},
        "status": "Failure",
        "message": format!(
            "command terminated with non-zero exit code: error executing command {command:?}, exit code {code}"
        ),
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]},
    })
}

/// A failure that is not an exit code (the stream could not be served).
pub fn failure(message: &str) -> Value {
    json!({
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": "InternalError",
        "code": 500,
    })
}

/// The query of an exec or attach request (`command` repeats).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    pub command: Vec<String>,
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub tty: bool,
}

impl Options {
    pub fn parse(query: Option<&str>) -> Self {
        let mut o = Options::default();
        // What Go's strconv.ParseBool takes for true, as the API server
        // parses these options.
        let flag = |v: &str| matches!(v, "1" | "t" | "T" | "true" | "TRUE" | "True");
        for (k, v) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            match &*k {
                "command" => o.command.push(v.into_owned()),
                "stdin" => o.stdin = flag(&v),
                "stdout" => o.stdout = flag(&v),
                "stderr" => o.stderr = flag(&v),
                "tty" => o.tty = flag(&v),
                _ => {}
            }
        }
        // With a terminal, stderr is the terminal too.
        if o.tty {
            o.stderr = false;
        }
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_client_messages() {
        assert_eq!(decode(&[0, b'h', b'i']), Inbound::Stdin(b"hi"));
        assert_eq!(decode(&[255, 0]), Inbound::StdinClosed);
        assert_eq!(
            decode(b"\x04{\"Width\":120,\"Height\":40}"),
            Inbound::Resize(WindowSize {
                cols: 120,
                rows: 40
            })
        );
        assert_eq!(decode(b"\x04{\"Width\":0,\"Height\":40}"), Inbound::Ignored);
        assert_eq!(decode(b"\x04not json"), Inbound::Ignored);
        assert_eq!(decode(&[1, 2, 3]), Inbound::Ignored);
        assert_eq!(decode(&[]), Inbound::Ignored);
    }

    #[test]
    fn exit_codes_become_statuses() {
        let ok = exit_status(&["true".into()], 0);
        assert_eq!(ok["status"], "Success");
        let failed = exit_status(&["sh".into(), "-c".into(), "exit 3".into()], 3);
        assert_eq!(failed["reason"], "NonZeroExitCode");
        assert_eq!(failed["details"]["causes"][0]["reason"], "ExitCode");
        assert_eq!(failed["details"]["causes"][0]["message"], "3");
    }

    #[test]
    fn parses_repeated_commands_and_tty() {
        let o = Options::parse(Some(
            "command=sh&command=-c&command=echo+a%26b&stdin=true&stdout=true&stderr=true&tty=true",
        ));
        assert_eq!(o.command, vec!["sh", "-c", "echo a&b"]);
        assert!(o.stdin && o.stdout && o.tty);
        assert!(!o.stderr, "a terminal carries stderr itself");
        assert_eq!(frame(STDOUT, b"x"), vec![1, b'x']);
    }
}
