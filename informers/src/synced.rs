//! The "has listed once" signal of a cache, and the rule that a controller
//! reconciles only once every cache it reads has listed (client-go's
//! `HasSynced` / `cache.WaitForCacheSync`).
//!
//! Why not kube-rs's `Store::wait_until_ready`: it wakes only the last task
//! that polled it, so when several tasks wait on the same store one of them
//! can sleep forever — and with shared informers many components wait on
//! one store. The signal here is a tokio watch channel, which any number of
//! waiters can await.

use tokio::sync::watch;

/// Resolves once the cache (or the subscriber's event stream) has seen a
/// complete list.
#[derive(Clone)]
pub struct Synced(watch::Receiver<bool>);

impl Synced {
    /// A signal and the sender that sets it.
    pub(crate) fn channel() -> (watch::Sender<bool>, Synced) {
        let (tx, rx) = watch::channel(false);
        (tx, Synced(rx))
    }

    pub async fn wait(mut self) -> anyhow::Result<()> {
        self.0
            .wait_for(|v| *v)
            .await
            .map(|_| ())
            .map_err(|_| anyhow::anyhow!("watch ended before the cache synced"))
    }

    pub fn is_synced(&self) -> bool {
        *self.0.borrow()
    }
}

/// Whether every cache a controller reads has listed once. kube-rs's
/// Controller reconciles as soon as its main stream yields, possibly before
/// the other caches have listed; a reconcile then would act on a partial
/// view (write empty Endpoints, create extra pods), so reconcilers wait for
/// this as kube-controller-manager's workers wait for `WaitForCacheSync`.
#[derive(Clone)]
pub struct CachesSynced(Vec<Synced>);

/// How soon a reconcile runs again when a watch ended before its cache
/// synced (the watch restarts; see [`CachesSynced::wait`]).
pub const CACHE_SYNC_RETRY: std::time::Duration = std::time::Duration::from_millis(20);

impl CachesSynced {
    pub fn new(all: &[&Synced]) -> Self {
        CachesSynced(all.iter().map(|s| (*s).clone()).collect())
    }

    pub fn all(&self) -> bool {
        self.0.iter().all(Synced::is_synced)
    }

    /// Resolves once every cache has listed: a reconcile that comes early
    /// waits here, as kube-controller-manager's workers wait for
    /// `WaitForCacheSync`. Requeueing instead made every object of a large
    /// cache retry its reconcile again and again while the other caches
    /// were still listing, which took most of a loaded start-up's CPU.
    /// A reconcile waiting holds one of the controller's concurrency slots,
    /// so the others stay queued. Errs if a watch ended first.
    pub async fn wait(&self) -> anyhow::Result<()> {
        if self.all() {
            return Ok(());
        }
        wait_all(self.0.clone()).await
    }
}

/// Waits for every cache in `all`.
pub async fn wait_all(all: Vec<Synced>) -> anyhow::Result<()> {
    for s in all {
        s.wait().await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// An early reconcile waits until every cache has listed, then passes
    /// at once; a watch that ends before listing ends the wait with an error.
    #[tokio::test]
    async fn caches_synced_waits_for_all_and_errs_on_an_ended_watch() {
        let (a_tx, a) = Synced::channel();
        let (b_tx, b) = Synced::channel();
        let all = CachesSynced::new(&[&a, &b]);
        let waiting = tokio::spawn({
            let all = all.clone();
            async move { all.wait().await }
        });
        a_tx.send_replace(true);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished(), "one cache still listing");
        b_tx.send_replace(true);
        let waited = tokio::time::timeout(Duration::from_secs(5), waiting).await;
        assert!(matches!(waited, Ok(Ok(Ok(())))), "{waited:?}");
        assert!(all.all());
        assert!(all.wait().await.is_ok());

        let (c_tx, c) = Synced::channel();
        let ended = CachesSynced::new(&[&c]);
        drop(c_tx);
        assert!(ended.wait().await.is_err());
    }
}
