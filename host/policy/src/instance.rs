//! A loaded policy and its live instance: every call runs under fuel, an
//! epoch deadline and a memory cap; any failure is classified, the instance
//! is rebuilt from its pre-instantiated form, and the caller gets a typed
//! error to apply its fallback.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::{Store, Trap};

use crate::bindings::{health, priority, probe, v0_1, weight};
use crate::engine::{EPOCH_TICK, Limits, PolicyEngine, PolicyKind, Pre};
use crate::error::{FailureKind, PolicyError};
use crate::escape;
use crate::host::{HostState, MemoryCap, StateQuery};
use crate::io::{
    HealthVerdict, PriorityInput, PriorityOutput, ProbeInput, ProbeOutput, ProbeResult, WeightInput,
};
use crate::network::{ProbeCall, ProbeNetwork};

/// Failures in a row after which calls are skipped for a while.
pub const BACKOFF_AFTER: u32 = 3;
/// The first pause; it doubles with each further failure.
const BACKOFF_FIRST: Duration = Duration::from_millis(100);
/// The longest pause.
const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// A compiled, type-checked policy; cheap to share, instantiate many times.
pub struct LoadedPolicy {
    name: String,
    kind: PolicyKind,
    hash: String,
    limits: Limits,
    from_cache: bool,
    /// A fresh compile's artifact, cached by [`LoadedPolicy::accept`].
    artifact: std::sync::Mutex<Option<Vec<u8>>>,
    pre: Pre,
    engine: PolicyEngine,
}

impl std::fmt::Debug for LoadedPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedPolicy")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("hash", &self.hash)
            .finish_non_exhaustive()
    }
}

impl LoadedPolicy {
    /// Compiles `bytes` (a component) and checks it implements `kind`.
    pub fn load(
        engine: &PolicyEngine,
        name: &str,
        kind: PolicyKind,
        bytes: &[u8],
        limits: Limits,
    ) -> Result<Arc<Self>, PolicyError> {
        let compiled = engine.compile_checked(name, bytes, limits.compile)?;
        let version = crate::contract::check(engine, name, &compiled.component)?;
        let pre = engine.prepare(name, &compiled.component, version, kind)?;
        Ok(Arc::new(Self {
            name: name.to_string(),
            kind,
            from_cache: compiled.artifact.is_none(),
            artifact: std::sync::Mutex::new(compiled.artifact),
            hash: compiled.hash,
            limits,
            pre,
            engine: engine.clone(),
        }))
    }

    /// Policy name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The world it implements.
    pub fn kind(&self) -> PolicyKind {
        self.kind
    }

    /// SHA-256 of the module.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// Its limits.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Whether its machine code came from the precompile cache.
    pub fn from_cache(&self) -> bool {
        self.from_cache
    }

    /// The policy loaded, initialised and passed its self-test: keep its
    /// machine code in the precompile cache (once; a module refused at any
    /// step is never cached).
    pub fn accept(&self) {
        let artifact = self
            .artifact
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(artifact) = artifact {
            self.engine.remember(&self.hash, &artifact);
        }
    }
}

enum Bindings {
    Priority(priority::Priority),
    Health(health::Health),
    Weight(weight::Weight),
    Probe(probe::Probe),
    PriorityV0_1(v0_1::priority::Priority),
    HealthV0_1(v0_1::health::Health),
    WeightV0_1(v0_1::weight::Weight),
}

/// A live instance of a policy, owned by one consumer (a VRRP instance, a
/// real server). Not shared between threads.
pub struct PolicyInstance {
    policy: Arc<LoadedPolicy>,
    params: String,
    state: Option<StateQuery>,
    live: Option<(Store<HostState>, Bindings)>,
    /// Failures since the last success, for the caller's backoff.
    pub consecutive_failures: u32,
    /// Failures ever.
    pub failures: u64,
    /// Log lines dropped because a call logged too much.
    pub logs_dropped: u64,
    /// While set and in the future, calls are not made (backoff).
    backoff_until: Option<Instant>,
}

impl std::fmt::Debug for PolicyInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyInstance")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

fn classify(policy: &str, err: &wasmtime::Error, memory_refused: bool) -> PolicyError {
    let kind = if memory_refused {
        FailureKind::MemoryLimit
    } else {
        match err.downcast_ref::<Trap>() {
            Some(Trap::OutOfFuel) => FailureKind::OutOfFuel,
            Some(Trap::Interrupt) => FailureKind::Deadline,
            _ => FailureKind::Trap,
        }
    };
    PolicyError::new(kind, policy, format!("{err:#}"))
}

impl PolicyInstance {
    /// Instantiates the policy and runs `init(params)` (params: a JSON object).
    pub fn new(
        policy: Arc<LoadedPolicy>,
        params: String,
        state: Option<StateQuery>,
    ) -> Result<Self, PolicyError> {
        let mut me = Self {
            policy,
            params,
            state,
            live: None,
            consecutive_failures: 0,
            failures: 0,
            logs_dropped: 0,
            backoff_until: None,
        };
        me.rebuild()?;
        Ok(me)
    }

    /// The policy this instance runs.
    pub fn policy(&self) -> &Arc<LoadedPolicy> {
        &self.policy
    }

    fn new_store(&self) -> Store<HostState> {
        let p = &self.policy;
        let host = HostState {
            policy: p.name.clone(),
            started: Instant::now(),
            memory: MemoryCap {
                max_bytes: p.limits.memory_mib as usize * 1024 * 1024,
                refused: false,
            },
            state: self.state.clone(),
            log_lines: 0,
            logs_dropped: 0,
            probe: None,
            setup: None,
            sent_errors: Vec::new(),
        };
        let mut store = Store::new(&p.engine.engine, host);
        store.limiter(|s| &mut s.memory);
        store
    }

    fn arm(store: &mut Store<HostState>, limits: Limits) {
        // Fuel is always enabled on our engine, so this cannot fail.
        let _ = store.set_fuel(limits.fuel);
        let ticks = (limits.timeout.as_micros() / EPOCH_TICK.as_micros()).max(1) as u64;
        store.set_epoch_deadline(ticks);
        let host = store.data_mut();
        host.log_lines = 0;
        host.memory.refused = false;
    }

    /// Drops the current instance and makes a fresh one, running `init`.
    fn rebuild(&mut self) -> Result<(), PolicyError> {
        self.live = None;
        let name = self.policy.name.clone();
        let mut store = self.new_store();
        Self::arm(&mut store, self.policy.limits);
        let fail = |store: &Store<HostState>, e: wasmtime::Error| {
            let mut err = classify(&name, &e, store.data().memory.refused);
            if err.kind == FailureKind::Trap {
                err.kind = FailureKind::InitFailed;
            }
            err
        };
        // Every world's instantiate-then-init is the same; only the types differ.
        macro_rules! start {
            ($pre:expr, $variant:ident) => {{
                let b = $pre.instantiate(&mut store).map_err(|e| fail(&store, e))?;
                let r = b
                    .call_init(&mut store, &self.params)
                    .map_err(|e| fail(&store, e))?;
                (Bindings::$variant(b), r)
            }};
        }
        let (bindings, init) = match &self.policy.pre {
            Pre::Priority(pre) => start!(pre, Priority),
            Pre::Health(pre) => start!(pre, Health),
            Pre::Weight(pre) => start!(pre, Weight),
            Pre::Probe(pre) => start!(pre, Probe),
            Pre::PriorityV0_1(pre) => start!(pre, PriorityV0_1),
            Pre::HealthV0_1(pre) => start!(pre, HealthV0_1),
            Pre::WeightV0_1(pre) => start!(pre, WeightV0_1),
        };
        if let Err(msg) = init {
            return Err(PolicyError::new(FailureKind::InitFailed, &name, msg));
        }
        self.live = Some((store, bindings));
        Ok(())
    }

    /// Runs one call under the limits; on failure rebuilds the instance.
    fn call<T>(
        &mut self,
        f: impl FnOnce(&mut Store<HostState>, &Bindings) -> wasmtime::Result<T>,
    ) -> Result<T, PolicyError> {
        let timeout = self.policy.limits.timeout;
        self.call_with(timeout, None, f)
    }

    /// [`Self::call`] with its own deadline and, for a probe, its network.
    fn call_with<T>(
        &mut self,
        timeout: Duration,
        probe: Option<ProbeCall>,
        f: impl FnOnce(&mut Store<HostState>, &Bindings) -> wasmtime::Result<T>,
    ) -> Result<T, PolicyError> {
        if let Some(until) = self.backoff_until
            && Instant::now() < until
        {
            return Err(PolicyError::new(
                FailureKind::BackingOff,
                &self.policy.name,
                format!(
                    "{} failures in a row; next call in {} ms",
                    self.consecutive_failures,
                    until.saturating_duration_since(Instant::now()).as_millis()
                ),
            ));
        }
        if self.live.is_none()
            && let Err(e) = self.rebuild()
        {
            return Err(self.failed(e));
        }
        let limits = Limits {
            timeout,
            ..self.policy.limits
        };
        let Some((store, bindings)) = self.live.as_mut() else {
            return Err(self.failed(PolicyError::new(
                FailureKind::InitFailed,
                &self.policy.name,
                "no instance",
            )));
        };
        Self::arm(store, limits);
        store.data_mut().probe = probe;
        let result = f(store, bindings);
        store.data_mut().probe = None;
        self.logs_dropped += store.data().logs_dropped;
        store.data_mut().logs_dropped = 0;
        match result {
            Ok(v) => {
                self.consecutive_failures = 0;
                self.backoff_until = None;
                Ok(v)
            }
            Err(e) => {
                let err = classify(&self.policy.name, &e, store.data().memory.refused);
                // A trapped instance cannot be entered again: start afresh.
                self.live = None;
                let _ = self.rebuild();
                Err(self.failed(err))
            }
        }
    }

    fn failed(&mut self, e: PolicyError) -> PolicyError {
        self.consecutive_failures += 1;
        self.failures += 1;
        if self.consecutive_failures >= BACKOFF_AFTER {
            let doublings = (self.consecutive_failures - BACKOFF_AFTER).min(16);
            let pause = (BACKOFF_FIRST * 2u32.pow(doublings)).min(BACKOFF_MAX);
            self.backoff_until = Some(Instant::now() + pause);
        }
        e
    }

    /// When calls resume, if the policy is backing off.
    pub fn backing_off_until(&self) -> Option<Instant> {
        self.backoff_until.filter(|t| *t > Instant::now())
    }

    /// Calls a priority policy.
    pub fn priority(&mut self, input: &PriorityInput) -> Result<PriorityOutput, PolicyError> {
        // An Arc, not the name: no allocation on the hot path.
        let policy = self.policy.clone();
        let out = self.call(|store, b| match b {
            Bindings::Priority(p) => {
                // Names and weights cross into the sandbox only when they change.
                let sent = store.data().setup.as_ref();
                if !sent.is_some_and(|s| crate::io::same_setup(s, input)) {
                    let setup = crate::io::setup(input);
                    p.call_setup(&mut *store, &setup)?;
                    let host = store.data_mut();
                    host.setup = Some(setup);
                    host.sent_errors = vec![None; input.checks.len()];
                }
                let state = crate::io::state(input, &mut store.data_mut().sent_errors);
                p.call_priority(store, &state).map(Into::into)
            }
            Bindings::PriorityV0_1(p) => p.call_priority(store, &input.into()).map(Into::into),
            _ => Err(wasmtime::Error::msg("not a priority policy")),
        })?;
        match out {
            PriorityOutput::Priority(0) => Err(self.failed(PolicyError::new(
                FailureKind::BadOutput,
                &policy.name,
                "priority 0 is reserved for releasing mastership",
            ))),
            PriorityOutput::Fault(r) => Ok(PriorityOutput::Fault(escape::module_text(
                &r,
                escape::ERROR_TEXT_MAX,
            ))),
            other => Ok(other),
        }
    }

    /// Calls a health policy.
    pub fn verdict(&mut self, input: &ProbeResult) -> Result<HealthVerdict, PolicyError> {
        let verdict = self.call(|store, b| match b {
            Bindings::Health(h) => h.call_verdict(store, &input.into()).map(Into::into),
            Bindings::HealthV0_1(h) => h.call_verdict(store, &input.into()).map(Into::into),
            _ => Err(wasmtime::Error::msg("not a health policy")),
        })?;
        let reason = |r: String| escape::module_text(&r, escape::ERROR_TEXT_MAX);
        Ok(match verdict {
            HealthVerdict::Down(r) => HealthVerdict::Down(reason(r)),
            HealthVerdict::Degraded(r) => HealthVerdict::Degraded(reason(r)),
            HealthVerdict::Up => HealthVerdict::Up,
        })
    }

    /// Calls a weight policy.
    pub fn weight(&mut self, input: &WeightInput) -> Result<u32, PolicyError> {
        let policy = self.policy.clone();
        let w = self.call(|store, b| match b {
            Bindings::Weight(w) => w.call_weight(store, &input.into()),
            Bindings::WeightV0_1(w) => w.call_weight(store, &input.into()),
            _ => Err(wasmtime::Error::msg("not a weight policy")),
        })?;
        if w > 65_535 {
            return Err(self.failed(PolicyError::new(
                FailureKind::BadOutput,
                &policy.name,
                format!("weight {w} exceeds 65535"),
            )));
        }
        Ok(w)
    }

    /// Calls a probe module: its exchanges reach `input.target` only,
    /// through `net`, and the whole call (exchanges included) is bounded by
    /// `input.timeout_ms` rather than the policy's own timeout.
    pub fn probe(
        &mut self,
        input: &ProbeInput,
        net: Box<dyn ProbeNetwork>,
    ) -> Result<ProbeOutput, PolicyError> {
        let timeout = Duration::from_millis(u64::from(input.timeout_ms.max(1)));
        let call = ProbeCall {
            target: input.target,
            deadline: Instant::now() + timeout,
            exchanges: 0,
            refused: 0,
            net,
        };
        let out = self.call_with(timeout, Some(call), |store, b| match b {
            Bindings::Probe(p) => p.call_probe(store, &input.into()),
            _ => Err(wasmtime::Error::msg("not a probe policy")),
        })?;
        let out = ProbeOutput::from(out);
        if out.weight.is_some_and(|w| w > 65_535) {
            let policy = self.policy.clone();
            return Err(self.failed(PolicyError::new(
                FailureKind::BadOutput,
                &policy.name,
                format!("weight {} exceeds 65535", out.weight.unwrap_or_default()),
            )));
        }
        Ok(ProbeOutput {
            message: escape::module_text(&out.message, escape::ERROR_TEXT_MAX),
            ..out
        })
    }
}
