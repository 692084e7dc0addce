//! A remote-command client connection whatever protocol carries it: the
//! WebSocket channel protocol (`channel_websocket`) and SPDY streams
//! (`remotecommand_spdy`) both turn their wire into these events and
//! accept these messages, so `session` decides what a session does once,
//! for both.

use crate::runtime::pty::WindowSize;
use bytes::Bytes;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// What the client did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    Stdin(Bytes),
    /// The client's input ended (v5 close signal, SPDY FIN on stdin).
    StdinEnd,
    Resize(WindowSize),
}

/// What goes to the client.
#[derive(Debug, Clone, PartialEq)]
pub enum Outbound {
    /// Bytes of output on a channel (1 stdout, 2 stderr).
    Output(u8, Bytes),
    /// The final status (a `metav1.Status`); the last thing sent.
    Status(Value),
}

/// One client connection, already upgraded.
pub struct Connection {
    /// Client events; the end of them is the client gone (closed or lost),
    /// after which nothing sent reaches it.
    pub events: mpsc::Receiver<ClientEvent>,
    /// Towards the client; dropping it ends the connection in order, after
    /// everything queued went out.
    pub out: mpsc::Sender<Outbound>,
    /// Done when the connection's writer finished (or gave up).
    pub writer: JoinHandle<()>,
}

/// Messages queued towards the client; a full queue pauses the output
/// readers, which pauses the process (back-pressure end to end).
pub const OUTBOUND_QUEUE: usize = 16;
