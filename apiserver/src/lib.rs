//! mkube's API server: a kubectl-compatible REST API over an etcd-shaped
//! storage trait (sled embedded by default).

pub mod bootstrap;
pub mod config;
pub mod discovery;
pub mod metrics;
pub mod openapi;
pub mod patch;
pub mod registry;
pub mod rest;
pub mod selectors;
pub mod server;
pub mod service_account_token;
pub mod storage;
pub mod table;
#[cfg(test)]
mod test_support;
pub mod tls;
pub mod validation;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use config::ApiConfig;
pub use server::Readiness;

/// A running API server.
pub struct ApiServer {
    pub state: rest::SharedState,
    pub readiness: Readiness,
    /// The unauthenticated router, for in-process clients (a tower service).
    pub router: axum::Router,
    pub credentials: tls::Credentials,
    pub addr: SocketAddr,
    pub kubeconfig: PathBuf,
    /// The embedded store, when objects live in the data dir (not in etcd).
    sled: Option<Arc<storage::SledStore>>,
}

/// Opens the store the configuration selects: etcd when `--etcd-servers` is
/// given, otherwise sled under the data dir.
async fn open_storage(
    config: &ApiConfig,
    data_dir: &Path,
) -> anyhow::Result<(storage::DynStorage, Option<Arc<storage::SledStore>>)> {
    match &config.etcd {
        Some(etcd) => Ok((storage::EtcdStore::connect(etcd).await?, None)),
        None => {
            let sled = storage::SledStore::open(&data_dir.join("db"))?;
            Ok((sled.clone(), Some(sled)))
        }
    }
}

impl ApiServer {
    /// Opens storage, creates the system objects, binds the port and starts
    /// serving. Readiness stays false until the caller marks it (after the
    /// in-process components have synced).
    pub async fn start(
        config: ApiConfig,
        data_dir: &Path,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<ApiServer> {
        std::fs::create_dir_all(data_dir)?;
        let (storage, sled) = open_storage(&config, data_dir).await?;
        let mut ips = vec![
            config.advertise_address,
            "127.0.0.1".parse()?,
            "::1".parse()?,
        ];
        ips.dedup();
        let credentials = tls::load_or_create(data_dir, &ips)?;
        let state = Arc::new(rest::ApiState {
            store: rest::object_store::ObjectStore { storage },
            config: config.clone(),
            agent_token: Some(credentials.token.clone()),
            allocators: registry::service::ranges::Allocators::new((&config).into()),
            namespaces: Default::default(),
            token_signer: Some(Arc::new(
                service_account_token::TokenSigner::load_or_create(data_dir)?,
            )),
        });
        state.allocators.rebuild(&state.store.storage).await?;
        state.allocators.follow(state.store.storage.clone());
        state.namespaces.follow(state.store.storage.clone());
        bootstrap::ensure_system_objects(&state).await?;
        let readiness = Readiness::default();
        let router = server::router(state.clone(), readiness.clone());
        let addr = SocketAddr::new(config.advertise_address, config.port);
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| anyhow::anyhow!("binding {addr}: {e}"))?;
        let addr = listener.local_addr()?;
        let kubeconfig = data_dir.join("kubeconfig");
        tls::write_kubeconfig(
            &kubeconfig,
            &format!("https://{addr}"),
            &credentials,
            "mkube",
        )?;
        let app = server::authenticated(router.clone(), &credentials.token);
        let tls_config = tls::server_config(&credentials)?;
        tokio::spawn(server::serve_tls(listener, tls_config, app, shutdown));
        Ok(ApiServer {
            state,
            readiness,
            router,
            credentials,
            addr,
            kubeconfig,
            sled,
        })
    }

    /// Flushes storage; call before exiting. (etcd acknowledged every write
    /// durably already.)
    pub async fn close(&self) -> anyhow::Result<()> {
        match &self.sled {
            Some(sled) => sled.flush().await,
            None => Ok(()),
        }
    }
}
