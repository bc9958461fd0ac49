//! The director's model of the configuration: virtual servers by IPVS
//! identity, real servers by address, and the checkers that watch them,
//! each with an id that a reload never reuses.
//!
//! A reload builds the model again from the new configuration and carries
//! over what it knew: a real server whose checks did not change keeps its
//! health (a server that is down stays down — keepalived's reload brings
//! failed servers back as alive), its policy verdict and its dynamic
//! weight; a probe that still has a user keeps running with its
//! hysteresis, so no check starts over.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;

use holdfast_checks::{CheckEvent, Checker, RiseFall};
use holdfast_config::{CheckCfg, Config, HealthFallback, RealServerCfg, VirtualServerCfg};
use holdfast_ipvs::reconcile::{MembershipRules, Quorum};
use holdfast_ipvs::{Dest, Service, ServiceKey};
use tokio::sync::mpsc;
use tracing::error;

use super::desired;
use super::policy::RsId;
use crate::probe_modules::ProbeModules;

#[derive(Debug)]
pub(super) struct RsState {
    pub(super) name: String,
    /// As configured (its weight is the configured weight).
    pub(super) dest: Dest,
    /// The configuration it came from, to tell what a reload changed.
    pub(super) cfg: RealServerCfg,
    /// Hysteresis state of each check.
    pub(super) checks: Vec<bool>,
    /// The health policy's verdict, which replaces the checks' hysteresis
    /// (None: no verdict yet, or no policy loaded: the checks decide).
    pub(super) verdict: Option<bool>,
    pub(super) health_policy: bool,
    pub(super) fallback: HealthFallback,
    pub(super) weight_policy: bool,
    pub(super) weight: u32,
    pub(super) latencies: VecDeque<u64>,
    pub(super) was_up: Option<bool>,
}

impl RsState {
    pub(super) fn up(&self) -> bool {
        match self.verdict {
            Some(v) => v,
            None => self.checks.iter().all(|c| *c),
        }
    }

    fn new(config: &Config, vs: &VirtualServerCfg, rs: &RealServerCfg) -> Self {
        let health = rs
            .health_policy
            .as_ref()
            .and_then(|n| config.policies.get(n));
        Self {
            name: format!("{} in {}", rs.addr, vs.key),
            dest: desired::dest(vs, rs),
            cfg: rs.clone(),
            // alpha: down until the first checks pass.
            checks: vec![!vs.alpha; rs.checks.len()],
            verdict: None,
            health_policy: health.is_some(),
            fallback: health.map_or(HealthFallback::Down, |p| p.fallback),
            weight_policy: vs.weight_policy.is_some(),
            weight: rs.weight,
            latencies: VecDeque::new(),
            was_up: None,
        }
    }

    /// What a reload keeps of the running server `old`.
    fn carry(&mut self, old: RsState) {
        if old.cfg.checks == self.cfg.checks {
            self.checks = old.checks;
            self.latencies = old.latencies;
        }
        if old.cfg.health_policy == self.cfg.health_policy {
            self.verdict = old.verdict;
        }
        // A weight set by a check or a policy stays until they say
        // otherwise, unless the configured weight itself changed.
        if old.cfg.weight == self.cfg.weight {
            self.weight = old.weight;
        }
        self.was_up = old.was_up;
    }
}

#[derive(Debug)]
pub(super) struct VsState {
    pub(super) service: Service,
    pub(super) rules: MembershipRules,
    pub(super) quorum: Quorum,
    pub(super) alpha: bool,
    pub(super) servers: BTreeMap<SocketAddr, RsState>,
}

/// Which real server and check a checker reports for.
#[derive(Debug, Clone, Copy)]
pub(super) struct CheckId {
    pub(super) rs: RsId,
    pub(super) check: usize,
    pub(super) kind: holdfast_policy::ProbeKind,
    /// An `exec` check with `dynamic`, or a `file` check: it sets the weight.
    pub(super) dynamic: bool,
}

/// What makes two checks the same probe: they run once and fan out.
type ProbeKey = (CheckCfg, SocketAddr, bool);

/// The running checkers, by id.
#[derive(Default)]
pub(super) struct Checkers {
    /// Who each checker reports for.
    pub(super) users: HashMap<usize, Vec<CheckId>>,
    running: HashMap<ProbeKey, (usize, Checker)>,
    next: usize,
}

impl Checkers {
    pub(super) fn len(&self) -> usize {
        self.running.len()
    }

    pub(super) fn clear(&mut self) {
        self.running.clear();
        self.users.clear();
    }
}

/// The model for `config`, carrying over what `old` knew; the checkers
/// are adjusted to it (unchanged probes keep running).
pub(super) fn build(
    config: &Config,
    mut old: BTreeMap<ServiceKey, VsState>,
    checkers: &mut Checkers,
    modules: &ProbeModules,
    events: &mpsc::UnboundedSender<CheckEvent>,
) -> BTreeMap<ServiceKey, VsState> {
    let mut vss = BTreeMap::new();
    let mut wanted: HashMap<ProbeKey, Vec<CheckId>> = HashMap::new();
    // The first probe made for each key (the others are the same probe).
    let mut probes: HashMap<ProbeKey, holdfast_checks::Probe> = HashMap::new();
    for vs in &config.virtual_servers {
        let service = desired::service(vs);
        let key = service.key;
        let mut was = old.remove(&key);
        let mut servers = BTreeMap::new();
        for rs in &vs.real_servers {
            let mut state = RsState::new(config, vs, rs);
            let previous = was.as_mut().and_then(|w| w.servers.remove(&rs.addr));
            if let Some(previous) =
                previous.filter(|_| was.as_ref().is_some_and(|w| w.alpha == vs.alpha))
            {
                state.carry(previous);
            }
            for (c, check) in rs.checks.iter().enumerate() {
                let (probe, kind) = match crate::probes::probe(check, rs.addr, modules) {
                    Ok(p) => p,
                    Err(e) => {
                        // It cannot run: it holds the server down, never up.
                        error!(real_server = %rs.addr, error = %e, "check cannot run; the server counts as down");
                        state.checks[c] = false;
                        continue;
                    }
                };
                let dynamic = matches!(
                    check.kind,
                    holdfast_config::CheckKind::Exec { dynamic: true, .. }
                        | holdfast_config::CheckKind::File { .. }
                        | holdfast_config::CheckKind::Probe { .. }
                );
                let pkey = (check.clone(), probe.target, vs.alpha);
                probes.entry(pkey.clone()).or_insert(probe);
                wanted.entry(pkey).or_default().push(CheckId {
                    rs: (key, rs.addr),
                    check: c,
                    kind,
                    dynamic,
                });
            }
            servers.insert(rs.addr, state);
        }
        let quorum = was.map(|w| w.quorum).unwrap_or_default();
        vss.insert(
            key,
            VsState {
                service,
                rules: desired::rules(vs),
                quorum,
                alpha: vs.alpha,
                servers,
            },
        );
    }
    // Probes nobody wants stop; new ones start; the rest keep running.
    checkers.running.retain(|k, _| wanted.contains_key(k));
    checkers.users.clear();
    for (pkey, users) in wanted {
        let id = match checkers.running.get(&pkey) {
            Some((id, _)) => *id,
            None => {
                let id = checkers.next;
                checkers.next += 1;
                let Some(probe) = probes.remove(&pkey) else {
                    continue;
                };
                let (check, _, alpha) = &pkey;
                let checker = Checker::spawn(
                    id,
                    probe,
                    check.interval,
                    check.warmup,
                    RiseFall::new(check.rise, check.fall, *alpha),
                    events.clone(),
                );
                checkers.running.insert(pkey.clone(), (id, checker));
                id
            }
        };
        checkers.users.insert(id, users);
    }
    vss
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(servers: &str) -> Config {
        let text = format!(
            "virtual-server \"192.0.2.1:80\" protocol=\"tcp\" {{\n    scheduler \"wrr\"\n{servers}}}\n"
        );
        holdfast_config::parse_str("t.kdl", &text).unwrap()
    }

    fn rs(addr: &str, weight: u32, interval: &str) -> String {
        format!(
            "    real-server \"{addr}\" weight={weight} {{\n        check \"tcp\" interval={interval}\n    }}\n"
        )
    }

    fn server<'a>(vss: &'a BTreeMap<ServiceKey, VsState>, addr: &str) -> Option<&'a RsState> {
        vss.values().next()?.servers.get(&addr.parse().ok()?)
    }

    fn probe_id(c: &Checkers, addr: &str) -> Option<usize> {
        let addr: SocketAddr = addr.parse().ok()?;
        c.users
            .iter()
            .find(|(_, users)| users.iter().any(|u| u.rs.1 == addr))
            .map(|(id, _)| *id)
    }

    #[tokio::test]
    async fn a_reload_keeps_health_weights_and_probes_of_what_did_not_change() {
        let modules = ProbeModules::default();
        let (events, _rx) = mpsc::unbounded_channel();
        let mut checkers = Checkers::default();
        let a = "10.0.0.11:80";
        let first = config(&(rs(a, 10, "1") + &rs("10.0.0.12:80", 10, "1")));
        let mut vss = build(&first, BTreeMap::new(), &mut checkers, &modules, &events);
        assert_eq!(checkers.len(), 2);
        let a_probe = probe_id(&checkers, a);
        // `a` is down, with a weight its check set.
        {
            let s = vss
                .values_mut()
                .next()
                .unwrap()
                .servers
                .get_mut(&a.parse().unwrap())
                .unwrap();
            s.checks = vec![false];
            s.weight = 7;
        }
        // b removed, c added, a unchanged: a stays down at weight 7, its probe runs on.
        let second = config(&(rs(a, 10, "1") + &rs("10.0.0.13:80", 10, "1")));
        let vss = build(&second, vss, &mut checkers, &modules, &events);
        let s = server(&vss, a).unwrap();
        assert_eq!(
            (s.checks.clone(), s.weight, s.up()),
            (vec![false], 7, false)
        );
        assert!(server(&vss, "10.0.0.12:80").is_none());
        assert!(
            server(&vss, "10.0.0.13:80").unwrap().up(),
            "a new server starts up (no alpha)"
        );
        assert_eq!(checkers.len(), 2);
        assert_eq!(
            probe_id(&checkers, a),
            a_probe,
            "the unchanged probe kept running"
        );
        let c_probe = probe_id(&checkers, "10.0.0.13:80");
        assert!(c_probe.is_some() && c_probe != a_probe);

        // A new configured weight is taken; the health stays.
        let third = config(&(rs(a, 20, "1") + &rs("10.0.0.13:80", 10, "1")));
        let vss = build(&third, vss, &mut checkers, &modules, &events);
        let s = server(&vss, a).unwrap();
        assert_eq!((s.weight, s.up()), (20, false));

        // A changed check starts over, with a new probe.
        let fourth = config(&(rs(a, 20, "2") + &rs("10.0.0.13:80", 10, "1")));
        let vss = build(&fourth, vss, &mut checkers, &modules, &events);
        assert!(server(&vss, a).unwrap().up());
        assert_ne!(probe_id(&checkers, a), a_probe);
        assert_eq!(checkers.len(), 2, "the old probe of `a` stopped");
    }
}
