//! etcd flags (`--etcd-servers`, kube-apiserver's names) and `mkube migrate`.

use clap::Args;
use std::path::PathBuf;

/// Where objects are stored when not in the data dir.
#[derive(Args, Clone, Debug, Default)]
pub struct EtcdArgs {
    /// etcd client URLs (comma-separated): store objects in etcd instead of the data dir.
    #[arg(long, env = "MKUBE_ETCD_SERVERS")]
    pub etcd_servers: Option<String>,
    /// Prefix of every key mkube writes in etcd.
    #[arg(long, default_value = "/registry")]
    pub etcd_prefix: String,
    /// CA bundle that signed the etcd servers' certificates.
    #[arg(long)]
    pub etcd_cafile: Option<PathBuf>,
    /// Client certificate for etcd (with --etcd-keyfile).
    #[arg(long)]
    pub etcd_certfile: Option<PathBuf>,
    /// Client key for etcd (with --etcd-certfile).
    #[arg(long)]
    pub etcd_keyfile: Option<PathBuf>,
}

impl EtcdArgs {
    /// The etcd options, or None for the embedded store.
    pub fn options(&self) -> Option<apiserver::storage::EtcdOptions> {
        let servers = self
            .etcd_servers
            .as_deref()
            .filter(|s| !s.trim().is_empty())?;
        let mut opts = apiserver::storage::EtcdOptions::new(
            apiserver::storage::EtcdOptions::parse_servers(servers),
        );
        opts.prefix = self.etcd_prefix.clone();
        opts.ca_file = self.etcd_cafile.clone();
        opts.cert_file = self.etcd_certfile.clone();
        opts.key_file = self.etcd_keyfile.clone();
        Some(opts)
    }
}

/// `mkube migrate`: copy every object between a data dir (sled) and etcd.
#[derive(Args, Clone, Debug)]
pub struct MigrateArgs {
    /// Copy from the sled store of this data dir...
    #[arg(
        long,
        conflicts_with = "from_etcd",
        required_unless_present = "from_etcd"
    )]
    pub from_data_dir: Option<PathBuf>,
    /// ...or from etcd (client URLs, comma-separated).
    #[arg(long)]
    pub from_etcd: Option<String>,
    /// Copy into the sled store of this data dir (must hold no objects)...
    #[arg(long, conflicts_with = "to_etcd", required_unless_present = "to_etcd")]
    pub to_data_dir: Option<PathBuf>,
    /// ...or into etcd (must hold no objects under the prefix).
    #[arg(long)]
    pub to_etcd: Option<String>,
    /// Prefix and TLS files for the etcd side (`--etcd-servers` itself is ignored).
    #[command(flatten)]
    pub etcd: EtcdArgs,
}

impl MigrateArgs {
    async fn open(
        &self,
        data_dir: &Option<PathBuf>,
        etcd: &Option<String>,
    ) -> anyhow::Result<apiserver::storage::DynStorage> {
        use apiserver::storage::{EtcdStore, SledStore};
        match (data_dir, etcd) {
            (Some(dir), _) => Ok(SledStore::open(&dir.join("db"))?),
            (None, Some(servers)) => {
                let args = EtcdArgs {
                    etcd_servers: Some(servers.clone()),
                    ..self.etcd.clone()
                };
                let opts = args
                    .options()
                    .ok_or_else(|| anyhow::anyhow!("empty etcd server list"))?;
                Ok(EtcdStore::connect(&opts).await?)
            }
            (None, None) => anyhow::bail!("a source and a target are required"),
        }
    }
}

pub fn run_migrate(args: MigrateArgs) -> anyhow::Result<std::process::ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        if args.from_data_dir.is_some() && args.from_data_dir == args.to_data_dir {
            anyhow::bail!("source and target are the same data dir");
        }
        let from = args.open(&args.from_data_dir, &args.from_etcd).await?;
        let to = args.open(&args.to_data_dir, &args.to_etcd).await?;
        let report = apiserver::storage::migrate::copy_all(from.as_ref(), to.as_ref()).await?;
        println!(
            "migrated {} objects in {} transactions (in their original order)",
            report.objects, report.transactions
        );
        Ok(std::process::ExitCode::SUCCESS)
    })
}
