//! The controllers crate's integration tests as one test binary: each binary
//! links the API server, kube-rs and k8s-openapi, so one per file made
//! their build most of CI's time.

mod common;

mod all_controllers;
mod deployment;
mod endpoints;
mod endpointslices;
mod garbage_collector;
mod namespace;
mod nodelifecycle;
mod replicaset;
mod serviceaccount;
