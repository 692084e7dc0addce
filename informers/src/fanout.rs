//! One watch, many subscribers: a kube-rs `watcher` stream drives ONE
//! reflector store, and every event it yields is handed to each subscriber's
//! own event stream — client-go's `sharedIndexInformer` with its
//! `sharedProcessor`, one listener per event handler.
//!
//! Consistency rests on one lock: the driver applies an event to the store
//! and hands it to the subscribers under it, and a new subscriber is
//! registered (and, if the store is complete, replayed) under it too. So a
//! subscriber sees every event exactly once after the replay, none twice and
//! none missing:
//! - before the first list starts, it simply receives the list live;
//! - while a list is in progress (the first one or a relist after a desync
//!   or 410), it waits and, when the list completes, gets `Init`, an
//!   `InitApply` for every object of the now complete store and `InitDone`
//!   (client-go likewise hands a late handler the indexer's contents);
//! - once listed, it gets that replay at once.
//!
//! The store is updated before any subscriber sees the event, so a
//! subscriber that looks into the store on an event finds at least that
//! state (possibly a newer one, as with client-go handlers). In particular
//! the store is ready before any subscriber sees `InitDone`: kube-rs's
//! Controller waits on the store's readiness, a future that wakes only one
//! task, and the `InitDone` delivery wakes each waiting Controller again.
//!
//! Watch errors are retried by the driver (the watcher's default backoff) and
//! logged there; `watcher::Error` is not `Clone`, and no subscriber could do
//! more than log it, so they are not fanned out.

use crate::synced::Synced;
use futures::{Stream, StreamExt};
use kube::runtime::reflector::store::Writer;
use kube::runtime::reflector::{Lookup, Store};
use kube::runtime::watcher::{self, Event};
use std::hash::Hash;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::task::{Context, Poll};
use tokio::sync::{mpsc, oneshot, watch};

/// A subscriber's events, as kube-rs's `watcher` yields them (always `Ok`:
/// errors stay with the shared watch, see the module docs).
pub type EventStream<K> = Pin<Box<dyn Stream<Item = watcher::Result<watcher::Event<K>>> + Send>>;

/// The shared state of one watch: its store and its subscribers. Held by the
/// factory and by every subscription; the driver task holds it weakly and
/// stops once the last holder is gone.
pub(crate) struct SharedWatch<K>
where
    K: Lookup + Clone + 'static,
    K::DynamicType: Eq + Hash + Clone,
{
    store: Store<K>,
    store_synced: Synced,
    fanout: Mutex<Fanout<K>>,
    /// Dropped with the last holder: tells the driver to stop even when the
    /// watch has no events to deliver.
    _stop_driver: oneshot::Sender<()>,
}

/// Where the watch is in its list/watch cycle, as far as a new subscriber
/// is concerned.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    /// No `Init` yet: a new subscriber receives the first list live.
    AwaitingList,
    /// Between `Init` and `InitDone`: the store still holds the previous
    /// list (or nothing), so a new subscriber waits for the list to complete.
    Listing,
    /// The store holds a complete list kept current by watch events.
    Listed,
}

/// Per-subscriber channels are unbounded: the driver never waits for a
/// subscriber, so a slow subscriber cannot hold back the others or the
/// store (nor deadlock with a subscriber that waits on the store); the price
/// is that a subscriber that stops reading while its stream is alive lets
/// its queue grow with every event.
type Subscriber<K> = mpsc::UnboundedSender<Event<K>>;

struct Fanout<K>
where
    K: Lookup + Clone + 'static,
    K::DynamicType: Eq + Hash + Clone,
{
    writer: Writer<K>,
    store: Store<K>,
    store_synced: watch::Sender<bool>,
    phase: Phase,
    /// Subscribers that receive every event as it comes.
    live: Vec<Subscriber<K>>,
    /// Subscribers that joined during a list; replayed when it completes.
    joined_while_listing: Vec<Subscriber<K>>,
}

impl<K> SharedWatch<K>
where
    K: Lookup + Clone + Send + Sync + 'static,
    K::DynamicType: Eq + Hash + Clone + Default + Send + Sync,
{
    /// Starts the driver task on `events` (a watcher stream, or a fake one
    /// in tests). Must be called within a tokio runtime.
    pub(crate) fn start<S>(events: S) -> Arc<Self>
    where
        S: Stream<Item = watcher::Result<Event<K>>> + Send + 'static,
    {
        let (writer, store) = {
            let writer = Writer::<K>::default();
            let store = writer.as_reader();
            (writer, store)
        };
        let (store_synced_tx, store_synced) = Synced::channel();
        let (stop_tx, stop_rx) = oneshot::channel();
        let shared = Arc::new(SharedWatch {
            store: store.clone(),
            store_synced,
            fanout: Mutex::new(Fanout {
                writer,
                store,
                store_synced: store_synced_tx,
                phase: Phase::AwaitingList,
                live: Vec::new(),
                joined_while_listing: Vec::new(),
            }),
            _stop_driver: stop_tx,
        });
        tokio::spawn(drive(events, Arc::downgrade(&shared), stop_rx));
        shared
    }

    fn lock(&self) -> MutexGuard<'_, Fanout<K>> {
        self.fanout.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn store(&self) -> Store<K> {
        self.store.clone()
    }

    /// Set once the store has completed its first list.
    pub(crate) fn store_synced(&self) -> Synced {
        self.store_synced.clone()
    }

    /// A new subscriber: its own event stream (see the module docs for what
    /// it receives first) and a signal set once that stream has yielded its
    /// first `InitDone`, i.e. once the subscriber has been handed a complete
    /// list (what a subscriber builds from events is then complete too).
    pub(crate) fn subscribe(self: &Arc<Self>) -> (Synced, EventStream<K>) {
        let (tx, rx) = mpsc::unbounded_channel();
        {
            let mut fanout = self.lock();
            match fanout.phase {
                Phase::AwaitingList => fanout.live.push(tx),
                Phase::Listing => fanout.joined_while_listing.push(tx),
                Phase::Listed => {
                    if fanout.replay(&tx) {
                        fanout.live.push(tx);
                    }
                }
            }
        }
        let (synced_tx, synced) = Synced::channel();
        let stream = Subscription {
            events: rx,
            synced: synced_tx,
            _watch: self.clone(),
        };
        (synced, Box::pin(stream))
    }

    #[cfg(test)]
    pub(crate) fn subscriber_count(&self) -> usize {
        let fanout = self.lock();
        fanout.live.len() + fanout.joined_while_listing.len()
    }
}

impl<K> Fanout<K>
where
    K: Lookup + Clone + 'static,
    K::DynamicType: Eq + Hash + Clone,
{
    /// Applies `event` to the store, then hands it to every subscriber
    /// (dropping those whose stream is gone).
    fn dispatch(&mut self, event: Event<K>) {
        self.writer.apply_watcher_event(&event);
        let list_done = matches!(event, Event::InitDone);
        match event {
            Event::Init => self.phase = Phase::Listing,
            Event::InitDone => {
                self.phase = Phase::Listed;
                self.store_synced.send_replace(true);
            }
            _ => {}
        }
        send_to_all(&mut self.live, event);
        if list_done {
            for tx in std::mem::take(&mut self.joined_while_listing) {
                if self.replay(&tx) {
                    self.live.push(tx);
                }
            }
        }
    }

    /// Sends the store's contents as one complete list; false if the
    /// subscriber is gone.
    fn replay(&self, tx: &Subscriber<K>) -> bool {
        tx.send(Event::Init).is_ok()
            && self
                .store
                .state()
                .iter()
                .all(|obj| tx.send(Event::InitApply(K::clone(obj))).is_ok())
            && tx.send(Event::InitDone).is_ok()
    }

    /// The watch ended: ends every subscriber's stream.
    fn close(&mut self) {
        self.live.clear();
        self.joined_while_listing.clear();
    }
}

/// Every subscriber but the last gets a clone, the last the event itself;
/// subscribers whose stream was dropped are removed.
fn send_to_all<K: Clone>(subscribers: &mut Vec<Subscriber<K>>, event: Event<K>) {
    let mut event = Some(event);
    let last = subscribers.len().saturating_sub(1);
    let mut i = 0;
    subscribers.retain(|tx| {
        let ev = if i == last {
            event.take()
        } else {
            event.clone()
        };
        i += 1;
        ev.is_some_and(|ev| tx.send(ev).is_ok())
    });
}

/// The driver: pulls the watch and fans it out until the watch ends or no
/// one holds the shared state any more.
async fn drive<K, S>(events: S, shared: Weak<SharedWatch<K>>, mut stop: oneshot::Receiver<()>)
where
    K: Lookup + Clone + Send + Sync + 'static,
    K::DynamicType: Eq + Hash + Clone + Default + Send + Sync,
    S: Stream<Item = watcher::Result<Event<K>>> + Send,
{
    let kind = std::any::type_name::<K>();
    let mut events = std::pin::pin!(events);
    loop {
        let next = tokio::select! {
            next = events.next() => next,
            _ = &mut stop => break,
        };
        let Some(watch) = shared.upgrade() else { break };
        match next {
            Some(Ok(event)) => watch.lock().dispatch(event),
            Some(Err(e)) => tracing::debug!(kind, error = %e, "shared watch error; retrying"),
            None => {
                watch.lock().close();
                break;
            }
        }
    }
    tracing::debug!(kind, "shared watch stopped");
}

/// One subscriber's end: its queue, its synced signal, and a hold on the
/// shared watch so the watch runs while the subscriber does.
struct Subscription<K>
where
    K: Lookup + Clone + 'static,
    K::DynamicType: Eq + Hash + Clone,
{
    events: mpsc::UnboundedReceiver<Event<K>>,
    synced: watch::Sender<bool>,
    _watch: Arc<SharedWatch<K>>,
}

impl<K> Stream for Subscription<K>
where
    K: Lookup + Clone + 'static,
    K::DynamicType: Eq + Hash + Clone,
{
    type Item = watcher::Result<Event<K>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        this.events.poll_recv(cx).map(|next| {
            next.map(|event| {
                if matches!(event, Event::InitDone) {
                    this.synced.send_replace(true);
                }
                Ok(event)
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;
    use k8s_openapi::api::core::v1::ConfigMap;
    use std::collections::BTreeSet;
    use std::time::Duration;

    type Feed = mpsc::UnboundedSender<watcher::Result<Event<ConfigMap>>>;

    fn cm(name: &str) -> ConfigMap {
        let mut c = ConfigMap::default();
        c.metadata.name = Some(name.into());
        c.metadata.namespace = Some("default".into());
        c
    }

    /// A shared watch driven by a fake watcher stream fed through the returned sender.
    fn fake_watch() -> (Arc<SharedWatch<ConfigMap>>, Feed) {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let events = futures::stream::poll_fn(move |cx| rx.poll_recv(cx));
        (SharedWatch::start(events), tx)
    }

    fn feed(tx: &Feed, events: Vec<Event<ConfigMap>>) {
        for e in events {
            tx.send(Ok(e)).expect("driver alive");
        }
    }

    fn name(c: &ConfigMap) -> String {
        c.metadata.name.clone().unwrap_or_default()
    }

    fn describe(e: &Event<ConfigMap>) -> String {
        match e {
            Event::Init => "Init".into(),
            Event::InitApply(c) => format!("InitApply({})", name(c)),
            Event::InitDone => "InitDone".into(),
            Event::Apply(c) => format!("Apply({})", name(c)),
            Event::Delete(c) => format!("Delete({})", name(c)),
        }
    }

    async fn next(s: &mut EventStream<ConfigMap>) -> String {
        match tokio::time::timeout(Duration::from_secs(5), s.next()).await {
            Ok(Some(Ok(e))) => describe(&e),
            Ok(Some(Err(e))) => panic!("unexpected error {e}"),
            Ok(None) => "end".into(),
            Err(_) => panic!("no event within 5 s"),
        }
    }

    async fn expect(s: &mut EventStream<ConfigMap>, want: &[&str]) {
        for w in want {
            assert_eq!(next(s).await, *w);
        }
    }

    /// `Init`, the InitApply names in any order (the store is a hash map), `InitDone`.
    async fn expect_list(s: &mut EventStream<ConfigMap>, names: &[&str]) {
        assert_eq!(next(s).await, "Init");
        let mut got = BTreeSet::new();
        for _ in names {
            got.insert(next(s).await);
        }
        let want: BTreeSet<String> = names.iter().map(|n| format!("InitApply({n})")).collect();
        assert_eq!(got, want);
        assert_eq!(next(s).await, "InitDone");
    }

    fn pending(s: &mut EventStream<ConfigMap>) -> bool {
        s.next().now_or_never().is_none()
    }

    fn stored(w: &SharedWatch<ConfigMap>) -> BTreeSet<String> {
        w.store().state().iter().map(|c| name(c)).collect()
    }

    #[tokio::test]
    async fn late_subscriber_gets_a_replay_of_the_store_then_live_events() {
        let (watch, tx) = fake_watch();
        let (synced1, mut first) = watch.subscribe();
        feed(
            &tx,
            vec![
                Event::Init,
                Event::InitApply(cm("a")),
                Event::InitApply(cm("b")),
                Event::InitDone,
                Event::Apply(cm("c")),
            ],
        );
        expect(
            &mut first,
            &[
                "Init",
                "InitApply(a)",
                "InitApply(b)",
                "InitDone",
                "Apply(c)",
            ],
        )
        .await;
        assert!(synced1.is_synced());
        assert!(watch.store_synced().is_synced());

        let (synced2, mut late) = watch.subscribe();
        assert!(!synced2.is_synced(), "synced only once the replay is read");
        expect_list(&mut late, &["a", "b", "c"]).await;
        assert!(synced2.is_synced());
        assert!(pending(&mut late), "nothing twice");

        feed(&tx, vec![Event::Delete(cm("a"))]);
        expect(&mut first, &["Delete(a)"]).await;
        expect(&mut late, &["Delete(a)"]).await;
        assert_eq!(stored(&watch), BTreeSet::from(["b".into(), "c".into()]));
    }

    #[tokio::test]
    async fn subscriber_joining_during_the_first_list_gets_the_whole_list() {
        let (watch, tx) = fake_watch();
        let (_, mut first) = watch.subscribe();
        feed(&tx, vec![Event::Init, Event::InitApply(cm("a"))]);
        expect(&mut first, &["Init", "InitApply(a)"]).await;

        let (synced2, mut joined) = watch.subscribe();
        feed(&tx, vec![Event::InitApply(cm("b"))]);
        expect(&mut first, &["InitApply(b)"]).await;
        assert!(pending(&mut joined), "waits for the list to complete");
        assert!(!watch.store_synced().is_synced());

        feed(&tx, vec![Event::InitDone, Event::Apply(cm("c"))]);
        expect(&mut first, &["InitDone", "Apply(c)"]).await;
        expect_list(&mut joined, &["a", "b"]).await;
        assert!(synced2.is_synced());
        expect(&mut joined, &["Apply(c)"]).await;
        assert!(pending(&mut joined));
    }

    #[tokio::test]
    async fn relist_goes_to_every_subscriber() {
        let (watch, tx) = fake_watch();
        let (_, mut first) = watch.subscribe();
        feed(
            &tx,
            vec![Event::Init, Event::InitApply(cm("a")), Event::InitDone],
        );
        expect(&mut first, &["Init", "InitApply(a)", "InitDone"]).await;
        let (_, mut second) = watch.subscribe();
        expect_list(&mut second, &["a"]).await;

        // A desync: the watcher lists again, and "a" is gone meanwhile.
        feed(&tx, vec![Event::Init, Event::InitApply(cm("x"))]);
        expect(&mut first, &["Init", "InitApply(x)"]).await;
        // Joining during the relist: the relist's result, once complete.
        let (_, mut third) = watch.subscribe();
        feed(&tx, vec![Event::InitDone]);
        expect(&mut first, &["InitDone"]).await;
        expect(&mut second, &["Init", "InitApply(x)", "InitDone"]).await;
        expect_list(&mut third, &["x"]).await;
        assert_eq!(stored(&watch), BTreeSet::from(["x".into()]));
    }

    #[tokio::test]
    async fn dropped_subscribers_are_removed_and_the_driver_stops_with_the_last_holder() {
        let (watch, tx) = fake_watch();
        let (_, mut first) = watch.subscribe();
        let (_, second) = watch.subscribe();
        feed(&tx, vec![Event::Init, Event::InitDone]);
        expect(&mut first, &["Init", "InitDone"]).await;
        assert_eq!(watch.subscriber_count(), 2);

        drop(second);
        feed(&tx, vec![Event::Apply(cm("a"))]);
        expect(&mut first, &["Apply(a)"]).await;
        assert_eq!(watch.subscriber_count(), 1);

        // The factory's hold and the last subscriber go: the driver drops
        // the watch stream, with no further event needed to notice.
        drop(watch);
        assert!(!tx.is_closed(), "a subscriber still holds the watch");
        drop(first);
        tokio::time::timeout(Duration::from_secs(5), tx.closed())
            .await
            .expect("driver stopped");
    }

    #[tokio::test]
    async fn watch_end_ends_every_subscriber() {
        let (watch, tx) = fake_watch();
        let (synced, mut first) = watch.subscribe();
        feed(&tx, vec![Event::Init]);
        expect(&mut first, &["Init"]).await;
        drop(tx);
        expect(&mut first, &["end"]).await;
        drop(first);
        assert!(synced.wait().await.is_err(), "never synced");
    }
}
