//! The controllers' caches come from the process's shared informers
//! ([`informers::Informers`]); their synced signals are re-exported here so
//! the controllers keep naming them in one place.

pub use informers::{wait_all, CachesSynced, Synced, CACHE_SYNC_RETRY};
