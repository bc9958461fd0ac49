//! Every node and property the parser accepts, from the same lists it
//! validates with, so tools and tests can walk them (the docs must
//! describe each one, and the daemon must read each one).

use super::{check, global, ipvs, policy, vrrp};

/// One accepted setting: a node inside a block, or a property of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Setting {
    /// Where it appears: a block (`global`, `vrrp-instance`, ...) or, for a
    /// property, the node that takes it (`virtual-ipaddress`, `check tcp`).
    pub within: &'static str,
    /// Its name.
    pub name: &'static str,
    /// A property (`name=value`) rather than a node.
    pub property: bool,
}

fn nodes(within: &'static str, names: &[&'static str]) -> impl Iterator<Item = Setting> {
    names.iter().map(move |&name| Setting {
        within,
        name,
        property: false,
    })
}

fn props(within: &'static str, names: &[&'static str]) -> impl Iterator<Item = Setting> {
    names.iter().map(move |&name| Setting {
        within,
        name,
        property: true,
    })
}

/// Settings the parser knows but rejects as not supported yet (the
/// `unsupported` diagnostic): known, so the error can say so, but never
/// accepted.
pub const NOT_RUN_YET: &[(&str, &str)] = &[
    ("global", "router-id"),
    ("global", "api"),
    ("vrrp-instance", "use-vmac"),
    ("vrrp-instance", "no-accept"),
];

/// Every setting the parser accepts. `check` properties are listed per
/// kind that runs (kinds not supported yet are rejected whole).
pub fn accepted_settings() -> Vec<Setting> {
    let mut out: Vec<Setting> = Vec::new();
    out.extend(nodes("global", global::GLOBAL_NODES));
    out.extend(nodes("policy", policy::POLICY_NODES));
    out.extend(nodes("vrrp-instance", vrrp::INSTANCE_NODES));
    out.extend(nodes("vrrp-sync-group", vrrp::SYNC_GROUP_NODES));
    out.extend(nodes("vrrp-check", &["check"]));
    out.extend(nodes("virtual-server", ipvs::VS_NODES));
    out.extend(nodes("real-server", ipvs::RS_NODES));
    out.extend(props("virtual-server", ipvs::VS_PROPS));
    out.extend(props("quorum", ipvs::QUORUM_PROPS));
    out.extend(props("forwarding", ipvs::FORWARDING_PROPS));
    out.extend(props("real-server", ipvs::RS_PROPS));
    out.extend(props("virtual-ipaddress", vrrp::VIP_PROPS));
    for track in ["track-interface", "track-file", "track-check"] {
        out.extend(props(track, vrrp::TRACK_PROPS));
    }
    out.extend(props("track-process", vrrp::TRACK_PROCESS_PROPS));
    let kinds = [
        ("tcp", "check tcp"),
        ("http", "check http"),
        ("https", "check https"),
        ("udp", "check udp"),
        ("dns", "check dns"),
        ("icmp", "check icmp"),
        ("smtp", "check smtp"),
        ("exec", "check exec"),
        ("file", "check file"),
        ("probe", "check probe"),
    ];
    // Every kind that runs, each once.
    debug_assert_eq!(kinds.len(), check::RUNNING_KINDS.len());
    for (kind, within) in kinds {
        debug_assert!(check::RUNNING_KINDS.contains(&kind));
        out.extend(props(within, &check::kind_props(kind)));
    }
    out.extend(nodes("check http", &["url"]));
    out.extend(nodes("check https", &["url"]));
    out.extend(props("url", check::URL_PROPS));
    out.retain(|s| !NOT_RUN_YET.contains(&(s.within, s.name)));
    out
}
