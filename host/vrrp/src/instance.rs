//! One virtual router: inputs in, actions out, time passed as a parameter.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::action::Action;
use crate::fsm::{State, Transition};
use crate::packet::{Advertisement, Auth, ChecksumForm, Version};
use crate::stats::Statistics;

/// Preemption behaviour (RFC 5798 §6.1 Preempt_Mode, plus keepalived's delay).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Preempt {
    /// Preempt_Mode True: a higher-priority backup takes over at once.
    Yes,
    /// Preempt_Mode False.
    No,
    /// Preempt, but only after the lower-priority master has been seen for this long.
    Delay(Duration),
}

/// Gratuitous ARP / unsolicited NA schedule after becoming master (keepalived's `garp_master_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GarpSchedule {
    /// Messages per address in each burst.
    pub repeat: u32,
    /// Delay of the second burst after the transition (zero: none).
    pub delay: Duration,
    /// Period of refresh bursts while master (zero: none).
    pub refresh: Duration,
    /// Messages per address in a refresh burst.
    pub refresh_repeat: u32,
}

impl Default for GarpSchedule {
    fn default() -> Self {
        Self {
            repeat: 5,
            delay: Duration::from_secs(5),
            refresh: Duration::ZERO,
            refresh_repeat: 1,
        }
    }
}

/// The configuration of one virtual router, as the core needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceConfig {
    /// Virtual Router ID.
    pub vrid: u8,
    /// Protocol version.
    pub version: Version,
    /// Configured priority, 1..=255.
    pub priority: u8,
    /// Advertisement interval in centiseconds (v2: a multiple of 100).
    pub advert_interval_cs: u16,
    /// Preemption.
    pub preempt: Preempt,
    /// Start as master (keepalived's `state MASTER`) rather than backup.
    pub start_as_master: bool,
    /// The virtual addresses carried in adverts.
    pub addresses: Vec<IpAddr>,
    /// VRRPv2 authentication.
    pub auth: Option<Auth>,
    /// Unicast peers; adverts from anyone else are dropped. Empty = multicast.
    pub unicast_peers: Vec<IpAddr>,
    /// Gratuitous ARP / NA schedule.
    pub garp: GarpSchedule,
    /// Accept_Mode (RFC 5798 §6.1): a non-owner master accepts packets for the addresses.
    pub accept_mode: bool,
    /// Checksum form of sent IPv4 VRRPv3 adverts (`NoPseudoHeader` is keepalived's
    /// `v3_checksum_as_v2`). Both forms are always accepted on receipt.
    pub send_checksum: ChecksumForm,
}

impl InstanceConfig {
    /// A v3 instance with defaults (priority 100, 1 s, preempt, backup start).
    pub fn new(vrid: u8, addresses: Vec<IpAddr>) -> Self {
        Self {
            vrid,
            version: Version::V3,
            priority: 100,
            advert_interval_cs: 100,
            preempt: Preempt::Yes,
            start_as_master: false,
            addresses,
            auth: None,
            unicast_peers: Vec::new(),
            garp: GarpSchedule::default(),
            accept_mode: true,
            send_checksum: ChecksumForm::Standard,
        }
    }

    pub(crate) fn advert_interval_cs(&self) -> u32 {
        u32::from(self.advert_interval_cs)
    }

    /// The interval as it goes on the wire (v2: seconds; v3: centiseconds).
    fn wire_interval(&self) -> u16 {
        match self.version {
            Version::V2 => (self.advert_interval_cs / 100).max(1),
            Version::V3 => self.advert_interval_cs,
        }
    }
}

/// Which gratuitous burst a timer is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GarpPhase {
    /// keepalived's `garp_master_delay`: a second full burst after the transition.
    SecondBurst,
    /// keepalived's `garp_master_refresh`: periodic bursts while master.
    Refresh,
}

/// What we know of the current master while backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MasterInfo {
    /// Its address (the advert's IP source).
    pub address: IpAddr,
    /// Its advertised priority.
    pub priority: u8,
}

/// One virtual router (RFC 5798 §6): a deterministic state machine.
///
/// Inputs: [`startup`](Self::startup), [`handle_packet`](Self::handle_packet) /
/// [`handle_advert`](Self::handle_advert), [`handle_timeout`](Self::handle_timeout),
/// [`set_priority`](Self::set_priority), [`set_fault`](Self::set_fault),
/// [`shutdown`](Self::shutdown). Outputs: [`poll_action`](Self::poll_action) until
/// `None`, then sleep until [`poll_timeout`](Self::poll_timeout).
#[derive(Debug, Clone)]
pub struct Instance {
    pub(crate) config: InstanceConfig,
    /// Our primary address on the interface: the advert source and tie-breaker.
    pub(crate) primary: IpAddr,
    pub(crate) state: State,
    /// Effective priority (configured, adjusted by tracking or policy).
    pub(crate) priority: u8,
    /// Master_Adver_Interval in centiseconds (learned from the master in v3).
    pub(crate) master_adver_interval_cs: u32,
    pub(crate) adver_timer: Option<Instant>,
    pub(crate) master_down_timer: Option<Instant>,
    /// When a delayed preemption may happen.
    pub(crate) preempt_at: Option<Instant>,
    /// Next gratuitous burst after the one sent on becoming master.
    pub(crate) garp_timer: Option<(Instant, GarpPhase)>,
    pub(crate) faults: u8,
    pub(crate) master: Option<MasterInfo>,
    pub(crate) actions: VecDeque<Action>,
    pub(crate) stats: Statistics,
    /// The checksum form of the last valid advert received (for auto-detection and logs).
    pub(crate) peer_checksum: Option<ChecksumForm>,
}

impl Instance {
    /// A virtual router in Initialize; call [`startup`](Self::startup) to run it.
    pub fn new(config: InstanceConfig, primary: IpAddr) -> Self {
        let priority = config.priority.max(1);
        let master_adver_interval_cs = config.advert_interval_cs();
        Self {
            config,
            primary,
            state: State::Initialize,
            priority,
            master_adver_interval_cs,
            adver_timer: None,
            master_down_timer: None,
            preempt_at: None,
            garp_timer: None,
            faults: 0,
            master: None,
            actions: VecDeque::new(),
            stats: Statistics::default(),
            peer_checksum: None,
        }
    }

    // ===== accessors =====

    /// Current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Effective priority.
    pub fn priority(&self) -> u8 {
        self.priority
    }

    /// The configuration.
    pub fn config(&self) -> &InstanceConfig {
        &self.config
    }

    /// Counters.
    pub fn stats(&self) -> &Statistics {
        &self.stats
    }

    /// The master we are following, while backup.
    pub fn master(&self) -> Option<MasterInfo> {
        self.master
    }

    /// Master_Adver_Interval in centiseconds.
    pub fn master_adver_interval_cs(&self) -> u32 {
        self.master_adver_interval_cs
    }

    /// RFC 5798 §6.4.3: whether this router must accept packets addressed
    /// to the virtual addresses (master, and owner or Accept_Mode).
    pub fn accepts_traffic(&self) -> bool {
        self.state == State::Master && (self.is_owner() || self.config.accept_mode)
    }

    /// The checksum form the peers use, once a valid advert was received.
    /// A shell that finds it differs from [`InstanceConfig::send_checksum`]
    /// can warn: keepalived with `v3_checksum_as_v2` and an RFC peer do not
    /// interoperate in both directions.
    pub fn peer_checksum(&self) -> Option<ChecksumForm> {
        self.peer_checksum
    }

    /// Whether any fault holds.
    pub fn in_fault(&self) -> bool {
        self.faults != 0
    }

    pub(crate) fn is_owner(&self) -> bool {
        self.config.priority == 255
    }

    // ===== outputs =====

    /// The next action to perform, if any.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.adver_timer,
            self.master_down_timer,
            self.garp_timer.map(|(t, _)| t),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The advertisement this router sends with `priority`.
    pub fn advertisement(&self, priority: u8) -> Advertisement {
        Advertisement {
            version: self.config.version,
            vrid: self.config.vrid,
            priority,
            interval: self.config.wire_interval(),
            auth: match self.config.version {
                Version::V2 => Some(self.config.auth.unwrap_or(Auth::NONE)),
                Version::V3 => None,
            },
            addresses: self.config.addresses.clone(),
        }
    }

    pub(crate) fn send_advert(&mut self, priority: u8) {
        self.stats.adverts_tx += 1;
        if priority == 0 {
            self.stats.priority_zero_tx += 1;
        }
        let advert = self.advertisement(priority);
        self.actions.push_back(Action::SendAdvert { advert });
    }

    // ===== inputs =====

    /// The Startup event (RFC 5798 §6.4.1).
    pub fn startup(&mut self, now: Instant) {
        if self.state != State::Initialize {
            return;
        }
        self.master_adver_interval_cs = self.config.advert_interval_cs();
        if self.in_fault() {
            self.change_state(now, State::Fault, Transition::FaultEntered);
        } else if self.is_owner() {
            // "If the Priority = 255 ... transition to the Master state"
            self.change_state(now, State::Master, Transition::Owner);
        } else if self.config.start_as_master {
            self.change_state(now, State::Master, Transition::InitialMaster);
        } else {
            self.change_state(now, State::Backup, Transition::Startup);
        }
    }

    /// The Shutdown event (RFC 5798 §6.4.2, §6.4.3): a master sends priority 0
    /// and removes its addresses.
    pub fn shutdown(&mut self, now: Instant) {
        self.change_state(now, State::Initialize, Transition::Shutdown);
    }

    /// Processes due timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.state {
            State::Backup => {
                if self.master_down_timer.is_some_and(|t| t <= now) {
                    // RFC 5798 §6.4.2 ("If the Master_Down_Timer fires").
                    let reason = if self.master.is_none_or(|m| m.priority != 0) {
                        Transition::MasterDown
                    } else {
                        Transition::PriorityZero
                    };
                    self.change_state(now, State::Master, reason);
                }
            }
            State::Master => {
                if let Some(due) = self.adver_timer.filter(|t| *t <= now) {
                    // RFC 5798 §6.4.3 ("If the Adver_Timer fires"). The next
                    // advert is due one interval after this one was due, not
                    // after we got round to it, so the schedule never drifts;
                    // if we fell more than an interval behind, restart from now.
                    self.send_advert(self.priority);
                    let interval = self.advert_interval();
                    let next = due + interval;
                    self.adver_timer = Some(if next <= now { now + interval } else { next });
                }
                if let Some((_, phase)) = self.garp_timer.filter(|(t, _)| *t <= now) {
                    let g = self.config.garp;
                    let count = match phase {
                        GarpPhase::SecondBurst => g.repeat,
                        GarpPhase::Refresh => g.refresh_repeat,
                    };
                    self.actions.push_back(Action::SendGratuitous { count });
                    self.garp_timer =
                        (g.refresh > Duration::ZERO).then(|| (now + g.refresh, GarpPhase::Refresh));
                }
            }
            State::Initialize | State::Fault => {}
        }
    }

    /// The first gratuitous timer after becoming master (the burst itself goes out at once).
    pub(crate) fn first_garp_timer(&self, now: Instant) -> Option<(Instant, GarpPhase)> {
        let g = self.config.garp;
        if g.delay > Duration::ZERO {
            Some((now + g.delay, GarpPhase::SecondBurst))
        } else if g.refresh > Duration::ZERO {
            Some((now + g.refresh, GarpPhase::Refresh))
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance(priority: u8, accept_mode: bool) -> Instance {
        let mut c = InstanceConfig::new(1, vec!["192.0.2.254".parse().unwrap()]);
        c.priority = priority;
        c.accept_mode = accept_mode;
        c.start_as_master = true;
        Instance::new(c, "192.0.2.1".parse().unwrap())
    }

    #[test]
    fn accept_mode_applies_to_masters_that_do_not_own_the_address() {
        let now = Instant::now();
        let mut owner = instance(255, false);
        let mut plain = instance(100, false);
        let mut accepting = instance(100, true);
        assert!(!accepting.accepts_traffic(), "not before start-up");
        for i in [&mut owner, &mut plain, &mut accepting] {
            i.startup(now);
        }
        assert!(owner.accepts_traffic());
        assert!(!plain.accepts_traffic());
        assert!(accepting.accepts_traffic());
        accepting.shutdown(now);
        assert!(!accepting.accepts_traffic());
    }

    #[test]
    fn v2_adverts_carry_whole_seconds_and_authentication() {
        let mut c = InstanceConfig::new(7, vec!["192.0.2.254".parse().unwrap()]);
        c.version = Version::V2;
        c.advert_interval_cs = 300;
        c.auth = Some(Auth::pass("secret"));
        let i = Instance::new(c, "192.0.2.1".parse().unwrap());
        let a = i.advertisement(0);
        assert_eq!(
            (a.interval, a.auth, a.priority),
            (3, Some(Auth::pass("secret")), 0)
        );
    }
}
