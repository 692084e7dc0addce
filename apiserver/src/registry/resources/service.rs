//! Services: defaults and validation (allocation joins the write transaction).

use crate::registry::Strategy;

pub struct ServiceStrategy;

impl Strategy for ServiceStrategy {}

/// ClusterIP and NodePort allocators shared by all Service writes.
#[derive(Default)]
pub struct Allocators {}
