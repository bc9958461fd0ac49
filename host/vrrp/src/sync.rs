//! Sync groups: instances that change state together (keepalived's
//! `vrrp_sync_group`).
//!
//! When one member leaves Master for Backup, the others follow; when one
//! becomes Master, the others do too; a member in Fault puts the whole
//! group in Fault until no member has a fault of its own. The group is a
//! pure coordinator: the [`crate::Router`] reports each member's
//! `StateChanged` action to [`SyncGroup::member_changed`] and applies the
//! returned commands to the other members (whose own `StateChanged` actions
//! it reports back in turn: following is idempotent).

use std::time::Instant;

use crate::fsm::{FaultReason, State};
use crate::instance::Instance;
use crate::router::InstanceId;

/// What a group asks of one member after another member changed state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupCommand {
    /// Set or clear the group-imposed fault.
    Fault(bool),
    /// Follow the group into Master or Backup.
    Follow(State),
}

/// A set of instances of a [`crate::Router`], which runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncGroup {
    members: Vec<InstanceId>,
}

impl SyncGroup {
    /// A group of these instances.
    pub fn new(members: Vec<InstanceId>) -> Self {
        Self { members }
    }

    /// The members.
    pub fn members(&self) -> &[InstanceId] {
        &self.members
    }

    /// Drops a removed instance.
    pub(crate) fn forget(&mut self, id: InstanceId) {
        self.members.retain(|m| *m != id);
    }

    /// Member `who` changed from `from` to `to`: the commands that bring the
    /// others along, in order. `own_fault(i)` tells whether member `i` has a
    /// fault of its own ([`Instance::has_own_fault`]). Apply them with
    /// [`Instance::apply_group`].
    pub fn member_changed(
        &self,
        who: InstanceId,
        from: State,
        to: State,
        own_fault: impl Fn(InstanceId) -> bool,
    ) -> Vec<(InstanceId, GroupCommand)> {
        if !self.members.contains(&who) {
            return Vec::new();
        }
        let mut out = Vec::new();
        // Fault is group-wide while any member has a fault of its own.
        for &m in &self.members {
            if m == who && to != State::Fault {
                continue;
            }
            let others_faulty = self
                .members
                .iter()
                .filter(|&&o| o != m)
                .any(|&o| own_fault(o));
            out.push((m, GroupCommand::Fault(others_faulty)));
        }
        let follow = match (from, to) {
            (_, State::Master) => Some(State::Master),
            (State::Master, State::Backup) => Some(State::Backup),
            _ => None,
        };
        if let Some(target) = follow {
            out.extend(
                self.members
                    .iter()
                    .filter(|&&m| m != who)
                    .map(|&m| (m, GroupCommand::Follow(target))),
            );
        }
        out
    }
}

impl Instance {
    /// A fault other than the one a sync group imposes.
    pub fn has_own_fault(&self) -> bool {
        self.faults & !FaultReason::SyncGroup.bit() != 0
    }

    /// Applies a sync group's command.
    pub fn apply_group(&mut self, now: Instant, cmd: GroupCommand) {
        match cmd {
            GroupCommand::Fault(on) => self.set_fault(now, FaultReason::SyncGroup, on),
            GroupCommand::Follow(state) => self.follow_group(now, state),
        }
    }
}
