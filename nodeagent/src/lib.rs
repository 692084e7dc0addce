//! The node agent: what the kubelet and kube-proxy do on a node.

pub mod proxy;
