//! The director task: real-server state from checks and policies, the
//! desired table from that, and the reconciler applying the difference.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::{Duration, Instant};

use holdfast_checks::{CheckEvent, Checker, RiseFall};
use holdfast_config::{Config, HealthFallback};
use holdfast_ipvs::reconcile::{
    self, DesiredService, MembershipRules, Operation, Quorum, RealServer, Table,
};
use holdfast_ipvs::{Dest, IpvsError, IpvsHandle, Service, ServiceKey, apply};
use holdfast_policy::{HealthVerdict, ProbeResult, WeightInput};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, error, info, warn};

use super::desired;
use super::policy::{Answer, Ask, RsId, Worker};
use crate::vrrp::notify::Notifier;

/// Latency samples kept per real server for weight policies.
const LATENCY_HISTORY: usize = 16;

#[derive(Debug)]
struct RsState {
    name: String,
    dest: Dest,
    /// Hysteresis state of each check.
    checks: Vec<bool>,
    /// The health policy's verdict, which replaces the checks' hysteresis
    /// (None: no verdict yet, or no policy loaded: the checks decide).
    verdict: Option<bool>,
    health_policy: bool,
    fallback: HealthFallback,
    weight_policy: bool,
    weight: u32,
    latencies: VecDeque<u64>,
    was_up: Option<bool>,
    notify_up: Option<String>,
    notify_down: Option<String>,
}

impl RsState {
    fn up(&self) -> bool {
        match self.verdict {
            Some(v) => v,
            None => self.checks.iter().all(|c| *c),
        }
    }
}

#[derive(Debug)]
struct VsState {
    service: Service,
    rules: MembershipRules,
    quorum: Quorum,
    servers: Vec<RsState>,
}

/// Which real server and check a checker reports for.
#[derive(Debug, Clone, Copy)]
struct CheckId {
    vs: usize,
    rs: usize,
    check: usize,
    kind: holdfast_policy::ProbeKind,
    /// An `exec` check with `dynamic`, or a `file` check: it sets the weight.
    dynamic: bool,
}

pub(crate) struct Director {
    ipvs: IpvsHandle,
    worker: Worker,
    vss: Vec<VsState>,
    owned: BTreeSet<ServiceKey>,
    table: Table,
    conns: apply::Conns,
    /// Per running checker, every (virtual server, real server, check) it
    /// reports for: identical probes run once and fan out.
    checks: Vec<Vec<CheckId>>,
    checkers: Vec<Checker>,
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
    pub(crate) fn new(
        config: &Config,
        ipvs: IpvsHandle,
        worker: Worker,
        notifier: Notifier,
    ) -> Self {
        let vss: Vec<VsState> = config
            .virtual_servers
            .iter()
            .map(|vs| VsState {
                service: desired::service(vs),
                rules: desired::rules(vs),
                quorum: Quorum::default(),
                servers: vs
                    .real_servers
                    .iter()
                    .map(|rs| {
                        let health = rs
                            .health_policy
                            .as_ref()
                            .and_then(|n| config.policies.get(n));
                        RsState {
                            name: format!("{} in {}", rs.addr, vs.key),
                            dest: desired::dest(vs, rs),
                            // alpha: down until the first checks pass.
                            checks: vec![!vs.alpha; rs.checks.len()],
                            verdict: None,
                            health_policy: health.is_some(),
                            fallback: health.map_or(HealthFallback::Down, |p| p.fallback),
                            weight_policy: vs.weight_policy.is_some(),
                            weight: rs.weight,
                            latencies: VecDeque::new(),
                            was_up: None,
                            notify_up: rs.notify_up.clone(),
                            notify_down: rs.notify_down.clone(),
                        }
                    })
                    .collect(),
            })
            .collect();
        let owned = vss.iter().map(|v| v.service.key).collect();
        Self {
            ipvs,
            worker,
            vss,
            owned,
            table: Table::default(),
            conns: HashMap::new(),
            checks: Vec::new(),
            checkers: Vec::new(),
            dirty: true,
            stale: true,
            notifier,
        }
    }

    /// Starts one checker per distinct probe: the same check of the same
    /// target (several virtual servers over one real server) runs once.
    pub(crate) fn start_checks(
        &mut self,
        config: &Config,
        modules: &crate::probe_modules::ProbeModules,
    ) -> mpsc::UnboundedReceiver<CheckEvent> {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut running: HashMap<(holdfast_config::CheckCfg, std::net::SocketAddr, bool), usize> =
            HashMap::new();
        let mut configured = 0usize;
        for (v, vs) in config.virtual_servers.iter().enumerate() {
            for (r, rs) in vs.real_servers.iter().enumerate() {
                for (c, check) in rs.checks.iter().enumerate() {
                    let (probe, policy_kind) = match crate::probes::probe(check, rs.addr, modules) {
                        Ok(p) => p,
                        Err(e) => {
                            // It cannot run: it holds the server down, never up.
                            error!(real_server = %rs.addr, error = %e, "check cannot run; the server counts as down");
                            self.vss[v].servers[r].checks[c] = false;
                            continue;
                        }
                    };
                    configured += 1;
                    let cid = CheckId {
                        vs: v,
                        rs: r,
                        check: c,
                        kind: policy_kind,
                        dynamic: matches!(
                            check.kind,
                            holdfast_config::CheckKind::Exec { dynamic: true, .. }
                                | holdfast_config::CheckKind::File { .. }
                                | holdfast_config::CheckKind::Probe { .. }
                        ),
                    };
                    let key = (check.clone(), probe.target, vs.alpha);
                    if let Some(&id) = running.get(&key) {
                        self.checks[id].push(cid);
                        continue;
                    }
                    let id = self.checks.len();
                    running.insert(key, id);
                    self.checks.push(vec![cid]);
                    let hysteresis = RiseFall::new(check.rise, check.fall, vs.alpha);
                    self.checkers.push(Checker::spawn(
                        id,
                        probe,
                        check.interval,
                        check.warmup,
                        hysteresis,
                        tx.clone(),
                    ));
                }
            }
        }
        info!(
            checks = configured,
            probes = self.checkers.len(),
            "health checks started"
        );
        rx
    }

    pub(crate) async fn run(
        &mut self,
        mut events: mpsc::UnboundedReceiver<CheckEvent>,
        mut answers: mpsc::UnboundedReceiver<Answer>,
        mut stop: oneshot::Receiver<()>,
        interval: Duration,
    ) {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = &mut stop => return,
                Some(ev) = events.recv() => self.on_check(ev),
                Some(a) = answers.recv() => self.on_answer(a),
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
        let Some(ids) = self.checks.get(ev.id).cloned() else {
            return;
        };
        for id in ids {
            self.on_check_for(id, &ev);
        }
    }

    /// One probe result, for one real server's check.
    fn on_check_for(&mut self, id: CheckId, ev: &CheckEvent) {
        let key = self.vss[id.vs].service.key;
        let s = &mut self.vss[id.vs].servers[id.rs];
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
        let rs: RsId = (id.vs, id.rs);
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

    fn on_answer(&mut self, a: Answer) {
        match a {
            Answer::Verdict((v, r), result) => {
                let s = &mut self.vss[v].servers[r];
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
            Answer::Weight((v, r), result) => {
                let s = &mut self.vss[v].servers[r];
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
        for vs in &mut self.vss {
            let servers: Vec<RealServer> = vs
                .servers
                .iter()
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
            for s in &mut vs.servers {
                let up = s.up();
                if s.was_up != Some(up) {
                    if s.was_up.is_some() || !up {
                        info!(real_server = %s.name, up, "real server {}", if up { "up" } else { "down" });
                    }
                    // keepalived runs notify_up / notify_down on transitions, not at start.
                    if s.was_up.is_some() {
                        let script = if up { &s.notify_up } else { &s.notify_down };
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
        }
        debug!(
            ops = ops.len(),
            failed,
            ms = started.elapsed().as_millis() as u64,
            "converged"
        );
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
