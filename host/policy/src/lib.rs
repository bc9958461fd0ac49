//! The WebAssembly policy runtime: sandboxed priority, health and weight
//! policies.
//!
//! One [`PolicyEngine`] per daemon; a [`LoadedPolicy`] per policy (compiled
//! and type-checked against its world once); a [`PolicyInstance`] per
//! consumer. Every call runs under fuel, an epoch deadline and a memory
//! cap; every failure is a [`PolicyError`] whose [`FailureKind`] the caller
//! branches on to apply its fallback. Policies import only holdfast's host
//! interfaces (log, clock, read-only state): no WASI.

mod bindings;
mod cache;
mod componentize;
mod engine;
mod error;
mod host;
mod instance;
mod io;

pub use componentize::componentize;
pub use engine::{Limits, MAX_MEMORY_MIB, PolicyEngine, PolicyKind, content_hash};
pub use error::{FailureKind, PolicyError};
pub use host::StateQuery;
pub use instance::{BACKOFF_AFTER, LoadedPolicy, PolicyInstance};
pub use io::*;

/// The worlds a component implements (for `holdfast policy inspect`).
pub fn worlds(
    engine: &PolicyEngine,
    name: &str,
    bytes: &[u8],
) -> Result<Vec<PolicyKind>, PolicyError> {
    let component = engine.compile(name, bytes)?;
    Ok(engine.worlds(&component))
}

/// What `holdfast policy inspect` shows.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Inspection {
    /// Worlds of `holdfast:policy@0.1.0` it implements.
    pub worlds: Vec<PolicyKind>,
    /// Its imports (instance names).
    pub imports: Vec<String>,
    /// Its exports.
    pub exports: Vec<String>,
    /// Size in bytes (of the component).
    pub size: usize,
    /// SHA-256 of the component.
    pub hash: String,
}

/// Inspects a component (or a core module, componentized first).
pub fn inspect(engine: &PolicyEngine, name: &str, bytes: &[u8]) -> Result<Inspection, PolicyError> {
    let bytes = componentize(name, bytes)?;
    let component = engine.compile(name, &bytes)?;
    let ty = component.component_type();
    Ok(Inspection {
        worlds: engine.worlds(&component),
        imports: ty
            .imports(&engine.engine)
            .map(|(n, _)| n.to_string())
            .collect(),
        exports: ty
            .exports(&engine.engine)
            .map(|(n, _)| n.to_string())
            .collect(),
        size: bytes.len(),
        hash: content_hash(&bytes),
    })
}
