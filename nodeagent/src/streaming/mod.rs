//! Streaming subresources served by the agent, as the kubelet serves them
//! behind the API server's upgrade-aware proxy: `exec` and `attach` over the
//! WebSocket remote-command protocol.

pub mod attach;
pub mod exec;
pub mod remotecommand;
pub mod session;
