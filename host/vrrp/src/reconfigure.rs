//! Changing a running instance's configuration without leaving its state
//! (a configuration reload). What the protocol cannot change in place —
//! the VRID and the version, which are the instance's identity on the
//! wire — is refused, and the caller replaces the instance instead.
//!
//! Every other setting of [`InstanceConfig`] (preempt, accept mode,
//! authentication, unicast peers, gratuitous ARP schedule, checksum form)
//! takes effect with the configuration itself, from the next packet or
//! timer on. A master installs and announces only the addresses that were
//! added and removes only those that went; a changed priority, interval or
//! address list goes out in an advert at once, so backups see it without
//! waiting an interval. Nothing else happens: no state change, no
//! gratuitous burst for the addresses that stayed.

use std::net::IpAddr;
use std::time::Instant;

use crate::action::Action;
use crate::fsm::State;
use crate::instance::{Instance, InstanceConfig};
use crate::packet::Version;

/// Why a configuration cannot be applied in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotInPlace {
    /// The VRID is the instance's identity.
    #[error("the virtual router id changed")]
    Vrid,
    /// Version 2 and 3 instances do not interoperate.
    #[error("the VRRP version changed")]
    Version,
}

impl Instance {
    /// Applies `new` in place. The effective priority becomes `new`'s
    /// configured priority: the caller applies tracking to it again.
    pub fn reconfigure(&mut self, now: Instant, new: InstanceConfig) -> Result<(), NotInPlace> {
        if new.vrid != self.config.vrid {
            return Err(NotInPlace::Vrid);
        }
        if new.version != self.config.version {
            return Err(NotInPlace::Version);
        }
        let old = std::mem::replace(&mut self.config, new);
        let (added, removed) = (
            only_in(&self.config.addresses, &old.addresses),
            only_in(&old.addresses, &self.config.addresses),
        );
        let master = self.state == State::Master;
        if master && !removed.is_empty() {
            self.actions.push_back(Action::RemoveAddresses {
                addresses: removed.clone(),
            });
        }
        if master && !added.is_empty() {
            self.actions.push_back(Action::AddAddresses {
                addresses: added.clone(),
            });
            self.actions.push_back(Action::AnnounceAddresses {
                addresses: added.clone(),
                count: self.config.garp.repeat,
            });
        }
        let interval_changed = old.advert_interval_cs != self.config.advert_interval_cs;
        if interval_changed && self.config.version == Version::V2 {
            // v2 has no interval learning: a backup expects ours.
            self.master_adver_interval_cs = self.config.advert_interval_cs();
        }
        // A new configured priority is taken only while no tracking or
        // policy has moved the running one away from the old configured
        // value; otherwise the host re-applies its adjustment on top of
        // the new base (an unrelated change must never advertise the base
        // for a moment and invite a preemption).
        let priority = self.config.priority;
        let follows_base = old.priority != priority && self.priority == old.priority;
        if follows_base {
            // Sends an advert at once when master.
            self.set_priority(now, priority);
        } else if master && (interval_changed || !added.is_empty() || !removed.is_empty()) {
            self.send_advert(self.priority);
            self.adver_timer = Some(now + self.advert_interval());
        }
        Ok(())
    }
}

fn only_in(a: &[IpAddr], b: &[IpAddr]) -> Vec<IpAddr> {
    a.iter().filter(|x| !b.contains(x)).copied().collect()
}
