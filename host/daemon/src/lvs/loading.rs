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

/// Loads every health and weight policy the virtual servers name, or only
/// those in `only` (a reload of changed files).
fn load(engine: &PolicyEngine, config: &Config, only: Option<&[String]>) -> PolicySets {
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
    let wanted = |name: &str| only.is_none_or(|names| names.iter().any(|n| n == name));
    for (v, vs) in config.virtual_servers.iter().enumerate() {
        for (r, rs) in vs.real_servers.iter().enumerate() {
            let mut make = |name: &str, kind: PolicyKind, into: &mut HashMap<_, _>| {
                if !wanted(name) {
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
                        into.insert((v, r), i);
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

/// Loads the policies in the background, installs them, and reloads them
/// on file changes or when `()` is sent on the returned channel.
pub(crate) fn spawn(
    config: Config,
    worker: Worker,
    engine: Option<PolicyEngine>,
) -> mpsc::UnboundedSender<()> {
    let (reload_tx, mut reload_rx) = mpsc::unbounded_channel::<()>();
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
    if names.is_empty() {
        return reload_tx;
    }
    let (changed_tx, mut changed_rx) = mpsc::unbounded_channel::<PathBuf>();
    let watcher = crate::policies::watch(
        names
            .iter()
            .filter_map(|n| config.policies.get(n))
            .map(|p| p.path.clone()),
        changed_tx,
    );
    let Some(engine) = engine else {
        error!("no policy engine; real servers use their checks and weights");
        return reload_tx;
    };
    tokio::spawn(async move {
        let _watcher = watcher;
        let mut only: Option<Vec<String>> = None;
        loop {
            let (engine, cfg, only_now) = (engine.clone(), config.clone(), only.take());
            let built =
                tokio::task::spawn_blocking(move || load(&engine, &cfg, only_now.as_deref())).await;
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
            tokio::select! {
                r = reload_rx.recv() => if r.is_none() { return },
                Some(path) = changed_rx.recv() => {
                    let mut changed = vec![path];
                    while let Ok(p) = changed_rx.try_recv() {
                        changed.push(p);
                    }
                    only = Some(
                        names
                            .iter()
                            .filter(|n| config.policies.get(*n).is_some_and(|c| changed.contains(&c.path)))
                            .cloned()
                            .collect(),
                    );
                }
            }
        }
    });
    reload_tx
}
