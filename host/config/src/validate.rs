//! Rules that span several blocks: unique names, references that resolve,
//! VRID clashes, sync-group membership, duplicate virtual servers.

use std::collections::{BTreeSet, HashMap};

use miette::SourceSpan;

use crate::error::{Problem, ProblemKind};
use crate::model::{Config, Family};
use crate::parse::{Anchors, RefKind};
use crate::reader::{Diags, suggest};

fn kind_name(kind: RefKind) -> &'static str {
    match kind {
        RefKind::Policy => "policy",
        RefKind::Instance => "vrrp-instance",
        RefKind::SyncGroup => "vrrp-sync-group",
        RefKind::VrrpCheck => "vrrp-check",
    }
}

pub(crate) fn cross_check(config: &Config, anchors: &Anchors, d: &mut Diags) {
    unique_names(anchors, d);
    references_resolve(anchors, d);
    sync_group_membership(anchors, d);
    vrid_clashes(config, anchors, d);
    unique_virtual_servers(anchors, d);
}

fn unique_names(anchors: &Anchors, d: &mut Diags) {
    let mut first: HashMap<(RefKind, &str), SourceSpan> = HashMap::new();
    for (kind, name, span) in &anchors.definitions {
        if let Some(prev) = first.get(&(*kind, name.as_str())) {
            let what = kind_name(*kind);
            d.push(
                Problem::new(
                    ProblemKind::Duplicate,
                    *span,
                    format!("{what} `{name}` is defined twice"),
                    "second definition",
                )
                .also(*prev, "first defined here")
                .help(format!("{what} names must be unique: rename one")),
            );
        } else {
            first.insert((*kind, name), *span);
        }
    }
}

fn references_resolve(anchors: &Anchors, d: &mut Diags) {
    for r in &anchors.references {
        let defined: Vec<&str> = anchors
            .definitions
            .iter()
            .filter(|(k, _, _)| *k == r.kind)
            .map(|(_, n, _)| n.as_str())
            .collect();
        if defined.contains(&r.name.as_str()) {
            continue;
        }
        let what = kind_name(r.kind);
        let help = match suggest(&r.name, &defined) {
            Some(s) => format!("did you mean `{s}`?"),
            None if r.kind == RefKind::Policy => {
                format!(
                    "define it: `policy \"{}\" {{ path \"/usr/lib/holdfast/policies/NAME.wasm\" }}`",
                    r.name
                )
            }
            None => format!("define a `{what} \"{}\"` block", r.name),
        };
        d.push(
            Problem::new(
                ProblemKind::Reference,
                r.span,
                format!("no {what} named `{}`", r.name),
                "undefined",
            )
            .help(help),
        );
    }
}

fn sync_group_membership(anchors: &Anchors, d: &mut Diags) {
    let mut first: HashMap<&str, SourceSpan> = HashMap::new();
    for r in anchors
        .references
        .iter()
        .filter(|r| r.kind == RefKind::Instance)
    {
        if let Some(prev) = first.get(r.name.as_str()) {
            d.push(
                Problem::new(
                    ProblemKind::Duplicate,
                    r.span,
                    format!("vrrp-instance `{}` is a member twice", r.name),
                    "second membership",
                )
                .also(*prev, "first membership")
                .help("an instance belongs to at most one sync group, once"),
            );
        } else {
            first.insert(&r.name, r.span);
        }
    }
}

/// RFC 5798 §7.3: a VRID identifies one virtual router on a LAN per address
/// family. Two instances may share it on one interface only if they are
/// unicast instances with disjoint peers (keepalived's rule).
fn vrid_clashes(config: &Config, anchors: &Anchors, d: &mut Diags) {
    let mut by_key: HashMap<(&str, Family, u8), Vec<&str>> = HashMap::new();
    for i in &config.vrrp_instances {
        by_key
            .entry((i.interface.as_str(), i.family(), i.vrid))
            .or_default()
            .push(i.name.as_str());
    }
    for ((iface, family, vrid), names) in by_key {
        // Every pair, not only neighbours: A and C may clash with B between them.
        let pairs = names
            .iter()
            .enumerate()
            .flat_map(|(i, a)| names[i + 1..].iter().map(move |b| (*a, *b)));
        for (a, b) in pairs {
            let (a, b) = (config.vrrp_instance(a), config.vrrp_instance(b));
            let (Some(a), Some(b)) = (a, b) else { continue };
            let peers_a: BTreeSet<_> = a.unicast_peers.iter().collect();
            let disjoint_unicast = !a.unicast_peers.is_empty()
                && !b.unicast_peers.is_empty()
                && b.unicast_peers.iter().all(|p| !peers_a.contains(p));
            if disjoint_unicast {
                continue;
            }
            let (Some(span_a), Some(span_b)) =
                (anchors.vrid.get(&a.name), anchors.vrid.get(&b.name))
            else {
                continue;
            };
            d.push(
                Problem::new(
                    ProblemKind::Duplicate,
                    *span_b,
                    format!("virtual-router-id {vrid} is used twice on {iface} ({family})"),
                    format!("`{}` uses it", b.name),
                )
                .also(*span_a, format!("`{}` uses it too", a.name))
                .help("each virtual router on a link needs its own VRID per address family"),
            );
        }
    }
}

fn unique_virtual_servers(anchors: &Anchors, d: &mut Diags) {
    let mut first = HashMap::new();
    for (key, span) in &anchors.virtual_server {
        if let Some(prev) = first.get(key) {
            d.push(
                Problem::new(
                    ProblemKind::Duplicate,
                    *span,
                    format!("virtual server {key} is defined twice"),
                    "second definition",
                )
                .also(*prev, "first defined here")
                .help("merge the two blocks: IPVS has one service per address, port and protocol"),
            );
        } else {
            first.insert(*key, *span);
        }
    }
}
