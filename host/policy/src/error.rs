//! Policy failures, classified so the caller can branch on them (apply the
//! fallback, count, back off) without parsing messages.

use std::fmt;

/// What went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureKind {
    /// The module could not be read, compiled or linked.
    Load,
    /// The policy path names a FIFO, socket, device or directory.
    NotAFile,
    /// The file is larger than `max-module-mib`.
    TooLarge,
    /// The module declares more than a policy may (functions, function
    /// size, locals, tables, memories): refused before compiling.
    OverLimits,
    /// Compiling it took more memory or time than its budget.
    CompileBudget,
    /// Built against a contract version this host does not support.
    Contract,
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
            Self::NotAFile => "not a regular file",
            Self::TooLarge => "too large",
            Self::OverLimits => "over the module limits",
            Self::CompileBudget => "compile over budget",
            Self::Contract => "unsupported contract",
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
    /// `message` may carry module text (an init error, a trap message and
    /// its backtrace, a name from the module): it is escaped and cut here,
    /// so every error this crate returns is safe to log as it is.
    pub fn new(kind: FailureKind, policy: &str, message: impl AsRef<str>) -> Self {
        Self {
            kind,
            policy: policy.to_string(),
            message: crate::escape::module_text(message.as_ref(), crate::escape::ERROR_TEXT_MAX),
        }
    }
}
