//! What a policy may call: structured logging, a monotonic clock,
//! read-only daemon state, and for probes exchanges with their own target
//! (`network`). Nothing else is linked, so a module that imports anything
//! else (WASI, files, sockets) fails to instantiate. Modules of the 0.1.0
//! contract reach the same functions under their own interface names.

use std::sync::Arc;
use std::time::Instant;

use wasmtime::ResourceLimiter;

use crate::bindings::priority::holdfast::policy::{clock, log, state, types};
use crate::bindings::v0_1::priority::holdfast::policy as v0_1;
use crate::escape;
use crate::network::ProbeCall;

/// Log lines a single call may write; the rest are dropped (and counted).
const LOG_LINES_PER_CALL: u32 = 20;

/// Answers `state.instance-state` queries (read-only).
pub type StateQuery = Arc<dyn Fn(&str) -> Option<crate::VrrpState> + Send + Sync>;

/// A memory limiter that remembers that it refused, so a refused growth
/// is reported as `MemoryLimit` rather than a generic trap.
#[derive(Debug)]
pub(crate) struct MemoryCap {
    pub(crate) max_bytes: usize,
    pub(crate) refused: bool,
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_bytes {
            self.refused = true;
            // Trap at once instead of returning -1 to the guest, whose allocator would abort anyway.
            return Err(wasmtime::Error::msg(format!(
                "memory limit: {desired} bytes requested, cap {}",
                self.max_bytes
            )));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// Per-instance host state.
pub(crate) struct HostState {
    pub(crate) policy: String,
    pub(crate) started: Instant,
    pub(crate) memory: MemoryCap,
    pub(crate) state: Option<StateQuery>,
    pub(crate) log_lines: u32,
    pub(crate) logs_dropped: u64,
    /// The probe call in progress, for a probe module.
    pub(crate) probe: Option<ProbeCall>,
    /// The setup this instance of a priority policy was last given (a new
    /// instance has none, so it is set up again).
    pub(crate) setup: Option<types::PrioritySetup>,
    /// The checks' last errors as the instance last saw them.
    pub(crate) sent_errors: Vec<Option<String>>,
}

impl std::fmt::Debug for HostState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostState")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl log::Host for HostState {
    fn log(&mut self, level: log::Level, message: String) {
        self.log_lines += 1;
        if self.log_lines > LOG_LINES_PER_CALL {
            self.logs_dropped += 1;
            return;
        }
        // The module's text goes in its own field, escaped: the line's
        // message is ours, so no module can start a line like the daemon's.
        let text = escape::module_text(&message, escape::LOG_TEXT_MAX);
        let policy = &self.policy;
        match level {
            log::Level::Trace => tracing::trace!(%policy, %text, "policy log"),
            log::Level::Debug => tracing::debug!(%policy, %text, "policy log"),
            log::Level::Info => tracing::info!(%policy, %text, "policy log"),
            log::Level::Warn => tracing::warn!(%policy, %text, "policy log"),
            log::Level::Error => tracing::error!(%policy, %text, "policy log"),
        }
    }
}

impl clock::Host for HostState {
    fn now_ms(&mut self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }
}

impl state::Host for HostState {
    fn instance_state(&mut self, name: String) -> Option<types::VrrpState> {
        let query = self.state.as_ref()?;
        query(&name).map(Into::into)
    }
}

impl types::Host for HostState {}

impl v0_1::log::Host for HostState {
    fn log(&mut self, level: v0_1::log::Level, message: String) {
        use v0_1::log::Level as Old;
        let level = match level {
            Old::Trace => log::Level::Trace,
            Old::Debug => log::Level::Debug,
            Old::Info => log::Level::Info,
            Old::Warn => log::Level::Warn,
            Old::Error => log::Level::Error,
        };
        log::Host::log(self, level, message);
    }
}

impl v0_1::clock::Host for HostState {
    fn now_ms(&mut self) -> u64 {
        clock::Host::now_ms(self)
    }
}

impl v0_1::state::Host for HostState {
    fn instance_state(&mut self, name: String) -> Option<v0_1::types::VrrpState> {
        let query = self.state.as_ref()?;
        query(&name).map(Into::into)
    }
}

impl v0_1::types::Host for HostState {}
