//! Health and weight policies for real servers: compiled off the director,
//! self-tested, installed on the policy thread, and reloaded — without a
//! restart — when their files change or on SIGHUP. A module that fails any
//! step is rejected and the running one stays.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use holdfast_config::Config;
use holdfast_policy::{
    PolicyEngine, PolicyInstance, PolicyKind, ProbeKind, ProbeResult, WeightInput,
};
use tokio::sync::mpsc;
use tracing::{error, info, warn};

use super::policy::{Ask, RsId, Worker};
use crate::policies;

/// Instances per real server: `(health, weight)`.
type PolicySets = (HashMap<RsId, PolicyInstance>, HashMap<RsId, PolicyInstance>);

/// A synthetic call a new module must answer before it is installed.
fn self_test(
    instance: &mut PolicyInstance,
    kind: PolicyKind,
) -> Result<(), holdfast_policy::PolicyError> {
    match kind {
        PolicyKind::Health => instance
            .verdict(&ProbeResult {
                kind: ProbeKind::Tcp,
                target: "192.0.2.1:80".into(),
                success: true,
                latency_us: Some(1000),
                status_code: None,
                body_snippet: None,
                body_digest: None,
                error: None,
                consecutive_successes: 1,
                consecutive_failures: 0,
            })
            .map(drop),
        _ => instance
            .weight(&WeightInput {
                real_server: "192.0.2.1:80".into(),
                base_weight: 1,
                healthy: true,
                latency_history_us: vec![1000],
                active_connections: 0,
                inactive_connections: 0,
            })
            .map(drop),
    }
}

/// Which real servers get new instances.
#[derive(Debug, Clone)]
enum Wanted {
    /// Every one (start-up, SIGHUP).
    All,
    /// Those using these policies (their files or settings changed).
    Policies(Vec<String>),
    /// These real servers (a reload gave them another policy, or added
    /// them), and those using these policies.
    Servers(Vec<RsId>, Vec<String>),
}

impl Wanted {
    fn wants(&self, rs: RsId, policy: &str) -> bool {
        match self {
            Wanted::All => true,
            Wanted::Policies(names) => names.iter().any(|n| n == policy),
            Wanted::Servers(ids, names) => ids.contains(&rs) || names.iter().any(|n| n == policy),
        }
    }
}

/// Loads the health and weight policies of the real servers `wanted` names.
fn load(engine: &PolicyEngine, config: &Config, wanted: &Wanted) -> PolicySets {
    let mut health = HashMap::new();
    let mut weight = HashMap::new();
    let mut loaded = HashMap::new();
    let mut get = |name: &str, kind: PolicyKind| {
        loaded
            .entry((name.to_string(), kind))
            .or_insert_with(|| {
                let cfg = config.policies.get(name)?;
                let started = Instant::now();
                match policies::load(engine, cfg, kind) {
                    Ok(p) => {
                        info!(policy = %name, %kind, hash = %p.hash(), cached = p.from_cache(), ms = started.elapsed().as_millis() as u64, "policy loaded");
                        Some((p, policies::params_json(cfg)))
                    }
                    Err(e) => {
                        error!(policy = %name, kind = %e.kind, error = %e.message, "policy rejected; the running version (or the fallback) stays");
                        None
                    }
                }
            })
            .clone()
    };
    for vs in &config.virtual_servers {
        let key = super::desired::service_key(&vs.key);
        for rs in &vs.real_servers {
            let id: RsId = (key, rs.addr);
            let mut make = |name: &str, kind: PolicyKind, into: &mut HashMap<_, _>| {
                if !wanted.wants(id, name) {
                    return;
                }
                let Some((p, params)) = get(name, kind) else {
                    return;
                };
                let made = PolicyInstance::new(p, params, None)
                    .and_then(|mut i| self_test(&mut i, kind).map(|()| i));
                match made {
                    Ok(i) => {
                        // Proven: its machine code may enter the cache.
                        i.policy().accept();
                        into.insert(id, i);
                    }
                    Err(e) => {
                        error!(policy = %name, kind = %e.kind, error = %e.message, "policy failed init or its self-test; the running version (or the fallback) stays")
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

/// The policies `config`'s real servers name, sorted.
fn used(config: &Config) -> Vec<String> {
    let mut names: Vec<String> = config
        .virtual_servers
        .iter()
        .flat_map(|vs| {
            vs.weight_policy.iter().chain(
                vs.real_servers
                    .iter()
                    .filter_map(|r| r.health_policy.as_ref()),
            )
        })
        .cloned()
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The real servers of `new` whose policies differ from `old`'s (or that
/// `old` did not have).
fn repoliced(old: &Config, new: &Config) -> Vec<RsId> {
    let policies = |c: &Config| -> HashMap<RsId, (Option<String>, Option<String>)> {
        c.virtual_servers
            .iter()
            .flat_map(|vs| {
                let key = super::desired::service_key(&vs.key);
                vs.real_servers.iter().map(move |rs| {
                    (
                        (key, rs.addr),
                        (rs.health_policy.clone(), vs.weight_policy.clone()),
                    )
                })
            })
            .collect()
    };
    let before = policies(old);
    policies(new)
        .into_iter()
        .filter(|(id, p)| before.get(id) != Some(p))
        .map(|(id, _)| id)
        .collect()
}

/// What the loader is asked to do.
#[derive(Debug)]
pub(crate) enum LoaderMsg {
    /// Load every policy again (SIGHUP).
    Reload,
    /// A new configuration; `changed` names the policies whose settings changed.
    Config(Box<Config>, Vec<String>),
}

/// Loads the policies in the background, installs them, and loads them
/// again on file changes, on SIGHUP ([`LoaderMsg::Reload`]) and on a
/// configuration reload ([`LoaderMsg::Config`]).
pub(crate) fn spawn(
    config: Config,
    worker: Worker,
    engine: Option<PolicyEngine>,
) -> mpsc::UnboundedSender<LoaderMsg> {
    let (reload_tx, mut reload_rx) = mpsc::unbounded_channel::<LoaderMsg>();
    let Some(engine) = engine else {
        if !used(&config).is_empty() {
            error!("no policy engine; real servers use their checks and weights");
        }
        return reload_tx;
    };
    tokio::spawn(async move {
        let mut config = config;
        let mut wanted = Some(Wanted::All);
        let (changed_tx, mut changed_rx) = mpsc::unbounded_channel::<PathBuf>();
        let watched = |c: &Config| -> Vec<PathBuf> {
            used(c)
                .iter()
                .filter_map(|n| c.policies.get(n))
                .map(|p| p.path.clone())
                .collect()
        };
        let mut paths = Vec::new();
        let mut _watcher = None;
        loop {
            let names = used(&config);
            // Watch what is used now (a reload may change it).
            let now_paths = watched(&config);
            if now_paths != paths || _watcher.is_none() {
                paths = now_paths;
                _watcher = crate::policies::watch(paths.clone(), changed_tx.clone());
            }
            if let Some(w) = wanted.take().filter(|_| !names.is_empty()) {
                let (engine, cfg) = (engine.clone(), config.clone());
                let built = tokio::task::spawn_blocking(move || load(&engine, &cfg, &w)).await;
                match built {
                    Ok((health, weight)) if !health.is_empty() || !weight.is_empty() => {
                        info!(
                            health = health.len(),
                            weight = weight.len(),
                            "real-server policies installed"
                        );
                        worker.ask(Ask::Install(health, weight));
                    }
                    Ok(_) => {}
                    Err(e) => warn!(error = %e, "policy loading failed"),
                }
            }
            tokio::select! {
                r = reload_rx.recv() => match r {
                    None => return,
                    Some(LoaderMsg::Reload) => wanted = Some(Wanted::All),
                    Some(LoaderMsg::Config(new, changed)) => {
                        wanted = Some(Wanted::Servers(repoliced(&config, &new), changed));
                        config = *new;
                    }
                },
                Some(path) = changed_rx.recv() => {
                    let mut changed = vec![path];
                    while let Ok(p) = changed_rx.try_recv() {
                        changed.push(p);
                    }
                    wanted = Some(Wanted::Policies(
                        names
                            .iter()
                            .filter(|n| config.policies.get(*n).is_some_and(|c| changed.contains(&c.path)))
                            .cloned()
                            .collect(),
                    ));
                }
            }
        }
    });
    reload_tx
}
