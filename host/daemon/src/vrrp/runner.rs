//! The VRRP task: every instance's state machine, driven by one `select!`
//! loop over received packets, the nearest protocol deadline, link events,
//! tracked-file polls and the stop signal.
//!
//! ```text
//!  receiver tasks (one per interface+family) ──packets──▶ ┌────────────┐ ──AddrCmd──▶ address task (netlink, GARP/NA)
//!  link monitor (rtnetlink groups) ──────────events────▶ │ VRRP task  │ ──scripts──▶ notifier (one per instance)
//!  signals ─────────────────────────────────────stop───▶ └────────────┘ ──adverts──▶ raw sockets (sent inline)
//! ```
//!
//! Only sending adverts happens inline (a non-blocking `sendto`); anything
//! that can wait on the kernel or a child process runs elsewhere, so the
//! advert schedule does not depend on it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use holdfast_net::{LinkEvent, RxMeta, VipSpec, VrrpSender};
use holdfast_vrrp::{Action, FaultReason, Instance, Received, State, SyncGroup};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

use super::addresses::AddrCmd;
use super::notify::{self, Notifier};
use super::policy_worker::{PolicyAnswer, PolicyWorker};
use super::tracking::Tracking;
use holdfast_config::{NotifyCfg, VrrpInstanceCfg};

/// How often tracked files are re-read.
const TRACK_FILE_POLL: Duration = Duration::from_millis(500);
/// How often priority policies are asked even when no input changed.
const POLICY_TICK: Duration = Duration::from_secs(1);

/// A slot's priority policy, evaluated on the policy thread.
#[derive(Debug, Default)]
pub(crate) struct PolicyState {
    /// A request is on the policy thread.
    pub(crate) pending: bool,
    /// An input changed while a request was pending: ask again on its answer.
    pub(crate) dirty: bool,
    /// Failed calls (the static-tracking fallback applied).
    pub(crate) failures: u64,
}

/// A packet from a receiver task.
#[derive(Debug)]
pub(crate) struct Packet {
    pub(crate) ifindex: u32,
    pub(crate) meta: RxMeta,
    pub(crate) bytes: Vec<u8>,
}

/// One running instance and everything attached to it.
pub(crate) struct Slot {
    pub(crate) name: String,
    pub(crate) ifindex: u32,
    pub(crate) ifname: String,
    pub(crate) instance: Instance,
    pub(crate) sender: VrrpSender,
    pub(crate) vips: Vec<VipSpec>,
    pub(crate) tracking: Tracking,
    pub(crate) notify: NotifyCfg,
    pub(crate) notifier: Notifier,
    pub(crate) send_errors: u64,
    /// Set when `priority-policy` names a policy.
    pub(crate) policy: Option<PolicyState>,
    /// The instance's own interface (link, primary address) decides Fault;
    /// off with `dont-track-primary`.
    pub(crate) track_primary: bool,
    /// Its interface was down when it started: it starts in Fault.
    pub(crate) starts_down: bool,
}

impl Slot {
    pub(crate) fn from_config(
        cfg: &VrrpInstanceCfg,
        ifindex: u32,
        instance: Instance,
        sender: VrrpSender,
        vips: Vec<VipSpec>,
        notifier: Notifier,
    ) -> Self {
        Self {
            name: cfg.name.clone(),
            ifindex,
            ifname: cfg.interface.clone(),
            instance,
            sender,
            vips,
            tracking: Tracking::new(
                cfg.priority,
                &cfg.track_interfaces,
                &tracked_checks(cfg),
                &cfg.track_files,
            ),
            track_primary: !cfg.dont_track_primary,
            starts_down: false,
            notify: cfg.notify.clone(),
            notifier,
            send_errors: 0,
            policy: cfg.priority_policy.as_ref().map(|_| PolicyState::default()),
        }
    }
}

/// An instance's tracked checks: its `track-check` blocks, and its
/// `track-process` entries under their check names.
fn tracked_checks(cfg: &VrrpInstanceCfg) -> Vec<holdfast_config::TrackCheckCfg> {
    let processes = cfg
        .track_processes
        .iter()
        .map(|p| holdfast_config::TrackCheckCfg {
            name: super::process::check_name(&p.name),
            weight: p.weight,
        });
    cfg.track_checks.iter().cloned().chain(processes).collect()
}

/// A group's members (slot indices) and its notify scripts.
pub(crate) struct Group {
    pub(crate) name: String,
    pub(crate) sync: SyncGroup,
    pub(crate) notify: NotifyCfg,
    pub(crate) notifier: Notifier,
    pub(crate) state: State,
}

/// What the VRRP task listens to.
pub(crate) struct Inputs {
    pub(crate) packets: mpsc::Receiver<Packet>,
    pub(crate) links: mpsc::UnboundedReceiver<LinkEvent>,
    pub(crate) answers: mpsc::UnboundedReceiver<PolicyAnswer>,
    pub(crate) reevaluate: mpsc::UnboundedReceiver<()>,
    pub(crate) checks: mpsc::UnboundedReceiver<super::checks::CheckStatus>,
    pub(crate) stop: oneshot::Receiver<()>,
}

pub(crate) struct Runner {
    pub(crate) slots: Vec<Slot>,
    pub(crate) groups: Vec<Group>,
    pub(crate) by_vrid: HashMap<(u32, bool, u8), usize>,
    pub(crate) addr_tx: mpsc::UnboundedSender<AddrCmd>,
    pub(crate) buf: Vec<u8>,
    pub(crate) policies: Option<PolicyWorker>,
    /// Instance states for policies' `state.instance-state`.
    pub(crate) board: super::policy_worker::StateBoard,
}

impl Runner {
    fn on_packet(&mut self, now: Instant, p: Packet) {
        let payload = &p.bytes[p.meta.offset..p.meta.offset + p.meta.len];
        // The VRID is the second byte of every VRRP version's header.
        let Some(&vrid) = payload.get(1) else { return };
        let Some(&i) = self.by_vrid.get(&(p.ifindex, p.meta.src.is_ipv6(), vrid)) else {
            debug!(ifindex = p.ifindex, vrid, src = %p.meta.src, "advert for a VRID we do not run");
            return;
        };
        let slot = &mut self.slots[i];
        let rx = Received {
            src: p.meta.src,
            dst: p.meta.dst,
            ttl: p.meta.ttl,
            payload,
        };
        if let Err(e) = slot.instance.handle_packet(now, rx) {
            // Counted by the instance; our own multicast echoes are normal.
            if !matches!(e, holdfast_vrrp::DecodeError::OwnAdvert { .. }) {
                debug!(instance = %slot.name, src = %p.meta.src, error = %e, "advert dropped");
            }
        }
    }

    fn on_link_event(&mut self, now: Instant, ev: &LinkEvent) {
        for i in 0..self.slots.len() {
            let slot = &mut self.slots[i];
            match ev {
                LinkEvent::Link(info) => {
                    if info.index == slot.ifindex && slot.track_primary {
                        if info.up {
                            slot.instance.interface_up(now);
                        } else {
                            slot.instance.interface_down(now);
                        }
                    }
                    if slot.tracking.set_interface(&info.name, info.up) {
                        self.apply_tracking(now, i);
                    }
                }
                LinkEvent::LinkRemoved { index } if *index == slot.ifindex => {
                    slot.instance.interface_down(now)
                }
                // `dont-track-primary`: the instance's own link and address
                // do not put it in Fault (keepalived's semantics).
                LinkEvent::AddressRemoved { index, addr }
                    if *index == slot.ifindex
                        && *addr == slot.sender.source()
                        && slot.track_primary =>
                {
                    warn!(instance = %slot.name, address = %addr, "primary address removed: fault");
                    slot.instance.set_fault(now, FaultReason::Interface, true);
                }
                LinkEvent::AddressAdded { index, addr }
                    if *index == slot.ifindex && *addr == slot.sender.source() =>
                {
                    slot.instance.set_fault(now, FaultReason::Interface, false);
                }
                _ => {}
            }
        }
    }

    /// A `vrrp-check` block reported: every instance tracking it
    /// re-evaluates when it changed (with a policy, also on news of its
    /// latency or error).
    fn on_check_status(&mut self, now: Instant, status: &super::checks::CheckStatus) {
        for i in 0..self.slots.len() {
            let tracking = &mut self.slots[i].tracking;
            let tracked =
                tracking.note_check(&status.name, status.latency_us, status.error.as_deref());
            if !tracking.set_check(&status.name, status.up) {
                // Only a priority policy sees latencies and errors.
                if tracked && self.slots[i].policy.is_some() && self.policies.is_some() {
                    self.ask_policy(i);
                }
                continue;
            }
            info!(
                instance = %self.slots[i].name,
                check = %status.name,
                up = status.up,
                error = status.error.as_deref().unwrap_or(""),
                "tracked check changed"
            );
            self.apply_tracking(now, i);
        }
    }

    fn poll_files(&mut self, now: Instant) {
        for i in 0..self.slots.len() {
            if self.slots[i].tracking.has_files() && self.slots[i].tracking.refresh_files() {
                self.apply_tracking(now, i);
            }
        }
    }

    /// Performs every pending action of every instance, following sync groups.
    fn drain(&mut self, now: Instant) {
        loop {
            let mut changes = Vec::new();
            for i in 0..self.slots.len() {
                while let Some(action) = self.slots[i].instance.poll_action() {
                    if let Some(change) = self.perform(i, action) {
                        changes.push(change);
                    }
                }
            }
            if changes.is_empty() {
                return;
            }
            for (i, from, to) in changes {
                for g in 0..self.groups.len() {
                    if !self.groups[g].sync.members().contains(&i) {
                        continue;
                    }
                    let slots = &self.slots;
                    let commands = self.groups[g].sync.member_changed(i, from, to, |m| {
                        slots.get(m).is_some_and(|s| s.instance.has_own_fault())
                    });
                    for (m, cmd) in commands {
                        if let Some(s) = self.slots.get_mut(m) {
                            s.instance.apply_group(now, cmd);
                        }
                    }
                    self.group_state(g);
                }
            }
        }
    }

    /// Runs a group's notify scripts when its members agree on a new state.
    fn group_state(&mut self, g: usize) {
        let group = &mut self.groups[g];
        let states: Vec<State> = group
            .sync
            .members()
            .iter()
            .map(|&m| self.slots[m].instance.state())
            .collect();
        let Some(&first) = states.first() else { return };
        if states.iter().all(|s| *s == first) && first != group.state {
            group.state = first;
            info!(group = %group.name, state = notify::state_name(first), "sync group state");
            group.notifier.queue(notify::commands(
                &group.notify,
                "GROUP",
                &group.name,
                first,
                0,
            ));
        }
    }

    fn perform(&mut self, i: usize, action: Action) -> Option<(usize, State, State)> {
        let slot = &mut self.slots[i];
        match action {
            Action::SendAdvert { advert } => {
                let form = slot.instance.config().send_checksum;
                let dsts: Vec<IpAddr> = slot.sender.destinations().collect();
                for dst in dsts {
                    advert.encode_into(&mut self.buf, slot.sender.source(), dst, form);
                    if let Err(e) = slot.sender.send_to(&self.buf, dst) {
                        slot.send_errors += 1;
                        debug!(instance = %slot.name, %dst, error = %e, "advert not sent");
                    }
                }
            }
            Action::AddVips => {
                let _ = self.addr_tx.send(AddrCmd::Add {
                    instance: slot.name.clone(),
                    vips: slot.vips.clone(),
                });
            }
            Action::RemoveVips => {
                let _ = self.addr_tx.send(AddrCmd::Remove {
                    instance: slot.name.clone(),
                    vips: slot.vips.clone(),
                });
            }
            Action::SendGratuitous { count } => {
                let _ = self.addr_tx.send(AddrCmd::Announce {
                    vips: slot.vips.clone(),
                    count,
                });
            }
            Action::StateChanged {
                from,
                to,
                reason,
                priority,
            } => {
                info!(
                    instance = %slot.name,
                    interface = %slot.ifname,
                    from = notify::state_name(from),
                    to = notify::state_name(to),
                    ?reason,
                    priority,
                    "state change"
                );
                if let Ok(mut board) = self.board.write() {
                    board.insert(slot.name.clone(), policy_state(to));
                }
                slot.notifier.queue(notify::commands(
                    &slot.notify,
                    "INSTANCE",
                    &slot.name,
                    to,
                    priority,
                ));
                return Some((i, from, to));
            }
        }
        None
    }

    /// The VRRP loop. Returns when `stop` fires, after releasing mastership.
    pub(crate) async fn run(mut self, inputs: Inputs) {
        let Inputs {
            mut packets,
            mut links,
            mut answers,
            mut reevaluate,
            mut checks,
            mut stop,
        } = inputs;
        let now = Instant::now();
        for i in 0..self.slots.len() {
            self.slots[i].tracking.refresh_files();
            self.apply_tracking(now, i);
            self.slots[i].instance.startup(now);
            if self.slots[i].starts_down {
                warn!(instance = %self.slots[i].name, interface = %self.slots[i].ifname, "interface down at start: fault");
                self.slots[i].instance.interface_down(now);
            }
        }
        self.drain(now);
        let mut timer = match super::timer::PreciseTimer::new() {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(error = %e, "cannot create the protocol timer");
                return;
            }
        };
        let mut policy_tick = tokio::time::interval(POLICY_TICK);
        policy_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut file_poll = tokio::time::interval(TRACK_FILE_POLL);
        file_poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let deadline = self
                .slots
                .iter()
                .filter_map(|s| s.instance.poll_timeout())
                .min();
            if let Err(e) = timer.arm(deadline) {
                warn!(error = %e, "cannot arm the protocol timer");
            }
            tokio::select! {
                biased;
                _ = &mut stop => break,
                _ = timer.expired() => {
                    let now = Instant::now();
                    for s in &mut self.slots {
                        if s.instance.poll_timeout().is_some_and(|t| t <= now) {
                            s.instance.handle_timeout(now);
                        }
                    }
                }
                Some(p) = packets.recv() => self.on_packet(Instant::now(), p),
                Some(ev) = links.recv() => self.on_link_event(Instant::now(), &ev),
                _ = file_poll.tick() => self.poll_files(Instant::now()),
                Some(a) = answers.recv() => self.on_policy_answer(Instant::now(), a),
                Some(c) = checks.recv() => self.on_check_status(Instant::now(), &c),
                Some(()) = reevaluate.recv() => self.ask_all_policies(),
                _ = policy_tick.tick(), if self.policies.is_some() => self.ask_all_policies(),
            }
            self.drain(Instant::now());
        }
        // Graceful stop: masters send priority 0 and remove their addresses.
        let now = Instant::now();
        for s in &mut self.slots {
            s.instance.shutdown(now);
        }
        self.drain(now);
        let (done_tx, done_rx) = oneshot::channel();
        let _ = self.addr_tx.send(AddrCmd::Flush(done_tx));
        let _ = tokio::time::timeout(Duration::from_secs(5), done_rx).await;
        for s in &self.slots {
            let st = s.instance.stats();
            info!(instance = %s.name, adverts_tx = st.adverts_tx, adverts_rx = st.adverts_rx, errors = st.errors(), send_errors = s.send_errors, "stopped");
        }
    }
}

/// The policy contract's view of a VRRP state.
pub(super) fn policy_state(s: State) -> holdfast_policy::VrrpState {
    match s {
        State::Initialize => holdfast_policy::VrrpState::Initialize,
        State::Backup => holdfast_policy::VrrpState::Backup,
        State::Master => holdfast_policy::VrrpState::Master,
        State::Fault => holdfast_policy::VrrpState::Fault,
    }
}
