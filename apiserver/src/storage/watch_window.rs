//! The retained window of recent events and the live fan-out to watchers.
//!
//! A watch from revision R first replays retained events after R, then follows
//! live ones. Replay and subscription happen under one lock, so a watcher never
//! misses or duplicates an event. A revision older than the window is
//! "compacted": the client gets 410 Gone and relists, as with kube-apiserver.

use super::{Event, Revision, StorageError, StorageResult};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

/// How many live events a slow watcher may fall behind before it is closed
/// (it then re-watches from its last revision, or relists).
const LIVE_BUFFER: usize = 8192;

pub struct WatchWindow {
    inner: Mutex<Window>,
}

struct Window {
    events: VecDeque<Arc<Event>>,
    capacity: usize,
    /// Every event with a revision greater than `floor` is retained.
    floor: Revision,
    /// Revision of the newest published event.
    head: Revision,
    live: broadcast::Sender<Arc<Event>>,
}

impl WatchWindow {
    /// A window that starts empty at `revision` (the store's revision at open).
    pub fn new(revision: Revision, capacity: usize) -> Self {
        let (live, _) = broadcast::channel(LIVE_BUFFER);
        WatchWindow {
            inner: Mutex::new(Window {
                events: VecDeque::with_capacity(capacity.min(1024)),
                capacity,
                floor: revision,
                head: revision,
                live,
            }),
        }
    }

    /// Publishes events; callers publish in revision order.
    pub fn publish(&self, events: impl IntoIterator<Item = Event>) {
        let mut w = lock(&self.inner);
        for ev in events {
            let ev = Arc::new(ev);
            w.head = w.head.max(ev.kv.mod_revision);
            if w.events.len() == w.capacity {
                if let Some(old) = w.events.pop_front() {
                    w.floor = old.kv.mod_revision;
                }
            }
            w.events.push_back(ev.clone());
            // No receivers is fine.
            let _ = w.live.send(ev);
        }
    }

    /// Records that the history is complete up to `revision` although no
    /// event under the window's keys has it (an etcd progress notification).
    pub fn advance(&self, revision: Revision) {
        let mut w = lock(&self.inner);
        w.head = w.head.max(revision);
    }

    /// Forgets the history and ends every current watch: the source lost
    /// events (etcd compacted them), so watchers must relist from `revision`.
    pub fn reset(&self, revision: Revision) {
        let mut w = lock(&self.inner);
        w.events.clear();
        w.floor = revision;
        w.head = revision;
        // Dropping the old sender closes every receiver once drained.
        w.live = broadcast::channel(LIVE_BUFFER).0;
    }

    /// Revision of the newest published event.
    pub fn head(&self) -> Revision {
        lock(&self.inner).head
    }

    /// Events under `prefix` after revision `after`: retained ones, then live ones.
    pub fn subscribe(&self, prefix: &str, after: Revision) -> StorageResult<WatchReceiver> {
        let w = lock(&self.inner);
        // Revision `floor` itself is fine: everything after it is retained.
        if after < w.floor {
            return Err(StorageError::Compacted {
                requested: after,
                oldest: w.floor,
            });
        }
        let backlog: VecDeque<Arc<Event>> = w
            .events
            .iter()
            .filter(|e| e.kv.mod_revision > after && e.kv.key.starts_with(prefix))
            .cloned()
            .collect();
        Ok(WatchReceiver {
            prefix: prefix.to_string(),
            after,
            backlog,
            live: w.live.subscribe(),
        })
    }
}

fn lock(m: &Mutex<Window>) -> std::sync::MutexGuard<'_, Window> {
    // A panic while holding this lock cannot leave the window inconsistent in a
    // way that matters more than stopping all watches; keep serving.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The receiving end of one watch.
pub struct WatchReceiver {
    prefix: String,
    after: Revision,
    backlog: VecDeque<Arc<Event>>,
    live: broadcast::Receiver<Arc<Event>>,
}

/// Why a watch stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchEnd {
    /// The watcher fell too far behind; it should re-watch from its last revision.
    Lagged,
    /// The store is shutting down.
    Closed,
}

impl WatchReceiver {
    /// True when no event is waiting for this receiver.
    pub fn is_caught_up(&self) -> bool {
        self.backlog.is_empty() && self.live.is_empty()
    }

    /// The next event under the prefix, in revision order.
    pub async fn recv(&mut self) -> Result<Arc<Event>, WatchEnd> {
        if let Some(ev) = self.backlog.pop_front() {
            self.after = ev.kv.mod_revision;
            return Ok(ev);
        }
        loop {
            match self.live.recv().await {
                Ok(ev) => {
                    // Live events at or below `after` were already replayed.
                    if ev.kv.mod_revision <= self.after || !ev.kv.key.starts_with(&self.prefix) {
                        continue;
                    }
                    return Ok(ev);
                }
                Err(broadcast::error::RecvError::Lagged(_)) => return Err(WatchEnd::Lagged),
                Err(broadcast::error::RecvError::Closed) => return Err(WatchEnd::Closed),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{EventKind, KeyValue};

    fn put(key: &str, rev: Revision) -> Event {
        Event {
            kind: EventKind::Put,
            kv: KeyValue {
                key: key.into(),
                value: bytes::Bytes::new(),
                create_revision: rev,
                mod_revision: rev,
            },
            prev: None,
        }
    }

    #[tokio::test]
    async fn reset_ends_watches_and_forgets_history() {
        let w = WatchWindow::new(0, 16);
        w.publish([put("/a/1", 1), put("/a/2", 2)]);
        let mut live = w.subscribe("/a/", 2).unwrap();
        w.reset(10);
        assert_eq!(live.recv().await.unwrap_err(), WatchEnd::Closed);
        assert!(matches!(
            w.subscribe("/a/", 2),
            Err(StorageError::Compacted { oldest: 10, .. })
        ));
        let mut fresh = w.subscribe("/a/", 10).unwrap();
        w.publish([put("/a/3", 11)]);
        assert_eq!(fresh.recv().await.unwrap().kv.mod_revision, 11);
    }

    #[test]
    fn advance_moves_the_head_without_events() {
        let w = WatchWindow::new(5, 16);
        w.advance(9);
        assert_eq!(w.head(), 9);
        w.advance(7);
        assert_eq!(w.head(), 9);
    }
}
