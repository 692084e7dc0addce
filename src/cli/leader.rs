//! Leader election for `mkube controllers` on a coordination.k8s.io/v1 Lease
//! (kube-controller-manager's `--leader-elect`): several processes run, the
//! one holding the Lease runs the controllers and the scheduler, the others
//! wait and take over once the holder stops renewing (within the lease
//! duration). The Lease is handled by the `kube-lease-manager` crate.

use anyhow::Context;
use clap::Args;
use kube_lease_manager::LeaseManagerBuilder;
use std::future::Future;

#[derive(Args, Clone, Debug)]
pub struct LeaderElectionArgs {
    /// Run only while holding the leader Lease, so several processes can run.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub leader_elect: bool,
    /// Seconds a leader holds the Lease without renewing it; a standby takes over after it.
    #[arg(long, default_value_t = 15)]
    pub leader_elect_lease_duration: u64,
    /// Name of the Lease.
    #[arg(long, default_value = "mkube-controllers")]
    pub leader_elect_resource_name: String,
    /// Namespace of the Lease.
    #[arg(long, default_value = "kube-system")]
    pub leader_elect_resource_namespace: String,
}

/// kube's identity format: host name, an underscore, a unique suffix.
fn identity() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "mkube".into());
    format!("{host}_{}", uuid::Uuid::new_v4())
}

/// The renew margin: a leader renews this long before its Lease expires.
fn grace(duration: u64) -> u64 {
    (duration / 3).clamp(1, duration.saturating_sub(1).max(1))
}

/// Runs `start` while this process leads and drops what it returned when it
/// stops leading, until `stop` completes (then the Lease is released, so a
/// standby takes over at once).
pub async fn run_while_leader<H, F, Fut>(
    client: kube::Client,
    args: &LeaderElectionArgs,
    mut start: F,
    stop: impl Future<Output = ()>,
) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<H>>,
{
    let duration = args.leader_elect_lease_duration.max(2);
    let id = identity();
    let manager = LeaseManagerBuilder::new(client, &args.leader_elect_resource_name)
        .with_namespace(&args.leader_elect_resource_namespace)
        .with_identity(&id)
        .with_duration(duration)
        .with_grace(grace(duration))
        .build()
        .await
        .context("setting up the leader-election Lease")?;
    let (mut leading, task) = manager.watch().await;
    tracing::info!(identity = %id, lease = %args.leader_elect_resource_name, "waiting to lead");
    let mut running: Option<H> = None;
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            changed = leading.changed() => {
                changed.context("leader election stopped")?;
                let leader = *leading.borrow_and_update();
                if leader && running.is_none() {
                    tracing::info!(identity = %id, "became leader; starting");
                    running = Some(start().await?);
                } else if !leader && running.take().is_some() {
                    tracing::warn!(identity = %id, "lost the lease; stopped");
                }
            }
        }
    }
    drop(running);
    drop(leading);
    // Closing the channel makes the manager release the Lease.
    if let Ok(Err(e)) = task.await {
        tracing::warn!(error = %e, "releasing the leader Lease");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renew_margin_stays_inside_the_lease() {
        assert_eq!(grace(15), 5);
        assert_eq!(grace(3), 1);
        assert_eq!(grace(2), 1);
    }
}
