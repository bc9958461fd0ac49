//! Policy failures, classified so the caller can branch on them (apply the
//! fallback, count, back off) without parsing messages.

use std::fmt;

/// What went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureKind {
    /// The module could not be read, compiled or linked.
    Load,
    /// The component does not implement the expected world.
    WrongWorld,
    /// `init` returned an error or trapped.
    InitFailed,
    /// The call used up its fuel.
    OutOfFuel,
    /// The call passed its wall-clock deadline.
    Deadline,
    /// The module tried to grow memory past its cap.
    MemoryLimit,
    /// The module trapped (panic, unreachable, bad memory access, ...).
    Trap,
    /// The answer is not usable (e.g. a priority of 0).
    BadOutput,
    /// Not called: the policy failed repeatedly and is backing off. Not a
    /// new failure; the caller's fallback applies.
    BackingOff,
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Load => "load failed",
            Self::WrongWorld => "wrong world",
            Self::InitFailed => "init failed",
            Self::OutOfFuel => "out of fuel",
            Self::Deadline => "deadline exceeded",
            Self::MemoryLimit => "memory limit",
            Self::Trap => "trap",
            Self::BadOutput => "bad output",
            Self::BackingOff => "backing off after repeated failures",
        })
    }
}

/// A failed policy operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize)]
#[error("policy {policy}: {kind}: {message}")]
pub struct PolicyError {
    /// The classification.
    pub kind: FailureKind,
    /// The policy's name.
    pub policy: String,
    /// Details (the trap message, the init error, ...).
    pub message: String,
}

impl PolicyError {
    pub(crate) fn new(kind: FailureKind, policy: &str, message: impl Into<String>) -> Self {
        Self {
            kind,
            policy: policy.to_string(),
            message: message.into(),
        }
    }
}
