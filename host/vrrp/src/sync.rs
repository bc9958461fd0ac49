//! Sync groups: instances that change state together (keepalived's
//! `vrrp_sync_group`).
//!
//! When one member leaves Master for Backup, the others follow; when one
//! becomes Master, the others do too; a member in Fault puts the whole
//! group in Fault until no member has a fault of its own. The group is a
//! pure coordinator: the caller reports each member's `StateChanged` action
//! to [`SyncGroup::member_changed`], which feeds the resulting inputs to the
//! other members (whose own `StateChanged` actions it is safe to report
//! back: following is idempotent).

use std::time::Instant;

use crate::fsm::{FaultReason, State};
use crate::instance::Instance;

/// A set of instances, by index into the caller's slice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncGroup {
    members: Vec<usize>,
}

impl SyncGroup {
    /// A group of the instances at these indices.
    pub fn new(members: Vec<usize>) -> Self {
        Self { members }
    }

    /// The member indices.
    pub fn members(&self) -> &[usize] {
        &self.members
    }

    /// Member `who` changed from `from` to `to`: bring the others along.
    pub fn member_changed(
        &self,
        now: Instant,
        instances: &mut [Instance],
        who: usize,
        from: State,
        to: State,
    ) {
        if !self.members.contains(&who) {
            return;
        }
        // Fault is group-wide while any member has a fault of its own.
        for &m in &self.members {
            if m == who && to != State::Fault {
                continue;
            }
            let others_faulty = self
                .members
                .iter()
                .filter(|&&o| o != m)
                .any(|&o| instances.get(o).is_some_and(Instance::has_own_fault));
            if let Some(inst) = instances.get_mut(m) {
                inst.set_fault(now, FaultReason::SyncGroup, others_faulty);
            }
        }
        let follow = match (from, to) {
            (_, State::Master) => Some(State::Master),
            (State::Master, State::Backup) => Some(State::Backup),
            _ => None,
        };
        if let Some(target) = follow {
            for &m in self.members.iter().filter(|&&m| m != who) {
                if let Some(inst) = instances.get_mut(m) {
                    inst.follow_group(now, target);
                }
            }
        }
    }
}

impl Instance {
    /// A fault other than the one a sync group imposes.
    pub fn has_own_fault(&self) -> bool {
        self.faults & !FaultReason::SyncGroup.bit() != 0
    }
}
