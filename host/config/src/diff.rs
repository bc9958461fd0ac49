//! What changed between two validated configurations.
//!
//! Hot reload uses this to touch only what changed: an instance whose
//! priority changed gets a new priority, not a restart; a virtual server
//! whose real servers changed keeps its other destinations untouched.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::model::{Config, RealServerCfg, VirtualServerCfg, VrrpInstanceCfg};

/// How one named object changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "change")]
pub enum Change {
    /// Present only in the new configuration.
    Added {
        /// Its name (instance/group/policy name, or virtual-server identity).
        name: String,
    },
    /// Present only in the old configuration.
    Removed {
        /// Its name.
        name: String,
    },
    /// Present in both, with these settings changed (KDL node names).
    Modified {
        /// Its name.
        name: String,
        /// The settings that differ, e.g. `priority` or `real-server 10.0.1.11:80 added`.
        fields: Vec<String>,
    },
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Added { name } => write!(f, "+ {name}"),
            Self::Removed { name } => write!(f, "- {name}"),
            Self::Modified { name, fields } => write!(f, "~ {name}: {}", fields.join(", ")),
        }
    }
}

/// Every change between two configurations, per kind of object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ConfigDiff {
    /// Settings of the `global` block that changed.
    pub global: Vec<String>,
    /// Policies.
    pub policies: Vec<Change>,
    /// VRRP instances.
    pub vrrp_instances: Vec<Change>,
    /// Sync groups.
    pub sync_groups: Vec<Change>,
    /// Virtual servers.
    pub virtual_servers: Vec<Change>,
}

impl ConfigDiff {
    /// True when the two configurations are equivalent.
    pub fn is_empty(&self) -> bool {
        self.global.is_empty()
            && self.policies.is_empty()
            && self.vrrp_instances.is_empty()
            && self.sync_groups.is_empty()
            && self.virtual_servers.is_empty()
    }
}

/// Lists the fields named on both sides that differ.
macro_rules! changed_fields {
    ($old:expr, $new:expr; $($field:ident => $name:literal),+ $(,)?) => {{
        let mut fields: Vec<String> = Vec::new();
        $(if $old.$field != $new.$field { fields.push($name.to_string()); })+
        fields
    }};
}

/// Compares keyed collections, calling `fields` for objects present in both.
fn compare<'a, T: 'a>(
    old: impl IntoIterator<Item = (String, &'a T)>,
    new: impl IntoIterator<Item = (String, &'a T)>,
    fields: impl Fn(&T, &T) -> Vec<String>,
) -> Vec<Change> {
    let old: BTreeMap<String, &T> = old.into_iter().collect();
    let new: BTreeMap<String, &T> = new.into_iter().collect();
    let mut changes = Vec::new();
    for (name, o) in &old {
        match new.get(name) {
            None => changes.push(Change::Removed { name: name.clone() }),
            Some(n) => {
                let fields = fields(o, n);
                if !fields.is_empty() {
                    changes.push(Change::Modified {
                        name: name.clone(),
                        fields,
                    });
                }
            }
        }
    }
    for name in new.keys().filter(|n| !old.contains_key(*n)) {
        changes.push(Change::Added { name: name.clone() });
    }
    changes
}

fn instance_fields(o: &VrrpInstanceCfg, n: &VrrpInstanceCfg) -> Vec<String> {
    changed_fields!(o, n;
        interface => "interface",
        vrid => "virtual-router-id",
        version => "version",
        priority => "priority",
        advert_interval_cs => "advert-interval",
        initial_state => "initial-state",
        preempt => "preempt",
        accept => "accept",
        unicast_source => "unicast-source",
        unicast_peers => "unicast-peer",
        authentication => "authentication",
        vips => "virtual-ipaddress",
        excluded_vips => "virtual-ipaddress-excluded",
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
    )
}

fn real_server_fields(o: &RealServerCfg, n: &RealServerCfg) -> Vec<String> {
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

fn virtual_server_fields(o: &VirtualServerCfg, n: &VirtualServerCfg) -> Vec<String> {
    let mut fields = changed_fields!(o, n;
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
    );
    for change in compare(
        by_addr(&o.real_servers),
        by_addr(&n.real_servers),
        real_server_fields,
    ) {
        fields.push(match change {
            Change::Added { name } => format!("real-server {name} added"),
            Change::Removed { name } => format!("real-server {name} removed"),
            Change::Modified { name, fields } => format!("real-server {name} {}", fields.join("+")),
        });
    }
    fields
}

fn by_addr(rs: &[RealServerCfg]) -> impl Iterator<Item = (String, &RealServerCfg)> {
    rs.iter().map(|r| (r.addr.to_string(), r))
}

/// Compares two validated configurations.
pub fn diff(old: &Config, new: &Config) -> ConfigDiff {
    let (og, ng) = (&old.global, &new.global);
    ConfigDiff {
        global: changed_fields!(og, ng;
            router_id => "router-id",
            api => "api",
            policy_cache => "policy-cache",
            vrrp_version => "vrrp-version",
            notify_timeout => "notify-timeout",
            ipvs_reconcile_interval => "ipvs-reconcile-interval",
            lvs_flush_on_stop => "lvs-flush-on-stop",
            realtime_priority => "realtime-priority",
            lock_memory => "lock-memory",
        ),
        policies: compare(
            old.policies.iter().map(|(k, v)| (k.clone(), v)),
            new.policies.iter().map(|(k, v)| (k.clone(), v)),
            |o, n| {
                changed_fields!(o, n;
                    path => "path",
                    fuel => "fuel",
                    timeout => "timeout-ms",
                    memory_mib => "memory-mib",
                    max_module_mib => "max-module-mib",
                    compile_memory_mib => "compile-memory-mib",
                    compile_timeout => "compile-timeout-ms",
                    fallback => "fallback",
                    params => "params",
                )
            },
        ),
        vrrp_instances: compare(
            old.vrrp_instances.iter().map(|i| (i.name.clone(), i)),
            new.vrrp_instances.iter().map(|i| (i.name.clone(), i)),
            instance_fields,
        ),
        sync_groups: compare(
            old.sync_groups.iter().map(|g| (g.name.clone(), g)),
            new.sync_groups.iter().map(|g| (g.name.clone(), g)),
            |o, n| changed_fields!(o, n; members => "member", notify => "notify"),
        ),
        virtual_servers: compare(
            old.virtual_servers.iter().map(|v| (v.key.to_string(), v)),
            new.virtual_servers.iter().map(|v| (v.key.to_string(), v)),
            virtual_server_fields,
        ),
    }
}
