//! Loading priority policies and hot-swapping them.
//!
//! A changed policy file (watched with `notify`) or SIGHUP recompiles the
//! module off the VRRP task, instantiates it, runs `init` and a self-test
//! call with synthetic input, and only then swaps it in on the policy
//! thread. A module that fails any step is rejected with a log line and the
//! old one keeps running. VRRP never waits for any of it.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Instant;

use holdfast_config::PolicyCfg;
use holdfast_policy::{PolicyEngine, PolicyError, PolicyInstance};
use holdfast_vrrp::InstanceId;
use tokio::sync::mpsc;
use tracing::{error, info};

use super::policy_worker::{PolicyRequest, PolicyWorker, StateBoard, self_test, state_query};
use crate::policies::{load, params_json};

/// One instance per using slot of a policy, initialised and self-tested.
fn instances_for(
    engine: &PolicyEngine,
    cfg: &PolicyCfg,
    slots: &[InstanceId],
    board: &StateBoard,
) -> Result<Vec<(InstanceId, PolicyInstance)>, PolicyError> {
    let loaded = load(engine, cfg, holdfast_policy::PolicyKind::Priority)?;
    if loaded.from_cache() {
        tracing::debug!(policy = %cfg.name, "precompiled module from the cache");
    }
    let instances = slots
        .iter()
        .map(|&slot| {
            let mut instance =
                PolicyInstance::new(loaded.clone(), params_json(cfg), Some(state_query(board)))?;
            self_test(&mut instance)?;
            Ok((slot, instance))
        })
        .collect::<Result<Vec<_>, PolicyError>>()?;
    // Proven: only now may its machine code enter the precompile cache.
    loaded.accept();
    Ok(instances)
}

/// Start-up: an instance for every slot whose policy loads.
pub(crate) fn load_all(
    engine: &PolicyEngine,
    cfgs: &[PolicyCfg],
    users: &BTreeMap<String, Vec<InstanceId>>,
    board: &StateBoard,
) -> HashMap<InstanceId, PolicyInstance> {
    let mut out = HashMap::new();
    for cfg in cfgs {
        let slots = users.get(&cfg.name).map(Vec::as_slice).unwrap_or_default();
        let started = Instant::now();
        match instances_for(engine, cfg, slots, board) {
            Ok(list) => {
                let hash = list
                    .first()
                    .map(|(_, i)| i.policy().hash().to_string())
                    .unwrap_or_default();
                info!(policy = %cfg.name, path = %cfg.path.display(), %hash, ms = started.elapsed().as_millis() as u64, "policy loaded");
                out.extend(list);
            }
            Err(e) => {
                error!(policy = %cfg.name, kind = %e.kind, error = %e.message, "policy not loaded; its instances use static tracking")
            }
        }
    }
    out
}

/// Starts the reload task; send `()` on the returned channel to reload every policy.
pub(crate) fn spawn(
    engine: PolicyEngine,
    policies: BTreeMap<String, PolicyCfg>,
    users: BTreeMap<String, Vec<InstanceId>>,
    worker: PolicyWorker,
    reevaluate: mpsc::UnboundedSender<()>,
    board: StateBoard,
) -> mpsc::UnboundedSender<()> {
    let (reload_tx, mut reload_rx) = mpsc::unbounded_channel::<()>();
    let (changed_tx, mut changed_rx) = mpsc::unbounded_channel::<PathBuf>();
    let paths: Vec<PathBuf> = users
        .keys()
        .filter_map(|n| policies.get(n))
        .map(|p| p.path.clone())
        .collect();
    let watcher = crate::policies::watch(paths, changed_tx);
    tokio::spawn(async move {
        let _watcher = watcher;
        loop {
            let names: Vec<String> = tokio::select! {
                r = reload_rx.recv() => match r {
                    Some(()) => users.keys().cloned().collect(),
                    None => return,
                },
                Some(path) = changed_rx.recv() => {
                    // Take every change already queued: one reload each.
                    let mut changed = vec![path];
                    while let Ok(p) = changed_rx.try_recv() {
                        changed.push(p);
                    }
                    users.keys().filter(|n| policies.get(*n).is_some_and(|c| changed.iter().any(|p| p == &c.path))).cloned().collect()
                }
            };
            for name in names {
                let (Some(cfg), Some(slots)) =
                    (policies.get(&name).cloned(), users.get(&name).cloned())
                else {
                    continue;
                };
                let engine = engine.clone();
                let board = board.clone();
                let started = Instant::now();
                let built = tokio::task::spawn_blocking(move || {
                    instances_for(&engine, &cfg, &slots, &board)
                })
                .await;
                match built {
                    Ok(Ok(list)) => {
                        let hash = list
                            .first()
                            .map(|(_, i)| i.policy().hash().to_string())
                            .unwrap_or_default();
                        for (slot, instance) in list {
                            worker.send(PolicyRequest::Swap {
                                slot,
                                instance: Box::new(instance),
                            });
                        }
                        info!(policy = %name, %hash, ms = started.elapsed().as_millis() as u64, "new policy version ready");
                        let _ = reevaluate.send(());
                    }
                    Ok(Err(e)) => {
                        error!(policy = %name, kind = %e.kind, error = %e.message, "new policy version rejected; the running one stays")
                    }
                    Err(e) => {
                        error!(policy = %name, error = %e, "policy reload failed; the running one stays")
                    }
                }
            }
        }
    });
    reload_tx
}
