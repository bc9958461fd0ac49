//! Harness for holdfast's end-to-end tests: network namespaces, peers, and
//! the switch that turns "environment missing" skips into failures.
//!
//! Tests that need root, network namespaces, keepalived or the IPVS VM call
//! [`skip_unless`] first. On a developer machine without those, the test
//! prints why and passes as skipped; with `HOLDFAST_REQUIRE_ENV=1` (which
//! `.ci/run` sets) a missing prerequisite fails the test instead, so CI
//! always runs everything.

pub mod capture;
pub mod lab;
pub mod vm;
pub mod wasm;

/// The variable that turns skips into failures.
pub const REQUIRE_ENV: &str = "HOLDFAST_REQUIRE_ENV";

/// True when skips must fail.
pub fn skips_are_failures() -> bool {
    std::env::var(REQUIRE_ENV).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Returns `true` when the test may run. When `available` is false it
/// returns `false` (the caller returns early) after printing `what` is
/// missing, or panics if [`skips_are_failures`].
#[must_use]
pub fn skip_unless(available: bool, what: &str) -> bool {
    if available {
        return true;
    }
    if skips_are_failures() {
        panic!("{what} is required ({REQUIRE_ENV} is set), but it is not available");
    }
    eprintln!("SKIPPED: {what} is not available");
    false
}

/// Whether this process runs as root.
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|uid| uid == "0"))
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn available_prerequisites_never_skip() {
        assert!(skip_unless(true, "anything"));
    }

    #[test]
    fn a_missing_prerequisite_skips_or_fails_by_the_switch() {
        let result = std::panic::catch_unwind(|| skip_unless(false, "a thing"));
        match skips_are_failures() {
            true => assert!(result.is_err(), "must fail when {REQUIRE_ENV} is set"),
            false => assert_eq!(result.ok(), Some(false)),
        }
    }
}
