#![allow(
    dead_code,
    reason = "each test binary uses a different part of the simulator"
)]

//! A virtual-time simulation of VRRP instances sharing one link.
//!
//! Adverts a router sends are encoded, then decoded by every other live,
//! connected router with the same VRID (as on a real LAN, at the same
//! instant). Scripted events inject inputs; every action is recorded as one
//! line of text, which is what conformance cases compare.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use holdfast_vrrp::packet::{MULTICAST_V4, MULTICAST_V6};
use holdfast_vrrp::{
    Action, Advertisement, Auth, ChecksumForm, FaultReason, GarpSchedule, Instance, InstanceConfig,
    InstanceId, Preempt, Received, Router, State, Version,
};
use serde::Deserialize;

fn default_vrid() -> u8 {
    51
}
fn default_priority() -> u8 {
    100
}
fn default_interval() -> u16 {
    100
}
fn default_version() -> u8 {
    3
}
fn default_addresses() -> Vec<IpAddr> {
    vec!["192.0.2.254".parse().unwrap()]
}

/// A router of a scenario (serde defaults make small cases small).
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RouterSpec {
    pub(crate) primary: IpAddr,
    #[serde(default = "default_vrid")]
    pub(crate) vrid: u8,
    #[serde(default = "default_priority")]
    pub(crate) priority: u8,
    #[serde(default = "default_interval")]
    pub(crate) interval_cs: u16,
    #[serde(default = "default_version")]
    pub(crate) version: u8,
    #[serde(default)]
    pub(crate) nopreempt: bool,
    #[serde(default)]
    pub(crate) preempt_delay_ms: Option<u64>,
    #[serde(default)]
    pub(crate) start_as_master: bool,
    #[serde(default = "default_addresses")]
    pub(crate) addresses: Vec<IpAddr>,
    #[serde(default)]
    pub(crate) password: Option<String>,
    #[serde(default)]
    pub(crate) unicast_peers: Vec<IpAddr>,
    #[serde(default)]
    pub(crate) garp_delay_ms: Option<u64>,
    #[serde(default)]
    pub(crate) garp_refresh_ms: Option<u64>,
}

impl RouterSpec {
    pub(crate) fn config(&self) -> InstanceConfig {
        let mut c = InstanceConfig::new(self.vrid, self.addresses.clone());
        c.version = if self.version == 2 {
            Version::V2
        } else {
            Version::V3
        };
        c.priority = self.priority;
        c.advert_interval_cs = self.interval_cs;
        c.preempt = match (self.nopreempt, self.preempt_delay_ms) {
            (true, _) => Preempt::No,
            (false, Some(ms)) => Preempt::Delay(Duration::from_millis(ms)),
            (false, None) => Preempt::Yes,
        };
        c.start_as_master = self.start_as_master;
        c.auth = self.password.as_deref().map(Auth::pass);
        c.unicast_peers = self.unicast_peers.clone();
        c.garp = GarpSchedule {
            delay: self
                .garp_delay_ms
                .map_or(Duration::from_secs(5), Duration::from_millis),
            refresh: self
                .garp_refresh_ms
                .map_or(Duration::ZERO, Duration::from_millis),
            ..GarpSchedule::default()
        };
        c
    }
}

/// A packet injected into one router as if from `src`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct InjectedAdvert {
    pub(crate) src: IpAddr,
    pub(crate) priority: u8,
    #[serde(default)]
    pub(crate) interval: Option<u16>,
    #[serde(default)]
    pub(crate) vrid: Option<u8>,
    #[serde(default)]
    pub(crate) version: Option<u8>,
    #[serde(default)]
    pub(crate) addresses: Option<Vec<IpAddr>>,
    #[serde(default)]
    pub(crate) password: Option<String>,
    #[serde(default)]
    pub(crate) ttl: Option<u8>,
    #[serde(default)]
    pub(crate) no_pseudo_header: bool,
    /// Overwrite these bytes after encoding: `[offset, value]` pairs (checksum left wrong).
    #[serde(default)]
    pub(crate) corrupt: Vec<(usize, u8)>,
    /// Truncate the encoded message to this length.
    #[serde(default)]
    pub(crate) truncate: Option<usize>,
}

/// A scripted input.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "do", rename_all = "kebab-case", deny_unknown_fields)]
pub(crate) enum Event {
    Startup,
    Shutdown,
    /// The process dies: no more actions, timers or packets.
    Kill,
    /// A killed router starts again with a fresh instance.
    Restart,
    Advert(InjectedAdvert),
    SetPriority {
        priority: u8,
    },
    InterfaceDown,
    InterfaceUp,
    Fault {
        reason: FaultReason,
        active: bool,
    },
    /// A configuration reload: these settings change, the rest stays.
    Reconfigure {
        #[serde(default)]
        priority: Option<u8>,
        #[serde(default)]
        interval_cs: Option<u16>,
        #[serde(default)]
        addresses: Option<Vec<IpAddr>>,
        #[serde(default)]
        vrid: Option<u8>,
    },
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Scripted {
    pub(crate) at_ms: f64,
    pub(crate) router: String,
    #[serde(flatten)]
    pub(crate) event: Event,
}

/// A whole scenario: `input.json` of a conformance case.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Scenario {
    #[serde(default)]
    pub(crate) description: String,
    pub(crate) routers: BTreeMap<String, RouterSpec>,
    #[serde(default)]
    pub(crate) sync_groups: Vec<Vec<String>>,
    pub(crate) until_ms: u64,
    pub(crate) events: Vec<Scripted>,
}

struct Node {
    name: String,
    spec: RouterSpec,
    id: InstanceId,
    alive: bool,
}

/// The simulator: every router's instance in one [`Router`] (which runs
/// the sync groups and the drain), adverts delivered by the simulator to
/// every other router on the link.
pub(crate) struct Sim {
    t0: Instant,
    nodes: Vec<Node>,
    router: Router,
    pub(crate) trace: String,
    /// Seconds during which more than one live router was master, measured by the caller.
    pub(crate) masters_over_time: Vec<(Duration, usize)>,
    buf: Vec<u8>,
}

impl Sim {
    pub(crate) fn new(routers: &BTreeMap<String, RouterSpec>, sync_groups: &[Vec<String>]) -> Self {
        let mut router = Router::new();
        // One link: every instance on interface 1; the simulator delivers.
        let nodes: Vec<Node> = routers
            .iter()
            .map(|(name, spec)| Node {
                name: name.clone(),
                spec: spec.clone(),
                id: router.insert(1, Instance::new(spec.config(), spec.primary)),
                alive: true,
            })
            .collect();
        for g in sync_groups {
            let members = g
                .iter()
                .map(|n| {
                    nodes
                        .iter()
                        .find(|x| &x.name == n)
                        .expect("group member")
                        .id
                })
                .collect();
            router.add_group(members);
        }
        Self {
            t0: Instant::now(),
            nodes,
            router,
            trace: String::new(),
            masters_over_time: Vec::new(),
            buf: Vec::new(),
        }
    }

    fn index(&self, name: &str) -> usize {
        self.nodes
            .iter()
            .position(|n| n.name == name)
            .unwrap_or_else(|| panic!("no router {name}"))
    }

    fn inst(&self, i: usize) -> &Instance {
        self.router
            .get(self.nodes[i].id)
            .expect("every node's instance")
    }

    fn inst_mut(&mut self, i: usize) -> &mut Instance {
        let id = self.nodes[i].id;
        self.router.get_mut(id).expect("every node's instance")
    }

    pub(crate) fn state(&self, name: &str) -> State {
        self.inst(self.index(name)).state()
    }

    pub(crate) fn instance(&self, name: &str) -> &Instance {
        self.inst(self.index(name))
    }

    pub(crate) fn is_alive(&self, name: &str) -> bool {
        self.nodes[self.index(name)].alive
    }

    pub(crate) fn live_masters(&self) -> usize {
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].alive && self.inst(i).state() == State::Master)
            .count()
    }

    fn ms(&self, now: Instant) -> String {
        let us = (now - self.t0).as_micros();
        format!("{:>6}.{:03}", us / 1000, us % 1000)
    }

    pub(crate) fn apply(&mut self, now: Instant, router: &str, event: &Event) {
        let i = self.index(router);
        if !self.nodes[i].alive && !matches!(event, Event::Restart) {
            return;
        }
        match event {
            Event::Startup => self.inst_mut(i).startup(now),
            Event::Shutdown => self.inst_mut(i).shutdown(now),
            Event::Kill => self.nodes[i].alive = false,
            Event::Restart => {
                let node = &mut self.nodes[i];
                let fresh = Instance::new(node.spec.config(), node.spec.primary);
                node.alive = true;
                let id = node.id;
                self.router.replace(id, fresh);
                self.inst_mut(i).startup(now);
            }
            Event::SetPriority { priority } => self.inst_mut(i).set_priority(now, *priority),
            Event::InterfaceDown => self.inst_mut(i).interface_down(now),
            Event::InterfaceUp => self.inst_mut(i).interface_up(now),
            Event::Fault { reason, active } => self.inst_mut(i).set_fault(now, *reason, *active),
            Event::Reconfigure {
                priority,
                interval_cs,
                addresses,
                vrid,
            } => {
                let mut cfg = self.inst(i).config().clone();
                cfg.priority = priority.unwrap_or(cfg.priority);
                cfg.advert_interval_cs = interval_cs.unwrap_or(cfg.advert_interval_cs);
                cfg.addresses = addresses.clone().unwrap_or(cfg.addresses);
                cfg.vrid = vrid.unwrap_or(cfg.vrid);
                if let Err(e) = self.inst_mut(i).reconfigure(now, cfg) {
                    let _ = writeln!(
                        self.trace,
                        "{} {router} reconfigure refused: {e}",
                        self.ms(now)
                    );
                }
            }
            Event::Advert(a) => {
                let cfg = self.inst(i).config().clone();
                let version = match a.version {
                    Some(2) => Version::V2,
                    Some(_) => Version::V3,
                    None => cfg.version,
                };
                let advert = Advertisement {
                    version,
                    vrid: a.vrid.unwrap_or(cfg.vrid),
                    priority: a.priority,
                    interval: a.interval.unwrap_or(match version {
                        Version::V2 => cfg.advert_interval_cs / 100,
                        Version::V3 => cfg.advert_interval_cs,
                    }),
                    auth: (version == Version::V2)
                        .then(|| a.password.as_deref().map_or(Auth::NONE, Auth::pass)),
                    addresses: a.addresses.clone().unwrap_or(cfg.addresses.clone()),
                };
                let dst = multicast(a.src);
                let form = if a.no_pseudo_header {
                    ChecksumForm::NoPseudoHeader
                } else {
                    ChecksumForm::Standard
                };
                let mut bytes = advert.encode(a.src, dst, form);
                for &(off, val) in &a.corrupt {
                    bytes[off] = val;
                }
                if let Some(n) = a.truncate {
                    bytes.truncate(n);
                }
                let rx = Received {
                    src: a.src,
                    dst,
                    ttl: a.ttl.unwrap_or(255),
                    payload: &bytes,
                };
                if let Err(e) = self.inst_mut(i).handle_packet(now, rx) {
                    let _ = writeln!(self.trace, "{} {router} dropped: {e}", self.ms(now));
                }
            }
        }
        self.drain(now);
    }

    pub(crate) fn handle_timeouts(&mut self, now: Instant) {
        // Only live routers: a killed one keeps its instance, frozen.
        for i in 0..self.nodes.len() {
            if self.nodes[i].alive && self.inst(i).poll_timeout().is_some_and(|t| t <= now) {
                self.inst_mut(i).handle_timeout(now);
            }
        }
        self.drain(now);
    }

    pub(crate) fn next_timeout(&self) -> Option<Instant> {
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].alive)
            .filter_map(|i| self.inst(i).poll_timeout())
            .min()
    }

    fn node_of(&self, id: InstanceId) -> usize {
        self.nodes
            .iter()
            .position(|n| n.id == id)
            .expect("a node per instance")
    }

    /// Runs every router's actions (the Router fans state changes out to
    /// sync groups), delivering adverts, until nothing is left.
    fn drain(&mut self, now: Instant) {
        while let Some((id, action)) = self.router.poll_action(now) {
            let i = self.node_of(id);
            if !self.nodes[i].alive {
                continue;
            }
            self.record(now, i, &action);
            if let Action::SendAdvert { advert } = action {
                self.deliver(now, i, &advert);
            }
        }
        self.masters_over_time
            .push((now - self.t0, self.live_masters()));
    }

    fn deliver(&mut self, now: Instant, from: usize, advert: &Advertisement) {
        let src = self.nodes[from].spec.primary;
        let dst = multicast(src);
        advert.encode_into(&mut self.buf, src, dst, ChecksumForm::Standard);
        let bytes = std::mem::take(&mut self.buf);
        for j in 0..self.nodes.len() {
            let node = &self.nodes[j];
            if j == from
                || !node.alive
                || node.spec.vrid != advert.vrid
                || node.spec.primary.is_ipv4() != src.is_ipv4()
            {
                continue;
            }
            let rx = Received {
                src,
                dst,
                ttl: 255,
                payload: &bytes,
            };
            if let Err(e) = self.inst_mut(j).handle_packet(now, rx) {
                let _ = writeln!(
                    self.trace,
                    "{} {} dropped: {e}",
                    fmt_ms(now - self.t0),
                    self.nodes[j].name
                );
            }
        }
        self.buf = bytes;
    }

    fn record(&mut self, now: Instant, i: usize, action: &Action) {
        let name = &self.nodes[i].name;
        let text = match action {
            Action::SendAdvert { advert } => format!(
                "send-advert priority={} interval={}",
                advert.priority, advert.interval
            ),
            Action::AddVips => "add-vips".to_string(),
            Action::RemoveVips => "remove-vips".to_string(),
            Action::SendGratuitous { count } => format!("send-gratuitous count={count}"),
            Action::AddAddresses { addresses } => format!("add-addresses {addresses:?}"),
            Action::RemoveAddresses { addresses } => format!("remove-addresses {addresses:?}"),
            Action::AnnounceAddresses { addresses, count } => {
                format!("announce-addresses {addresses:?} count={count}")
            }
            Action::StateChanged {
                from,
                to,
                reason,
                priority,
            } => {
                format!("state {from:?} -> {to:?} ({reason:?}) priority={priority}")
            }
        };
        let _ = writeln!(self.trace, "{} {name} {text}", self.ms(now));
    }

    /// Appends each router's final state and its non-zero counters.
    pub(crate) fn summarize(&mut self) {
        for n in &self.nodes {
            let instance = self.router.get(n.id).expect("every node's instance");
            let stats = serde_json::to_value(instance.stats()).unwrap();
            let counters: Vec<String> = stats
                .as_object()
                .unwrap()
                .iter()
                .filter(|(_, v)| !(v.is_null() || *v == 0))
                .map(|(k, v)| format!("{k}={}", v.as_str().map_or(v.to_string(), str::to_string)))
                .collect();
            let _ = writeln!(
                self.trace,
                "final {} {:?} priority={} alive={} {}",
                n.name,
                instance.state(),
                instance.priority(),
                n.alive,
                counters.join(" ")
            );
        }
    }

    /// Runs a scenario to its end.
    pub(crate) fn run(scenario: &Scenario) -> Self {
        let mut sim = Self::new(&scenario.routers, &scenario.sync_groups);
        let mut events: Vec<&Scripted> = scenario.events.iter().collect();
        events.sort_by(|a, b| a.at_ms.total_cmp(&b.at_ms));
        let until = sim.t0 + Duration::from_millis(scenario.until_ms);
        let mut next_event = 0;
        loop {
            let event_at = events
                .get(next_event)
                .map(|e| sim.t0 + Duration::from_secs_f64(e.at_ms / 1000.0));
            let timer_at = sim.next_timeout();
            let now = match (event_at, timer_at) {
                (Some(e), Some(t)) => e.min(t),
                (Some(e), None) => e,
                (None, Some(t)) => t,
                (None, None) => break,
            };
            if now > until {
                break;
            }
            // Scripted inputs at an instant come before timers due at the same instant.
            while let Some(e) = events
                .get(next_event)
                .filter(|e| sim.t0 + Duration::from_secs_f64(e.at_ms / 1000.0) <= now)
            {
                sim.apply(now, &e.router, &e.event);
                next_event += 1;
            }
            sim.handle_timeouts(now);
        }
        sim.summarize();
        sim
    }
}

fn fmt_ms(d: Duration) -> String {
    let us = d.as_micros();
    format!("{:>6}.{:03}", us / 1000, us % 1000)
}

fn multicast(src: IpAddr) -> IpAddr {
    if src.is_ipv4() {
        IpAddr::V4(MULTICAST_V4)
    } else {
        IpAddr::V6(MULTICAST_V6)
    }
}
