//! Reading the kernel's table and applying a plan, pipelined: requests of
//! one phase are in flight together (the kernel answers them in order), so
//! a large plan costs little more than the kernel's own work.

use std::collections::HashMap;
use std::net::IpAddr;

use futures::{StreamExt, TryStreamExt, stream};

use crate::error::IpvsError;
use crate::handle::IpvsHandle;
use crate::model::{DestConns, ServiceKey};
use crate::reconcile::{Dests, Operation, Table};

/// Requests in flight at once.
const IN_FLIGHT: usize = 64;

/// Connection counts from a dump, per destination.
pub type Conns = HashMap<(ServiceKey, IpAddr, u16), DestConns>;

/// Dumps every service, and the destinations of those `want_dests` accepts.
pub async fn dump(
    h: &IpvsHandle,
    want_dests: impl Fn(&ServiceKey) -> bool,
) -> Result<(Table, Conns), IpvsError> {
    let services = h.service().list().await?;
    let mut conns = Conns::new();
    let keys: Vec<ServiceKey> = services
        .iter()
        .map(|(s, _)| s.key)
        .filter(|k| want_dests(k))
        .collect();
    // Owned futures (no borrows across the stream) keep the result `Send`.
    let requests: Vec<_> = keys
        .into_iter()
        .map(|k| {
            let h = h.clone();
            async move { h.dest(k).list().await.map(|d| (k, d)) }
        })
        .collect();
    let lists: Vec<_> = stream::iter(requests)
        .buffer_unordered(IN_FLIGHT)
        .try_collect()
        .await?;
    let mut by_key: HashMap<ServiceKey, Dests> = HashMap::new();
    for (k, list) in lists {
        let dests = by_key.entry(k).or_default();
        for (d, c) in list {
            conns.insert((k, d.addr, d.port), c);
            dests.insert((d.addr, d.port), d);
        }
    }
    let mut table = Table::default();
    for (s, _) in services {
        let dests = by_key.remove(&s.key).unwrap_or_default();
        table.services.insert(s.key, (s, dests));
    }
    Ok((table, conns))
}

async fn one(h: &IpvsHandle, op: &Operation) -> Result<(), IpvsError> {
    match op {
        Operation::AddService(s) => h.service().add(s.clone()).execute().await,
        Operation::EditService(s) => h.service().edit(s.clone()).execute().await,
        Operation::DelService(k) => h.service().del(*k).await,
        Operation::AddDest(k, d) => h.dest(*k).add(d.clone()).execute().await,
        Operation::EditDest(k, d) => h.dest(*k).edit(d.clone()).execute().await,
        Operation::DelDest(k, d) => h.dest(*k).del(d).await,
    }
}

fn phase(op: &Operation) -> u8 {
    match op {
        // Removals first (a removed service frees its address), then
        // services before the destinations that need them.
        Operation::DelDest(..) => 0,
        Operation::DelService(_) => 1,
        Operation::AddService(_) | Operation::EditService(_) => 2,
        Operation::AddDest(..) | Operation::EditDest(..) => 3,
    }
}

/// Applies a plan; returns the operations that failed, with why.
pub async fn execute(h: &IpvsHandle, ops: &[Operation]) -> Vec<(Operation, IpvsError)> {
    let mut failed = Vec::new();
    for p in 0..4 {
        let requests: Vec<_> = ops
            .iter()
            .filter(|o| phase(o) == p)
            .map(|op| {
                let (h, op) = (h.clone(), op.clone());
                async move {
                    let r = one(&h, &op).await;
                    (op, r)
                }
            })
            .collect();
        let results: Vec<_> = stream::iter(requests)
            .buffer_unordered(IN_FLIGHT)
            .collect()
            .await;
        failed.extend(
            results
                .into_iter()
                .filter_map(|(op, r)| r.err().map(|e| (op, e))),
        );
    }
    failed
}
