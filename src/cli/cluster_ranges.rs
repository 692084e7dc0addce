//! Which address ranges `mkube up` uses, so that a second cluster on the
//! machine never fights the first over them.
//!
//! A cluster keeps its ranges for life (its Services hold ClusterIPs from
//! them), so the ranges are recorded in the data dir at the first start and
//! taken from there afterwards when no range flag is given. A new cluster
//! given no range flags takes the defaults, or, when another running cluster
//! holds them, the first free set of alternative ranges, and says which (as
//! kind picks a free port). Ranges given as flags are taken as they are; if a
//! running cluster holds them, start-up stops and names the flags to change.

use super::range_claims::{self, Claim, Conflict, Ranges};
use super::UpArgs;
use anyhow::Context;
use std::path::Path;

/// Which range flags were given on the command line.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExplicitRanges {
    pub service_cidr: bool,
    pub cluster_cidr: bool,
    pub lb_ip_range: bool,
    pub node_ip: bool,
}

impl ExplicitRanges {
    fn any(&self) -> bool {
        self.service_cidr || self.cluster_cidr || self.lb_ip_range || self.node_ip
    }
}

const RECORD: &str = "ranges.json";

/// Alternative range sets after the defaults: set k (1..=31) uses
/// 127.(96+k).0.0/16 for Services, 127.(64+k).0.0/16 for pods,
/// 127.(32+k).0.0/16 for load balancers and node IP 127.0.(k+1).1, none of
/// which overlaps the defaults (127.96/16, 127.244/16, 127.240/16,
/// 127.0.0.1) or another set.
const ALTERNATIVES: u8 = 31;

fn alternative(k: u8, base: &Ranges) -> Ranges {
    let net = |second: u8| {
        format!("127.{second}.0.0/16")
            .parse()
            .expect("a valid CIDR")
    };
    Ranges {
        service_cidrs: vec![net(96 + k)],
        cluster_cidr: net(64 + k),
        lb_ip_range: net(32 + k),
        node_ip: std::net::IpAddr::from([127, 0, k + 1, 1]),
        node_ports: base.node_ports,
    }
}

/// Settles the ranges in `args` and claims them for this process.
pub fn settle(
    args: &mut UpArgs,
    explicit: ExplicitRanges,
    data_dir: &Path,
) -> anyhow::Result<Claim> {
    let dir = range_claims::default_dir();
    let record = data_dir.join(RECORD);
    let stored: Option<Ranges> = std::fs::read(&record)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let given = ranges_of(args)?;
    let (ranges, claim) = match stored {
        Some(stored) if !explicit.any() => (
            stored.clone(),
            claim_or_explain(&dir, &stored, data_dir, true)?,
        ),
        _ if explicit.any() || is_existing_cluster(data_dir) => (
            given.clone(),
            claim_or_explain(&dir, &given, data_dir, false)?,
        ),
        _ => first_free(&dir, &given, data_dir)?,
    };
    apply(args, &ranges);
    std::fs::create_dir_all(data_dir)?;
    std::fs::write(&record, serde_json::to_vec_pretty(&ranges)?)
        .with_context(|| format!("recording the cluster's ranges in {}", record.display()))?;
    Ok(claim)
}

/// A data dir that already holds a cluster (made before ranges were
/// recorded): its objects use the ranges it is started with.
fn is_existing_cluster(data_dir: &Path) -> bool {
    data_dir.join("pki").is_dir()
}

fn claim_or_explain(
    dir: &Path,
    ranges: &Ranges,
    data_dir: &Path,
    recorded: bool,
) -> anyhow::Result<Claim> {
    match range_claims::claim(dir, ranges, data_dir)? {
        Ok(claim) => Ok(claim),
        Err(conflicts) => Err(explain(&conflicts, recorded)),
    }
}

fn explain(conflicts: &[Conflict], recorded: bool) -> anyhow::Error {
    let lines: Vec<String> = conflicts.iter().map(|c| format!("  {c}")).collect();
    let origin = if recorded {
        format!("the ranges this cluster recorded in its data dir ({RECORD}) are in use")
    } else {
        "the address ranges this cluster would bind are in use".to_string()
    };
    anyhow::anyhow!(
        "{origin}:\n{}\nStop the other cluster (mkube down --data-dir DIR), or give this one \
         ranges of its own: --service-cidr, --cluster-cidr, --lb-ip-range, --node-ip.",
        lines.join("\n")
    )
}

/// The defaults if free, else the first free alternative set.
fn first_free(dir: &Path, defaults: &Ranges, data_dir: &Path) -> anyhow::Result<(Ranges, Claim)> {
    let mut first_conflicts: Option<Vec<Conflict>> = None;
    for k in 0..=ALTERNATIVES {
        let candidate = if k == 0 {
            defaults.clone()
        } else {
            alternative(k, defaults)
        };
        match range_claims::claim(dir, &candidate, data_dir)? {
            Ok(claim) => {
                if let Some(conflicts) = first_conflicts {
                    announce(&conflicts, &candidate);
                }
                return Ok((candidate, claim));
            }
            Err(conflicts) => {
                first_conflicts.get_or_insert(conflicts);
            }
        }
    }
    Err(explain(&first_conflicts.unwrap_or_default(), false))
}

fn announce(conflicts: &[Conflict], chosen: &Ranges) {
    let holder = conflicts
        .first()
        .map(|c| {
            format!(
                " (by the cluster in {}, pid {})",
                c.data_dir.display(),
                c.pid
            )
        })
        .unwrap_or_default();
    let svc: Vec<String> = chosen
        .service_cidrs
        .iter()
        .map(ToString::to_string)
        .collect();
    println!(
        "mkube: the default address ranges are in use{holder}; this cluster uses \
         --service-cidr {} --cluster-cidr {} --lb-ip-range {} --node-ip {}",
        svc.join(","),
        chosen.cluster_cidr,
        chosen.lb_ip_range,
        chosen.node_ip
    );
}

/// The ranges the flags give, parsed and checked as the API server's
/// configuration is.
fn ranges_of(args: &UpArgs) -> anyhow::Result<Ranges> {
    let api = super::up::api_config(&args.server)?;
    Ok(Ranges {
        service_cidrs: api.service_cidrs,
        cluster_cidr: api.cluster_cidr,
        lb_ip_range: args
            .node
            .lb_ip_range
            .0
            .parse()
            .context("invalid --lb-ip-range")?,
        node_ip: args.node.node_ip,
        node_ports: (*api.node_port_range.start(), *api.node_port_range.end()),
    })
}

fn apply(args: &mut UpArgs, r: &Ranges) {
    use super::ipnet_arg::Cidr;
    args.server.service_cidr = r
        .service_cidrs
        .iter()
        .map(|c| Cidr(c.to_string()))
        .collect();
    args.server.cluster_cidr = Cidr(r.cluster_cidr.to_string());
    args.node.lb_ip_range = Cidr(r.lb_ip_range.to_string());
    args.node.node_ip = r.node_ip;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alternatives_overlap_neither_the_defaults_nor_each_other() {
        let defaults = Ranges {
            service_cidrs: vec!["127.96.0.0/16".parse().unwrap()],
            cluster_cidr: "127.244.0.0/16".parse().unwrap(),
            lb_ip_range: "127.240.0.0/16".parse().unwrap(),
            node_ip: "127.0.0.1".parse().unwrap(),
            node_ports: (30000, 32767),
        };
        let dir = tempfile::tempdir().unwrap();
        // Claiming every set in turn succeeds only if none overlaps another.
        let mut held = vec![range_claims::claim(dir.path(), &defaults, Path::new("/0"))
            .unwrap()
            .unwrap()];
        for k in 1..=ALTERNATIVES {
            let alt = alternative(k, &defaults);
            let claim = range_claims::claim(dir.path(), &alt, Path::new("/k")).unwrap();
            held.push(claim.unwrap_or_else(|c| panic!("set {k}: {c:?}")));
        }
    }
}
