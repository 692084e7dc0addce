//! The Service allocations as storage keys, and the picking index that
//! follows them.
//!
//! Every allocated ClusterIP (of either family) and NodePort is one key
//! under `/registry/ranges/`: `serviceips/<ip>` and
//! `servicenodeports/<port>`, holding the owner `"<namespace>/<name>"`. A
//! write creates the keys of what it allocates with a must-not-exist compare
//! in the Service's own transaction and deletes the keys of what it releases
//! in that same transaction. So two writes never get the same IP or port
//! (also through several API servers on one etcd: the compares are the
//! authority), a failed write leaks nothing, and a restart — also after
//! `kill -9` — rebuilds the index from the keys. (kube-apiserver persists one
//! bitmap object per range with a compare-and-swap, or since v1.33 one
//! IPAddress object per ClusterIP; a key per value is the same idea and lets
//! writes of different values proceed side by side.)
//!
//! The in-memory [`ServiceAllocators`] only decides what to pick: it holds
//! what the keys hold (read at start and followed by a storage watch, which
//! also brings the writes of other API servers) plus what writes still in
//! progress have reserved.
//!
//! NodePorts are unified across protocols (one number, one Service), as in
//! kube-apiserver. Data dirs written before that hold per-protocol keys
//! `servicenodeports/<proto>/<port>`: such a key still holds its port, for its
//! owner, and is deleted in the transaction in which that owner releases the
//! port. No new one is ever written, so the keys read at start are all there
//! are.

use super::allocation::{Reservation, ServiceAllocators};
use super::{prepare_create, prepare_delete, prepare_update, ServiceConfig, ServiceError};
use crate::registry::{Pending, WriteOp};
use crate::rest::object_store::SideEffects;
use crate::rest::status::ApiResult;
use crate::storage::{Compare, DynStorage, EventKind, RangeRequest, Revision};
use crate::validation::names::go_ip_string;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

/// Everything under this prefix is an allocation key.
pub const RANGES_PREFIX: &str = "/registry/ranges/";
const CLUSTER_IP_PREFIX: &str = "/registry/ranges/serviceips/";
const NODE_PORT_PREFIX: &str = "/registry/ranges/servicenodeports/";

/// What one allocation key holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Held {
    ClusterIp(IpAddr),
    NodePort(u16),
}

impl Held {
    /// The key this value is allocated under.
    pub fn key(&self) -> String {
        match self {
            Held::ClusterIp(ip) => format!("{CLUSTER_IP_PREFIX}{}", go_ip_string(ip)),
            Held::NodePort(port) => format!("{NODE_PORT_PREFIX}{port}"),
        }
    }

    /// The value a key holds: `serviceips/<ip>`, `servicenodeports/<port>`,
    /// or a legacy per-protocol `servicenodeports/<proto>/<port>`.
    pub fn of_key(key: &str) -> Option<Held> {
        if let Some(ip) = key.strip_prefix(CLUSTER_IP_PREFIX) {
            return ip.parse().ok().map(Held::ClusterIp);
        }
        let rest = key.strip_prefix(NODE_PORT_PREFIX)?;
        let port = match rest.split_once('/') {
            Some((_protocol, port)) => port,
            None => rest,
        };
        port.parse().ok().map(Held::NodePort)
    }
}

fn owner_of(svc: &Value) -> String {
    let field = |f: &str| {
        svc.pointer(&format!("/metadata/{f}"))
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    format!("{}/{}", field("namespace"), field("name"))
}

/// The owner recorded in a key's value (a JSON string; raw text is accepted).
fn owner_in_value(value: &[u8]) -> String {
    serde_json::from_slice::<String>(value)
        .unwrap_or_else(|_| String::from_utf8_lossy(value).into_owned())
}

fn owner_value(owner: &str) -> bytes::Bytes {
    Value::String(owner.to_string()).to_string().into()
}

struct Index {
    allocators: ServiceAllocators,
    /// The allocation keys known to exist, with their owners, by what they hold.
    stored: HashMap<Held, BTreeMap<String, String>>,
    /// Values reserved by writes not yet stored or abandoned.
    in_flight: HashMap<Held, usize>,
}

impl Index {
    fn new(config: &ServiceConfig) -> Self {
        Index {
            allocators: ServiceAllocators::new(config),
            stored: HashMap::new(),
            in_flight: HashMap::new(),
        }
    }

    /// Makes the picking index say "taken" exactly when a key or a write in
    /// progress holds `held`. Values outside the configured ranges (keys of a
    /// cluster that ran with other ranges) are never picked anyway.
    fn sync(&mut self, held: Held) {
        let taken = self.stored.contains_key(&held) || self.in_flight.contains_key(&held);
        match held {
            Held::ClusterIp(ip) => {
                if let Some(a) = self.allocators.allocator_for_ip_mut(&ip) {
                    if taken {
                        let _ = a.allocate_specific(ip);
                    } else {
                        a.release(&ip);
                    }
                }
            }
            Held::NodePort(port) => {
                let ports = &mut self.allocators.node_ports;
                if taken {
                    let _ = ports.allocate_specific(port);
                } else {
                    ports.release(port);
                }
            }
        }
    }

    fn key_present(&mut self, key: &str, owner: String) {
        if let Some(held) = Held::of_key(key) {
            self.stored
                .entry(held)
                .or_default()
                .insert(key.to_string(), owner);
            self.sync(held);
        }
    }

    fn key_gone(&mut self, key: &str) {
        let Some(held) = Held::of_key(key) else {
            return;
        };
        if let Some(keys) = self.stored.get_mut(&held) {
            keys.remove(key);
            if keys.is_empty() {
                self.stored.remove(&held);
            }
        }
        self.sync(held);
    }

    fn reserved(&mut self, held: Held) {
        *self.in_flight.entry(held).or_default() += 1;
    }

    fn unreserved(&mut self, held: Held) {
        if let Some(n) = self.in_flight.get_mut(&held) {
            *n -= 1;
            if *n == 0 {
                self.in_flight.remove(&held);
            }
        }
        self.sync(held);
    }

    /// The keys releasing `held` deletes: its key, and any other key (the
    /// legacy per-protocol NodePort keys) `owner` holds it under.
    fn keys_to_release(&self, held: Held, owner: &str) -> Vec<String> {
        let key = held.key();
        let mut keys = vec![key.clone()];
        if let Some(stored) = self.stored.get(&held) {
            keys.extend(
                stored
                    .iter()
                    .filter(|(k, o)| **k != key && *o == owner)
                    .map(|(k, _)| k.clone()),
            );
        }
        keys
    }
}

impl Index {
    /// Records the reservations of a write and the keys it changes.
    fn key_changes(&mut self, owner: String, r: &Reservation) -> KeyChanges {
        let created = held_values(&r.allocated_ips, &r.allocated_node_ports);
        for held in &created {
            self.reserved(*held);
        }
        let deleted = held_values(&r.released_ips, &r.released_node_ports)
            .into_iter()
            .flat_map(|held| self.keys_to_release(held, &owner))
            .collect();
        KeyChanges {
            owner,
            created,
            deleted,
        }
    }
}

fn held_values(ips: &[IpAddr], ports: &[u16]) -> Vec<Held> {
    ips.iter()
        .map(|ip| Held::ClusterIp(*ip))
        .chain(ports.iter().map(|p| Held::NodePort(*p)))
        .collect()
}

/// The keys one Service write creates and deletes.
struct KeyChanges {
    owner: String,
    created: Vec<Held>,
    deleted: Vec<String>,
}

impl KeyChanges {
    fn side_effects(&self) -> SideEffects {
        let mut side = SideEffects::default();
        for held in &self.created {
            side.compares.push(Compare::absent(held.key()));
            side.puts.push((held.key(), owner_value(&self.owner)));
        }
        side.deletes.extend(self.deleted.iter().cloned());
        side
    }
}

/// Every allocation key in storage.
async fn allocation_keys(storage: &DynStorage) -> anyhow::Result<crate::storage::RangeResponse> {
    let all = storage
        .range(RangeRequest {
            prefix: RANGES_PREFIX.into(),
            ..Default::default()
        })
        .await?;
    Ok(all)
}

/// A snapshot of the allocators' fill, per Service CIDR and for the
/// NodePort range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllocatorUsage {
    pub cluster_ips: Vec<RangeUsage>,
    pub node_ports: RangeUsage,
}

/// One range: its text (`127.96.0.0/16`, `30000-32767`) and how many of its
/// values are handed out and free.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeUsage {
    pub range: String,
    pub allocated: u128,
    pub available: u128,
}

/// The cluster's Service allocators, shared by every request of this API
/// server and kept in step with the allocation keys in storage.
#[derive(Clone)]
pub struct Allocators {
    index: Arc<Mutex<Index>>,
    config: Arc<ServiceConfig>,
}

impl Allocators {
    pub fn new(config: ServiceConfig) -> Self {
        Allocators {
            index: Arc::new(Mutex::new(Index::new(&config))),
            config: Arc::new(config),
        }
    }

    pub fn config(&self) -> &ServiceConfig {
        &self.config
    }

    /// How much of each range is handed out (for `/metrics`).
    pub fn usage(&self) -> AllocatorUsage {
        let index = self.lock();
        let allocs = &index.allocators;
        AllocatorUsage {
            cluster_ips: allocs
                .cluster_ips
                .iter()
                .map(|a| RangeUsage {
                    range: a.cidr().to_string(),
                    allocated: a.used() as u128,
                    available: a.free(),
                })
                .collect(),
            node_ports: RangeUsage {
                range: allocs.node_ports.range_string(),
                allocated: allocs.node_ports.used() as u128,
                available: u128::from(allocs.node_ports.free()),
            },
        }
    }

    fn lock(&self) -> MutexGuard<'_, Index> {
        self.index.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs the Service pipeline for a write (defaults, IP families,
    /// allocation, validation; see [`super`]) and returns what the write adds
    /// to its transaction: the keys of what it allocates (must not exist) and
    /// releases. Its commit and abort actions settle the index.
    pub fn begin_write(&self, op: WriteOp<'_>) -> ApiResult<Pending> {
        // One lock from picking to recording the reservation, so that
        // nothing (a watch event in particular) frees a value in between.
        let mut index = self.lock();
        let allocs = &mut index.allocators;
        let (svc, result) = match op {
            WriteOp::Create(new) => {
                let r = prepare_create(new, &self.config, allocs);
                (&*new, r)
            }
            WriteOp::Update { old, new, .. } => {
                let r = prepare_update(new, old, &self.config, allocs);
                (&*new, r)
            }
            WriteOp::Delete(old) => (old, Ok(prepare_delete(old, allocs))),
        };
        let reservation = result.map_err(|e: ServiceError| {
            let name = svc.pointer("/metadata/name").and_then(Value::as_str);
            e.into_api_error(name.unwrap_or_default())
        })?;
        let changes = index.key_changes(owner_of(svc), &reservation);
        drop(index);
        Ok(self.pending(changes))
    }

    fn pending(&self, changes: KeyChanges) -> Pending {
        let changes = Arc::new(changes);
        let side_effects = changes.side_effects();
        let (this, stored) = (self.clone(), changes.clone());
        let (that, abandoned) = (self.clone(), changes);
        Pending {
            side_effects,
            on_commit: vec![Box::new(move || this.stored(&stored))],
            on_abort: vec![Box::new(move || that.abandoned(&abandoned))],
        }
    }

    /// The write is stored: its new keys exist, its released keys are gone.
    fn stored(&self, changes: &KeyChanges) {
        let mut index = self.lock();
        for held in &changes.created {
            index.key_present(&held.key(), changes.owner.clone());
            index.unreserved(*held);
        }
        for key in &changes.deleted {
            index.key_gone(key);
        }
    }

    /// The write failed or was a dry run: its reservations go, unless a key
    /// (another API server's, seen meanwhile) holds the value.
    fn abandoned(&self, changes: &KeyChanges) {
        let mut index = self.lock();
        for held in &changes.created {
            index.unreserved(*held);
        }
    }

    /// Rebuilds the index from the allocation keys in storage (keeping the
    /// reservations of writes in progress); returns the revision it read at.
    pub async fn rebuild(&self, storage: &DynStorage) -> anyhow::Result<Revision> {
        let all = allocation_keys(storage).await?;
        let mut index = self.lock();
        let in_flight = std::mem::take(&mut index.in_flight);
        *index = Index::new(&self.config);
        for held in in_flight.keys() {
            index.sync(*held);
        }
        index.in_flight = in_flight;
        for kv in &all.kvs {
            index.key_present(&kv.key, owner_in_value(&kv.value));
        }
        Ok(all.revision)
    }

    /// Keeps the index in step with the allocation keys, which other API
    /// servers on the same etcd also write: rebuilds, then follows their
    /// changes (rebuilding again whenever the watch ends). The keys stay the
    /// authority — every allocation is a must-not-exist compare — so a late
    /// index only costs a retry.
    pub fn follow(&self, storage: DynStorage) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            loop {
                if let Err(e) = this.follow_once(&storage).await {
                    tracing::warn!(error = %e, "following service allocations; rebuilding");
                }
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
        })
    }

    async fn follow_once(&self, storage: &DynStorage) -> anyhow::Result<()> {
        let revision = self.rebuild(storage).await?;
        let mut events = storage.watch(RANGES_PREFIX, revision)?;
        while let Ok(ev) = events.recv().await {
            let mut index = self.lock();
            match ev.kind {
                EventKind::Put => index.key_present(&ev.kv.key, owner_in_value(&ev.kv.value)),
                EventKind::Delete => index.key_gone(&ev.kv.key),
            }
        }
        Ok(())
    }

    /// A copy of the picking index (for tests and diagnostics).
    pub fn snapshot(&self) -> ServiceAllocators {
        self.lock().allocators.clone()
    }
}

#[cfg(test)]
mod tests {
    //! The live write path (create, update, delete through the generic REST
    //! handlers) on a sled store: which keys each transaction writes.

    use super::*;
    use crate::config::ApiConfig;
    use crate::registry::{catalog, ResourceDef};
    use crate::rest::delete::{delete_one, DeleteOptions};
    use crate::rest::object_store::ObjectStore;
    use crate::rest::request::{parse_path, Query};
    use crate::rest::status::ApiError;
    use crate::rest::write::{create_object, guaranteed_update, Tracking};
    use crate::rest::ApiState;
    use crate::storage::{SledStore, Txn, TxnResult};
    use crate::test_support::until;
    use serde_json::json;
    use std::collections::BTreeSet;

    const SINGLE: &[&str] = &["127.96.0.0/24"];
    const DUAL: &[&str] = &["127.96.0.0/24", "fd00:96::/108"];

    /// A sled store in a temporary dir (removed with it).
    struct TestStore {
        storage: DynStorage,
        _dir: tempfile::TempDir,
    }

    fn store() -> TestStore {
        let dir = tempfile::tempdir().unwrap();
        TestStore {
            storage: SledStore::open(dir.path()).unwrap(),
            _dir: dir,
        }
    }

    /// A fresh store and one API server on it.
    async fn single_server(cidrs: &[&str]) -> (TestStore, ApiState) {
        let store = store();
        let st = api_server(&store.storage, cidrs).await;
        (store, st)
    }

    /// An API server on `storage` with these Service ranges, started as
    /// `ApiServer::start` does (index rebuilt, system objects ensured).
    async fn api_server(storage: &DynStorage, cidrs: &[&str]) -> ApiState {
        let config = ApiConfig {
            service_cidrs: cidrs.iter().map(|c| c.parse().unwrap()).collect(),
            ..Default::default()
        };
        let st = ApiState {
            store: ObjectStore {
                storage: storage.clone(),
            },
            allocators: Allocators::new((&config).into()),
            config,
            agent_token: None,
            namespaces: Default::default(),
            token_signer: None,
        };
        st.allocators.rebuild(storage).await.unwrap();
        crate::bootstrap::ensure_system_objects(&st).await.unwrap();
        st
    }

    fn services() -> &'static ResourceDef {
        catalog().lookup("", "v1", "services").unwrap()
    }

    async fn create_with(st: &ApiState, spec: Value, q: &Query) -> Result<Value, ApiError> {
        let name = spec["name"].as_str().unwrap().to_string();
        let mut spec = spec;
        if let Some(m) = spec.as_object_mut() {
            m.remove("name");
        }
        let obj = json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": "default"}, "spec": spec});
        create_object(st, services(), Some("default"), obj, q).await
    }

    /// Creates `default/<spec.name>` with the rest of `spec` as its spec.
    async fn create(st: &ApiState, spec: Value) -> Result<Value, ApiError> {
        create_with(st, spec, &Query::default()).await
    }

    async fn update(
        st: &ApiState,
        name: &str,
        change: impl Fn(&mut Value),
    ) -> Result<Value, ApiError> {
        write_to(st, &format!("services/{name}"), change).await
    }

    /// A write to `default/<path>` (`services/web` or `services/web/status`).
    async fn write_to(
        st: &ApiState,
        path: &str,
        change: impl Fn(&mut Value),
    ) -> Result<Value, ApiError> {
        let ri = parse_path(&format!("/api/v1/namespaces/default/{path}")).unwrap();
        guaranteed_update(
            st,
            &ri,
            &Query::default(),
            None,
            Tracking::Update,
            |current| {
                let mut new = current.clone();
                change(&mut new);
                Ok(new)
            },
        )
        .await
    }

    async fn delete(st: &ApiState, name: &str) {
        let ri = parse_path(&format!("/api/v1/namespaces/default/services/{name}")).unwrap();
        delete_one(st, &ri, name, &DeleteOptions::default(), false)
            .await
            .unwrap();
    }

    /// The allocation keys in storage, with their owners, minus the
    /// `kubernetes` Service's.
    async fn keys(storage: &DynStorage) -> BTreeMap<String, String> {
        let all = allocation_keys(storage).await.unwrap();
        all.kvs
            .iter()
            .map(|kv| (kv.key.clone(), owner_in_value(&kv.value)))
            .filter(|(_, owner)| owner != "default/kubernetes")
            .collect()
    }

    fn ips(svc: &Value) -> Vec<String> {
        serde_json::from_value(svc["spec"]["clusterIPs"].clone()).unwrap()
    }

    fn ip_key(ip: &str) -> String {
        format!("{CLUSTER_IP_PREFIX}{ip}")
    }

    fn port_key(port: u16) -> String {
        format!("{NODE_PORT_PREFIX}{port}")
    }

    fn owned(pairs: &[(String, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, o)| (k.clone(), o.to_string()))
            .collect()
    }

    /// A NodePort Service using 30053 for DNS over UDP and TCP.
    fn dns_on_30053(name: &str) -> Value {
        json!({"name": name, "type": "NodePort", "ports": [
            {"name": "dns", "port": 53, "protocol": "UDP", "nodePort": 30053},
            {"name": "dns-tcp", "port": 53, "protocol": "TCP", "nodePort": 30053}]})
    }

    #[tokio::test]
    async fn keys_are_created_and_deleted_in_the_service_transaction() {
        let (store, st) = single_server(SINGLE).await;
        let storage = &store.storage;
        let web = create(&st, dns_on_30053("web")).await.unwrap();
        let ip = ips(&web).remove(0);
        // One key per value: the TCP and UDP ports share the number's key.
        assert_eq!(
            keys(storage).await,
            owned(&[
                (ip_key(&ip), "default/web"),
                (port_key(30053), "default/web")
            ])
        );
        // NodePort -> ClusterIP releases the port in the same write.
        let web = update(&st, "web", |s| s["spec"]["type"] = json!("ClusterIP"))
            .await
            .unwrap();
        assert!(web["spec"]["ports"][0].get("nodePort").is_none());
        assert_eq!(keys(storage).await, owned(&[(ip_key(&ip), "default/web")]));
        delete(&st, "web").await;
        assert!(keys(storage).await.is_empty());
        // Both are free again, in the index too.
        create(
            &st,
            json!({"name": "again", "type": "NodePort", "clusterIP": ip,
                   "ports": [{"port": 80, "nodePort": 30053}]}),
        )
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn status_writes_keep_the_spec_and_its_keys() {
        let (store, st) = single_server(SINGLE).await;
        create(
            &st,
            json!({"name": "lb", "type": "LoadBalancer", "ports": [{"port": 80}]}),
        )
        .await
        .unwrap();
        let before = keys(&store.storage).await;
        assert_eq!(before.len(), 2);
        let ingress = json!([{"ip": "127.240.0.5", "ipMode": "VIP"}]);
        let lb = write_to(&st, "services/lb/status", |s| {
            s["status"] = json!({"loadBalancer": {"ingress": ingress.clone()}})
        })
        .await
        .unwrap();
        assert_eq!(lb["status"]["loadBalancer"]["ingress"], ingress);
        assert_eq!(keys(&store.storage).await, before);
        // A later write to the Service itself keeps the status.
        let lb = update(&st, "lb", |s| s["metadata"]["labels"] = json!({"a": "b"}))
            .await
            .unwrap();
        assert_eq!(lb["status"]["loadBalancer"]["ingress"], ingress);
    }

    #[tokio::test]
    async fn a_node_port_number_belongs_to_one_service_for_every_protocol() {
        let (store, st) = single_server(SINGLE).await;
        let storage = &store.storage;
        create(&st, dns_on_30053("dns")).await.unwrap();
        let before = keys(storage).await;
        for protocol in ["TCP", "UDP", "SCTP"] {
            let e = create(
                &st,
                json!({"name": "other", "type": "NodePort",
                       "ports": [{"port": 53, "protocol": protocol, "nodePort": 30053}]}),
            )
            .await
            .unwrap_err();
            assert_eq!(e.code.as_u16(), 422);
            assert_eq!(
                e.message,
                "Service \"other\" is invalid: spec.ports[0].nodePort: Invalid value: 30053: provided port is already allocated"
            );
        }
        // The refused creates left nothing behind (not even the ClusterIPs
        // they had picked).
        assert_eq!(keys(storage).await, before);
        let dual_use = create(
            &st,
            json!({"name": "other", "type": "NodePort", "ports": [
                {"name": "a", "port": 80, "protocol": "TCP"},
                {"name": "b", "port": 80, "protocol": "UDP"}]}),
        )
        .await
        .unwrap();
        let np = dual_use["spec"]["ports"][0]["nodePort"].clone();
        assert_eq!(dual_use["spec"]["ports"][1]["nodePort"], np);
    }

    /// Writes a Service and its allocation keys as mkube did before
    /// NodePorts were unified: `servicenodeports/<proto>/<port>`.
    async fn legacy_service(st: &ApiState, name: &str, ip: &str, ports: &[(&str, u16)]) {
        let owner = Value::String(format!("default/{name}")).to_string();
        let mut side = SideEffects::default();
        side.puts.push((ip_key(ip), owner.clone().into()));
        let mut spec_ports = Vec::new();
        for (i, (protocol, port)) in ports.iter().enumerate() {
            let key = format!("{NODE_PORT_PREFIX}{}/{port}", protocol.to_ascii_lowercase());
            side.puts.push((key, owner.clone().into()));
            spec_ports.push(
                json!({"name": format!("p{i}"), "port": 53, "protocol": protocol,
                "targetPort": 53, "nodePort": port}),
            );
        }
        let obj = json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": "default", "uid": name},
            "spec": {"type": "NodePort", "clusterIP": ip, "clusterIPs": [ip],
                     "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                     "sessionAffinity": "None", "externalTrafficPolicy": "Cluster",
                     "internalTrafficPolicy": "Cluster", "ports": spec_ports}});
        st.store.create(services(), obj, side).await.unwrap();
    }

    async fn node_port_refused(st: &ApiState, port: u16) -> bool {
        let r = create(
            st,
            json!({"name": "probe", "type": "NodePort",
                   "ports": [{"port": 80, "protocol": "UDP", "nodePort": port}]}),
        )
        .await;
        match r {
            Ok(_) => {
                delete(st, "probe").await;
                false
            }
            Err(e) => {
                assert!(
                    e.message.contains("provided port is already allocated"),
                    "{}",
                    e.message
                );
                true
            }
        }
    }

    #[tokio::test]
    async fn legacy_per_protocol_port_keys_hold_their_port_until_their_owner_releases_it() {
        let store = store();
        let storage = &store.storage;
        let old = api_server(storage, SINGLE).await;
        legacy_service(
            &old,
            "dns",
            "127.96.0.52",
            &[("TCP", 30053), ("UDP", 30053)],
        )
        .await;
        // The old code let two Services share a number on different protocols.
        legacy_service(&old, "a", "127.96.0.50", &[("TCP", 30060)]).await;
        legacy_service(&old, "b", "127.96.0.51", &[("UDP", 30060)]).await;
        drop(old);

        // A restart on that data.
        let st = api_server(storage, SINGLE).await;
        assert!(node_port_refused(&st, 30053).await);
        assert!(node_port_refused(&st, 30060).await);

        delete(&st, "a").await;
        let left: BTreeSet<String> = keys(storage).await.into_keys().collect();
        assert!(!left.contains(&format!("{NODE_PORT_PREFIX}tcp/30060")));
        assert!(left.contains(&format!("{NODE_PORT_PREFIX}udp/30060")));
        // b still holds the number.
        assert!(node_port_refused(&st, 30060).await);
        delete(&st, "b").await;
        assert!(!node_port_refused(&st, 30060).await);

        delete(&st, "dns").await;
        assert!(!node_port_refused(&st, 30053).await);
        assert!(keys(storage).await.is_empty());
    }

    #[tokio::test]
    async fn dual_stack_families_upgrade_and_downgrade() {
        let (store, st) = single_server(DUAL).await;
        let storage = &store.storage;

        let both = create(
            &st,
            json!({"name": "both", "ipFamilyPolicy": "PreferDualStack", "ports": [{"port": 80}]}),
        )
        .await
        .unwrap();
        assert_eq!(both["spec"]["ipFamilies"], json!(["IPv4", "IPv6"]));
        let both_ips = ips(&both);
        assert_eq!(both_ips.len(), 2);
        assert!(both_ips[0].starts_with("127.96.0.") && both_ips[1].starts_with("fd00:96::"));
        assert_eq!(both["spec"]["clusterIP"], both_ips[0].as_str());

        let v6_first = create(
            &st,
            json!({"name": "v6-first", "ipFamilyPolicy": "RequireDualStack",
                   "ipFamilies": ["IPv6", "IPv4"], "ports": [{"port": 80}]}),
        )
        .await
        .unwrap();
        let v6_first_ips = ips(&v6_first);
        assert!(v6_first_ips[0].contains(':') && !v6_first_ips[1].contains(':'));
        assert_eq!(v6_first["spec"]["clusterIP"], v6_first_ips[0].as_str());

        // SingleStack by default, on the first family.
        let single = create(&st, json!({"name": "single", "ports": [{"port": 80}]}))
            .await
            .unwrap();
        assert_eq!(single["spec"]["ipFamilyPolicy"], "SingleStack");
        let primary = ips(&single).remove(0);
        assert!(!primary.contains(':'));

        let up = update(&st, "single", |s| {
            s["spec"]["ipFamilyPolicy"] = json!("PreferDualStack")
        })
        .await
        .unwrap();
        let up_ips = ips(&up);
        assert_eq!(up_ips[0], primary);
        let secondary = up_ips[1].clone();
        assert!(secondary.contains(':'));
        assert_eq!(
            keys(storage)
                .await
                .get(&ip_key(&secondary))
                .map(String::as_str),
            Some("default/single")
        );

        let down = update(&st, "single", |s| {
            s["spec"]["ipFamilyPolicy"] = json!("SingleStack")
        })
        .await
        .unwrap();
        assert_eq!(ips(&down), vec![primary.clone()]);
        assert_eq!(down["spec"]["ipFamilies"], json!(["IPv4"]));
        let now = keys(storage).await;
        assert!(!now.contains_key(&ip_key(&secondary)));
        assert!(now.contains_key(&ip_key(&primary)));

        // The released address is free for anyone.
        let taker = create(
            &st,
            json!({"name": "taker", "ipFamilies": ["IPv6"], "clusterIP": secondary,
                   "ports": [{"port": 80}]}),
        )
        .await
        .unwrap();
        assert_eq!(ips(&taker), vec![secondary.clone()]);

        // Requested addresses of both families, with kube-apiserver's errors.
        let taken = create(
            &st,
            json!({"name": "dup", "ipFamilyPolicy": "RequireDualStack",
                   "clusterIPs": ["127.96.0.200", secondary], "clusterIP": "127.96.0.200",
                   "ports": [{"port": 80}]}),
        )
        .await
        .unwrap_err();
        assert_eq!(
            taken.message,
            format!("Service \"dup\" is invalid: spec.clusterIPs: Invalid value: [\"127.96.0.200\",\"{secondary}\"]: failed to allocate IP {secondary}: provided IP is already allocated")
        );
        let outside = create(
            &st,
            json!({"name": "outside", "ipFamilies": ["IPv6"], "clusterIP": "fd00:97::1",
                   "ports": [{"port": 80}]}),
        )
        .await
        .unwrap_err();
        assert_eq!(
            outside.message,
            "Service \"outside\" is invalid: spec.clusterIPs: Invalid value: [\"fd00:97::1\"]: failed to allocate IP fd00:97::1: the provided IP (fd00:97::1) is not in the valid range. The range of valid IPs is fd00:96::/108"
        );
        let order = create(
            &st,
            json!({"name": "order", "ipFamilyPolicy": "PreferDualStack",
                   "ipFamilies": ["IPv4", "IPv6"],
                   "clusterIPs": ["fd00:96::77", "127.96.0.77"], "clusterIP": "fd00:96::77",
                   "ports": [{"port": 80}]}),
        )
        .await
        .unwrap_err();
        assert_eq!(
            order.message,
            "Service \"order\" is invalid: [spec.clusterIPs[0]: Invalid value: \"fd00:96::77\": expected an IPv4 value as indicated by `ipFamilies[0]`, spec.clusterIPs[1]: Invalid value: \"127.96.0.77\": expected an IPv6 value as indicated by `ipFamilies[1]`]"
        );
        // ".200" was picked for "dup" before its IPv6 was refused: not kept.
        create(
            &st,
            json!({"name": "two-hundred", "clusterIP": "127.96.0.200", "ports": [{"port": 80}]}),
        )
        .await
        .unwrap();

        for name in ["both", "v6-first", "single", "taker", "two-hundred"] {
            delete(&st, name).await;
        }
        assert!(keys(storage).await.is_empty());
    }

    #[tokio::test]
    async fn single_stack_cluster_refuses_a_second_family() {
        let (_store, st) = single_server(SINGLE).await;
        let require = create(
            &st,
            json!({"name": "req", "ipFamilyPolicy": "RequireDualStack", "ports": [{"port": 80}]}),
        )
        .await
        .unwrap_err();
        assert_eq!(require.code.as_u16(), 422);
        assert_eq!(
            require.message,
            "Service \"req\" is invalid: spec.ipFamilyPolicy: Invalid value: \"RequireDualStack\": this cluster is not configured for dual-stack services"
        );
        let v6 = create(
            &st,
            json!({"name": "six", "ipFamilies": ["IPv6"], "ports": [{"port": 80}]}),
        )
        .await
        .unwrap_err();
        assert_eq!(
            v6.message,
            "Service \"six\" is invalid: spec.ipFamilies[0]: Invalid value: \"IPv6\": not configured on this cluster"
        );
        let prefer = create(
            &st,
            json!({"name": "prefer", "ipFamilyPolicy": "PreferDualStack", "ports": [{"port": 80}]}),
        )
        .await
        .unwrap();
        assert_eq!(ips(&prefer).len(), 1);
        assert_eq!(prefer["spec"]["ipFamilies"], json!(["IPv4"]));
    }

    #[tokio::test]
    async fn failed_races_and_dry_runs_leave_nothing_allocated() {
        let (store, st) = single_server(SINGLE).await;
        let storage = &store.storage;
        // Another API server took .99 a moment ago; this one's index (not
        // following here) has not seen it, so only the key's compare refuses.
        let foreign = Txn::default()
            .when(Compare::absent(ip_key("127.96.0.99")))
            .put(ip_key("127.96.0.99"), owner_value("default/elsewhere"));
        assert!(matches!(
            storage.txn(foreign).await.unwrap(),
            TxnResult::Committed(_)
        ));
        let lost = create(
            &st,
            json!({"name": "lost", "type": "NodePort", "clusterIP": "127.96.0.99",
                   "ports": [{"port": 80, "nodePort": 30100}]}),
        )
        .await
        .unwrap_err();
        assert_eq!(lost.reason, "Conflict");
        assert_eq!(
            keys(storage).await,
            owned(&[(ip_key("127.96.0.99"), "default/elsewhere")])
        );
        // The port it had reserved is free again.
        let dry = create_with(
            &st,
            json!({"name": "dry", "type": "NodePort", "ports": [{"port": 80, "nodePort": 30100}]}),
            &Query::parse(Some("dryRun=All")),
        )
        .await
        .unwrap();
        assert_eq!(dry["spec"]["ports"][0]["nodePort"], 30100);
        let dry_ip = ips(&dry).remove(0);
        // A dry run stores nothing and keeps nothing.
        assert_eq!(keys(storage).await.len(), 1);
        create(
            &st,
            json!({"name": "real", "type": "NodePort", "clusterIP": dry_ip,
                   "ports": [{"port": 80, "nodePort": 30100}]}),
        )
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn the_index_follows_the_keys_other_api_servers_write() {
        let store = store();
        let storage = &store.storage;
        let a = api_server(storage, DUAL).await;
        let b = api_server(storage, DUAL).await;
        let following = b.allocators.follow(storage.clone());

        let web = create(
            &a,
            json!({"name": "web", "ipFamilyPolicy": "RequireDualStack", "type": "NodePort",
                   "ports": [{"port": 80, "nodePort": 30200}]}),
        )
        .await
        .unwrap();
        let web_ips: Vec<IpAddr> = ips(&web).iter().map(|ip| ip.parse().unwrap()).collect();
        let seen = |ip: IpAddr| {
            let snap = b.allocators.snapshot();
            snap.cluster_ips.iter().any(|al| al.is_allocated(&ip))
        };
        until("both of web's addresses in B's index", || {
            web_ips.iter().all(|ip| seen(*ip))
                && b.allocators.snapshot().node_ports.is_allocated(30200)
        })
        .await;
        // B refuses them from its index (a 422, not a lost race).
        let v6 = ips(&web).remove(1);
        let e = create(
            &b,
            json!({"name": "copy", "ipFamilies": ["IPv6"], "clusterIP": v6, "ports": [{"port": 80}]}),
        )
        .await
        .unwrap_err();
        assert!(
            e.message.contains("provided IP is already allocated"),
            "{}",
            e.message
        );

        delete(&a, "web").await;
        until("web's addresses freed in B's index", || {
            web_ips.iter().all(|ip| !seen(*ip))
        })
        .await;
        create(
            &b,
            json!({"name": "copy", "ipFamilies": ["IPv6"], "clusterIP": v6, "ports": [{"port": 80}]}),
        )
        .await
        .unwrap();
        following.abort();
    }
}
