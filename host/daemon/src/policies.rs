//! Loading policy files for any consumer (VRRP priority, real-server
//! health, IPVS weights).

use std::sync::Arc;

use holdfast_config::PolicyCfg;
use holdfast_policy::{FailureKind, Limits, LoadedPolicy, PolicyEngine, PolicyError, PolicyKind};

/// Reads, componentizes and compiles a policy file as `kind` (compiling:
/// call off latency-sensitive tasks).
pub(crate) fn load(
    engine: &PolicyEngine,
    cfg: &PolicyCfg,
    kind: PolicyKind,
) -> Result<Arc<LoadedPolicy>, PolicyError> {
    let bytes = std::fs::read(&cfg.path).map_err(|e| PolicyError {
        kind: FailureKind::Load,
        policy: cfg.name.clone(),
        message: format!("{}: {e}", cfg.path.display()),
    })?;
    let component = holdfast_policy::componentize(&cfg.name, &bytes)?;
    let limits = Limits {
        fuel: cfg.fuel,
        timeout: cfg.timeout,
        memory_mib: cfg.memory_mib,
    };
    LoadedPolicy::load(engine, &cfg.name, kind, &component, limits)
}

/// The policy's `params` as the JSON object `init` receives.
pub(crate) fn params_json(cfg: &PolicyCfg) -> String {
    serde_json::to_string(&cfg.params).unwrap_or_else(|_| "{}".into())
}

/// An engine with the configured precompile cache (without one if the
/// directory cannot be used).
pub(crate) fn engine(cache: &std::path::Path) -> Result<PolicyEngine, PolicyError> {
    let engine = PolicyEngine::new()?;
    Ok(match engine.clone().with_cache(cache) {
        Ok(cached) => cached,
        Err(e) => {
            tracing::warn!(dir = %cache.display(), error = %e, "no precompile cache; policies compile on every load");
            engine
        }
    })
}

/// Watches the directories of policy files (editors and deploy tools
/// replace files by rename) and sends each completed file's path.
pub(crate) fn watch(
    paths: impl IntoIterator<Item = std::path::PathBuf>,
    changed: tokio::sync::mpsc::UnboundedSender<std::path::PathBuf>,
) -> Option<notify::RecommendedWatcher> {
    use notify::event::{AccessKind, AccessMode, ModifyKind, RenameMode};
    use notify::{EventKind, RecursiveMode, Watcher};
    let watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        // A file is complete when its writer closes it or when it is renamed
        // into place; plain writes and creations are mid-way, and reacting to
        // them would compile half a module.
        if let Ok(ev) = res
            && matches!(
                ev.kind,
                EventKind::Access(AccessKind::Close(AccessMode::Write))
                    | EventKind::Modify(ModifyKind::Name(
                        RenameMode::To | RenameMode::Both | RenameMode::Any
                    ))
            )
        {
            for p in ev.paths {
                let _ = changed.send(p);
            }
        }
    });
    match watcher {
        Ok(mut w) => {
            for p in paths {
                if let Some(dir) = p.parent()
                    && let Err(e) = w.watch(dir, RecursiveMode::NonRecursive)
                {
                    tracing::warn!(dir = %dir.display(), error = %e, "cannot watch policy directory; SIGHUP still reloads");
                }
            }
            Some(w)
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch policy files; SIGHUP still reloads");
            None
        }
    }
}
