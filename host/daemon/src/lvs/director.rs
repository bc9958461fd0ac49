//! The director task: real-server state from checks and policies, the
//! desired table from that, and the reconciler applying the difference.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use holdfast_checks::CheckEvent;
use holdfast_config::{Config, HealthFallback};
use holdfast_ipvs::reconcile::{self, DesiredService, Operation, RealServer, Table};
use holdfast_ipvs::{Dest, IpvsError, IpvsHandle, ServiceKey, apply};
use holdfast_policy::{HealthVerdict, ProbeResult, WeightInput};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

use super::policy::{Answer, Ask, RsId, Worker};
use super::state::{self, CheckId, Checkers, VsState};
use crate::probe_modules::ProbeModules;
use crate::vrrp::notify::Notifier;

/// Latency samples kept per real server for weight policies.
const LATENCY_HISTORY: usize = 16;

/// What the director task listens to.
pub(crate) struct Inputs {
    pub(crate) events: mpsc::UnboundedReceiver<CheckEvent>,
    pub(crate) answers: mpsc::UnboundedReceiver<Answer>,
    pub(crate) reconfig: mpsc::UnboundedReceiver<super::Reconfig>,
    pub(crate) stop: oneshot::Receiver<()>,
}

pub(crate) struct Director {
    ipvs: IpvsHandle,
    worker: Worker,
    vss: BTreeMap<ServiceKey, VsState>,
    /// The services this configuration owns (and, until the next
    /// convergence, those a reload removed: they are deleted then).
    owned: BTreeSet<ServiceKey>,
    table: Table,
    conns: apply::Conns,
    checkers: Checkers,
    events: mpsc::UnboundedSender<CheckEvent>,
    /// Desired state changed since the last convergence.
    dirty: bool,
    /// The cached table cannot be trusted (an operation failed): dump first.
    stale: bool,
    /// Runs real servers' notify-up / notify-down scripts, in order.
    notifier: Notifier,
}

impl std::fmt::Debug for Director {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Director")
            .field("virtual_servers", &self.vss.len())
            .finish_non_exhaustive()
    }
}

impl Director {
    /// The director for `config`, its checks started; their events come
    /// out of the returned receiver.
    pub(crate) fn new(
        config: &Config,
        modules: &ProbeModules,
        ipvs: IpvsHandle,
        worker: Worker,
        notifier: Notifier,
    ) -> (Self, mpsc::UnboundedReceiver<CheckEvent>) {
        let (events, events_rx) = mpsc::unbounded_channel();
        let mut checkers = Checkers::default();
        let vss = state::build(config, BTreeMap::new(), &mut checkers, modules, &events);
        info!(
            checks = checkers.users.values().map(Vec::len).sum::<usize>(),
            probes = checkers.len(),
            "health checks started"
        );
        let owned = vss.keys().copied().collect();
        let director = Self {
            ipvs,
            worker,
            vss,
            owned,
            table: Table::default(),
            conns: HashMap::new(),
            checkers,
            events,
            dirty: true,
            stale: true,
            notifier,
        };
        (director, events_rx)
    }

    /// A reload: the new configuration's model, carrying over the health of
    /// every real server whose checks did not change. Removed services are
    /// deleted at the next convergence; services that are not ours stay.
    pub(crate) fn reconfigure(&mut self, config: &Config, modules: &ProbeModules) {
        let old = std::mem::take(&mut self.vss);
        let before: BTreeSet<RsId> = old
            .iter()
            .flat_map(|(k, v)| v.servers.keys().map(move |a| (*k, *a)))
            .collect();
        self.vss = state::build(config, old, &mut self.checkers, modules, &self.events);
        let gone: Vec<RsId> = before
            .into_iter()
            .filter(|(k, a)| !self.vss.get(k).is_some_and(|v| v.servers.contains_key(a)))
            .collect();
        if !gone.is_empty() {
            self.worker.ask(Ask::Forget(gone));
        }
        self.owned.extend(self.vss.keys().copied());
        self.stale = true;
        self.dirty = true;
    }

    pub(crate) async fn run(&mut self, inputs: Inputs, modules: &ProbeModules, interval: Duration) {
        let Inputs {
            mut events,
            mut answers,
            mut reconfig,
            mut stop,
        } = inputs;
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = &mut stop => return,
                Some(ev) = events.recv() => self.on_check(ev),
                Some(a) = answers.recv() => self.on_answer(a),
                Some((config, done)) = reconfig.recv() => {
                    self.reconfigure(&config, modules);
                    self.converge().await;
                    let _ = done.send(());
                }
                _ = tick.tick() => { self.stale = true; self.dirty = true; }
            }
            // Take every event already queued before touching the kernel.
            while let Ok(ev) = events.try_recv() {
                self.on_check(ev);
            }
            while let Ok(a) = answers.try_recv() {
                self.on_answer(a);
            }
            if self.dirty {
                self.converge().await;
            }
        }
    }

    fn on_check(&mut self, ev: CheckEvent) {
        let Some(ids) = self.checkers.users.get(&ev.id).cloned() else {
            return;
        };
        for id in ids {
            self.on_check_for(id, &ev);
        }
    }

    /// One probe result, for one real server's check.
    fn on_check_for(&mut self, id: CheckId, ev: &CheckEvent) {
        let (key, addr) = id.rs;
        let Some(s) = self
            .vss
            .get_mut(&key)
            .and_then(|v| v.servers.get_mut(&addr))
        else {
            return;
        };
        if s.checks[id.check] != ev.up {
            s.checks[id.check] = ev.up;
            self.dirty = true;
        }
        // keepalived's misc_dynamic: exit 0 restores the configured weight,
        // exit 2..=255 sets status − 2 (a weight policy, if any, decides instead).
        if id.dynamic && ev.outcome.success && !s.weight_policy {
            let w = ev
                .outcome
                .weight
                .map_or(s.dest.weight, |c| c.apply(s.dest.weight));
            if w != s.weight {
                info!(real_server = %s.name, from = s.weight, to = w, "weight set by its exec check");
                s.weight = w;
                self.dirty = true;
            }
        }
        let latency_us = ev.outcome.latency.as_micros() as u64;
        if ev.outcome.success {
            s.latencies.push_back(latency_us);
            if s.latencies.len() > LATENCY_HISTORY {
                s.latencies.pop_front();
            }
        }
        let rs: RsId = id.rs;
        if s.health_policy {
            let input = ProbeResult {
                kind: id.kind,
                target: format!("{}:{}", s.dest.addr, s.dest.port),
                success: ev.outcome.success,
                latency_us: Some(latency_us),
                status_code: ev.outcome.status,
                body_snippet: ev.outcome.body_snippet.clone(),
                body_digest: None,
                error: ev.outcome.error.clone(),
                consecutive_successes: ev.successes,
                consecutive_failures: ev.failures,
            };
            self.worker.ask(Ask::Verdict(rs, Box::new(input)));
        }
        if s.weight_policy {
            let conns = self
                .conns
                .get(&(key, s.dest.addr, s.dest.port))
                .copied()
                .unwrap_or_default();
            let input = WeightInput {
                real_server: format!("{}:{}", s.dest.addr, s.dest.port),
                base_weight: s.dest.weight,
                healthy: s.up(),
                latency_history_us: s.latencies.iter().copied().collect(),
                active_connections: conns.active,
                inactive_connections: conns.inactive,
            };
            self.worker.ask(Ask::Weight(rs, Box::new(input)));
        }
    }

    /// A real server, if it is still configured (an answer may arrive
    /// after a reload removed it).
    fn server(&mut self, (key, addr): RsId) -> Option<&mut state::RsState> {
        self.vss.get_mut(&key)?.servers.get_mut(&addr)
    }

    fn on_answer(&mut self, a: Answer) {
        match a {
            Answer::Verdict(rs, result) => {
                let Some(s) = self.server(rs) else { return };
                let verdict = match result {
                    Ok(HealthVerdict::Up) => Some(true),
                    Ok(HealthVerdict::Degraded(reason)) => {
                        debug!(real_server = %s.name, %reason, "degraded; stays in service");
                        Some(true)
                    }
                    Ok(HealthVerdict::Down(reason)) => {
                        if s.verdict != Some(false) {
                            info!(real_server = %s.name, %reason, "health policy: down");
                        }
                        Some(false)
                    }
                    Err(e) if e.kind == holdfast_policy::FailureKind::Load => None,
                    Err(e) => {
                        if e.kind != holdfast_policy::FailureKind::BackingOff {
                            warn!(real_server = %s.name, policy = %e.policy, kind = %e.kind, error = %e.message, fallback = ?s.fallback, "health policy failed; fallback applies");
                        }
                        match s.fallback {
                            HealthFallback::Previous => s.verdict,
                            HealthFallback::Down => Some(false),
                        }
                    }
                };
                if verdict != s.verdict {
                    s.verdict = verdict;
                    self.dirty = true;
                }
            }
            Answer::Weight(rs, result) => {
                let Some(s) = self.server(rs) else { return };
                let w = match result {
                    Ok(w) => w,
                    Err(e) => {
                        if e.kind != holdfast_policy::FailureKind::BackingOff {
                            warn!(real_server = %s.name, policy = %e.policy, kind = %e.kind, error = %e.message, "weight policy failed; configured weight applies");
                        }
                        s.dest.weight
                    }
                };
                if w != s.weight {
                    debug!(real_server = %s.name, from = s.weight, to = w, "weight");
                    s.weight = w;
                    self.dirty = true;
                }
            }
        }
    }

    /// The table as it should be now.
    fn desired(&mut self) -> Vec<DesiredService> {
        let mut out = Vec::with_capacity(self.vss.len());
        for vs in self.vss.values_mut() {
            let servers: Vec<RealServer> = vs
                .servers
                .values()
                .map(|s| RealServer {
                    dest: Dest {
                        weight: s.weight,
                        ..s.dest.clone()
                    },
                    up: s.up(),
                })
                .collect();
            let had_quorum = vs.quorum.up;
            let dests = reconcile::members(&servers, &vs.rules, &mut vs.quorum);
            if had_quorum != vs.quorum.up {
                let live: u32 = servers.iter().filter(|s| s.up).map(|s| s.dest.weight).sum();
                if vs.quorum.up {
                    info!(service = %vs.service.key, live_weight = live, "quorum regained");
                } else {
                    warn!(service = %vs.service.key, live_weight = live, quorum = vs.rules.quorum, sorry_server = vs.rules.sorry.is_some(), "quorum lost");
                }
            }
            for s in vs.servers.values_mut() {
                let up = s.up();
                if s.was_up != Some(up) {
                    if s.was_up.is_some() || !up {
                        info!(real_server = %s.name, up, "real server {}", if up { "up" } else { "down" });
                    }
                    // keepalived runs notify_up / notify_down on transitions, not at start.
                    if s.was_up.is_some() {
                        let script = if up {
                            &s.cfg.notify_up
                        } else {
                            &s.cfg.notify_down
                        };
                        if let Some(cmd) = script {
                            self.notifier
                                .queue(vec![cmd.split_whitespace().map(str::to_string).collect()]);
                        }
                    }
                    s.was_up = Some(up);
                }
            }
            out.push(DesiredService {
                service: vs.service.clone(),
                dests,
            });
        }
        out
    }

    async fn dump(&mut self) -> Result<(), IpvsError> {
        // Only our services' destinations matter (foreign ones are never planned).
        let owned = &self.owned;
        let (table, conns) = apply::dump(&self.ipvs, |k| owned.contains(k)).await?;
        self.table = table;
        self.conns = conns;
        Ok(())
    }

    async fn converge(&mut self) {
        self.dirty = false;
        let started = Instant::now();
        if self.stale {
            if let Err(e) = self.dump().await {
                warn!(error = %e, "cannot read the IPVS table; retrying");
                self.dirty = true;
                return;
            }
            self.stale = false;
        }
        let desired = self.desired();
        let ops = reconcile::plan(&desired, &self.table, &self.owned);
        if ops.is_empty() {
            self.forget_removed();
            return;
        }
        for op in &ops {
            info!(op = %describe(op), "ipvs");
        }
        let failures = apply::execute(&self.ipvs, &ops).await;
        for (op, e) in &failures {
            warn!(op = %describe(op), error = %e, "IPVS operation failed; re-reading the table");
        }
        let failed = failures.len();
        reconcile::apply(&mut self.table, &ops);
        if failed > 0 {
            self.stale = true;
            self.dirty = true;
        } else {
            self.forget_removed();
        }
        debug!(
            ops = ops.len(),
            failed,
            ms = started.elapsed().as_millis() as u64,
            "converged"
        );
    }

    /// Services a reload removed are gone from the kernel: no longer ours.
    fn forget_removed(&mut self) {
        if self.owned.len() != self.vss.len() {
            self.owned = self.vss.keys().copied().collect();
        }
    }

    /// Removes every service of this configuration (lvs-flush-on-stop).
    pub(crate) async fn remove_ours(&mut self) {
        self.checkers.clear();
        for key in self.owned.clone() {
            match self.ipvs.service().del(key).await {
                Ok(()) => info!(service = %key, "ipvs: removed on stop"),
                Err(e) if e.errno() == Some(libc::ESRCH) || e.errno() == Some(libc::ENOENT) => {}
                Err(e) => warn!(service = %key, error = %e, "cannot remove on stop"),
            }
        }
    }
}

fn describe(op: &Operation) -> String {
    match op {
        Operation::AddService(s) => format!("add service {} {}", s.key, s.scheduler),
        Operation::EditService(s) => format!("edit service {} {}", s.key, s.scheduler),
        Operation::DelService(k) => format!("delete service {k}"),
        Operation::AddDest(k, d) => format!("add {}:{} weight {} to {k}", d.addr, d.port, d.weight),
        Operation::EditDest(k, d) => {
            format!("set {}:{} weight {} in {k}", d.addr, d.port, d.weight)
        }
        Operation::DelDest(k, d) => format!("remove {}:{} from {k}", d.addr, d.port),
    }
}
