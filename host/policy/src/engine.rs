//! One wasmtime engine for the daemon: limits always on (fuel, epoch
//! deadlines, memory caps), the pooling allocator, and a linker that holds
//! only holdfast's host interfaces.

use std::sync::{Arc, Weak};
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::bindings::{health, priority, weight};
use crate::cache::PrecompileCache;
use crate::error::{FailureKind, PolicyError};
use crate::host::HostState;

/// Epoch tick: deadlines are counted in these.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(1);

/// The largest memory any policy may have; per-policy caps are lower.
pub const MAX_MEMORY_MIB: u32 = 256;

/// Which world a policy implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PolicyKind {
    /// `holdfast:policy/priority`
    Priority,
    /// `holdfast:policy/health`
    Health,
    /// `holdfast:policy/weight`
    Weight,
}

impl std::fmt::Display for PolicyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Priority => "priority",
            Self::Health => "health",
            Self::Weight => "weight",
        })
    }
}

/// Per-call and per-instance limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Fuel per call.
    pub fuel: u64,
    /// Wall-clock deadline per call.
    pub timeout: Duration,
    /// Linear memory cap.
    pub memory_mib: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            fuel: 5_000_000,
            timeout: Duration::from_millis(20),
            memory_mib: 16,
        }
    }
}

/// A compiled policy, ready to instantiate.
pub(crate) enum Pre {
    Priority(priority::PriorityPre<HostState>),
    Health(health::HealthPre<HostState>),
    Weight(weight::WeightPre<HostState>),
}

/// The engine shared by every policy.
#[derive(Clone)]
pub struct PolicyEngine {
    pub(crate) engine: Engine,
    pub(crate) linker: Arc<Linker<HostState>>,
    cache: Option<Arc<PrecompileCache>>,
    /// The epoch ticker runs while any clone of the engine handle exists.
    _alive: Arc<()>,
}

impl std::fmt::Debug for PolicyEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyEngine").finish_non_exhaustive()
    }
}

impl PolicyEngine {
    /// Creates the engine and starts its epoch ticker thread.
    pub fn new() -> Result<Self, PolicyError> {
        let err =
            |e: wasmtime::Error| PolicyError::new(FailureKind::Load, "-", format!("engine: {e:#}"));
        let mut pool = PoolingAllocationConfig::new();
        pool.total_component_instances(200)
            .total_core_instances(400)
            .total_memories(400)
            .total_tables(400)
            .max_memory_size(MAX_MEMORY_MIB as usize * 1024 * 1024);
        let mut config = Config::new();
        config
            .consume_fuel(true)
            .epoch_interruption(true)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&config).map_err(err)?;
        let mut linker = Linker::new(&engine);
        // The three worlds import the same interfaces: one linker serves all.
        priority::Priority::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s).map_err(err)?;
        let alive = Arc::new(());
        let weak: Weak<()> = Arc::downgrade(&alive);
        let ticker = engine.clone();
        std::thread::Builder::new()
            .name("policy-epoch".into())
            .spawn(move || {
                while weak.strong_count() > 0 {
                    std::thread::sleep(EPOCH_TICK);
                    ticker.increment_epoch();
                }
            })
            .map_err(|e| PolicyError::new(FailureKind::Load, "-", format!("epoch thread: {e}")))?;
        Ok(Self {
            engine,
            linker: Arc::new(linker),
            cache: None,
            _alive: alive,
        })
    }

    /// Keeps precompiled modules in `dir` (created 0700; refused if others
    /// can write it), so a module compiled once loads in well under a
    /// millisecond on later starts and swaps.
    pub fn with_cache(mut self, dir: &std::path::Path) -> std::io::Result<Self> {
        self.cache = Some(Arc::new(PrecompileCache::open(dir, &self.engine)?));
        Ok(self)
    }

    /// Compiles a component, or loads it from the precompile cache (compiling
    /// is slow: do it off latency-sensitive tasks). Also says whether the
    /// cache answered.
    pub(crate) fn compile_cached(
        &self,
        name: &str,
        bytes: &[u8],
    ) -> Result<(Component, bool), PolicyError> {
        let invalid = |e: wasmtime::Error| {
            PolicyError::new(
                FailureKind::Load,
                name,
                format!("not a valid component: {e:#}"),
            )
        };
        let Some(cache) = &self.cache else {
            return Component::new(&self.engine, bytes)
                .map(|c| (c, false))
                .map_err(invalid);
        };
        let hash = content_hash(bytes);
        if let Some(c) = cache.get(&self.engine, &hash) {
            return Ok((c, true));
        }
        cache
            .compile_and_put(&self.engine, &hash, bytes)
            .map(|c| (c, false))
            .map_err(invalid)
    }

    /// Compiles a component (through the cache when the engine has one).
    pub(crate) fn compile(&self, name: &str, bytes: &[u8]) -> Result<Component, PolicyError> {
        self.compile_cached(name, bytes).map(|(c, _)| c)
    }

    /// Type-checks a component against a world.
    pub(crate) fn prepare(
        &self,
        name: &str,
        component: &Component,
        kind: PolicyKind,
    ) -> Result<Pre, PolicyError> {
        let pre = self.linker.instantiate_pre(component).map_err(|e| {
            PolicyError::new(FailureKind::WrongWorld, name, format!("imports: {e:#}"))
        })?;
        let wrong = |e: wasmtime::Error| {
            PolicyError::new(
                FailureKind::WrongWorld,
                name,
                format!("not a {kind} policy: {e:#}"),
            )
        };
        Ok(match kind {
            PolicyKind::Priority => Pre::Priority(priority::PriorityPre::new(pre).map_err(wrong)?),
            PolicyKind::Health => Pre::Health(health::HealthPre::new(pre).map_err(wrong)?),
            PolicyKind::Weight => Pre::Weight(weight::WeightPre::new(pre).map_err(wrong)?),
        })
    }

    /// The worlds a component implements.
    pub(crate) fn worlds(&self, component: &Component) -> Vec<PolicyKind> {
        [PolicyKind::Priority, PolicyKind::Health, PolicyKind::Weight]
            .into_iter()
            .filter(|k| self.prepare("-", component, *k).is_ok())
            .collect()
    }
}

/// Hex SHA-256 of a module: its identity in logs and in the cache.
pub fn content_hash(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
