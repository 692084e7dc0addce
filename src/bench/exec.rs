//! The exec benchmark: round trips of `exec true` into a running busybox
//! pod through the API server (HTTPS, WebSocket upgrade, the agent's
//! upgrade, process spawn, exit status) from a real client (kube-rs), next to
//! spawning `true` directly on the host in the same run.

use super::cluster::BenchCluster;
use super::stats::{ms, Summary};
use anyhow::Context;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, AttachParams, PostParams};
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct ExecBenchArgs {
    /// Exec round trips to time.
    #[arg(long, default_value_t = 300)]
    pub execs: usize,
}

pub async fn run(args: ExecBenchArgs) -> anyhow::Result<()> {
    let dir = super::cluster::tempdir()?;
    let mut cluster = BenchCluster::new(&dir)?;
    cluster.start().await?;
    let client = cluster.client().await?;
    let pods: Api<Pod> = Api::namespaced(client, "default");
    pods.create(&PostParams::default(), &sleeper()).await?;
    wait_running(&pods, "bench").await?;

    let mut direct = Vec::with_capacity(args.execs);
    for _ in 0..args.execs {
        let t = Instant::now();
        let status = tokio::process::Command::new("true").status().await?;
        anyhow::ensure!(status.success(), "true failed on the host");
        direct.push(t.elapsed());
    }
    let mut through = Vec::with_capacity(args.execs);
    for _ in 0..args.execs {
        let t = Instant::now();
        exec_true(&pods).await?;
        through.push(t.elapsed());
    }
    let (direct, through) = (Summary::of(direct), Summary::of(through));
    println!("spawn `true` on the host (baseline): {direct}");
    println!("exec `true` through mkube (kube-rs, WebSocket v5): {through}");
    println!(
        "added by the API server + agent path: p50 {:.2} ms, p99 {:.2} ms",
        ms(through.p50.saturating_sub(direct.p50)),
        ms(through.p99.saturating_sub(direct.p99))
    );
    cluster.stop();
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

async fn exec_true(pods: &Api<Pod>) -> anyhow::Result<()> {
    let params = AttachParams::default().stderr(false);
    let mut proc = pods.exec("bench", ["true"], &params).await?;
    let status = proc
        .take_status()
        .context("no status channel")?
        .await
        .context("no exit status")?;
    anyhow::ensure!(
        status.status.as_deref() == Some("Success"),
        "exec failed: {status:?}"
    );
    proc.join().await?;
    Ok(())
}

fn sleeper() -> Pod {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": "bench"},
        "spec": {"containers": [{
            "name": "bench",
            "image": "busybox",
            "command": ["sleep", "3600"],
        }]},
    }))
    .unwrap_or_default()
}

async fn wait_running(pods: &Api<Pod>, name: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let pod = pods.get(name).await?;
        let running = pod.status.and_then(|s| s.phase).as_deref() == Some("Running");
        if running {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "pod {name} not running after 60 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
