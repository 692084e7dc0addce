//! Services: defaults and validation (allocation joins the write transaction).

use crate::registry::Strategy;

pub struct ServiceStrategy;

impl Strategy for ServiceStrategy {}
