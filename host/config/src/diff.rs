//! What changed between two validated configurations, as typed change
//! events in the order a reload applies them.
//!
//! A reload touches only what changed: an instance whose priority changed
//! gets a new priority, not a restart; an added VIP is the only address
//! added and announced; a virtual server whose real servers changed keeps
//! its other destinations. Changes the protocol cannot apply in place
//! (VRID, interface, version, address family) replace that one instance.
//!
//! The order: global settings and new or changed policies first (what
//! follows may use them); then what is removed (sync groups before their
//! instances, real servers before their virtual servers); then what is
//! added or changed; unused policies last.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use serde::Serialize;

use crate::model::{Config, RealServerCfg, VipCfg, VirtualServerCfg, VrrpInstanceCfg};

/// One change to a running configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "change")]
pub enum ConfigChange {
    /// Settings of the `global` block (KDL names).
    Global {
        /// The settings that differ.
        fields: Vec<&'static str>,
    },
    /// A new `policy` block.
    PolicyAdded {
        /// Its name.
        name: String,
    },
    /// A policy whose module or limits changed: it is loaded again.
    PolicyChanged {
        /// Its name.
        name: String,
        /// The settings that differ.
        fields: Vec<&'static str>,
    },
    /// A `vrrp-check` block added, removed or changed (its checks restart).
    VrrpCheck {
        /// Its name.
        name: String,
        /// `added`, `removed` or `changed`.
        how: &'static str,
    },
    /// A sync group removed (its members stay, unless removed too).
    SyncGroupRemoved {
        /// Its name.
        name: String,
    },
    /// An instance removed: it releases mastership as on stop.
    InstanceRemoved {
        /// Its name.
        name: String,
    },
    /// An instance whose identity on the wire changed: removed and created
    /// again (the protocol cannot change these in place).
    InstanceReplaced {
        /// Its name.
        name: String,
        /// What forced it (KDL names).
        because: Vec<&'static str>,
    },
    /// A real server removed from a virtual server.
    RealServerRemoved {
        /// The virtual server.
        virtual_server: String,
        /// The real server.
        real_server: SocketAddr,
    },
    /// A virtual server removed (with its real servers).
    VirtualServerRemoved {
        /// Its identity (`tcp 10.0.0.100:80`, `fwmark 7 ipv4`).
        key: String,
    },
    /// A new instance.
    InstanceAdded {
        /// Its name.
        name: String,
    },
    /// An instance changed in place, without leaving its state.
    InstanceChanged {
        /// Its name.
        name: String,
        /// What changed, in order.
        changes: Vec<InstanceChange>,
    },
    /// A new sync group.
    SyncGroupAdded {
        /// Its name.
        name: String,
    },
    /// A sync group's members or scripts changed.
    SyncGroupChanged {
        /// Its name.
        name: String,
        /// Members that joined.
        joined: Vec<String>,
        /// Members that left.
        left: Vec<String>,
        /// Its notify scripts changed.
        notify: bool,
    },
    /// A new virtual server.
    VirtualServerAdded {
        /// Its identity.
        key: String,
    },
    /// A virtual server's own settings changed.
    VirtualServerChanged {
        /// Its identity.
        key: String,
        /// The settings that differ (KDL names).
        fields: Vec<&'static str>,
    },
    /// A new real server in a virtual server.
    RealServerAdded {
        /// The virtual server.
        virtual_server: String,
        /// The real server.
        real_server: SocketAddr,
    },
    /// A real server's settings changed.
    RealServerChanged {
        /// The virtual server.
        virtual_server: String,
        /// The real server.
        real_server: SocketAddr,
        /// The settings that differ (KDL names).
        fields: Vec<&'static str>,
    },
    /// A policy no longer in the configuration.
    PolicyRemoved {
        /// Its name.
        name: String,
    },
}

/// How an instance changes in place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "what")]
pub enum InstanceChange {
    /// `priority`.
    Priority {
        /// Before.
        from: u8,
        /// After.
        to: u8,
    },
    /// `advert-interval`, in centiseconds.
    AdvertInterval {
        /// Before.
        from_cs: u16,
        /// After.
        to_cs: u16,
    },
    /// A virtual address added (`excluded`: from `virtual-ipaddress-excluded`).
    VipAdded {
        /// The address.
        addr: IpAddr,
        /// Its prefix length.
        prefix: u8,
        /// Not carried in adverts.
        excluded: bool,
    },
    /// A virtual address removed.
    VipRemoved {
        /// The address.
        addr: IpAddr,
        /// Its prefix length.
        prefix: u8,
        /// Was not carried in adverts.
        excluded: bool,
    },
    /// The unicast peers changed.
    Peers {
        /// Peers added.
        added: Vec<IpAddr>,
        /// Peers removed.
        removed: Vec<IpAddr>,
    },
    /// Any other setting (KDL name): preempt, tracking, notify scripts, ...
    Setting(&'static str),
}

/// Lists the fields named on both sides that differ.
macro_rules! changed_fields {
    ($old:expr, $new:expr; $($field:ident => $name:literal),+ $(,)?) => {{
        let mut fields: Vec<&'static str> = Vec::new();
        $(if $old.$field != $new.$field { fields.push($name); })+
        fields
    }};
}

/// Objects of one kind on both sides, by key: removed, common, added.
struct Matched<'a, K, T> {
    removed: Vec<(K, &'a T)>,
    common: Vec<(K, &'a T, &'a T)>,
    added: Vec<(K, &'a T)>,
}

fn matched<'a, K: Ord + Clone, T>(
    old: impl IntoIterator<Item = (K, &'a T)>,
    new: impl IntoIterator<Item = (K, &'a T)>,
) -> Matched<'a, K, T> {
    let old: BTreeMap<K, &T> = old.into_iter().collect();
    let new: BTreeMap<K, &T> = new.into_iter().collect();
    Matched {
        removed: old
            .iter()
            .filter(|(k, _)| !new.contains_key(*k))
            .map(|(k, v)| (k.clone(), *v))
            .collect(),
        common: old
            .iter()
            .filter_map(|(k, o)| new.get(k).map(|n| (k.clone(), *o, *n)))
            .collect(),
        added: new
            .iter()
            .filter(|(k, _)| !old.contains_key(*k))
            .map(|(k, v)| (k.clone(), *v))
            .collect(),
    }
}

/// What cannot change in place: the instance's identity on the wire.
fn identity_fields(o: &VrrpInstanceCfg, n: &VrrpInstanceCfg) -> Vec<&'static str> {
    let mut fields = changed_fields!(o, n;
        interface => "interface",
        vrid => "virtual-router-id",
        version => "version",
    );
    if o.family() != n.family() {
        fields.push("address family");
    }
    fields
}

fn vip_changes(old: &[VipCfg], new: &[VipCfg], excluded: bool) -> Vec<InstanceChange> {
    let removed = old
        .iter()
        .filter(|v| !new.contains(v))
        .map(|v| InstanceChange::VipRemoved {
            addr: v.addr,
            prefix: v.prefix,
            excluded,
        });
    let added = new
        .iter()
        .filter(|v| !old.contains(v))
        .map(|v| InstanceChange::VipAdded {
            addr: v.addr,
            prefix: v.prefix,
            excluded,
        });
    removed.chain(added).collect()
}

fn instance_changes(o: &VrrpInstanceCfg, n: &VrrpInstanceCfg) -> Vec<InstanceChange> {
    let mut out = Vec::new();
    if o.priority != n.priority {
        out.push(InstanceChange::Priority {
            from: o.priority,
            to: n.priority,
        });
    }
    if o.advert_interval_cs != n.advert_interval_cs {
        out.push(InstanceChange::AdvertInterval {
            from_cs: o.advert_interval_cs,
            to_cs: n.advert_interval_cs,
        });
    }
    out.extend(vip_changes(&o.vips, &n.vips, false));
    out.extend(vip_changes(&o.excluded_vips, &n.excluded_vips, true));
    if o.unicast_peers != n.unicast_peers {
        out.push(InstanceChange::Peers {
            added: only_in(&n.unicast_peers, &o.unicast_peers),
            removed: only_in(&o.unicast_peers, &n.unicast_peers),
        });
    }
    let settings = changed_fields!(o, n;
        initial_state => "initial-state",
        preempt => "preempt",
        accept => "accept",
        unicast_source => "unicast-source",
        authentication => "authentication",
        track_interfaces => "track-interface",
        track_files => "track-file",
        track_checks => "track-check",
        track_processes => "track-process",
        priority_policy => "priority-policy",
        notify => "notify",
        garp => "garp",
        v3_checksum_as_v2 => "v3-checksum-as-v2",
        use_vmac => "use-vmac",
        dont_track_primary => "dont-track-primary",
    );
    out.extend(settings.into_iter().map(InstanceChange::Setting));
    out
}

fn only_in<T: PartialEq + Clone>(a: &[T], b: &[T]) -> Vec<T> {
    a.iter().filter(|x| !b.contains(x)).cloned().collect()
}

fn real_server_fields(o: &RealServerCfg, n: &RealServerCfg) -> Vec<&'static str> {
    changed_fields!(o, n;
        weight => "weight",
        forwarding => "forwarding",
        upper_threshold => "upper-threshold",
        lower_threshold => "lower-threshold",
        checks => "check",
        health_policy => "health-policy",
        notify_up => "notify-up",
        notify_down => "notify-down",
    )
}

fn virtual_server_fields(o: &VirtualServerCfg, n: &VirtualServerCfg) -> Vec<&'static str> {
    changed_fields!(o, n;
        scheduler => "scheduler",
        scheduler_flags => "scheduler-flags",
        one_packet => "ops",
        forwarding => "forwarding",
        persistence_timeout => "persistence-timeout",
        persistence_granularity => "persistence-granularity",
        quorum => "quorum",
        hysteresis => "hysteresis",
        sorry_server => "sorry-server",
        inhibit_on_failure => "inhibit-on-failure",
        alpha => "alpha",
        weight_policy => "weight-policy",
    )
}

fn by_addr(rs: &[RealServerCfg]) -> impl Iterator<Item = (SocketAddr, &RealServerCfg)> {
    rs.iter().map(|r| (r.addr, r))
}

/// The ordered changes that turn configuration `old` into `new`; empty
/// when they are equivalent (layout and comments never count).
pub fn diff(old: &Config, new: &Config) -> Vec<ConfigChange> {
    use ConfigChange as C;
    let (og, ng) = (&old.global, &new.global);
    let mut out = Vec::new();
    let global = changed_fields!(og, ng;
        router_id => "router-id",
        api => "api",
        policy_cache => "policy-cache",
        vrrp_version => "vrrp-version",
        notify_timeout => "notify-timeout",
        ipvs_reconcile_interval => "ipvs-reconcile-interval",
        lvs_flush_on_stop => "lvs-flush-on-stop",
        realtime_priority => "realtime-priority",
        lock_memory => "lock-memory",
    );
    if !global.is_empty() {
        out.push(C::Global { fields: global });
    }

    let policies = matched(
        old.policies.iter().map(|(k, v)| (k.clone(), v)),
        new.policies.iter().map(|(k, v)| (k.clone(), v)),
    );
    for (name, _) in &policies.added {
        out.push(C::PolicyAdded { name: name.clone() });
    }
    for (name, o, n) in &policies.common {
        let fields = changed_fields!(o, n;
            path => "path",
            fuel => "fuel",
            timeout => "timeout-ms",
            memory_mib => "memory-mib",
            max_module_mib => "max-module-mib",
            compile_memory_mib => "compile-memory-mib",
            compile_timeout => "compile-timeout-ms",
            fallback => "fallback",
            params => "params",
        );
        if !fields.is_empty() {
            out.push(C::PolicyChanged {
                name: name.clone(),
                fields,
            });
        }
    }

    let checks = matched(
        old.vrrp_checks.iter().map(|(k, v)| (k.clone(), v)),
        new.vrrp_checks.iter().map(|(k, v)| (k.clone(), v)),
    );
    let check_changes = checks
        .removed
        .iter()
        .map(|(n, _)| (n, "removed"))
        .chain(checks.added.iter().map(|(n, _)| (n, "added")))
        .chain(
            checks
                .common
                .iter()
                .filter(|(_, o, n)| o != n)
                .map(|(n, _, _)| (n, "changed")),
        );
    for (name, how) in check_changes {
        out.push(C::VrrpCheck {
            name: name.clone(),
            how,
        });
    }

    let groups = matched(
        old.sync_groups.iter().map(|g| (g.name.clone(), g)),
        new.sync_groups.iter().map(|g| (g.name.clone(), g)),
    );
    let instances = matched(
        old.vrrp_instances.iter().map(|i| (i.name.clone(), i)),
        new.vrrp_instances.iter().map(|i| (i.name.clone(), i)),
    );
    let vss = matched(
        old.virtual_servers.iter().map(|v| (v.key.to_string(), v)),
        new.virtual_servers.iter().map(|v| (v.key.to_string(), v)),
    );

    // Removals: dependents first.
    for (name, _) in &groups.removed {
        out.push(C::SyncGroupRemoved { name: name.clone() });
    }
    for (name, _) in &instances.removed {
        out.push(C::InstanceRemoved { name: name.clone() });
    }
    for (key, o, n) in &vss.common {
        for (rs, _) in matched(by_addr(&o.real_servers), by_addr(&n.real_servers)).removed {
            out.push(C::RealServerRemoved {
                virtual_server: key.clone(),
                real_server: rs,
            });
        }
    }
    for (key, _) in &vss.removed {
        out.push(C::VirtualServerRemoved { key: key.clone() });
    }

    // Instances: replaced, added, changed in place.
    for (name, o, n) in &instances.common {
        let because = identity_fields(o, n);
        if !because.is_empty() {
            out.push(C::InstanceReplaced {
                name: name.clone(),
                because,
            });
        }
    }
    for (name, _) in &instances.added {
        out.push(C::InstanceAdded { name: name.clone() });
    }
    for (name, o, n) in &instances.common {
        if !identity_fields(o, n).is_empty() {
            continue;
        }
        let changes = instance_changes(o, n);
        if !changes.is_empty() {
            out.push(C::InstanceChanged {
                name: name.clone(),
                changes,
            });
        }
    }

    // Sync groups, after their members exist.
    for (name, _) in &groups.added {
        out.push(C::SyncGroupAdded { name: name.clone() });
    }
    for (name, o, n) in &groups.common {
        let (joined, left) = (
            only_in(&n.members, &o.members),
            only_in(&o.members, &n.members),
        );
        let notify = o.notify != n.notify;
        if !joined.is_empty() || !left.is_empty() || notify {
            out.push(C::SyncGroupChanged {
                name: name.clone(),
                joined,
                left,
                notify,
            });
        }
    }

    // Virtual servers and their real servers.
    for (key, _) in &vss.added {
        out.push(C::VirtualServerAdded { key: key.clone() });
    }
    for (key, o, n) in &vss.common {
        let fields = virtual_server_fields(o, n);
        if !fields.is_empty() {
            out.push(C::VirtualServerChanged {
                key: key.clone(),
                fields,
            });
        }
        let rss = matched(by_addr(&o.real_servers), by_addr(&n.real_servers));
        for (rs, _) in rss.added {
            out.push(C::RealServerAdded {
                virtual_server: key.clone(),
                real_server: rs,
            });
        }
        for (rs, o, n) in rss.common {
            let fields = real_server_fields(o, n);
            if !fields.is_empty() {
                out.push(C::RealServerChanged {
                    virtual_server: key.clone(),
                    real_server: rs,
                    fields,
                });
            }
        }
    }

    for (name, _) in &policies.removed {
        out.push(C::PolicyRemoved { name: name.clone() });
    }
    out
}

impl std::fmt::Display for ConfigChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use ConfigChange as C;
        match self {
            C::Global { fields } => write!(f, "global changed: {}", fields.join(", ")),
            C::PolicyAdded { name } => write!(f, "policy `{name}` added"),
            C::PolicyChanged { name, fields } => {
                write!(f, "policy `{name}` changed: {}", fields.join(", "))
            }
            C::PolicyRemoved { name } => write!(f, "policy `{name}` removed"),
            C::VrrpCheck { name, how } => write!(f, "vrrp-check `{name}` {how}"),
            C::SyncGroupRemoved { name } => write!(f, "sync group `{name}` removed"),
            C::SyncGroupAdded { name } => write!(f, "sync group `{name}` added"),
            C::SyncGroupChanged {
                name, joined, left, ..
            } => write!(
                f,
                "sync group `{name}` changed: joined [{}], left [{}]",
                joined.join(", "),
                left.join(", ")
            ),
            C::InstanceRemoved { name } => write!(f, "instance `{name}` removed"),
            C::InstanceAdded { name } => write!(f, "instance `{name}` added"),
            C::InstanceReplaced { name, because } => write!(
                f,
                "instance `{name}` replaced (re-created: {} cannot change in place)",
                because.join(", ")
            ),
            C::InstanceChanged { name, changes } => {
                let parts: Vec<String> = changes.iter().map(ToString::to_string).collect();
                write!(
                    f,
                    "instance `{name}` changed in place: {}",
                    parts.join("; ")
                )
            }
            C::VirtualServerAdded { key } => write!(f, "virtual server {key} added"),
            C::VirtualServerRemoved { key } => write!(f, "virtual server {key} removed"),
            C::VirtualServerChanged { key, fields } => {
                write!(f, "virtual server {key} changed: {}", fields.join(", "))
            }
            C::RealServerAdded {
                virtual_server,
                real_server,
            } => write!(f, "real server {real_server} added to {virtual_server}"),
            C::RealServerRemoved {
                virtual_server,
                real_server,
            } => write!(f, "real server {real_server} removed from {virtual_server}"),
            C::RealServerChanged {
                virtual_server,
                real_server,
                fields,
            } => write!(
                f,
                "real server {real_server} in {virtual_server} changed: {}",
                fields.join(", ")
            ),
        }
    }
}

impl std::fmt::Display for InstanceChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InstanceChange::Priority { from, to } => write!(f, "priority {from} -> {to}"),
            InstanceChange::AdvertInterval { from_cs, to_cs } => {
                write!(f, "advert-interval {from_cs}cs -> {to_cs}cs")
            }
            InstanceChange::VipAdded { addr, prefix, .. } => write!(f, "+{addr}/{prefix}"),
            InstanceChange::VipRemoved { addr, prefix, .. } => write!(f, "-{addr}/{prefix}"),
            InstanceChange::Peers { added, removed } => {
                write!(f, "unicast peers +{added:?} -{removed:?}")
            }
            InstanceChange::Setting(name) => write!(f, "{name}"),
        }
    }
}
