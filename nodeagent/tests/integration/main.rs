//! The nodeagent crate's integration tests as one test binary: each binary
//! links the API server, kube-rs and k8s-openapi, so one per file made
//! their build most of CI's time.

mod common;

mod agent;
mod agent_process;
mod builtins;
mod portforward;
