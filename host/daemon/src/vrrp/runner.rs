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

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use holdfast_net::{LinkEvent, RxMeta, VipSpec, VrrpSender};
use holdfast_vrrp::{
    Action, DecodeError, FaultReason, GroupId, InstanceId, Received, RouteError, Router, State,
};
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

/// Everything attached to one running instance (the instance itself is
/// the [`Router`]'s, under the same id).
pub(crate) struct Slot {
    pub(crate) name: String,
    pub(crate) ifindex: u32,
    pub(crate) ifname: String,
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
        sender: VrrpSender,
        vips: Vec<VipSpec>,
        notifier: Notifier,
    ) -> Self {
        Self {
            name: cfg.name.clone(),
            ifindex,
            ifname: cfg.interface.clone(),
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
pub(super) fn tracked_checks(cfg: &VrrpInstanceCfg) -> Vec<holdfast_config::TrackCheckCfg> {
    let processes = cfg
        .track_processes
        .iter()
        .map(|p| holdfast_config::TrackCheckCfg {
            name: super::process::check_name(&p.name),
            weight: p.weight,
        });
    cfg.track_checks.iter().cloned().chain(processes).collect()
}

/// A sync group (its members are the [`Router`]'s) and its notify scripts.
pub(crate) struct Group {
    pub(crate) name: String,
    pub(crate) id: GroupId,
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
    pub(crate) reconfig: mpsc::UnboundedReceiver<super::reconfig::Reconfig>,
    pub(crate) stop: oneshot::Receiver<()>,
}

pub(crate) struct Runner {
    /// Every instance: it routes adverts, runs sync groups, yields actions.
    pub(crate) router: Router,
    /// What the daemon attaches to each instance, by the same id.
    pub(crate) slots: BTreeMap<InstanceId, Slot>,
    /// Sync groups by the router's id for them.
    pub(crate) groups: BTreeMap<GroupId, Group>,
    pub(crate) addr_tx: mpsc::UnboundedSender<AddrCmd>,
    pub(crate) buf: Vec<u8>,
    pub(crate) policies: Option<PolicyWorker>,
    /// Instance states for policies' `state.instance-state`.
    pub(crate) board: super::policy_worker::StateBoard,
    /// The checks thread of tracked `vrrp-check` blocks (stops when dropped).
    pub(crate) checks: Option<super::checks::VrrpChecks>,
    /// Tells the priority-policy loader about a reload's instances.
    pub(crate) policy_reload: Option<mpsc::UnboundedSender<super::reload::PolicyReload>>,
}

impl Runner {
    fn on_packet(&mut self, now: Instant, p: Packet) {
        let payload = &p.bytes[p.meta.offset..p.meta.offset + p.meta.len];
        let rx = Received {
            src: p.meta.src,
            dst: p.meta.dst,
            ttl: p.meta.ttl,
            payload,
        };
        match self.router.handle_packet(now, p.ifindex, rx) {
            Ok(_) => {}
            // Counted by the instance; our own multicast echoes are normal.
            Err(RouteError::Refused(DecodeError::OwnAdvert { .. })) => {}
            Err(RouteError::Refused(e)) => {
                let name = self
                    .router
                    .route(p.ifindex, p.meta.src, payload)
                    .ok()
                    .and_then(|id| self.slots.get(&id))
                    .map_or("", |s| s.name.as_str());
                debug!(instance = %name, src = %p.meta.src, error = %e, "advert dropped");
            }
            Err(e) => {
                debug!(ifindex = p.ifindex, src = %p.meta.src, error = %e, "advert for no instance of ours")
            }
        }
    }

    fn on_link_event(&mut self, now: Instant, ev: &LinkEvent) {
        let ids: Vec<InstanceId> = self.slots.keys().copied().collect();
        for id in ids {
            let (Some(slot), Some(inst)) = (self.slots.get_mut(&id), self.router.get_mut(id))
            else {
                continue;
            };
            let mut tracking_changed = false;
            match ev {
                LinkEvent::Link(info) => {
                    if info.index == slot.ifindex && slot.track_primary {
                        if info.up {
                            inst.interface_up(now);
                        } else {
                            inst.interface_down(now);
                        }
                    }
                    tracking_changed = slot.tracking.set_interface(&info.name, info.up);
                }
                LinkEvent::LinkRemoved { index } if *index == slot.ifindex => {
                    inst.interface_down(now)
                }
                // `dont-track-primary`: the instance's own link and address
                // do not put it in Fault (keepalived's semantics).
                LinkEvent::AddressRemoved { index, addr }
                    if *index == slot.ifindex
                        && *addr == slot.sender.source()
                        && slot.track_primary =>
                {
                    warn!(instance = %slot.name, address = %addr, "primary address removed: fault");
                    inst.set_fault(now, FaultReason::Address, true);
                }
                LinkEvent::AddressAdded { index, addr }
                    if *index == slot.ifindex && *addr == slot.sender.source() =>
                {
                    inst.set_fault(now, FaultReason::Address, false);
                }
                _ => {}
            }
            if tracking_changed {
                self.apply_tracking(now, id);
            }
        }
    }

    /// A `vrrp-check` block reported: every instance tracking it
    /// re-evaluates when it changed (with a policy, also on news of its
    /// latency or error).
    fn on_check_status(&mut self, now: Instant, status: &super::checks::CheckStatus) {
        let ids: Vec<InstanceId> = self.slots.keys().copied().collect();
        for id in ids {
            let Some(slot) = self.slots.get_mut(&id) else {
                continue;
            };
            let tracking = &mut slot.tracking;
            let tracked =
                tracking.note_check(&status.name, status.latency_us, status.error.as_deref());
            if !tracking.set_check(&status.name, status.up) {
                // Only a priority policy sees latencies and errors.
                if tracked && slot.policy.is_some() && self.policies.is_some() {
                    self.ask_policy(id);
                }
                continue;
            }
            info!(
                instance = %slot.name,
                check = %status.name,
                up = status.up,
                error = status.error.as_deref().unwrap_or(""),
                "tracked check changed"
            );
            self.apply_tracking(now, id);
        }
    }

    fn poll_files(&mut self, now: Instant) {
        let ids: Vec<InstanceId> = self.slots.keys().copied().collect();
        for id in ids {
            let changed = self
                .slots
                .get_mut(&id)
                .is_some_and(|s| s.tracking.has_files() && s.tracking.refresh_files());
            if changed {
                self.apply_tracking(now, id);
            }
        }
    }

    /// Performs every pending action of every instance (the router has
    /// already brought each one's sync groups along).
    pub(super) fn drain(&mut self, now: Instant) {
        while let Some((id, action)) = self.router.poll_action(now) {
            if self.perform(id, action) {
                let groups: Vec<GroupId> = self.router.groups_of(id).collect();
                for g in groups {
                    self.group_state(g);
                }
            }
        }
    }

    /// Runs a group's notify scripts when its members agree on a new state.
    fn group_state(&mut self, g: GroupId) {
        let Some(group) = self.groups.get_mut(&g) else {
            return;
        };
        let states: Vec<State> = self
            .router
            .group_members(group.id)
            .iter()
            .filter_map(|&m| self.router.get(m).map(|i| i.state()))
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

    /// Does what an instance asked; true when its state changed.
    fn perform(&mut self, id: InstanceId, action: Action) -> bool {
        let (Some(slot), Some(inst)) = (self.slots.get_mut(&id), self.router.get(id)) else {
            return false;
        };
        match action {
            Action::SendAdvert { advert } => {
                let form = inst.config().send_checksum;
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
            // A reconfigured master touches only what changed.
            Action::AddAddresses { addresses } => {
                let _ = self.addr_tx.send(AddrCmd::Add {
                    instance: slot.name.clone(),
                    vips: only(&slot.vips, &addresses),
                });
            }
            Action::RemoveAddresses { addresses } => {
                let _ = self.addr_tx.send(AddrCmd::Remove {
                    instance: slot.name.clone(),
                    vips: only(&slot.vips, &addresses),
                });
            }
            Action::AnnounceAddresses { addresses, count } => {
                let _ = self.addr_tx.send(AddrCmd::Announce {
                    vips: only(&slot.vips, &addresses),
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
                return true;
            }
        }
        false
    }

    /// The VRRP loop. Returns when `stop` fires, after releasing mastership.
    pub(crate) async fn run(mut self, inputs: Inputs) {
        let Inputs {
            mut packets,
            mut links,
            mut answers,
            mut reevaluate,
            mut checks,
            mut reconfig,
            mut stop,
        } = inputs;
        let now = Instant::now();
        let ids: Vec<InstanceId> = self.slots.keys().copied().collect();
        for id in ids {
            if let Some(slot) = self.slots.get_mut(&id) {
                slot.tracking.refresh_files();
            }
            self.apply_tracking(now, id);
            let (Some(slot), Some(inst)) = (self.slots.get(&id), self.router.get_mut(id)) else {
                continue;
            };
            inst.startup(now);
            if slot.starts_down {
                warn!(instance = %slot.name, interface = %slot.ifname, "interface down at start: fault");
                inst.interface_down(now);
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
            if let Err(e) = timer.arm(self.router.poll_timeout()) {
                warn!(error = %e, "cannot arm the protocol timer");
            }
            tokio::select! {
                biased;
                _ = &mut stop => break,
                _ = timer.expired() => self.router.handle_timeout(Instant::now()),
                Some(p) = packets.recv() => self.on_packet(Instant::now(), p),
                Some(ev) = links.recv() => self.on_link_event(Instant::now(), &ev),
                _ = file_poll.tick() => self.poll_files(Instant::now()),
                Some(a) = answers.recv() => self.on_policy_answer(Instant::now(), a),
                Some(c) = checks.recv() => self.on_check_status(Instant::now(), &c),
                Some(()) = reevaluate.recv() => self.ask_all_policies(),
                Some(r) = reconfig.recv() => {
                    if let Some(rx) = self.reconfigure(Instant::now(), r) {
                        checks = rx;
                    }
                }
                _ = policy_tick.tick(), if self.policies.is_some() => self.ask_all_policies(),
            }
            self.drain(Instant::now());
        }
        // Graceful stop: masters send priority 0 and remove their addresses.
        let now = Instant::now();
        let ids: Vec<InstanceId> = self.router.ids().collect();
        for id in ids {
            if let Some(inst) = self.router.get_mut(id) {
                inst.shutdown(now);
            }
        }
        self.drain(now);
        let (done_tx, done_rx) = oneshot::channel();
        let _ = self.addr_tx.send(AddrCmd::Flush(done_tx));
        let _ = tokio::time::timeout(Duration::from_secs(5), done_rx).await;
        for (id, s) in &self.slots {
            let Some(st) = self.router.get(*id).map(|i| i.stats()) else {
                continue;
            };
            info!(instance = %s.name, adverts_tx = st.adverts_tx, adverts_rx = st.adverts_rx, errors = st.errors(), send_errors = s.send_errors, "stopped");
        }
    }
}

/// The VIPs among `vips` whose address is in `addresses`.
fn only(vips: &[VipSpec], addresses: &[IpAddr]) -> Vec<VipSpec> {
    vips.iter()
        .filter(|v| addresses.contains(&v.addr))
        .cloned()
        .collect()
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
