//! Desired state vs the kernel's dump → the fewest operations.
//!
//! Idempotent: planning against a table that already matches yields
//! nothing. Unchanged services and destinations are never touched.
//! Services the configuration does not declare are left alone unless they
//! are in `owned` (declared by a previous configuration of ours), so
//! foreign services (another tool's, a human's) survive.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use crate::model::{Dest, Service, ServiceKey};

/// A service as it should be, with its destinations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredService {
    /// Settings.
    pub service: Service,
    /// Destinations, exactly.
    pub dests: Vec<Dest>,
}

/// A service's destinations by `(addr, port)`.
pub type Dests = BTreeMap<(IpAddr, u16), Dest>;

/// The kernel's table, as dumped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    /// Services by key, with their destinations by `(addr, port)`.
    pub services: BTreeMap<ServiceKey, (Service, Dests)>,
}

/// One kernel operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// NEW_SERVICE.
    AddService(Service),
    /// SET_SERVICE.
    EditService(Service),
    /// DEL_SERVICE.
    DelService(ServiceKey),
    /// NEW_DEST.
    AddDest(ServiceKey, Dest),
    /// SET_DEST.
    EditDest(ServiceKey, Dest),
    /// DEL_DEST.
    DelDest(ServiceKey, Dest),
}

/// Plans the operations that turn `actual` into `desired`.
pub fn plan(
    desired: &[DesiredService],
    actual: &Table,
    owned: &BTreeSet<ServiceKey>,
) -> Vec<Operation> {
    let mut ops = Vec::new();
    let wanted: BTreeSet<ServiceKey> = desired.iter().map(|d| d.service.key).collect();
    // Deletions first: a removed service frees what a new one may need.
    for key in actual.services.keys() {
        if !wanted.contains(key) && owned.contains(key) {
            ops.push(Operation::DelService(*key));
        }
    }
    for d in desired {
        let key = d.service.key;
        let Some((current, dests)) = actual.services.get(&key) else {
            ops.push(Operation::AddService(d.service.clone()));
            ops.extend(d.dests.iter().map(|x| Operation::AddDest(key, x.clone())));
            continue;
        };
        if current != &d.service {
            ops.push(Operation::EditService(d.service.clone()));
        }
        let want: BTreeSet<(IpAddr, u16)> = d.dests.iter().map(|x| (x.addr, x.port)).collect();
        for (id, x) in dests {
            if !want.contains(id) {
                ops.push(Operation::DelDest(key, x.clone()));
            }
        }
        for x in &d.dests {
            match dests.get(&(x.addr, x.port)) {
                None => ops.push(Operation::AddDest(key, x.clone())),
                Some(have) if have != x => ops.push(Operation::EditDest(key, x.clone())),
                Some(_) => {}
            }
        }
    }
    ops
}

/// Applies operations to a table as the kernel would (for tests and for
/// keeping a cached view between dumps).
pub fn apply(table: &mut Table, ops: &[Operation]) {
    for op in ops {
        match op {
            Operation::AddService(s) | Operation::EditService(s) => {
                let entry = table
                    .services
                    .entry(s.key)
                    .or_insert_with(|| (s.clone(), BTreeMap::new()));
                entry.0 = s.clone();
            }
            Operation::DelService(k) => {
                table.services.remove(k);
            }
            Operation::AddDest(k, d) | Operation::EditDest(k, d) => {
                if let Some((_, dests)) = table.services.get_mut(k) {
                    dests.insert((d.addr, d.port), d.clone());
                }
            }
            Operation::DelDest(k, d) => {
                if let Some((_, dests)) = table.services.get_mut(k) {
                    dests.remove(&(d.addr, d.port));
                }
            }
        }
    }
}

/// A real server's situation, for [`members`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealServer {
    /// The destination as configured (its weight is the weight to use when up).
    pub dest: Dest,
    /// Passing its checks.
    pub up: bool,
}

/// How a virtual server treats failed real servers and quorum.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MembershipRules {
    /// Keep a failed real server with weight 0 instead of removing it.
    pub inhibit_on_failure: bool,
    /// Minimum sum of live weights; below it the sorry server takes over.
    pub quorum: u32,
    /// Quorum is lost below `quorum - hysteresis` and regained at `quorum + hysteresis`.
    pub hysteresis: u32,
    /// The sorry server.
    pub sorry: Option<Dest>,
}

/// Whether a virtual server has quorum; remembered for hysteresis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quorum {
    /// Currently up.
    pub up: bool,
}

impl Default for Quorum {
    fn default() -> Self {
        Self { up: true }
    }
}

/// The destinations a virtual server should have: live real servers (and
/// failed ones at weight 0 with `inhibit_on_failure`), or — when the live
/// weight falls below quorum — only the sorry server, as keepalived does.
pub fn members(servers: &[RealServer], rules: &MembershipRules, quorum: &mut Quorum) -> Vec<Dest> {
    let live: u64 = servers
        .iter()
        .filter(|s| s.up)
        .map(|s| u64::from(s.dest.weight))
        .sum();
    let q = u64::from(rules.quorum);
    let h = u64::from(rules.hysteresis);
    if quorum.up && live < q.saturating_sub(h) {
        quorum.up = false;
    } else if !quorum.up && live >= q + h {
        quorum.up = true;
    }
    if !quorum.up
        && let Some(sorry) = &rules.sorry
    {
        return vec![sorry.clone()];
    }
    servers
        .iter()
        .filter_map(|s| {
            if s.up {
                Some(s.dest.clone())
            } else if rules.inhibit_on_failure {
                Some(Dest {
                    weight: 0,
                    ..s.dest.clone()
                })
            } else {
                None
            }
        })
        .collect()
}
