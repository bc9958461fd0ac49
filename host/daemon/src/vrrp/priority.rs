//! Effective priority: keepalived's static tracking, or the priority
//! policy's answer (with static tracking as its fallback), applied to the
//! instance's state machine.

use std::time::Instant;

use holdfast_vrrp::{FaultReason, InstanceId, State};
use tracing::{debug, warn};

use super::policy_worker::{PolicyAnswer, PolicyRequest};
use super::runner::{Runner, policy_state};
use super::tracking::Verdict;

impl Runner {
    /// Inputs changed: ask the policy, or apply keepalived's static tracking.
    pub(super) fn apply_tracking(&mut self, now: Instant, id: InstanceId) {
        let has_policy = self.slots.get(&id).is_some_and(|s| s.policy.is_some());
        if has_policy && self.policies.is_some() {
            self.ask_policy(id);
        } else {
            self.apply_static(now, id);
        }
    }

    /// keepalived's tracking semantics, computed natively (also the policy fallback).
    pub(super) fn apply_static(&mut self, now: Instant, id: InstanceId) {
        let (Some(slot), Some(inst)) = (self.slots.get(&id), self.router.get_mut(id)) else {
            return;
        };
        match slot.tracking.verdict() {
            Verdict::Fault => inst.set_fault(now, FaultReason::TrackedInterface, true),
            Verdict::Priority(p) => {
                inst.set_fault(now, FaultReason::TrackedInterface, false);
                inst.set_priority(now, p);
            }
        }
    }

    pub(super) fn ask_policy(&mut self, id: InstanceId) {
        let (Some(slot), Some(inst)) = (self.slots.get_mut(&id), self.router.get(id)) else {
            return;
        };
        let (Some(state), Some(worker)) = (slot.policy.as_mut(), self.policies.as_ref()) else {
            return;
        };
        if state.pending {
            state.dirty = true;
            return;
        }
        state.pending = true;
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
        worker.send(PolicyRequest::Priority { slot: id, input });
    }

    /// A policy answered: apply it, or fall back to static tracking on failure.
    pub(super) fn on_policy_answer(&mut self, now: Instant, a: PolicyAnswer) {
        let id = a.slot;
        // An answer for an instance that is gone finds nothing.
        let (Some(slot), Some(inst)) = (self.slots.get_mut(&id), self.router.get_mut(id)) else {
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
                let p = if inst.config().priority == 255 {
                    p.max(1)
                } else {
                    p.clamp(1, 254)
                };
                inst.set_fault(now, FaultReason::Tracked, false);
                inst.set_fault(now, FaultReason::TrackedInterface, false);
                inst.set_priority(now, p);
            }
            Ok(holdfast_policy::PriorityOutput::Fault(reason)) => {
                if inst.state() != State::Fault {
                    warn!(instance = %slot.name, %reason, "priority policy reports fault");
                }
                inst.set_fault(now, FaultReason::Tracked, true);
            }
            // Already logged when it started (load failure, first failures).
            Err(e)
                if matches!(
                    e.kind,
                    holdfast_policy::FailureKind::BackingOff | holdfast_policy::FailureKind::Load
                ) =>
            {
                debug!(instance = %slot.name, policy = %e.policy, kind = %e.kind, error = %e.message, "priority policy unavailable; static tracking applies");
                inst.set_fault(now, FaultReason::Tracked, false);
                self.apply_static(now, id);
            }
            Err(e) => {
                state.failures += 1;
                warn!(instance = %slot.name, policy = %e.policy, kind = %e.kind, error = %e.message, failures = state.failures, "priority policy failed; static tracking applies");
                inst.set_fault(now, FaultReason::Tracked, false);
                self.apply_static(now, id);
            }
        }
        if again {
            self.ask_policy(id);
        }
    }

    /// Asks every policy again (periodic tick, or after a hot swap).
    pub(crate) fn ask_all_policies(&mut self) {
        let ids: Vec<InstanceId> = self
            .slots
            .iter()
            .filter(|(_, s)| s.policy.is_some())
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            self.ask_policy(id);
        }
    }
}
