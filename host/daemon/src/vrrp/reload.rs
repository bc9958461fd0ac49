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

/// What the priority-policy loader is asked to do.
#[derive(Debug)]
pub(crate) enum PolicyReload {
    /// Load every policy again for all its users (SIGHUP).
    All,
    /// A configuration reload: the policies and their users now, and the
    /// instances that need a module (new users; the users of a policy
    /// whose settings changed are added by the loader).
    Config {
        policies: BTreeMap<String, PolicyCfg>,
        users: BTreeMap<String, Vec<InstanceId>>,
        load: Vec<(String, InstanceId)>,
    },
}

/// Starts the loader task; see [`PolicyReload`].
pub(crate) fn spawn(
    engine: PolicyEngine,
    policies: BTreeMap<String, PolicyCfg>,
    users: BTreeMap<String, Vec<InstanceId>>,
    worker: PolicyWorker,
    reevaluate: mpsc::UnboundedSender<()>,
    board: StateBoard,
) -> mpsc::UnboundedSender<PolicyReload> {
    let (reload_tx, mut reload_rx) = mpsc::unbounded_channel::<PolicyReload>();
    tokio::spawn(async move {
        let (mut policies, mut users) = (policies, users);
        let (changed_tx, mut changed_rx) = mpsc::unbounded_channel::<PathBuf>();
        let watched = |policies: &BTreeMap<String, PolicyCfg>,
                       users: &BTreeMap<String, Vec<InstanceId>>|
         -> Vec<PathBuf> {
            users
                .keys()
                .filter_map(|n| policies.get(n))
                .map(|p| p.path.clone())
                .collect()
        };
        let mut paths = watched(&policies, &users);
        let mut _watcher = crate::policies::watch(paths.clone(), changed_tx.clone());
        loop {
            // A reload that changed which files are used watches those.
            let now_paths = watched(&policies, &users);
            if now_paths != paths {
                paths = now_paths;
                _watcher = crate::policies::watch(paths.clone(), changed_tx.clone());
            }
            // What to load: (policy, the instances that get it).
            let work: Vec<(String, Vec<InstanceId>)> = tokio::select! {
                r = reload_rx.recv() => match r {
                    None => return,
                    Some(PolicyReload::All) => users.iter().map(|(n, ids)| (n.clone(), ids.clone())).collect(),
                    Some(PolicyReload::Config { policies: p, users: u, load }) => {
                        // A policy whose settings changed re-inits for all its users.
                        let changed: Vec<String> = u
                            .keys()
                            .filter(|n| policies.contains_key(*n) && policies.get(*n) != p.get(*n))
                            .cloned()
                            .collect();
                        let mut work: BTreeMap<String, Vec<InstanceId>> = BTreeMap::new();
                        for name in changed {
                            work.insert(name.clone(), u.get(&name).cloned().unwrap_or_default());
                        }
                        for (name, id) in load {
                            let ids = work.entry(name).or_default();
                            if !ids.contains(&id) {
                                ids.push(id);
                            }
                        }
                        let gone: Vec<InstanceId> = users
                            .values()
                            .flatten()
                            .filter(|id| !u.values().flatten().any(|n| n == *id))
                            .copied()
                            .collect();
                        if !gone.is_empty() {
                            worker.send(PolicyRequest::Forget(gone));
                        }
                        (policies, users) = (p, u);
                        work.into_iter().collect()
                    }
                },
                Some(path) = changed_rx.recv() => {
                    // Take every change already queued: one reload each.
                    let mut changed = vec![path];
                    while let Ok(p) = changed_rx.try_recv() {
                        changed.push(p);
                    }
                    users
                        .iter()
                        .filter(|(n, _)| policies.get(*n).is_some_and(|c| changed.iter().any(|p| p == &c.path)))
                        .map(|(n, ids)| (n.clone(), ids.clone()))
                        .collect()
                }
            };
            for (name, slots) in work {
                let Some(cfg) = policies.get(&name).cloned() else {
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
