//! One wasmtime engine for the daemon: limits always on (fuel, epoch
//! deadlines, memory caps), the pooling allocator, and a linker that holds
//! only holdfast's host interfaces.

use std::sync::{Arc, Weak};
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::bindings::{health, priority, probe, v0_1, weight};
use crate::cache::PrecompileCache;
use crate::compile::{CompileBudget, CompilerProcess};
use crate::contract::Version;
use crate::error::{FailureKind, PolicyError};
use crate::host::HostState;
use crate::limits::ModuleLimits;

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
    /// `holdfast:policy/probe` (0.2.0 on)
    Probe,
}

impl PolicyKind {
    /// Every world, in the order `inspect` lists them.
    pub const ALL: [Self; 4] = [Self::Priority, Self::Health, Self::Weight, Self::Probe];
}

impl std::fmt::Display for PolicyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Priority => "priority",
            Self::Health => "health",
            Self::Weight => "weight",
            Self::Probe => "probe",
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
    /// What compiling the module may take.
    pub compile: CompileBudget,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            fuel: 5_000_000,
            timeout: Duration::from_millis(20),
            memory_mib: 16,
            compile: CompileBudget::default(),
        }
    }
}

/// A compiled policy, ready to instantiate: its world, of its version.
pub(crate) enum Pre {
    Priority(priority::PriorityPre<HostState>),
    Health(health::HealthPre<HostState>),
    Weight(weight::WeightPre<HostState>),
    Probe(probe::ProbePre<HostState>),
    PriorityV0_1(v0_1::priority::PriorityPre<HostState>),
    HealthV0_1(v0_1::health::HealthPre<HostState>),
    WeightV0_1(v0_1::weight::WeightPre<HostState>),
}

/// The engine shared by every policy.
#[derive(Clone)]
pub struct PolicyEngine {
    pub(crate) engine: Engine,
    pub(crate) linker: Arc<Linker<HostState>>,
    cache: Option<Arc<PrecompileCache>>,
    /// Where components are compiled: a worker process, or (without one,
    /// as in library tests) this process.
    compiler: Option<CompilerProcess>,
    module_limits: ModuleLimits,
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
        let engine = Engine::new(&config(true)).map_err(err)?;
        let mut linker = Linker::new(&engine);
        // The worlds of a version import the same interfaces (probes add
        // `network`): one linker serves all, both versions side by side.
        priority::Priority::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s).map_err(err)?;
        probe::holdfast::policy::network::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)
            .map_err(err)?;
        v0_1::priority::Priority::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)
            .map_err(err)?;
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
            compiler: None,
            module_limits: ModuleLimits::default(),
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

    /// Compiles components in a worker process under each policy's
    /// [`CompileBudget`], so what compiling takes is returned to the system.
    pub fn with_compiler(mut self, worker: CompilerProcess) -> Self {
        self.compiler = Some(worker);
        self
    }

    /// The static limits every module is checked against before compiling.
    pub fn module_limits(&self) -> &ModuleLimits {
        &self.module_limits
    }

    /// Checks a component, then loads it from the precompile cache or
    /// compiles it (slow: do it off latency-sensitive tasks). A freshly
    /// compiled artifact is returned too, for [`PrecompileCache::put`] once
    /// the policy has proved itself.
    #[allow(
        unsafe_code,
        reason = "Component::deserialize trusts the artifact's machine code"
    )]
    pub(crate) fn compile_checked(
        &self,
        name: &str,
        bytes: &[u8],
        budget: CompileBudget,
    ) -> Result<Compiled, PolicyError> {
        crate::limits::check(name, bytes, &self.module_limits)?;
        let hash = content_hash(bytes);
        if let Some(component) = self.cache.as_ref().and_then(|c| c.get(&self.engine, &hash)) {
            return Ok(Compiled {
                component,
                artifact: None,
                hash,
            });
        }
        let artifact = match &self.compiler {
            Some(worker) => crate::compile::in_process_of(worker, name, bytes, budget)?,
            None => self.engine.precompile_component(bytes).map_err(|e| {
                PolicyError::new(
                    FailureKind::Load,
                    name,
                    format!("not a valid component: {e:#}"),
                )
            })?,
        };
        // SAFETY: the artifact was produced just now by `precompile_component`
        // with this engine's configuration, in this process or in a worker
        // running this same executable (`CompilerProcess` is the daemon's own
        // binary); wasmtime checks its header against this engine again.
        let component =
            unsafe { Component::deserialize(&self.engine, &artifact) }.map_err(|e| {
                PolicyError::new(
                    FailureKind::Load,
                    name,
                    format!("unusable compiled module: {e:#}"),
                )
            })?;
        Ok(Compiled {
            component,
            artifact: Some(artifact),
            hash,
        })
    }

    /// Compiles a component (through the cache when the engine has one,
    /// without adding to it).
    pub(crate) fn compile(&self, name: &str, bytes: &[u8]) -> Result<Component, PolicyError> {
        self.compile_checked(name, bytes, CompileBudget::default())
            .map(|c| c.component)
    }

    /// Stores an artifact of a module that loaded and passed its self-test.
    pub(crate) fn remember(&self, hash: &str, artifact: &[u8]) {
        if let Some(cache) = &self.cache {
            cache.put(hash, artifact);
        }
    }

    /// Type-checks a component against a world of its contract version.
    pub(crate) fn prepare(
        &self,
        name: &str,
        component: &Component,
        version: Version,
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
        use PolicyKind as K;
        use Version as V;
        Ok(match (version, kind) {
            (V::V0_2, K::Priority) => {
                Pre::Priority(priority::PriorityPre::new(pre).map_err(wrong)?)
            }
            (V::V0_2, K::Health) => Pre::Health(health::HealthPre::new(pre).map_err(wrong)?),
            (V::V0_2, K::Weight) => Pre::Weight(weight::WeightPre::new(pre).map_err(wrong)?),
            (V::V0_2, K::Probe) => Pre::Probe(probe::ProbePre::new(pre).map_err(wrong)?),
            (V::V0_1, K::Priority) => {
                Pre::PriorityV0_1(v0_1::priority::PriorityPre::new(pre).map_err(wrong)?)
            }
            (V::V0_1, K::Health) => {
                Pre::HealthV0_1(v0_1::health::HealthPre::new(pre).map_err(wrong)?)
            }
            (V::V0_1, K::Weight) => {
                Pre::WeightV0_1(v0_1::weight::WeightPre::new(pre).map_err(wrong)?)
            }
            (V::V0_1, K::Probe) => {
                return Err(PolicyError::new(
                    FailureKind::WrongWorld,
                    name,
                    "not a probe policy: the probe world is new in holdfast:policy@0.2.0",
                ));
            }
        })
    }

    /// The worlds a component of `version` implements.
    pub(crate) fn worlds(&self, component: &Component, version: Version) -> Vec<PolicyKind> {
        PolicyKind::ALL
            .into_iter()
            .filter(|k| self.prepare("-", component, version, *k).is_ok())
            .collect()
    }
}

/// A compiled component, and its artifact if it was compiled just now.
pub(crate) struct Compiled {
    pub(crate) component: Component,
    pub(crate) artifact: Option<Vec<u8>>,
    pub(crate) hash: String,
}

/// The engine configuration; compile workers use the same one without the
/// instance pool (which reserves address space they have no use for), and
/// their artifacts load here.
pub(crate) fn config(pooling: bool) -> Config {
    let mut config = Config::new();
    config.consume_fuel(true).epoch_interruption(true);
    if pooling {
        let mut pool = PoolingAllocationConfig::new();
        pool.total_component_instances(200)
            .total_core_instances(400)
            .total_memories(400)
            .total_tables(400)
            .max_memory_size(MAX_MEMORY_MIB as usize * 1024 * 1024);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    config
}

/// Hex SHA-256 of a module: its identity in logs and in the cache.
pub fn content_hash(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
