//! The address task: installs and removes virtual addresses and sends
//! gratuitous ARP / unsolicited NA, in the order the VRRP task asked, off
//! the VRRP task so netlink round-trips never delay an advert.

use std::collections::HashMap;
use std::net::IpAddr;

use holdfast_net::{Announcer, Netlink, VipSpec};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

/// A request to the address task.
#[derive(Debug)]
pub(crate) enum AddrCmd {
    /// Install these addresses.
    Add {
        instance: String,
        vips: Vec<VipSpec>,
    },
    /// Remove these addresses.
    Remove {
        instance: String,
        vips: Vec<VipSpec>,
    },
    /// Announce these addresses `count` times each.
    Announce { vips: Vec<VipSpec>, count: u32 },
    /// Announce on these interfaces from now on (a reload added VIPs on them).
    Announcers(HashMap<u32, Announcer>),
    /// Reply once every earlier command is done (used at shutdown).
    Flush(oneshot::Sender<()>),
}

/// Runs until the sender side is dropped.
pub(crate) async fn run(
    nl: Netlink,
    mut announcers: HashMap<u32, Announcer>,
    mut rx: mpsc::UnboundedReceiver<AddrCmd>,
) {
    while let Some(cmd) = rx.recv().await {
        match cmd {
            AddrCmd::Add { instance, vips } => {
                for v in &vips {
                    match nl.add_vip(v).await {
                        Ok(()) => {
                            info!(%instance, vip = %v.addr, prefix = v.prefix, "virtual address added")
                        }
                        Err(e) => {
                            warn!(%instance, vip = %v.addr, error = %e, "cannot add virtual address")
                        }
                    }
                }
            }
            AddrCmd::Remove { instance, vips } => {
                for v in &vips {
                    match nl.del_vip(v.index, v.addr, v.prefix).await {
                        Ok(()) => info!(%instance, vip = %v.addr, "virtual address removed"),
                        Err(e) => {
                            warn!(%instance, vip = %v.addr, error = %e, "cannot remove virtual address")
                        }
                    }
                }
            }
            AddrCmd::Announce { vips, count } => {
                for v in &vips {
                    let Some(a) = announcers.get(&v.index) else {
                        continue;
                    };
                    for _ in 0..count {
                        if let Err(e) = a.announce(v.addr) {
                            debug!(vip = %v.addr, error = %e, "announcement not sent");
                        }
                    }
                }
            }
            AddrCmd::Announcers(more) => announcers.extend(more),
            AddrCmd::Flush(done) => {
                let _ = done.send(());
            }
        }
    }
}

/// Removes addresses a killed previous run may have left behind, so a node
/// never answers for a VIP before it is master again.
pub(crate) async fn remove_stale(nl: &Netlink, vips: &[VipSpec]) {
    let mut by_index: HashMap<u32, Vec<IpAddr>> = HashMap::new();
    for v in vips {
        if let std::collections::hash_map::Entry::Vacant(e) = by_index.entry(v.index) {
            let present = nl
                .addresses(v.index)
                .await
                .map(|a| a.into_iter().map(|x| x.addr).collect())
                .unwrap_or_default();
            e.insert(present);
        }
        if by_index[&v.index].contains(&v.addr) {
            match nl.del_vip(v.index, v.addr, v.prefix).await {
                Ok(()) => info!(vip = %v.addr, "removed a virtual address left by a previous run"),
                Err(e) => warn!(vip = %v.addr, error = %e, "cannot remove stale virtual address"),
            }
        }
    }
}
