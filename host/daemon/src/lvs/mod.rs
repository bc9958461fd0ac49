//! The LVS director: health checks decide which real servers serve, weight
//! policies set their weights, and a reconciler converges the kernel's IPVS
//! table to that — on every change, and on a periodic dump that reverts
//! hand-made changes.
//!
//! ```text
//!  checkers (one task per check) ──events──▶ ┌──────────┐ ──ops──▶ kernel IPVS
//!  policy thread (health, weight) ◀──asks──▶ │ director │ ◀─dump── (every ipvs-reconcile-interval)
//!                                            └──────────┘
//! ```

mod desired;
mod director;
mod policy;

use std::collections::HashMap;

use holdfast_config::Config;
use holdfast_ipvs::{IpvsError, IpvsHandle};
use holdfast_policy::{PolicyInstance, PolicyKind};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tracing::{error, info};

use crate::policies;

/// The running director.
#[derive(Debug)]
pub(crate) struct Lvs {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Lvs {
    /// Stops checking; removes our services if `lvs-flush-on-stop` is set.
    pub(crate) async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// Instances of the health and weight policies, per real server.
type PolicySets = (
    HashMap<policy::RsId, PolicyInstance>,
    HashMap<policy::RsId, PolicyInstance>,
);

fn load_policies(config: &Config) -> PolicySets {
    let mut health = HashMap::new();
    let mut weight = HashMap::new();
    let wanted = config.virtual_servers.iter().any(|vs| {
        vs.weight_policy.is_some() || vs.real_servers.iter().any(|r| r.health_policy.is_some())
    });
    if !wanted {
        return (health, weight);
    }
    let engine = match policies::engine(&config.global.policy_cache) {
        Ok(e) => e,
        Err(e) => {
            error!(error = %e, "policy engine unavailable; real servers use their checks and weights");
            return (health, weight);
        }
    };
    let mut loaded = HashMap::new();
    let mut get = |name: &str, kind: PolicyKind| {
        loaded
            .entry((name.to_string(), kind))
            .or_insert_with(|| {
                let cfg = config.policies.get(name)?;
                match policies::load(&engine, cfg, kind) {
                    Ok(p) => {
                        info!(policy = %name, %kind, hash = %p.hash(), cached = p.from_cache(), "policy loaded");
                        Some((p, policies::params_json(cfg)))
                    }
                    Err(e) => {
                        error!(policy = %name, kind = %e.kind, error = %e.message, "policy not loaded; its fallback applies");
                        None
                    }
                }
            })
            .clone()
    };
    for (v, vs) in config.virtual_servers.iter().enumerate() {
        for (r, rs) in vs.real_servers.iter().enumerate() {
            let mut make = |name: &str, kind: PolicyKind, into: &mut HashMap<_, _>| {
                if let Some((p, params)) = get(name, kind) {
                    match PolicyInstance::new(p, params, None) {
                        Ok(i) => {
                            into.insert((v, r), i);
                        }
                        Err(e) => {
                            error!(policy = %name, kind = %e.kind, error = %e.message, "policy init failed; its fallback applies")
                        }
                    }
                }
            };
            if let Some(name) = &rs.health_policy {
                make(name, PolicyKind::Health, &mut health);
            }
            if let Some(name) = &vs.weight_policy {
                make(name, PolicyKind::Weight, &mut weight);
            }
        }
    }
    (health, weight)
}

/// Connects to IPVS, starts the checks, and converges the table.
pub(crate) async fn start(config: &Config) -> Result<Lvs, IpvsError> {
    let ipvs = IpvsHandle::connect()?;
    let info = ipvs.info().await?;
    info!(
        version = %format!("{}.{}.{}", info.version.0, info.version.1, info.version.2),
        conn_tab_size = info.conn_tab_size,
        virtual_servers = config.virtual_servers.len(),
        "IPVS ready"
    );
    // Policies compile in the background: the table converges at once with
    // the checks and configured weights, and policies take over when ready.
    let (worker, answers) = policy::Worker::spawn();
    let cfg = config.clone();
    let installer = worker.clone();
    tokio::task::spawn_blocking(move || {
        let (health, weight) = load_policies(&cfg);
        if !health.is_empty() || !weight.is_empty() {
            installer.ask(policy::Ask::Install(health, weight));
        }
    });
    let mut director = director::Director::new(config, ipvs, worker);
    let events = director.start_checks(config);
    let (stop, stop_rx) = oneshot::channel();
    let flush = config.global.lvs_flush_on_stop;
    let interval = config.global.ipvs_reconcile_interval;
    let task = tokio::spawn(async move {
        director.run(events, answers, stop_rx, interval).await;
        if flush {
            director.remove_ours().await;
        }
    });
    Ok(Lvs { stop, task })
}
