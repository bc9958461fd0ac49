//! Effective priority: keepalived's static tracking, or the priority
//! policy's answer (with static tracking as its fallback), applied to the
//! instance's state machine.

use std::time::Instant;

use holdfast_vrrp::{FaultReason, State};
use tracing::{debug, warn};

use super::policy_worker::{PolicyAnswer, PolicyRequest};
use super::runner::{Runner, policy_state};
use super::tracking::Verdict;

impl Runner {
    /// Inputs changed: ask the policy, or apply keepalived's static tracking.
    pub(super) fn apply_tracking(&mut self, now: Instant, i: usize) {
        if self.slots[i].policy.is_some() && self.policies.is_some() {
            self.ask_policy(i);
        } else {
            self.apply_static(now, i);
        }
    }

    /// keepalived's tracking semantics, computed natively (also the policy fallback).
    pub(super) fn apply_static(&mut self, now: Instant, i: usize) {
        let slot = &mut self.slots[i];
        match slot.tracking.verdict() {
            Verdict::Fault => slot
                .instance
                .set_fault(now, FaultReason::TrackedInterface, true),
            Verdict::Priority(p) => {
                slot.instance
                    .set_fault(now, FaultReason::TrackedInterface, false);
                slot.instance.set_priority(now, p);
            }
        }
    }

    pub(super) fn ask_policy(&mut self, i: usize) {
        let slot = &mut self.slots[i];
        let (Some(state), Some(worker)) = (slot.policy.as_mut(), self.policies.as_ref()) else {
            return;
        };
        if state.pending {
            state.dirty = true;
            return;
        }
        state.pending = true;
        let inst = &slot.instance;
        let input = holdfast_policy::PriorityInput {
            instance: slot.name.clone(),
            base_priority: inst.config().priority,
            current_priority: inst.priority(),
            state: policy_state(inst.state()),
            interfaces: slot
                .tracking
                .interfaces()
                .map(|(t, up)| holdfast_policy::TrackedInterface {
                    name: t.name.clone(),
                    up,
                    weight: t.weight,
                })
                .collect(),
            files: slot
                .tracking
                .files()
                .map(|(t, value)| holdfast_policy::TrackedFile {
                    path: t.path.display().to_string(),
                    value,
                    weight: t.weight,
                })
                .collect(),
            checks: slot
                .tracking
                .checks()
                .map(|(t, seen)| holdfast_policy::TrackedCheck {
                    name: t.name.clone(),
                    up: seen.up,
                    weight: t.weight,
                    latency_us: seen.latency_us,
                    last_error: seen.error.clone(),
                })
                .collect(),
            master_priority: inst.master().map(|m| m.priority),
        };
        worker.send(PolicyRequest::Priority { slot: i, input });
    }

    /// A policy answered: apply it, or fall back to static tracking on failure.
    pub(super) fn on_policy_answer(&mut self, now: Instant, a: PolicyAnswer) {
        let i = a.slot;
        let Some(slot) = self.slots.get_mut(i) else {
            return;
        };
        let Some(state) = slot.policy.as_mut() else {
            return;
        };
        state.pending = false;
        let again = std::mem::take(&mut state.dirty);
        match a.result {
            Ok(holdfast_policy::PriorityOutput::Priority(p)) => {
                // RFC 5798 §5.2.4: 255 is the owner's alone; 0 means releasing.
                let p = if slot.instance.config().priority == 255 {
                    p.max(1)
                } else {
                    p.clamp(1, 254)
                };
                slot.instance.set_fault(now, FaultReason::Tracked, false);
                slot.instance
                    .set_fault(now, FaultReason::TrackedInterface, false);
                slot.instance.set_priority(now, p);
            }
            Ok(holdfast_policy::PriorityOutput::Fault(reason)) => {
                if slot.instance.state() != State::Fault {
                    warn!(instance = %slot.name, %reason, "priority policy reports fault");
                }
                slot.instance.set_fault(now, FaultReason::Tracked, true);
            }
            // Already logged when it started (load failure, first failures).
            Err(e)
                if matches!(
                    e.kind,
                    holdfast_policy::FailureKind::BackingOff | holdfast_policy::FailureKind::Load
                ) =>
            {
                debug!(instance = %slot.name, policy = %e.policy, kind = %e.kind, error = %e.message, "priority policy unavailable; static tracking applies");
                slot.instance.set_fault(now, FaultReason::Tracked, false);
                self.apply_static(now, i);
            }
            Err(e) => {
                state.failures += 1;
                warn!(instance = %slot.name, policy = %e.policy, kind = %e.kind, error = %e.message, failures = state.failures, "priority policy failed; static tracking applies");
                slot.instance.set_fault(now, FaultReason::Tracked, false);
                self.apply_static(now, i);
            }
        }
        if again {
            self.ask_policy(i);
        }
    }

    /// Asks every policy again (periodic tick, or after a hot swap).
    pub(crate) fn ask_all_policies(&mut self) {
        for i in 0..self.slots.len() {
            if self.slots[i].policy.is_some() {
                self.ask_policy(i);
            }
        }
    }
}
