//! Health probes for real servers and the rise/fall hysteresis that turns
//! probe results into up/down transitions, as keepalived's checkers do.
//!
//! This crate holds `tcp` (connect), `http` (a GET whose status must be
//! in ranges) and `exec` (a program whose exit status decides). A [`Checker`] runs one probe on its interval and reports
//! every [`Outcome`] with the hysteresis verdict.

mod exec;
mod hysteresis;
mod probe;
mod runner;

pub use exec::ExecCommand;
pub use hysteresis::RiseFall;
pub use probe::{Outcome, Probe, ProbeKind};
pub use runner::{CheckEvent, Checker};
