//! Controllers that run against the API, on kube-rs.

pub mod load_balancer;
pub mod namespace_lifecycle;
