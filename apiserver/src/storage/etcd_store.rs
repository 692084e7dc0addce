//! The distributed store: etcd v3, as kube-apiserver uses it.
//!
//! One etcd key per object under a configurable prefix (default `/registry`,
//! kube-apiserver's `--etcd-prefix`); an object's resourceVersion is the mod
//! revision etcd gave its last write. Writes are etcd transactions whose
//! compares are the trait's mod-revision compares (revision 0 = "absent", as
//! etcd compares a missing key). Ranges read at one revision, so every page of
//! a paginated list is the same snapshot; a revision etcd has compacted away
//! surfaces as [`StorageError::Compacted`] (410 Gone).
//!
//! Watches are served like kube-apiserver's watch cache: one etcd watch on the
//! whole prefix (with previous values) feeds a [`WatchWindow`], and every
//! client watch subscribes to that window. Several API servers on one etcd
//! each run their own feed, so a write through one reaches the watchers of
//! all. When the feed breaks (an etcd member died) it resumes from the next
//! revision on another member; if etcd compacted those revisions meanwhile,
//! the window is reset and its watchers are closed, so clients relist.

use super::*;
use etcd_client::{
    Certificate, Client, CompareOp, ConnectOptions, EventType, GetOptions, Identity, TlsOptions,
    TxnOpResponse, WatchOptions,
};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The key prefix the REST layer uses; it maps onto the configured etcd prefix.
const LOGICAL_PREFIX: &str = "/registry";
/// Events kept for watches that resume from an older revision.
const WINDOW_CAPACITY: usize = 8192;
/// Largest gRPC message accepted from etcd (the client's default is 4 MiB;
/// a watch response can batch many large objects).
const MAX_MESSAGE: usize = 256 * 1024 * 1024;
/// Keys read per etcd request when a range has no limit.
const RANGE_CHUNK: usize = 1000;
/// Attempts of a request that failed without reaching etcd (a dead member).
const ATTEMPTS: u32 = 6;
/// Pause before re-opening a broken watch feed.
const FEED_RETRY: Duration = Duration::from_millis(200);

/// How to reach etcd (`--etcd-servers`, `--etcd-prefix`, `--etcd-*file`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcdOptions {
    pub endpoints: Vec<String>,
    /// Key prefix in etcd, without a trailing slash (kube-apiserver: `/registry`).
    pub prefix: String,
    pub ca_file: Option<PathBuf>,
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
}

impl EtcdOptions {
    pub fn new(endpoints: Vec<String>) -> Self {
        EtcdOptions {
            endpoints,
            prefix: LOGICAL_PREFIX.into(),
            ca_file: None,
            cert_file: None,
            key_file: None,
        }
    }

    /// Splits `URL[,URL...]` as `--etcd-servers` takes it.
    pub fn parse_servers(list: &str) -> Vec<String> {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    }

    fn connect_options(&self) -> anyhow::Result<ConnectOptions> {
        let mut opts = ConnectOptions::new()
            .with_connect_timeout(Duration::from_secs(3))
            .with_timeout(Duration::from_secs(10))
            .with_keep_alive(Duration::from_secs(5), Duration::from_secs(3))
            .with_keep_alive_while_idle(true);
        let read = |p: &PathBuf| {
            std::fs::read(p).map_err(|e| anyhow::anyhow!("reading {}: {e}", p.display()))
        };
        let mut tls = None;
        if let Some(ca) = &self.ca_file {
            tls = Some(TlsOptions::new().ca_certificate(Certificate::from_pem(read(ca)?)));
        }
        match (&self.cert_file, &self.key_file) {
            (Some(cert), Some(key)) => {
                let identity = Identity::from_pem(read(cert)?, read(key)?);
                tls = Some(tls.unwrap_or_default().identity(identity));
            }
            (None, None) => {}
            _ => anyhow::bail!("--etcd-certfile and --etcd-keyfile go together"),
        }
        if let Some(tls) = tls {
            opts = opts.with_tls(tls);
        }
        Ok(opts)
    }
}

/// Maps REST-layer keys (`/registry/...`) to etcd keys under a prefix and back.
#[derive(Debug, Clone)]
struct KeyMap {
    prefix: String,
}

impl KeyMap {
    fn new(prefix: &str) -> Self {
        KeyMap {
            prefix: prefix.trim_end_matches('/').to_string(),
        }
    }

    fn etcd_key(&self, key: &str) -> String {
        let rest = key.strip_prefix(LOGICAL_PREFIX).unwrap_or(key);
        format!("{}{rest}", self.prefix)
    }

    fn logical_key(&self, key: &[u8]) -> String {
        let key = String::from_utf8_lossy(key);
        match key.strip_prefix(&self.prefix) {
            Some(rest) => format!("{LOGICAL_PREFIX}{rest}"),
            None => key.into_owned(),
        }
    }
}

/// The first key after every key that starts with `prefix` (etcd's range end for a prefix).
fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    // All 0xff (or empty): to the end of the key space.
    vec![0]
}

pub struct EtcdStore {
    client: Client,
    keys: KeyMap,
    /// Newest etcd revision seen in any response.
    revision: Arc<AtomicU64>,
    window: Arc<WatchWindow>,
}

impl EtcdStore {
    /// Connects, reads the current revision and starts the watch feed, which
    /// first replays recent history so watches from slightly older revisions
    /// (say, from a client that moved over from another API server) resume.
    pub async fn connect(opts: &EtcdOptions) -> anyhow::Result<Arc<Self>> {
        anyhow::ensure!(!opts.endpoints.is_empty(), "--etcd-servers is empty");
        let client = Client::connect(&opts.endpoints, Some(opts.connect_options()?))
            .await
            .map_err(|e| anyhow::anyhow!("connecting to etcd {:?}: {e}", opts.endpoints))?;
        let keys = KeyMap::new(&opts.prefix);
        let head = client
            .kv_client()
            .get(
                keys.etcd_key(LOGICAL_PREFIX),
                Some(GetOptions::new().with_count_only()),
            )
            .await
            .map_err(|e| anyhow::anyhow!("reading from etcd {:?}: {e}", opts.endpoints))?
            .header()
            .map(|h| h.revision())
            .unwrap_or(1);
        let head = u64::try_from(head).unwrap_or(1);
        let replay_from = head.saturating_sub(WINDOW_CAPACITY as u64).max(1);
        let window = Arc::new(WatchWindow::new(replay_from - 1, WINDOW_CAPACITY));
        let revision = Arc::new(AtomicU64::new(head));
        let store = Arc::new(EtcdStore {
            client,
            keys,
            revision,
            window,
        });
        tokio::spawn(feed(
            store.client.clone(),
            store.keys.clone(),
            store.window.clone(),
            store.revision.clone(),
            replay_from,
        ));
        Ok(store)
    }

    fn seen(&self, header: Option<&etcd_client::ResponseHeader>) -> Revision {
        let rev = header
            .map(|h| u64::try_from(h.revision()).unwrap_or_default())
            .unwrap_or_default();
        self.revision.fetch_max(rev, Ordering::SeqCst);
        rev
    }

    fn key_value(&self, kv: &etcd_client::KeyValue) -> KeyValue {
        key_value(&self.keys, kv)
    }

    fn kv(&self) -> etcd_client::KvClient {
        self.client
            .kv_client()
            .max_decoding_message_size(MAX_MESSAGE)
    }

    /// One etcd range request.
    async fn range_once(&self, req: &RangeRequest) -> StorageResult<RangeResponse> {
        let prefix = self.keys.etcd_key(&req.prefix);
        let start = match &req.start_after {
            // The smallest key after `after`.
            Some(after) => format!("{}\0", self.keys.etcd_key(after)),
            None => prefix.clone(),
        };
        let mut opts = GetOptions::new().with_range(prefix_end(prefix.as_bytes()));
        if req.limit > 0 {
            opts = opts.with_limit(i64::try_from(req.limit).unwrap_or(i64::MAX));
        }
        if req.revision > 0 {
            opts = opts.with_revision(to_i64(req.revision));
        }
        let resp = with_retries(unavailable, || {
            let (mut kv, start, opts) = (self.kv(), start.clone(), opts.clone());
            async move { kv.get(start, Some(opts)).await }
        })
        .await
        .map_err(|e| etcd_error(e, req.revision))?;
        let head = self.seen(resp.header());
        Ok(RangeResponse {
            kvs: resp.kvs().iter().map(|kv| self.key_value(kv)).collect(),
            more: resp.more(),
            revision: if req.revision > 0 { req.revision } else { head },
        })
    }
}

fn key_value(keys: &KeyMap, kv: &etcd_client::KeyValue) -> KeyValue {
    KeyValue {
        key: keys.logical_key(kv.key()),
        value: Bytes::copy_from_slice(kv.value()),
        create_revision: u64::try_from(kv.create_revision()).unwrap_or_default(),
        mod_revision: u64::try_from(kv.mod_revision()).unwrap_or_default(),
    }
}

/// An etcd error as a storage error; a compacted revision is a 410.
fn etcd_error(e: etcd_client::Error, requested: Revision) -> StorageError {
    let msg = e.to_string();
    if msg.contains("required revision has been compacted") {
        return StorageError::Compacted {
            requested,
            oldest: requested,
        };
    }
    StorageError::Backend(format!("etcd: {msg}"))
}

/// The member the request went to is unreachable: any request may go again
/// (another member answers), though a write may have been applied when the
/// connection broke after sending it.
fn unavailable(e: &etcd_client::Error) -> bool {
    match e {
        etcd_client::Error::GRpcStatus(s) => s.code() == tonic::Code::Unavailable,
        etcd_client::Error::TransportError(_) => true,
        _ => false,
    }
}

/// The request never left this process (no connection to the member), so
/// even a write can be sent again without applying twice.
fn never_sent(e: &etcd_client::Error) -> bool {
    unavailable(e) && e.to_string().contains("connect")
}

/// Runs `op` until it succeeds, fails in a way `resend` rejects, or runs out
/// of attempts; the balanced channel picks another member each time.
async fn with_retries<T, F, Fut>(
    resend: fn(&etcd_client::Error) -> bool,
    mut op: F,
) -> Result<T, etcd_client::Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, etcd_client::Error>>,
{
    let mut attempt = 1;
    loop {
        match op().await {
            Err(e) if attempt < ATTEMPTS && resend(&e) => {
                tracing::debug!(error = %e, attempt, "etcd request failed; sending again");
                tokio::time::sleep(Duration::from_millis(50) * attempt).await;
                attempt += 1;
            }
            result => return result,
        }
    }
}

fn to_i64(rev: Revision) -> i64 {
    i64::try_from(rev).unwrap_or(i64::MAX)
}

#[async_trait::async_trait]
impl Storage for EtcdStore {
    async fn get(&self, key: &str) -> StorageResult<Option<KeyValue>> {
        let key = self.keys.etcd_key(key);
        let resp = with_retries(unavailable, || {
            let (mut kv, key) = (self.kv(), key.clone());
            async move { kv.get(key, None).await }
        })
        .await
        .map_err(|e| etcd_error(e, 0))?;
        self.seen(resp.header());
        Ok(resp.kvs().first().map(|kv| self.key_value(kv)))
    }

    async fn range(&self, req: RangeRequest) -> StorageResult<RangeResponse> {
        if req.limit > 0 {
            return self.range_once(&req).await;
        }
        // Unlimited: read in chunks at the first chunk's revision, so every
        // response stays small and the whole range is one snapshot.
        let mut out = self
            .range_once(&RangeRequest {
                limit: RANGE_CHUNK,
                ..req.clone()
            })
            .await?;
        while out.more {
            let page = self
                .range_once(&RangeRequest {
                    prefix: req.prefix.clone(),
                    start_after: out.kvs.last().map(|kv| kv.key.clone()),
                    limit: RANGE_CHUNK,
                    revision: out.revision,
                })
                .await?;
            out.kvs.extend(page.kvs);
            out.more = page.more;
        }
        Ok(out)
    }

    async fn txn(&self, txn: Txn) -> StorageResult<TxnResult> {
        let compares: Vec<etcd_client::Compare> = txn
            .compares
            .iter()
            .map(|Compare::ModRevision { key, revision }| {
                etcd_client::Compare::mod_revision(
                    self.keys.etcd_key(key),
                    CompareOp::Equal,
                    to_i64(*revision),
                )
            })
            .collect();
        let ops: Vec<etcd_client::TxnOp> = txn
            .ops
            .iter()
            .map(|op| match op {
                Op::Put { key, value } => {
                    etcd_client::TxnOp::put(self.keys.etcd_key(key), value.to_vec(), None)
                }
                Op::Delete { key } => etcd_client::TxnOp::delete(self.keys.etcd_key(key), None),
            })
            .collect();
        // On failure, read the compared keys to report which compare failed.
        let reads: Vec<etcd_client::TxnOp> = txn
            .compares
            .iter()
            .map(|Compare::ModRevision { key, .. }| {
                etcd_client::TxnOp::get(self.keys.etcd_key(key), None)
            })
            .collect();
        let request = etcd_client::Txn::new()
            .when(compares)
            .and_then(ops)
            .or_else(reads);
        let resp = with_retries(never_sent, || {
            let (mut kv, request) = (self.kv(), request.clone());
            async move { kv.txn(request).await }
        })
        .await
        .map_err(|e| etcd_error(e, 0))?;
        let rev = self.seen(resp.header());
        if resp.succeeded() {
            return Ok(TxnResult::Committed(rev));
        }
        let current: Vec<Revision> = resp
            .op_responses()
            .into_iter()
            .map(|r| match r {
                TxnOpResponse::Get(g) => g
                    .kvs()
                    .first()
                    .map(|kv| u64::try_from(kv.mod_revision()).unwrap_or_default())
                    .unwrap_or(0),
                _ => 0,
            })
            .collect();
        Ok(first_failed_compare(&txn.compares, &current))
    }

    fn watch(&self, prefix: &str, after: Revision) -> StorageResult<WatchReceiver> {
        self.window.subscribe(prefix, after)
    }

    fn current_revision(&self) -> Revision {
        self.revision.load(Ordering::SeqCst)
    }

    fn watch_revision(&self) -> Revision {
        self.window.head()
    }
}

/// Which compare failed, given the compared keys' current mod revisions.
fn first_failed_compare(compares: &[Compare], current: &[Revision]) -> TxnResult {
    let failed = compares
        .iter()
        .zip(current)
        .enumerate()
        .find(|(_, (Compare::ModRevision { revision, .. }, now))| revision != *now);
    match failed {
        Some((index, (_, now))) => TxnResult::Failed {
            index,
            current_revision: *now,
        },
        // The keys changed back between compare and read cannot happen inside
        // one transaction; report the first compare to stay on the safe side.
        None => TxnResult::Failed {
            index: 0,
            current_revision: current.first().copied().unwrap_or(0),
        },
    }
}

/// Why the watch feed stopped following etcd.
enum FeedBreak {
    /// The connection or stream failed; resume from the next revision.
    Broken(String),
    /// etcd compacted the revision the feed needs.
    Compacted(Revision),
}

/// Follows etcd's history under the prefix into the window, forever.
async fn feed(
    client: Client,
    keys: KeyMap,
    window: Arc<WatchWindow>,
    revision: Arc<AtomicU64>,
    mut next: Revision,
) {
    loop {
        match follow(&client, &keys, &window, &revision, &mut next).await {
            FeedBreak::Broken(why) => {
                tracing::warn!(error = %why, next, "etcd watch feed broke; resuming");
            }
            FeedBreak::Compacted(oldest) => {
                // The revisions before `oldest` are gone: watchers cannot be
                // served without a gap, so they are closed and re-watch (or
                // relist); the feed goes on from the oldest revision etcd has.
                tracing::warn!(
                    next,
                    oldest,
                    "etcd compacted the watch feed's revision; resetting watches"
                );
                window.reset(oldest.saturating_sub(1));
                next = oldest;
            }
        }
        tokio::time::sleep(FEED_RETRY).await;
    }
}

/// One watch stream: publishes events until the stream breaks.
async fn follow(
    client: &Client,
    keys: &KeyMap,
    window: &WatchWindow,
    revision: &AtomicU64,
    next: &mut Revision,
) -> FeedBreak {
    let prefix = keys.etcd_key(LOGICAL_PREFIX);
    let opts = WatchOptions::new()
        .with_range(prefix_end(prefix.as_bytes()))
        .with_start_revision(to_i64(*next))
        .with_prev_key()
        .with_progress_notify();
    let mut stream = match client
        .watch_client()
        .max_decoding_message_size(MAX_MESSAGE)
        .watch(prefix, Some(opts))
        .await
    {
        Ok(s) => s,
        Err(e) => return FeedBreak::Broken(e.to_string()),
    };
    loop {
        let resp = match stream.message().await {
            Ok(Some(resp)) => resp,
            Ok(None) => return FeedBreak::Broken("watch stream ended".into()),
            Err(e) => return FeedBreak::Broken(e.to_string()),
        };
        if resp.compact_revision() > 0 {
            return FeedBreak::Compacted(u64::try_from(resp.compact_revision()).unwrap_or(0));
        }
        if resp.canceled() {
            return FeedBreak::Broken(format!("watch canceled: {}", resp.cancel_reason()));
        }
        let events: Vec<Event> = resp
            .events()
            .iter()
            .filter_map(|ev| storage_event(keys, ev))
            .collect();
        if let Some(last) = events.last() {
            *next = last.kv.mod_revision + 1;
        }
        window.publish(events);
        if let Some(h) = resp.header() {
            let head = u64::try_from(h.revision()).unwrap_or_default();
            revision.fetch_max(head, Ordering::SeqCst);
            // A response carries every event up to its header revision, so
            // the window is complete up to there (progress notifications too).
            // (Not the creation response: replayed history follows it.)
            if resp.events().is_empty() && !resp.created() && head >= *next {
                window.advance(head);
                *next = head + 1;
            }
        }
    }
}

/// An etcd watch event as a storage event; deletes carry the last value.
fn storage_event(keys: &KeyMap, ev: &etcd_client::Event) -> Option<Event> {
    let kv = ev.kv()?;
    let prev = ev.prev_kv().map(|p| key_value(keys, p));
    let now = key_value(keys, kv);
    Some(match ev.event_type() {
        EventType::Put => Event {
            kind: EventKind::Put,
            kv: now,
            prev,
        },
        EventType::Delete => Event {
            kind: EventKind::Delete,
            kv: KeyValue {
                key: now.key,
                value: prev.as_ref().map(|p| p.value.clone()).unwrap_or_default(),
                create_revision: prev.as_ref().map(|p| p.create_revision).unwrap_or_default(),
                mod_revision: now.mod_revision,
            },
            prev,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_onto_the_prefix_and_back() {
        let default = KeyMap::new("/registry");
        assert_eq!(default.etcd_key("/registry/pods/a/b"), "/registry/pods/a/b");
        let other = KeyMap::new("/team-a/");
        assert_eq!(other.etcd_key("/registry/pods/a/b"), "/team-a/pods/a/b");
        assert_eq!(other.logical_key(b"/team-a/pods/a/b"), "/registry/pods/a/b");
        assert_eq!(other.etcd_key("/registry/"), "/team-a/");
    }

    #[test]
    fn prefix_end_is_the_next_key() {
        assert_eq!(prefix_end(b"/registry/"), b"/registry0".to_vec());
        assert_eq!(prefix_end(b"a\xff"), b"b".to_vec());
        assert_eq!(prefix_end(b"\xff"), vec![0]);
    }

    #[test]
    fn failed_compare_is_the_first_mismatch() {
        let compares = vec![Compare::absent("/a"), Compare::revision("/b", 7)];
        let r = first_failed_compare(&compares, &[0, 9]);
        assert!(matches!(
            r,
            TxnResult::Failed {
                index: 1,
                current_revision: 9
            }
        ));
        let r = first_failed_compare(&compares, &[4, 7]);
        assert!(matches!(
            r,
            TxnResult::Failed {
                index: 0,
                current_revision: 4
            }
        ));
    }

    #[test]
    fn servers_split_on_commas() {
        assert_eq!(
            EtcdOptions::parse_servers("http://127.0.0.1:2379, http://127.0.0.1:22379,"),
            vec!["http://127.0.0.1:2379", "http://127.0.0.1:22379"]
        );
    }
}
