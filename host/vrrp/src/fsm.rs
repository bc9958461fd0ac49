//! States, transition reasons, and the entry/exit actions of RFC 5798 §6.4.
//!
//! Every state change goes through [`Instance::change_state`], which runs
//! the exit actions of the old state and the entry actions of the new one,
//! so no path can, say, become Backup and forget to remove the VIPs.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::action::Action;
use crate::instance::Instance;
use crate::timing::{centiseconds, master_down_interval};

/// The states of a virtual router: RFC 5798 §6.4 plus keepalived's Fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// Not running (before start-up, after shutdown).
    Initialize,
    /// Monitoring the master; takes over when Master_Down_Timer fires.
    Backup,
    /// Forwarding for the virtual addresses and advertising.
    Master,
    /// A tracked dependency failed (interface down, tracked object, sync group):
    /// no adverts, no addresses, until it recovers.
    Fault,
}

/// Why a state changed (RFC 6527 `vrrpv3StatisticsNewMasterReason`, extended).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Transition {
    /// Start-up as address owner (priority 255).
    Owner,
    /// Start-up with `initial-state "master"`.
    InitialMaster,
    /// Start-up as backup.
    Startup,
    /// Master_Down_Timer expired: no adverts from a master.
    MasterDown,
    /// The master released with priority 0 and our skew timer fired.
    PriorityZero,
    /// An advert with a higher priority (or equal priority and higher address) arrived.
    HigherPriority,
    /// A fault began.
    FaultEntered,
    /// All faults cleared.
    FaultCleared,
    /// The instance was stopped.
    Shutdown,
    /// Another member of the sync group changed state.
    SyncGroup,
}

/// Why an instance is in Fault; several may hold at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultReason {
    /// The instance's interface is down.
    Interface,
    /// A tracked interface with weight 0 is down.
    TrackedInterface,
    /// A tracked object (file, check, policy) reported fault.
    Tracked,
    /// Another member of the sync group is in Fault.
    SyncGroup,
    /// The instance's interface lost its primary address (a fault of its
    /// own: the link coming up does not clear it).
    Address,
}

impl FaultReason {
    pub(crate) fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl Instance {
    /// Moves to `to`, running exit and entry actions. A no-op if already there.
    pub(crate) fn change_state(&mut self, now: Instant, to: State, reason: Transition) {
        let from = self.state;
        if from == to {
            return;
        }

        // Exit actions.
        if from == State::Master {
            self.adver_timer = None;
            self.garp_timer = None;
            // RFC 5798 §6.4.3 ("If a Shutdown event is received"): send an
            // advert with priority 0 so a backup takes over after Skew_Time.
            // keepalived does the same when a master enters Fault.
            if matches!(to, State::Initialize | State::Fault) {
                self.send_advert(0);
            }
            self.actions.push_back(Action::RemoveVips);
        }
        self.master_down_timer = None;
        self.preempt_at = None;

        self.state = to;

        // Entry actions.
        match to {
            State::Master => {
                // RFC 5798 §6.4.1/§6.4.2: send an ADVERTISEMENT, broadcast
                // gratuitous ARP / unsolicited NA, set the Adver_Timer.
                self.send_advert(self.priority);
                self.actions.push_back(Action::AddVips);
                self.actions.push_back(Action::SendGratuitous {
                    count: self.config.garp.repeat,
                });
                self.adver_timer = Some(now + self.advert_interval());
                self.garp_timer = self.first_garp_timer(now);
                self.master = None;
                self.stats.master_transitions += 1;
                self.stats.new_master_reason = Some(reason);
            }
            State::Backup => {
                // RFC 5798 §6.4.1: Master_Down_Timer = Master_Down_Interval.
                self.master_down_timer = Some(now + self.master_down_interval());
            }
            State::Initialize | State::Fault => self.master = None,
        }
        self.actions.push_back(Action::StateChanged {
            from,
            to,
            reason,
            priority: self.priority,
        });
    }

    /// Master_Down_Interval for the current priority and learned interval.
    pub(crate) fn master_down_interval(&self) -> std::time::Duration {
        master_down_interval(
            self.config.version,
            self.priority,
            self.master_adver_interval_cs,
        )
    }

    pub(crate) fn advert_interval(&self) -> std::time::Duration {
        centiseconds(self.config.advert_interval_cs())
    }
}
