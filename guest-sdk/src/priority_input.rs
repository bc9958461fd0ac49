//! A priority policy's input as policy authors see it: everything about
//! the instance and what it tracks, names included. The host sends the
//! names once (`setup`) and only the state on each call (a check's error
//! only when it changed); this module keeps the whole picture in the module
//! and updates it in place, so a call copies no names.

use std::sync::Mutex;

use crate::priority_bindings::holdfast::policy::types::{
    ErrorChange, PrioritySetup, PriorityState,
};
use crate::{PriorityOutput, VrrpState};

/// A tracked interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackedInterface {
    /// Interface name.
    pub name: String,
    /// Carrier up.
    pub up: bool,
    /// keepalived weight.
    pub weight: i32,
}

/// A tracked file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackedFile {
    /// Its path.
    pub path: String,
    /// The number it holds.
    pub value: i64,
    /// keepalived weight.
    pub weight: i32,
}

/// A tracked check (`track-check`, `track-process`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackedCheck {
    /// The `vrrp-check` block (or `process:NAME`).
    pub name: String,
    /// Passing.
    pub up: bool,
    /// keepalived weight.
    pub weight: i32,
    /// The last probe's time to its answer (or to its failure).
    pub latency_us: Option<u64>,
    /// Why the last probe failed, if it did.
    pub last_error: Option<String>,
}

/// Everything a priority policy may base its answer on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriorityInput {
    /// The instance's name.
    pub instance: String,
    /// The configured priority (255 = address owner).
    pub base_priority: u8,
    /// The priority currently advertised.
    pub current_priority: u8,
    /// Its state.
    pub state: VrrpState,
    /// Tracked interfaces.
    pub interfaces: Vec<TrackedInterface>,
    /// Tracked files.
    pub files: Vec<TrackedFile>,
    /// Tracked checks and processes.
    pub checks: Vec<TrackedCheck>,
    /// The priority of the master this node follows, when backup.
    pub master_priority: Option<u8>,
}

static INPUT: Mutex<Option<PriorityInput>> = Mutex::new(None);

/// The host's `setup`: what the instance tracks.
pub fn priority_setup(setup: PrioritySetup) {
    let input = PriorityInput {
        instance: setup.instance,
        base_priority: setup.base_priority,
        current_priority: setup.base_priority,
        state: VrrpState::Initialize,
        interfaces: setup
            .interfaces
            .into_iter()
            .map(|t| TrackedInterface {
                name: t.name,
                up: true,
                weight: t.weight,
            })
            .collect(),
        files: setup
            .files
            .into_iter()
            .map(|t| TrackedFile {
                path: t.name,
                value: 0,
                weight: t.weight,
            })
            .collect(),
        checks: setup
            .checks
            .into_iter()
            .map(|t| TrackedCheck {
                name: t.name,
                up: true,
                weight: t.weight,
                latency_us: None,
                last_error: None,
            })
            .collect(),
        master_priority: None,
    };
    *INPUT.lock().unwrap_or_else(|p| p.into_inner()) = Some(input);
}

/// The host's `priority` call: the state applied to the setup, then `f`.
pub fn priority_call(
    state: PriorityState,
    f: fn(&PriorityInput) -> PriorityOutput,
) -> PriorityOutput {
    let mut guard = INPUT.lock().unwrap_or_else(|p| p.into_inner());
    let Some(input) = guard.as_mut() else {
        return PriorityOutput::Fault("called before setup".into());
    };
    if state.interfaces.len() != input.interfaces.len()
        || state.files.len() != input.files.len()
        || state.checks.len() != input.checks.len()
    {
        return PriorityOutput::Fault("state does not match the setup".into());
    }
    input.current_priority = state.current_priority;
    input.state = state.state;
    input.master_priority = state.master_priority;
    for (t, up) in input.interfaces.iter_mut().zip(state.interfaces) {
        t.up = up;
    }
    for (t, value) in input.files.iter_mut().zip(state.files) {
        t.value = value;
    }
    for (t, c) in input.checks.iter_mut().zip(state.checks) {
        t.up = c.up;
        t.latency_us = c.latency_us;
        match c.last_error {
            ErrorChange::Same => {}
            ErrorChange::Cleared => t.last_error = None,
            ErrorChange::Set(e) => t.last_error = Some(e),
        }
    }
    f(input)
}
