//! Probe modules (`check "probe" policy="NAME"`): WebAssembly modules that
//! check a target themselves through exchanges with it. They are compiled
//! on a thread of their own, proved by their `init`, and swapped in when
//! their files change or on SIGHUP; the checks that use them pick up the
//! new module at their next run. Until the first load has settled, its
//! checks wait (and report nothing, as a check that has not run yet); a
//! module that failed to load fails its checks (a server is never up on a
//! probe that did not run).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use holdfast_checks::{CustomProbe, CustomRef, Outcome, Source, WeightChange};
use holdfast_config::{CheckKind, Config};
use holdfast_policy::{LoadedPolicy, PolicyEngine, PolicyInstance, PolicyKind, ProbeInput};
use tokio::sync::mpsc;
use tracing::{error, info};

use crate::policies;

/// A loaded module and the params its instances are initialised with.
#[derive(Debug)]
struct Loaded {
    policy: Arc<LoadedPolicy>,
    params: String,
}

/// A module's current version, and whether its first load has settled.
#[derive(Debug, Default)]
struct ModuleSlot {
    current: ArcSwapOption<Loaded>,
    settled: AtomicBool,
}

type Slot = Arc<ModuleSlot>;

/// Every probe module the configuration names.
#[derive(Debug, Default)]
pub(crate) struct ProbeModules {
    slots: HashMap<String, Slot>,
    reload: Option<mpsc::UnboundedSender<()>>,
}

/// The probe modules `config` names, by any check.
pub(crate) fn named(config: &Config) -> Vec<String> {
    let rs_checks = config
        .virtual_servers
        .iter()
        .flat_map(|vs| vs.real_servers.iter().flat_map(|rs| rs.checks.iter()));
    let vrrp_checks = config.vrrp_checks.values().flat_map(|b| b.checks.iter());
    let mut names: Vec<String> = rs_checks
        .chain(vrrp_checks)
        .filter_map(|c| match &c.kind {
            CheckKind::Probe { policy } => Some(policy.clone()),
            _ => None,
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

impl ProbeModules {
    /// Starts loading the modules `config` names, on a thread of their own.
    pub(crate) fn start(config: &Config, engine: Option<PolicyEngine>) -> Arc<Self> {
        let names = named(config);
        if names.is_empty() {
            return Arc::default();
        }
        let slots: HashMap<String, Slot> =
            names.iter().map(|n| (n.clone(), Slot::default())).collect();
        let (reload_tx, reload_rx) = mpsc::unbounded_channel();
        let (config, loading) = (config.clone(), slots.clone());
        let started = std::thread::Builder::new()
            .name("probe-modules".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                match (runtime, engine) {
                    (Ok(rt), Some(engine)) => {
                        rt.block_on(keep_loaded(engine, config, loading, reload_rx))
                    }
                    (_, None) => {
                        error!("probe modules: no policy engine; probe checks fail");
                        settle_all(&loading);
                    }
                    (Err(e), _) => {
                        error!(error = %e, "probe modules: no runtime; probe checks fail");
                        settle_all(&loading);
                    }
                }
            });
        if let Err(e) = started {
            error!(error = %e, "probe modules: no thread; probe checks fail");
            settle_all(&slots);
        }
        Arc::new(Self {
            slots,
            reload: Some(reload_tx),
        })
    }

    /// Compiles every module again (SIGHUP).
    pub(crate) fn reload(&self) {
        if let Some(tx) = &self.reload {
            let _ = tx.send(());
        }
    }

    /// The probe that runs module `name`.
    pub(crate) fn probe(&self, name: &str) -> Result<CustomRef, String> {
        let slot = self
            .slots
            .get(name)
            .ok_or_else(|| format!("no probe module `{name}`"))?;
        Ok(CustomRef(Arc::new(ModuleProbe {
            name: name.to_string(),
            slot: slot.clone(),
            live: Mutex::new(None),
        })))
    }
}

/// Loads every module, then again the ones whose files change (or all, on
/// reload). A module that fails keeps the running one.
async fn keep_loaded(
    engine: PolicyEngine,
    config: Config,
    slots: HashMap<String, Slot>,
    mut reload: mpsc::UnboundedReceiver<()>,
) {
    let paths = |name: &String| config.policies.get(name).map(|p| p.path.clone());
    let (changed_tx, mut changed_rx) = mpsc::unbounded_channel::<PathBuf>();
    let _watcher = policies::watch(slots.keys().filter_map(paths), changed_tx);
    let mut due: Vec<String> = slots.keys().cloned().collect();
    loop {
        for name in due.drain(..) {
            let (engine, config, slot) = (engine.clone(), config.clone(), slots[&name].clone());
            let _ = tokio::task::spawn_blocking(move || {
                load_one(&engine, &config, &name, &slot);
                slot.settled.store(true, Ordering::Release);
            })
            .await;
        }
        tokio::select! {
            r = reload.recv() => match r {
                Some(()) => due = slots.keys().cloned().collect(),
                None => return,
            },
            Some(path) = changed_rx.recv() => {
                let mut changed = vec![path];
                while let Ok(p) = changed_rx.try_recv() {
                    changed.push(p);
                }
                due = slots
                    .keys()
                    .filter(|n| paths(n).is_some_and(|p| changed.contains(&p)))
                    .cloned()
                    .collect();
            }
        }
    }
}

/// No module will load: their checks stop waiting and fail.
fn settle_all(slots: &HashMap<String, Slot>) {
    for slot in slots.values() {
        slot.settled.store(true, Ordering::Release);
    }
}

fn load_one(engine: &PolicyEngine, config: &Config, name: &str, slot: &Slot) {
    let Some(cfg) = config.policies.get(name) else {
        return;
    };
    let started = Instant::now();
    let params = policies::params_json(cfg);
    let loaded = policies::load(engine, cfg, PolicyKind::Probe)
        // Its `init` must accept the params before it replaces anything.
        .and_then(|p| PolicyInstance::new(p.clone(), params.clone(), None).map(|_| p));
    match loaded {
        Ok(policy) => {
            policy.accept();
            info!(policy = %name, kind = %PolicyKind::Probe, hash = %policy.hash(), cached = policy.from_cache(), ms = started.elapsed().as_millis() as u64, "policy loaded");
            slot.current
                .store(Some(Arc::new(Loaded { policy, params })));
        }
        Err(e) => {
            error!(policy = %name, kind = %e.kind, error = %e.message, "policy rejected; the running version (or none: its checks fail) stays")
        }
    }
}

/// A check's use of a probe module: its own instance, rebuilt when the
/// module is swapped.
#[derive(Debug)]
struct ModuleProbe {
    name: String,
    slot: Slot,
    live: Mutex<Option<PolicyInstance>>,
}

impl CustomProbe for ModuleProbe {
    fn run(&self, target: SocketAddr, source: &Source, timeout: Duration) -> Outcome {
        let started = Instant::now();
        let Some(loaded) = self.slot.current.load_full() else {
            return Outcome::failed(
                started,
                format!("probe module `{}` is not loaded", self.name),
            );
        };
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        if !live
            .as_ref()
            .is_some_and(|i| Arc::ptr_eq(i.policy(), &loaded.policy))
        {
            match PolicyInstance::new(loaded.policy.clone(), loaded.params.clone(), None) {
                Ok(i) => *live = Some(i),
                Err(e) => return Outcome::failed(started, format!("{}: {}", e.kind, e.message)),
            }
        }
        let Some(instance) = live.as_mut() else {
            return Outcome::failed(started, "no instance".into());
        };
        let input = ProbeInput {
            target,
            timeout_ms: timeout.as_millis().min(u128::from(u32::MAX)) as u32,
        };
        let net = Box::new(crate::probe_net::CheckNetwork::new(target, source.clone()));
        match instance.probe(&input, net) {
            Ok(out) => {
                let mut outcome = if out.up {
                    let mut o = Outcome::passed(started);
                    o.body_snippet = Some(out.message);
                    o
                } else if out.message.is_empty() {
                    Outcome::failed(started, format!("probe `{}` says down", self.name))
                } else {
                    Outcome::failed(started, out.message)
                };
                outcome.weight = out.weight.map(WeightChange::Set);
                outcome
            }
            Err(e) => Outcome::failed(started, format!("{}: {}", e.kind, e.message)),
        }
    }

    fn pending(&self) -> bool {
        !self.slot.settled.load(Ordering::Acquire)
    }
}
