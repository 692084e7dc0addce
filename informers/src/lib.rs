//! Shared informers for the in-process components (client-go's
//! `SharedInformerFactory`): every control loop of a process that watches a
//! resource type with the same selectors shares ONE kube-rs watcher and ONE
//! reflector store, and gets its own stream of the watch's events. So each
//! object is listed, sent, decoded and stored once per process rather than
//! once per component.
//!
//! - [`factory`]: [`Informers`], the registry of shared watches;
//! - [`fanout`]: one watch driving a store and fanned out to subscribers,
//!   with a consistent replay for subscribers that join late;
//! - [`synced`]: the "listed once" signals controllers wait on;
//! - [`lean_requests`]: the client layer that asks for lists and watches
//!   without managedFields.

pub mod factory;
pub mod fanout;
pub mod lean_requests;
pub mod synced;

pub use factory::Informers;
pub use fanout::EventStream;
pub use synced::{wait_all, CachesSynced, Synced, CACHE_SYNC_RETRY};
