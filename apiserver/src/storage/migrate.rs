//! Copying every object from one store to another (`mkube migrate`): sled
//! into etcd when a cluster outgrows one process, and back.
//!
//! Objects are written in the order of their source revisions, and the keys
//! one source transaction wrote (a Service and its allocation keys) are
//! written in one target transaction. So the target's revisions order the
//! objects exactly as the source's did; the numbers themselves are the
//! target's (clients relist after a migration, as after an etcd restore).

use super::{Compare, KeyValue, RangeRequest, Storage, Txn, TxnResult};

/// Everything mkube stores lives under this prefix.
const ALL: &str = "/registry/";

/// What a migration copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    pub objects: usize,
    pub transactions: usize,
}

/// Source keys grouped by the transaction that last wrote them, oldest first.
pub fn write_order(mut kvs: Vec<KeyValue>) -> Vec<Vec<KeyValue>> {
    kvs.sort_by(|a, b| (a.mod_revision, &a.key).cmp(&(b.mod_revision, &b.key)));
    let mut groups: Vec<Vec<KeyValue>> = Vec::new();
    for kv in kvs {
        match groups.last_mut() {
            Some(g) if g[0].mod_revision == kv.mod_revision => g.push(kv),
            _ => groups.push(vec![kv]),
        }
    }
    groups
}

/// Copies every object of `from` into `to`, which must hold no objects.
pub async fn copy_all(from: &dyn Storage, to: &dyn Storage) -> anyhow::Result<MigrationReport> {
    let existing = to
        .range(RangeRequest {
            prefix: ALL.into(),
            limit: 1,
            ..Default::default()
        })
        .await?;
    if let Some(kv) = existing.kvs.first() {
        anyhow::bail!(
            "the target store already holds objects (e.g. {}); migrate into an empty one",
            kv.key
        );
    }
    let source = from
        .range(RangeRequest {
            prefix: ALL.into(),
            ..Default::default()
        })
        .await?;
    let mut report = MigrationReport {
        objects: 0,
        transactions: 0,
    };
    for group in write_order(source.kvs) {
        let mut txn = Txn::default();
        for kv in &group {
            txn = txn
                .when(Compare::absent(&kv.key))
                .put(&kv.key, kv.value.clone());
        }
        match to.txn(txn).await? {
            TxnResult::Committed(_) => {}
            TxnResult::Failed { index, .. } => anyhow::bail!(
                "{} appeared in the target during the migration",
                group
                    .get(index)
                    .map(|kv| kv.key.as_str())
                    .unwrap_or("a key")
            ),
        }
        report.objects += group.len();
        report.transactions += 1;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::SledStore;

    fn kv(key: &str, rev: u64) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: bytes::Bytes::from_static(b"{}"),
            create_revision: rev,
            mod_revision: rev,
        }
    }

    #[test]
    fn order_follows_source_revisions_and_keeps_transactions_together() {
        let groups = write_order(vec![
            kv("/registry/b", 5),
            kv("/registry/a", 9),
            kv("/registry/c", 5),
        ]);
        let keys: Vec<Vec<&str>> = groups
            .iter()
            .map(|g| g.iter().map(|k| k.key.as_str()).collect())
            .collect();
        assert_eq!(
            keys,
            vec![vec!["/registry/b", "/registry/c"], vec!["/registry/a"]]
        );
    }

    #[tokio::test]
    async fn copies_everything_in_revision_order_into_an_empty_store() {
        let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (from, to) = (
            SledStore::open(d1.path()).unwrap(),
            SledStore::open(d2.path()).unwrap(),
        );
        // z, then a, then m and z again in one transaction.
        for (k, v) in [("/registry/z", "1"), ("/registry/a", "2")] {
            from.txn(Txn::default().put(k, v)).await.unwrap();
        }
        from.txn(
            Txn::default()
                .put("/registry/m", "3")
                .put("/registry/z", "4"),
        )
        .await
        .unwrap();
        let report = copy_all(from.as_ref(), to.as_ref()).await.unwrap();
        assert_eq!(
            report,
            MigrationReport {
                objects: 3,
                transactions: 2
            }
        );
        let all = to
            .range(RangeRequest {
                prefix: ALL.into(),
                ..Default::default()
            })
            .await
            .unwrap();
        let rev = |k: &str| all.kvs.iter().find(|kv| kv.key == k).unwrap().mod_revision;
        assert!(rev("/registry/a") < rev("/registry/m"));
        assert_eq!(rev("/registry/m"), rev("/registry/z"));
        let z = all.kvs.iter().find(|kv| kv.key == "/registry/z").unwrap();
        assert_eq!(z.value.as_ref(), b"4");
        // A second run refuses to mix stores.
        let again = copy_all(from.as_ref(), to.as_ref()).await.unwrap_err();
        assert!(
            again.to_string().contains("already holds objects"),
            "{again}"
        );
    }
}
