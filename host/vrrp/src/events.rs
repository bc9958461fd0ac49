//! Input events other than time: received packets, priority changes,
//! faults, and sync-group commands.

use std::net::IpAddr;
use std::time::Instant;

use crate::error::DecodeError;
use crate::fsm::{FaultReason, State, Transition};
use crate::instance::{Instance, MasterInfo, Preempt};
use crate::packet::{Advertisement, Auth, ChecksumForm, VRRP_TTL, Version};

/// A VRRP message as the socket layer received it.
#[derive(Debug, Clone, Copy)]
pub struct Received<'a> {
    /// IP source address.
    pub src: IpAddr,
    /// IP destination address (multicast group or our unicast address).
    pub dst: IpAddr,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    /// The VRRP message (after the IP header).
    pub payload: &'a [u8],
}

impl Instance {
    /// A packet arrived for this instance: decode, validate (RFC 5798 §7.1)
    /// and process it. A bad packet is counted in the statistics, dropped,
    /// and its error returned for logging; it changes nothing else.
    pub fn handle_packet(&mut self, now: Instant, rx: Received<'_>) -> Result<(), DecodeError> {
        let result = self.validate(rx);
        match result {
            Ok(advert) => {
                self.handle_advert(now, rx.src, &advert);
                Ok(())
            }
            Err(e) => {
                self.stats.count_error(&e);
                Err(e)
            }
        }
    }

    fn validate(&mut self, rx: Received<'_>) -> Result<Advertisement, DecodeError> {
        // "MUST verify that the IPvX TTL/Hop Limit is 255".
        if rx.ttl != VRRP_TTL {
            return Err(DecodeError::BadTtl { ttl: rx.ttl });
        }
        let (advert, form) = Advertisement::decode(rx.payload, rx.src, rx.dst)?;
        // "MUST verify that the VRID is configured on the receiving interface".
        if advert.vrid != self.config.vrid {
            return Err(DecodeError::VridNotConfigured { vrid: advert.vrid });
        }
        if advert.version != self.config.version {
            return Err(DecodeError::VersionMismatch {
                received: advert.version.number(),
                configured: self.config.version.number(),
            });
        }
        if rx.src == self.primary {
            return Err(DecodeError::OwnAdvert { src: rx.src });
        }
        if !self.config.unicast_peers.is_empty() && !self.config.unicast_peers.contains(&rx.src) {
            return Err(DecodeError::UnknownPeer { src: rx.src });
        }
        if advert.version == Version::V2 {
            self.validate_v2(&advert)?;
        }
        if form == ChecksumForm::NoPseudoHeader {
            self.stats.checksum_as_v2_rx += 1;
        }
        self.peer_checksum = Some(form);
        Ok(advert)
    }

    /// RFC 3768 §7.1: authentication and the advertisement interval must match ours.
    fn validate_v2(&self, advert: &Advertisement) -> Result<(), DecodeError> {
        let ours = self.config.auth.unwrap_or(Auth::NONE);
        let theirs = advert.auth.unwrap_or(Auth::NONE);
        if ours.kind() != theirs.kind() {
            return Err(DecodeError::AuthTypeMismatch {
                received: theirs.kind(),
                configured: ours.kind(),
            });
        }
        // Type 0 data is "ignored on receipt"; type 1 must match.
        if matches!(ours, Auth::Pass(_)) && ours != theirs {
            return Err(DecodeError::AuthMismatch);
        }
        let configured = self.config.advert_interval_cs / 100;
        if advert.interval != configured {
            return Err(DecodeError::IntervalMismatch {
                received: advert.interval,
                configured,
            });
        }
        Ok(())
    }

    /// A decoded advertisement from `src` (RFC 5798 §6.4.2, §6.4.3).
    ///
    /// Use [`handle_packet`](Self::handle_packet) for bytes off the wire; this
    /// entry point is for callers that decoded and validated already.
    pub fn handle_advert(&mut self, now: Instant, src: IpAddr, advert: &Advertisement) {
        self.stats.adverts_rx += 1;
        if advert.priority == 0 {
            self.stats.priority_zero_rx += 1;
        }
        // RFC 5798 §7.1: "MAY verify that the IPvX Address(es) associated with
        // the VRID are valid"; a mismatch is counted and logged, not fatal,
        // as in keepalived.
        if advert.addresses != self.config.addresses {
            self.stats.address_list_errors += 1;
        }
        match self.state {
            State::Backup => self.advert_in_backup(now, src, advert),
            State::Master => self.advert_in_master(now, src, advert),
            State::Initialize | State::Fault => {}
        }
    }

    fn advert_in_backup(&mut self, now: Instant, src: IpAddr, advert: &Advertisement) {
        self.master = Some(MasterInfo {
            address: src,
            priority: advert.priority,
        });
        // "If the Priority in the ADVERTISEMENT is zero, then: Set the
        // Master_Down_Timer to Skew_Time".
        if advert.priority == 0 {
            let skew = crate::timing::skew_time(
                self.config.version,
                self.priority,
                self.master_adver_interval_cs,
            );
            self.master_down_timer = Some(now + skew);
            return;
        }
        // "If Preempt_Mode is False, or if the Priority in the ADVERTISEMENT is
        // greater than or equal to the local Priority, then: Set
        // Master_Adver_Interval to Adver Interval contained in the
        // ADVERTISEMENT, Recompute the Master_Down_Interval, Reset the
        // Master_Down_Timer to Master_Down_Interval".
        let accept = match self.config.preempt {
            Preempt::No => true,
            Preempt::Yes => advert.priority >= self.priority,
            Preempt::Delay(delay) => {
                advert.priority >= self.priority || {
                    // keepalived's preempt_delay: follow a lower-priority
                    // master until it has been seen for `delay`.
                    let at = *self.preempt_at.get_or_insert(now + delay);
                    now < at
                }
            }
        };
        if accept {
            if advert.priority >= self.priority {
                self.preempt_at = None;
            }
            // v2 has no interval learning: the interval must already match ours.
            if self.config.version == Version::V3 {
                self.master_adver_interval_cs = advert.interval_cs();
            }
            self.master_down_timer = Some(now + self.master_down_interval());
        }
        // "Otherwise, discard the ADVERTISEMENT": the timer runs out and we preempt.
    }

    fn advert_in_master(&mut self, now: Instant, src: IpAddr, advert: &Advertisement) {
        // "If the Priority in the ADVERTISEMENT is zero, then: Send an
        // ADVERTISEMENT, Reset the Adver_Timer to Advertisement_Interval".
        if advert.priority == 0 {
            self.send_advert(self.priority);
            self.adver_timer = Some(now + self.advert_interval());
            return;
        }
        // "If the Priority in the ADVERTISEMENT is greater than the local
        // Priority, or the Priority in the ADVERTISEMENT is equal to the local
        // Priority and the primary IPvX Address of the sender is greater than
        // the local primary IPvX Address, then: ... transition to the Backup state".
        let higher = advert.priority > self.priority
            || (advert.priority == self.priority && address_greater(src, self.primary));
        if higher {
            if self.config.version == Version::V3 {
                self.master_adver_interval_cs = advert.interval_cs();
            }
            self.change_state(now, State::Backup, Transition::HigherPriority);
            self.master = Some(MasterInfo {
                address: src,
                priority: advert.priority,
            });
        }
        // "Otherwise: Discard the ADVERTISEMENT".
    }

    /// Sets the effective priority (from tracking or a policy). Zero is
    /// raised to 1 (zero on the wire means "stopping"); only an address
    /// owner may have 255. A master advertises the new priority at once, so
    /// a backup that now outranks it can preempt without waiting an interval.
    pub fn set_priority(&mut self, now: Instant, priority: u8) {
        let priority = if self.config.priority == 255 {
            priority.max(1)
        } else {
            priority.clamp(1, 254)
        };
        if priority == self.priority {
            return;
        }
        self.priority = priority;
        if self.state == State::Master {
            self.send_advert(priority);
            self.adver_timer = Some(now + self.advert_interval());
        }
    }

    /// Sets or clears one fault reason. The first fault moves the instance
    /// to Fault (a master first releases with priority 0); clearing the last
    /// one returns it to Backup (or Master, for an address owner).
    pub fn set_fault(&mut self, now: Instant, reason: FaultReason, active: bool) {
        let before = self.faults;
        if active {
            self.faults |= reason.bit();
        } else {
            self.faults &= !reason.bit();
        }
        if self.state == State::Initialize || (before == 0) == (self.faults == 0) {
            return;
        }
        if self.faults != 0 {
            self.change_state(now, State::Fault, Transition::FaultEntered);
        } else {
            self.master_adver_interval_cs = self.config.advert_interval_cs();
            let to = if self.is_owner() {
                State::Master
            } else {
                State::Backup
            };
            self.change_state(now, to, Transition::FaultCleared);
        }
    }

    /// The instance's interface went down (or lost its primary address).
    pub fn interface_down(&mut self, now: Instant) {
        self.set_fault(now, FaultReason::Interface, true);
    }

    /// The instance's interface is usable again.
    pub fn interface_up(&mut self, now: Instant) {
        self.set_fault(now, FaultReason::Interface, false);
    }

    /// The primary address changed (it is the advert source and tie-breaker).
    pub fn set_primary_address(&mut self, primary: IpAddr) {
        self.primary = primary;
    }

    /// A sync-group peer moved to `to`; follow it (Master or Backup only).
    pub fn follow_group(&mut self, now: Instant, to: State) {
        if self.in_fault() || self.state == State::Initialize || self.state == to {
            return;
        }
        if matches!(to, State::Master | State::Backup) {
            self.change_state(now, to, Transition::SyncGroup);
        }
    }
}

/// Compares addresses as unsigned integers (RFC 5798 §6.4.3).
fn address_greater(a: IpAddr, b: IpAddr) -> bool {
    match (a, b) {
        (IpAddr::V4(a), IpAddr::V4(b)) => u32::from(a) > u32::from(b),
        (IpAddr::V6(a), IpAddr::V6(b)) => u128::from(a) > u128::from(b),
        _ => false,
    }
}
