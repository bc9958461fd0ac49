//! Health probes for real servers and the rise/fall hysteresis that turns
//! probe results into up/down transitions, as keepalived's checkers do.
//!
//! This crate holds `tcp` (connect) and `http` (a GET whose status must be
//! in ranges). A [`Checker`] runs one probe on its interval and reports
//! every [`Outcome`] with the hysteresis verdict.

mod hysteresis;
mod probe;
mod runner;

pub use hysteresis::RiseFall;
pub use probe::{Outcome, Probe, ProbeKind};
pub use runner::{CheckEvent, Checker};
