//! Client-side state kept from watches, with the instant each event arrived,
//! so a benchmark waits for what it measures on events rather than polling.

use futures::StreamExt;
use kube::api::Api;
use kube::runtime::{watcher, WatchStreamExt};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Applies one object event (`deleted` or not) that arrived at an instant.
pub type Apply<S, K> = fn(&mut S, &K, bool, Instant);

/// State `S` fed by one or more watches; their tasks stop on drop.
pub struct Watched<S> {
    state: Arc<Mutex<S>>,
    changed: watch::Receiver<u64>,
    tx: Arc<watch::Sender<u64>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl<S: Send + 'static> Watched<S> {
    pub fn new(state: S) -> Self {
        let (tx, changed) = watch::channel(0u64);
        Watched {
            state: Arc::new(Mutex::new(state)),
            changed,
            tx: Arc::new(tx),
            tasks: Vec::new(),
        }
    }

    /// Adds a watch of `api`; returns once its first list has been applied.
    pub async fn feed<K>(
        &mut self,
        api: Api<K>,
        cfg: watcher::Config,
        apply: Apply<S, K>,
    ) -> anyhow::Result<()>
    where
        K: kube::Resource
            + Clone
            + k8s_openapi::serde::de::DeserializeOwned
            + std::fmt::Debug
            + Send
            + 'static,
        K::DynamicType: Default,
    {
        let (listed_tx, listed) = tokio::sync::oneshot::channel();
        let (state, tx) = (self.state.clone(), self.tx.clone());
        self.tasks.push(tokio::spawn(async move {
            let mut listed_tx = Some(listed_tx);
            let mut events = std::pin::pin!(watcher(api, cfg).default_backoff());
            while let Some(event) = events.next().await {
                let at = Instant::now();
                match event {
                    Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o)) => {
                        apply(&mut lock(&state), &o, false, at)
                    }
                    Ok(watcher::Event::Delete(o)) => apply(&mut lock(&state), &o, true, at),
                    Ok(watcher::Event::InitDone) => {
                        if let Some(tx) = listed_tx.take() {
                            let _ = tx.send(());
                        }
                    }
                    Ok(watcher::Event::Init) => {}
                    Err(e) => tracing::warn!(error = %e, "benchmark watch failed; retrying"),
                }
                tx.send_modify(|n| *n += 1);
            }
        }));
        tokio::time::timeout(Duration::from_secs(60), listed)
            .await
            .map_err(|_| anyhow::anyhow!("benchmark watch did not list in 60 s"))?
            .map_err(|_| anyhow::anyhow!("benchmark watch ended before listing"))
    }

    /// Waits until `check` finds its answer in the state, or `timeout` passes.
    pub async fn wait_for<T>(
        &self,
        timeout: Duration,
        check: impl Fn(&S) -> Option<T>,
    ) -> anyhow::Result<T> {
        let mut changed = self.changed.clone();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            changed.borrow_and_update();
            if let Some(found) = check(&lock(&self.state)) {
                return Ok(found);
            }
            tokio::time::timeout_at(deadline, changed.changed())
                .await
                .map_err(|_| anyhow::anyhow!("not seen within {timeout:?}"))??;
        }
    }
}

impl<S> Drop for Watched<S> {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn lock<S>(state: &Mutex<S>) -> MutexGuard<'_, S> {
    match state.lock() {
        Ok(s) => s,
        Err(p) => p.into_inner(),
    }
}
