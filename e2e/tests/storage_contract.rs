//! The storage trait's contract, checked on both implementations: sled (in a
//! temporary dir) and etcd (a real member on a loopback port, skipped with a
//! printed reason when no etcd binary is installed). The REST layer relies on
//! exactly these semantics, so both stores must agree on them.

use apiserver::storage::{
    Compare, DynStorage, EtcdOptions, EtcdStore, EventKind, RangeRequest, SledStore, Txn,
    TxnResult, WatchReceiver,
};
use e2e::etcd::EtcdCluster;
use std::time::Duration;

fn committed(r: TxnResult) -> u64 {
    match r {
        TxnResult::Committed(rev) => rev,
        TxnResult::Failed {
            index,
            current_revision,
        } => {
            panic!("transaction failed at compare {index} (current revision {current_revision})")
        }
    }
}

async fn next(w: &mut WatchReceiver) -> std::sync::Arc<apiserver::storage::Event> {
    tokio::time::timeout(Duration::from_secs(10), w.recv())
        .await
        .expect("a watch event within 10 s")
        .expect("the watch is open")
}

/// Compares, revisions, watches with previous values, deletes carrying the
/// last value, prefix isolation, and ranges with limit/continue.
async fn contract(store: DynStorage, history: bool) {
    let k = "/registry/things/ns/a";
    let r1 = committed(
        store
            .txn(Txn::default().when(Compare::absent(k)).put(k, "one"))
            .await
            .unwrap(),
    );
    // Creating again fails the first compare and reports the key's revision.
    let again = store
        .txn(Txn::default().when(Compare::absent(k)).put(k, "x"))
        .await
        .unwrap();
    assert!(
        matches!(again, TxnResult::Failed { index: 0, current_revision } if current_revision == r1),
        "{again:?}"
    );
    // The failing compare is identified among several.
    let side = "/registry/ranges/serviceips/127.0.0.9";
    committed(store.txn(Txn::default().put(side, "taken")).await.unwrap());
    let both = store
        .txn(
            Txn::default()
                .when(Compare::revision(k, r1))
                .when(Compare::absent(side))
                .put(k, "y"),
        )
        .await
        .unwrap();
    assert!(
        matches!(both, TxnResult::Failed { index: 1, current_revision } if current_revision > r1),
        "{both:?}"
    );

    let mut watch = store.watch("/registry/things/", r1).unwrap();
    let r2 = committed(
        store
            .txn(Txn::default().when(Compare::revision(k, r1)).put(k, "two"))
            .await
            .unwrap(),
    );
    assert!(r2 > r1);
    // A write outside the watched prefix is not delivered.
    committed(
        store
            .txn(Txn::default().put("/registry/other/x", "z"))
            .await
            .unwrap(),
    );
    let b = "/registry/things/ns/b";
    let r3 = committed(store.txn(Txn::default().put(b, "bee")).await.unwrap());
    let r4 = committed(
        store
            .txn(Txn::default().when(Compare::revision(k, r2)).delete(k))
            .await
            .unwrap(),
    );

    let ev = next(&mut watch).await;
    assert_eq!(
        (ev.kind, ev.kv.key.as_str(), ev.kv.mod_revision),
        (EventKind::Put, k, r2)
    );
    assert_eq!(ev.kv.value.as_ref(), b"two");
    assert_eq!(
        ev.prev.as_ref().map(|p| p.value.as_ref()),
        Some(&b"one"[..])
    );
    assert_eq!(ev.kv.create_revision, r1);
    let ev = next(&mut watch).await;
    assert_eq!((ev.kv.key.as_str(), ev.kv.mod_revision), (b, r3));
    let ev = next(&mut watch).await;
    assert_eq!(
        (ev.kind, ev.kv.key.as_str(), ev.kv.mod_revision),
        (EventKind::Delete, k, r4)
    );
    assert_eq!(
        ev.kv.value.as_ref(),
        b"two",
        "a delete carries the last value"
    );

    // A watch from an older revision replays what followed it.
    let mut replay = store.watch("/registry/things/", r2).unwrap();
    assert_eq!(next(&mut replay).await.kv.mod_revision, r3);

    // Ranges: limit, more, continue after a key.
    for i in 0..5 {
        committed(
            store
                .txn(Txn::default().put(format!("/registry/page/{i}"), "p"))
                .await
                .unwrap(),
        );
    }
    let page = |start_after: Option<String>, revision: u64| RangeRequest {
        prefix: "/registry/page/".into(),
        start_after,
        limit: 2,
        revision,
    };
    let first = store.range(page(None, 0)).await.unwrap();
    assert_eq!(first.kvs.len(), 2);
    assert!(first.more);
    let last = first.kvs.last().map(|kv| kv.key.clone());
    committed(
        store
            .txn(Txn::default().put("/registry/page/9", "late"))
            .await
            .unwrap(),
    );
    let rest = store
        .range(RangeRequest {
            limit: 0,
            ..page(last.clone(), first.revision)
        })
        .await
        .unwrap();
    let keys: Vec<&str> = rest.kvs.iter().map(|kv| kv.key.as_str()).collect();
    if history {
        // At the first page's revision the late key does not exist yet.
        assert_eq!(
            keys,
            ["/registry/page/2", "/registry/page/3", "/registry/page/4"]
        );
        assert_eq!(rest.revision, first.revision);
    } else {
        assert_eq!(
            keys,
            [
                "/registry/page/2",
                "/registry/page/3",
                "/registry/page/4",
                "/registry/page/9"
            ]
        );
    }
    assert!(store.current_revision() >= r4);

    // An unlimited range returns everything, however many keys (etcd reads it in chunks).
    for batch in 0..12 {
        let txn = (0..100).fold(Txn::default(), |t, i| {
            t.put(format!("/registry/many/{batch:02}-{i:03}"), "m")
        });
        committed(store.txn(txn).await.unwrap());
    }
    let all = store
        .range(RangeRequest {
            prefix: "/registry/many/".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(all.kvs.len(), 1200);
    assert!(!all.more);
    assert!(all.kvs.windows(2).all(|w| w[0].key < w[1].key));
}

#[tokio::test]
async fn sled_keeps_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    contract(SledStore::open(dir.path()).unwrap(), false).await;
}

#[tokio::test]
async fn etcd_keeps_the_contract() {
    let Some(etcd) = EtcdCluster::start(1) else {
        return;
    };
    let mut opts = EtcdOptions::new(EtcdOptions::parse_servers(&etcd.endpoints()));
    opts.prefix = "/contract".into();
    let store = EtcdStore::connect(&opts).await.unwrap();
    contract(store, true).await;
}
