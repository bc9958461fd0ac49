//! Loading policy files for any consumer (VRRP priority, real-server
//! health, IPVS weights).

pub(crate) mod file;

use std::sync::Arc;

use holdfast_config::PolicyCfg;
use holdfast_policy::{
    CompileBudget, CompilerProcess, Limits, LoadedPolicy, PolicyEngine, PolicyError, PolicyKind,
};

/// Reads (bounded: a regular file, at most `max-module-mib`, off this
/// thread with a deadline), checks, componentizes and compiles (in a
/// budgeted worker) a policy file as `kind`. Blocking: call it off
/// latency-sensitive tasks. Nothing is cached until the caller
/// [`LoadedPolicy::accept`]s the policy.
pub(crate) fn load(
    engine: &PolicyEngine,
    cfg: &PolicyCfg,
    kind: PolicyKind,
) -> Result<Arc<LoadedPolicy>, PolicyError> {
    let max = u64::from(cfg.max_module_mib) * 1024 * 1024;
    let bytes = file::read_bounded(&cfg.name, &cfg.path, max, file::READ_TIMEOUT)?;
    let component = holdfast_policy::componentize(&cfg.name, &bytes)?;
    let limits = Limits {
        fuel: cfg.fuel,
        timeout: cfg.timeout,
        memory_mib: cfg.memory_mib,
        compile: CompileBudget {
            memory_mib: cfg.compile_memory_mib,
            timeout: cfg.compile_timeout,
        },
    };
    LoadedPolicy::load(engine, &cfg.name, kind, &component, limits)
}

/// This executable as a compile worker (`holdfast policy compile-worker`).
pub(crate) fn compiler_process() -> CompilerProcess {
    CompilerProcess {
        // /proc/self/exe stays right even if the binary is replaced on disk
        // by an upgrade: the worker is always the same build as the daemon.
        program: "/proc/self/exe".into(),
        args: vec!["policy".into(), "compile-worker".into()],
    }
}

/// The policy's `params` as the JSON object `init` receives.
pub(crate) fn params_json(cfg: &PolicyCfg) -> String {
    serde_json::to_string(&cfg.params).unwrap_or_else(|_| "{}".into())
}

/// An engine with the configured precompile cache (without one if the
/// directory cannot be used).
pub(crate) fn engine(cache: &std::path::Path) -> Result<PolicyEngine, PolicyError> {
    let engine = PolicyEngine::new()?.with_compiler(compiler_process());
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
        // them would compile half a module. A rename is reported twice (`To`,
        // then `Both` with the old and new paths): `To` alone is the change.
        if let Ok(ev) = res
            && matches!(
                ev.kind,
                EventKind::Access(AccessKind::Close(AccessMode::Write))
                    | EventKind::Modify(ModifyKind::Name(RenameMode::To | RenameMode::Any))
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
