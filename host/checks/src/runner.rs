//! A check running on its interval: probe, hysteresis, report.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::{Outcome, Probe, RiseFall};

/// One probe's result with the check's hysteresis state after it.
#[derive(Debug, Clone)]
pub struct CheckEvent {
    /// The caller's identifier of this check.
    pub id: usize,
    /// What the probe saw.
    pub outcome: Outcome,
    /// The hysteresis state after it.
    pub up: bool,
    /// Set when this probe changed the state.
    pub changed: bool,
    /// Successes in a row.
    pub successes: u32,
    /// Failures in a row.
    pub failures: u32,
}

/// A running check; dropping it stops it.
#[derive(Debug)]
pub struct Checker {
    task: JoinHandle<()>,
}

impl Drop for Checker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Checker {
    /// Starts probing every `interval`, reporting each result on `events`.
    /// The first probe waits a random time up to `warmup` (keepalived's
    /// `warmup`), so many checks started together do not fire together.
    pub fn spawn(
        id: usize,
        probe: Probe,
        interval: Duration,
        warmup: Duration,
        mut hysteresis: RiseFall,
        events: mpsc::UnboundedSender<CheckEvent>,
    ) -> Self {
        let task = tokio::spawn(async move {
            if !warmup.is_zero() {
                tokio::time::sleep(warmup.mul_f64(spread(id))).await;
            }
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let outcome = probe.run().await;
                let changed = hysteresis.record(outcome.success).is_some();
                let event = CheckEvent {
                    id,
                    outcome,
                    up: hysteresis.is_up(),
                    changed,
                    successes: hysteresis.successes(),
                    failures: hysteresis.failures(),
                };
                if events.send(event).is_err() {
                    return;
                }
            }
        });
        Self { task }
    }
}

/// A number in 0..1 that differs between checks and between runs.
fn spread(id: usize) -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_usize(id);
    (h.finish() % 1_000_000) as f64 / 1_000_000.0
}
