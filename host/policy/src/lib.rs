//! The WebAssembly policy runtime: sandboxed priority, health, weight and
//! probe policies.
//!
//! One [`PolicyEngine`] per daemon; a [`LoadedPolicy`] per policy (compiled
//! and type-checked against its world once); a [`PolicyInstance`] per
//! consumer. Every call runs under fuel, an epoch deadline and a memory
//! cap; every failure is a [`PolicyError`] whose [`FailureKind`] the caller
//! branches on to apply its fallback. Policies import only holdfast's host
//! interfaces (log, clock, read-only state; probes an exchange with their
//! own target): no WASI.

mod bindings;
mod cache;
mod compile;
mod componentize;
pub mod contract;
mod engine;
mod error;
pub mod escape;
mod host;
mod instance;
mod io;
mod limits;
mod network;

pub use compile::{
    CompileBudget, CompilerProcess, WORKER_EXIT_BUDGET, WORKER_EXIT_INVALID, precompile,
};
pub use componentize::componentize;
pub use engine::{Limits, MAX_MEMORY_MIB, PolicyEngine, PolicyKind, content_hash};
pub use error::{FailureKind, PolicyError};
pub use host::StateQuery;
pub use instance::{BACKOFF_AFTER, LoadedPolicy, PolicyInstance};
pub use io::*;
pub use limits::{ModuleLimits, ModuleShape};
pub use network::{
    EXCHANGES_PER_CALL, Exchange, HttpRequest, HttpResponse, ProbeNetwork, REPLY_MAX, Transport,
};

/// The worlds a component implements, if it is of a supported contract
/// version.
pub fn worlds(
    engine: &PolicyEngine,
    name: &str,
    bytes: &[u8],
) -> Result<Vec<PolicyKind>, PolicyError> {
    let component = engine.compile(name, bytes)?;
    let version = contract::check(engine, name, &component)?;
    Ok(engine.worlds(&component, version))
}

/// What `holdfast policy inspect` shows.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Inspection {
    /// The contract packages its imports name (`holdfast:policy@0.1.0`).
    pub packages: Vec<String>,
    /// Why this host would refuse it, if it would.
    pub refused: Option<String>,
    /// Worlds of a supported contract version it implements.
    pub worlds: Vec<PolicyKind>,
    /// Its imports (instance names, escaped).
    pub imports: Vec<String>,
    /// Its exports (escaped).
    pub exports: Vec<String>,
    /// Size in bytes (of the component).
    pub size: usize,
    /// SHA-256 of the component.
    pub hash: String,
}

/// Inspects a component (or a core module, componentized first).
pub fn inspect(engine: &PolicyEngine, name: &str, bytes: &[u8]) -> Result<Inspection, PolicyError> {
    limits::check(name, bytes, engine.module_limits())?;
    let bytes = componentize(name, bytes)?;
    let component = engine.compile(name, &bytes)?;
    let ty = component.component_type();
    let checked = contract::check(engine, name, &component);
    let names = |n: &str| escape::module_text(n, escape::ERROR_TEXT_MAX);
    Ok(Inspection {
        packages: contract::packages(engine, &component)
            .iter()
            .map(|p| names(p))
            .collect(),
        worlds: match &checked {
            Ok(version) => engine.worlds(&component, *version),
            Err(_) => Vec::new(),
        },
        refused: checked.err().map(|e| e.message),
        imports: ty.imports(&engine.engine).map(|(n, _)| names(n)).collect(),
        exports: ty.exports(&engine.engine).map(|(n, _)| names(n)).collect(),
        size: bytes.len(),
        hash: content_hash(&bytes),
    })
}
