//! Nodes.

use crate::registry::Strategy;

pub struct NodeStrategy;

impl Strategy for NodeStrategy {}
