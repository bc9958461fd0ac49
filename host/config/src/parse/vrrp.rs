//! `vrrp-instance` and `vrrp-sync-group` blocks.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use kdl::{KdlEntry, KdlNode};
use miette::SourceSpan;

use super::{Anchors, RefKind, block_name};
use crate::error::{Problem, ProblemKind};
use crate::model::{
    Authentication, Family, GarpCfg, GlobalCfg, InitialState, NotifyCfg, Preempt, SyncGroupCfg,
    TrackCheckCfg, TrackFileCfg, TrackInterfaceCfg, TrackProcessCfg, VipCfg, VrrpInstanceCfg,
    VrrpVersion,
};
use crate::reader::{Diags, args, children, name_span, prop};

pub(super) const SYNC_GROUP_NODES: &[&str] = &[
    "member",
    "notify-master",
    "notify-backup",
    "notify-fault",
    "notify-stop",
    "notify",
];
pub(super) const VIP_PROPS: &[&str] = &["label", "dev"];
pub(super) const TRACK_PROPS: &[&str] = &["weight"];
pub(super) const TRACK_PROCESS_PROPS: &[&str] = &["weight", "quorum", "quorum-max"];

pub(super) const INSTANCE_NODES: &[&str] = &[
    "interface",
    "virtual-router-id",
    "version",
    "priority",
    "advert-interval",
    "initial-state",
    "nopreempt",
    "preempt",
    "preempt-delay",
    "accept",
    "no-accept",
    "unicast-source",
    "unicast-peer",
    "authentication",
    "virtual-ipaddress",
    "virtual-ipaddress-excluded",
    "track-interface",
    "track-file",
    "priority-policy",
    "track-check",
    "track-process",
    "notify-master",
    "notify-backup",
    "notify-fault",
    "notify-stop",
    "notify",
    "garp-master-delay",
    "garp-master-repeat",
    "garp-master-refresh",
    "garp-master-refresh-repeat",
    "v3-checksum-as-v2",
    "use-vmac",
    "dont-track-primary",
];

/// Nodes that may appear more than once in an instance.
const REPEATABLE: &[&str] = &[
    "unicast-peer",
    "virtual-ipaddress",
    "virtual-ipaddress-excluded",
    "track-interface",
    "track-file",
    "track-check",
    "track-process",
];

/// Linux interface names are at most 15 bytes (IFNAMSIZ - 1).
const IFNAMSIZ_MAX: usize = 15;

fn ip_arg(d: &mut Diags, entry: &KdlEntry) -> Option<IpAddr> {
    let s = d.string(entry)?;
    match s.parse() {
        Ok(ip) => Some(ip),
        Err(_) => {
            d.push(
                Problem::new(ProblemKind::Value, entry.span(), format!("`{s}` is not an IP address"), "not an address")
                    .help("write an IPv4 address like \"192.0.2.1\" or an IPv6 address like \"2001:db8::1\""),
            );
            None
        }
    }
}

pub(crate) fn interface_name(d: &mut Diags, entry: &KdlEntry) -> Option<String> {
    let s = d.nonempty(entry)?;
    if s.len() > IFNAMSIZ_MAX || s.contains(['/', ' ']) {
        d.push(
            Problem::new(
                ProblemKind::Value,
                entry.span(),
                format!("`{s}` is not a valid interface name"),
                "invalid name",
            )
            .help("Linux interface names have at most 15 characters and no '/' or spaces"),
        );
        return None;
    }
    Some(s.to_string())
}

fn read_vip(d: &mut Diags, node: &KdlNode, interface: Option<&str>) -> Option<VipCfg> {
    d.max_args(node, 1);
    d.check_props(node, VIP_PROPS);
    d.no_children(node);
    let entry = d.arg(node, 0, "an address")?;
    let text = d.string(entry)?;
    let (addr_text, prefix_text) = match text.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (text, None),
    };
    let Ok(addr) = addr_text.parse::<IpAddr>() else {
        d.push(
            Problem::new(
                ProblemKind::Value,
                entry.span(),
                format!("`{text}` is not an IP address"),
                "not an address",
            )
            .help("write ADDRESS or ADDRESS/PREFIX, e.g. \"192.0.2.10/24\""),
        );
        return None;
    };
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix_text.map(str::parse::<u8>) {
        None => max,
        Some(Ok(p)) if p <= max => p,
        Some(_) => {
            d.push(
                Problem::new(
                    ProblemKind::Value,
                    entry.span(),
                    format!("bad prefix length in `{text}`"),
                    format!("prefix must be 0..={max}"),
                )
                .help(format!(
                    "an {} prefix length is between 0 and {max}",
                    Family::of(&addr)
                )),
            );
            return None;
        }
    };
    let dev = match prop(node, "dev") {
        Some(e) => Some(interface_name(d, e)?),
        None => None,
    };
    let label = match prop(node, "label") {
        Some(e) => {
            let label = d.nonempty(e)?.to_string();
            let on = dev.as_deref().or(interface).unwrap_or_default();
            if addr.is_ipv6() {
                d.push(
                    Problem::new(
                        ProblemKind::Conflict,
                        e.span(),
                        "address labels are IPv4 only",
                        "label on an IPv6 address",
                    )
                    .help("remove `label=`: Linux has no labels for IPv6 addresses"),
                );
                return None;
            }
            if label.len() > IFNAMSIZ_MAX || !label.starts_with(on) {
                d.push(
                    Problem::new(ProblemKind::Value, e.span(), format!("bad address label `{label}`"), "invalid label")
                        .help(format!("a label starts with the interface name and has at most 15 characters, e.g. \"{on}:vip\"")),
                );
                return None;
            }
            Some(label)
        }
        None => None,
    };
    Some(VipCfg {
        addr,
        prefix,
        label,
        dev,
        span: entry.span().into(),
    })
}

/// Values whose validity depends on `version`, checked after the whole block is read.
#[derive(Default)]
struct VersionDependent {
    version: Option<(VrrpVersion, SourceSpan)>,
    advert: Option<(f64, SourceSpan)>,
    authentication: Option<SourceSpan>,
    first_vip: Option<(Family, SourceSpan)>,
}

pub(super) fn read_instance(
    node: &KdlNode,
    global: &GlobalCfg,
    d: &mut Diags,
    anchors: &mut Anchors,
) -> Option<VrrpInstanceCfg> {
    let name = block_name(node, Some(RefKind::Instance), d, anchors);
    d.check_props(node, &[]);
    let mut cfg = VrrpInstanceCfg {
        name: String::new(),
        interface: String::new(),
        vrid: 0,
        version: global.vrrp_version,
        priority: 100,
        advert_interval_cs: 100,
        initial_state: InitialState::Backup,
        preempt: Preempt::Yes,
        accept: true,
        unicast_source: None,
        unicast_peers: Vec::new(),
        authentication: None,
        vips: Vec::new(),
        excluded_vips: Vec::new(),
        track_interfaces: Vec::new(),
        track_files: Vec::new(),
        track_checks: Vec::new(),
        track_processes: Vec::new(),
        priority_policy: None,
        notify: NotifyCfg::default(),
        garp: GarpCfg::default(),
        v3_checksum_as_v2: false,
        use_vmac: None,
        dont_track_primary: false,
        span: node.span().into(),
    };
    let mut interface = None;
    let mut vrid = None;
    let mut vd = VersionDependent::default();
    let mut seen = HashMap::new();
    let mut nopreempt: Option<SourceSpan> = None;
    let mut preempt_delay: Option<(Duration, SourceSpan)> = None;
    let mut initial_master: Option<SourceSpan> = None;
    let mut use_vmac: Option<Option<String>> = None;
    let mut peer_spans = Vec::new();
    let mut source_span = None;

    // The interface is needed to validate address labels, wherever it is written.
    let iface_hint = children(node)
        .iter()
        .find(|c| c.name().value() == "interface")
        .and_then(|c| args(c).next())
        .and_then(|e| e.value().as_string().map(str::to_string));

    for child in children(node) {
        let key = child.name().value();
        if INSTANCE_NODES.contains(&key) && !REPEATABLE.contains(&key) {
            d.once(&mut seen, child);
        }
        match key {
            "interface" => {
                interface = d
                    .single(child, "an interface name")
                    .and_then(|e| interface_name(d, e))
            }
            "virtual-router-id" => {
                if let Some(e) = d.single(child, "a number") {
                    vrid = d.int::<u8>(e, 1, 255, "virtual-router-id");
                    anchors
                        .vrid
                        .insert(name.clone().unwrap_or_default(), e.span());
                }
            }
            "version" => {
                if let Some(e) = d.single(child, "2 or 3")
                    && let Some(v) = d.int::<u8>(e, 2, 3, "VRRP version")
                {
                    let v = if v == 2 {
                        VrrpVersion::V2
                    } else {
                        VrrpVersion::V3
                    };
                    vd.version = Some((v, e.span()));
                    cfg.version = v;
                }
            }
            "priority" => {
                if let Some(v) = d
                    .single(child, "a number")
                    .and_then(|e| d.int(e, 1, 255, "priority"))
                {
                    cfg.priority = v;
                }
            }
            "advert-interval" => {
                if let Some(e) = d.single(child, "seconds")
                    && let Some(v) = d.number(e)
                {
                    vd.advert = Some((v, e.span()));
                }
            }
            "initial-state" => {
                if let Some(e) = d.single(child, "\"master\" or \"backup\"") {
                    match d.string(e).map(str::to_ascii_lowercase).as_deref() {
                        Some("master") => {
                            cfg.initial_state = InitialState::Master;
                            initial_master = Some(e.span());
                        }
                        Some("backup") => cfg.initial_state = InitialState::Backup,
                        Some(other) => d.push(
                            Problem::new(
                                ProblemKind::Value,
                                e.span(),
                                format!("unknown state `{other}`"),
                                "not a state",
                            )
                            .help("use \"master\" or \"backup\""),
                        ),
                        None => {}
                    }
                }
            }
            "nopreempt" => {
                d.flag(child);
                nopreempt = Some(name_span(child));
                cfg.preempt = Preempt::No;
            }
            "preempt" => d.flag(child),
            "preempt-delay" => {
                if let Some(e) = d.single(child, "seconds")
                    && let Some(v) = d.seconds(e, 0.0, 1000.0, "preempt-delay")
                {
                    preempt_delay = Some((v, name_span(child)));
                }
            }
            "accept" => {
                d.flag(child);
                cfg.accept = true;
            }
            "no-accept" => {
                d.flag(child);
                cfg.accept = false;
                d.unsupported(
                    name_span(child),
                    "`no-accept`",
                    "a master always accepts traffic for its VIPs in this version; remove it (`accept` is the default)",
                );
            }
            "unicast-source" => {
                if let Some(e) = d.single(child, "an address") {
                    cfg.unicast_source = ip_arg(d, e);
                    source_span = Some(e.span());
                }
            }
            "unicast-peer" => {
                d.check_props(child, &[]);
                d.no_children(child);
                if args(child).next().is_none() {
                    d.arg(child, 0, "an address");
                }
                for e in args(child) {
                    if let Some(ip) = ip_arg(d, e) {
                        cfg.unicast_peers.push(ip);
                        peer_spans.push(e.span());
                    }
                }
            }
            "authentication" => {
                vd.authentication = Some(name_span(child));
                cfg.authentication = read_authentication(child, d);
            }
            "virtual-ipaddress" => {
                if let Some(vip) = read_vip(d, child, iface_hint.as_deref()) {
                    let family = Family::of(&vip.addr);
                    match vd.first_vip {
                        None => vd.first_vip = Some((family, vip.span.into())),
                        Some((first, first_span)) if first != family => d.push(
                            Problem::new(
                                ProblemKind::Conflict,
                                vip.span,
                                format!("{family} address in an {first} instance"),
                                format!("{family}"),
                            )
                            .also(first_span, format!("the instance is {first} from here"))
                            .help("all `virtual-ipaddress` entries share one family; put the other family in its own instance or in `virtual-ipaddress-excluded`"),
                        ),
                        Some(_) => {}
                    }
                    cfg.vips.push(vip);
                }
            }
            "virtual-ipaddress-excluded" => {
                if let Some(vip) = read_vip(d, child, iface_hint.as_deref()) {
                    cfg.excluded_vips.push(vip);
                }
            }
            "track-interface" => {
                d.max_args(child, 1);
                d.check_props(child, TRACK_PROPS);
                d.no_children(child);
                let iface = d
                    .arg(child, 0, "an interface name")
                    .and_then(|e| interface_name(d, e));
                let weight = match prop(child, "weight") {
                    Some(e) => d.int(e, -253, 253, "track-interface weight"),
                    None => Some(0),
                };
                if let (Some(name), Some(weight)) = (iface, weight) {
                    cfg.track_interfaces
                        .push(TrackInterfaceCfg { name, weight });
                }
            }
            "track-file" => {
                d.max_args(child, 1);
                d.check_props(child, TRACK_PROPS);
                d.no_children(child);
                let path = d
                    .arg(child, 0, "a file path")
                    .and_then(|e| d.nonempty(e))
                    .map(PathBuf::from);
                let weight = match prop(child, "weight") {
                    Some(e) => d.int(
                        e,
                        -(i32::MAX as i128),
                        i32::MAX as i128,
                        "track-file weight",
                    ),
                    None => Some(1),
                };
                if let (Some(path), Some(weight)) = (path, weight) {
                    cfg.track_files.push(TrackFileCfg { path, weight });
                }
            }
            "track-check" => {
                d.max_args(child, 1);
                d.check_props(child, TRACK_PROPS);
                d.no_children(child);
                let name = d.arg(child, 0, "a vrrp-check name").and_then(|e| {
                    let n = d.nonempty(e)?;
                    anchors.reference(RefKind::VrrpCheck, n, e.span());
                    Some(n.to_string())
                });
                let weight = match prop(child, "weight") {
                    Some(e) => d.int(e, -253, 253, "track-check weight"),
                    None => Some(0),
                };
                if let (Some(name), Some(weight)) = (name, weight) {
                    cfg.track_checks.push(TrackCheckCfg { name, weight });
                }
            }
            "track-process" => {
                if let Some(p) = read_track_process(child, d) {
                    cfg.track_processes.push(p);
                }
            }
            "priority-policy" => {
                if let Some(e) = d.single(child, "a policy name")
                    && let Some(p) = d.nonempty(e)
                {
                    anchors.reference(RefKind::Policy, p, e.span());
                    cfg.priority_policy = Some(p.to_string());
                }
            }
            "notify-master" | "notify-backup" | "notify-fault" | "notify-stop" | "notify" => {
                read_notify(child, &mut cfg.notify, d);
            }
            "garp-master-delay" => {
                if let Some(v) = d
                    .single(child, "seconds")
                    .and_then(|e| d.int(e, 0, 1000, "garp-master-delay"))
                {
                    cfg.garp.master_delay = Duration::from_secs(v);
                }
            }
            "garp-master-repeat" => {
                if let Some(v) = d
                    .single(child, "a count")
                    .and_then(|e| d.int(e, 1, 255, "garp-master-repeat"))
                {
                    cfg.garp.master_repeat = v;
                }
            }
            "garp-master-refresh" => {
                if let Some(v) = d
                    .single(child, "seconds")
                    .and_then(|e| d.int(e, 0, 86_400, "garp-master-refresh"))
                {
                    cfg.garp.master_refresh = Duration::from_secs(v);
                }
            }
            "garp-master-refresh-repeat" => {
                if let Some(v) = d
                    .single(child, "a count")
                    .and_then(|e| d.int(e, 1, 255, "garp-master-refresh-repeat"))
                {
                    cfg.garp.master_refresh_repeat = v;
                }
            }
            "v3-checksum-as-v2" => {
                d.flag(child);
                cfg.v3_checksum_as_v2 = true;
            }
            "use-vmac" => {
                d.max_args(child, 1);
                d.check_props(child, &[]);
                d.no_children(child);
                use_vmac = Some(args(child).next().and_then(|e| interface_name(d, e)));
                d.unsupported(
                    name_span(child),
                    "`use-vmac`",
                    "VIPs live on the instance's interface with its own MAC in this version; remove it",
                );
            }
            "dont-track-primary" => {
                d.flag(child);
                cfg.dont_track_primary = true;
            }
            _ => d.unknown_node(child, "`vrrp-instance`", INSTANCE_NODES),
        }
    }

    check_version_rules(&mut cfg, &vd, d);
    check_unicast_family(&cfg, source_span, &peer_spans, d);

    if let Some((delay, span)) = preempt_delay {
        match nopreempt {
            Some(np) => d.push(
                Problem::new(ProblemKind::Conflict, span, "`preempt-delay` together with `nopreempt`", "delay never applies")
                    .also(np, "preemption is off here")
                    .help("remove one: `nopreempt` never preempts, `preempt-delay` preempts after a delay"),
            ),
            None => cfg.preempt = Preempt::Delay(delay),
        }
    }
    if let (Some(np), Some(master)) = (nopreempt, initial_master) {
        d.push(
            Problem::new(ProblemKind::Conflict, np, "`nopreempt` with `initial-state \"master\"`", "nopreempt")
                .also(master, "starts as master")
                .help("`nopreempt` needs `initial-state \"backup\"`: a node that claims mastership at start-up preempts"),
        );
    }

    let name = name?;
    let mut missing = |what: &str, example: &str| {
        d.push(
            Problem::new(
                ProblemKind::Missing,
                name_span(node),
                format!("vrrp-instance `{name}` has no `{what}`"),
                format!("no `{what}` in this block"),
            )
            .help(format!("add `{what} {example}`")),
        );
    };
    match interface {
        Some(i) => cfg.interface = i,
        None if seen.contains_key("interface") => {}
        None => missing("interface", "\"eth0\""),
    }
    match vrid {
        Some(v) => cfg.vrid = v,
        None if seen.contains_key("virtual-router-id") => {}
        None => missing("virtual-router-id", "51"),
    }
    if let Some(vmac) = use_vmac {
        cfg.use_vmac = Some(vmac.unwrap_or_else(|| format!("vrrp.{}", cfg.vrid)));
    }
    cfg.name = name;
    (!cfg.interface.is_empty() && cfg.vrid != 0).then_some(cfg)
}

fn read_authentication(node: &KdlNode, d: &mut Diags) -> Option<Authentication> {
    d.max_args(node, 2);
    d.check_props(node, &[]);
    d.no_children(node);
    let kind = d.arg(node, 0, "a type (\"pass\")")?;
    match d.string(kind)?.to_ascii_lowercase().as_str() {
        "pass" => {
            let secret = d.arg(node, 1, "a password")?;
            let s = d.nonempty(secret)?;
            if s.len() > 8 {
                d.push(
                    Problem::new(ProblemKind::Value, secret.span(), "VRRP passwords are at most 8 bytes", format!("{} bytes", s.len()))
                        .help("keepalived silently uses only the first 8 characters; write those 8 so both ends agree"),
                );
                return None;
            }
            Some(Authentication::Pass(s.to_string()))
        }
        "ah" => {
            d.push(
                Problem::new(ProblemKind::Value, kind.span(), "AH authentication is not supported", "unsupported")
                    .help("AH was removed from VRRP in RFC 3768 and breaks with unicast peers; use \"pass\" for keepalived interop, or none"),
            );
            None
        }
        other => {
            d.push(
                Problem::new(
                    ProblemKind::Value,
                    kind.span(),
                    format!("unknown authentication type `{other}`"),
                    "not a type",
                )
                .help("use `authentication \"pass\" \"SECRET\"`"),
            );
            None
        }
    }
}

pub(super) fn read_notify(node: &KdlNode, notify: &mut NotifyCfg, d: &mut Diags) {
    let Some(cmd) = d.single(node, "a command").and_then(|e| d.nonempty(e)) else {
        return;
    };
    let slot = match node.name().value() {
        "notify-master" => &mut notify.master,
        "notify-backup" => &mut notify.backup,
        "notify-fault" => &mut notify.fault,
        "notify-stop" => &mut notify.stop,
        _ => &mut notify.any,
    };
    *slot = Some(cmd.to_string());
}

/// RFC 3768 §5.3.7 and RFC 5798 §5.2.7: v2 intervals are whole seconds
/// (1..255), v3 intervals are centiseconds (1..4095). Authentication exists
/// only in v2 (RFC 5798 §9 removed it), and v2 carries IPv4 only.
fn check_version_rules(cfg: &mut VrrpInstanceCfg, vd: &VersionDependent, d: &mut Diags) {
    let v2 = cfg.version == VrrpVersion::V2;
    let version_note = |p: Problem| match vd.version {
        Some((_, span)) => p.also(span, "version set here"),
        None => p,
    };
    if let Some((secs, span)) = vd.advert {
        if v2 {
            if secs.fract() != 0.0 || !(1.0..=255.0).contains(&secs) {
                d.push(version_note(
                    Problem::new(
                        ProblemKind::Value,
                        span,
                        format!("VRRPv2 advert-interval {secs} is not whole seconds in 1..=255"),
                        "v2 needs whole seconds",
                    )
                    .help(
                        "use an integer between 1 and 255, or `version 3` for sub-second intervals",
                    ),
                ));
            } else {
                cfg.advert_interval_cs = (secs as u16) * 100;
            }
        } else {
            let cs = secs * 100.0;
            if (cs - cs.round()).abs() > 1e-6 {
                d.push(
                    Problem::new(
                        ProblemKind::Value,
                        span,
                        format!("advert-interval {secs} is not a whole number of centiseconds"),
                        "finer than 0.01 s",
                    )
                    .help("VRRPv3 intervals are carried in centiseconds: use steps of 0.01"),
                );
            } else if !(1.0..=4095.0).contains(&cs.round()) {
                d.push(
                    Problem::new(
                        ProblemKind::Value,
                        span,
                        format!("advert-interval {secs} s is out of range"),
                        "must be 0.01..=40.95",
                    )
                    .help("VRRPv3 intervals are between 0.01 and 40.95 seconds"),
                );
            } else {
                cfg.advert_interval_cs = cs.round() as u16;
            }
        }
    }
    if let Some(span) = vd.authentication.filter(|_| !v2) {
        d.push(version_note(
            Problem::new(
                ProblemKind::Conflict,
                span,
                "authentication is only defined for VRRPv2",
                "not in v3",
            )
            .help("RFC 5798 removed authentication: drop it, or set `version 2`"),
        ));
    }
    if let Some((Family::V6, span)) = vd.first_vip.filter(|_| v2) {
        d.push(version_note(
            Problem::new(
                ProblemKind::Conflict,
                span,
                "VRRPv2 carries IPv4 addresses only",
                "IPv6 in a v2 instance",
            )
            .help("use `version 3` for IPv6"),
        ));
    }
}

fn check_unicast_family(
    cfg: &VrrpInstanceCfg,
    source_span: Option<SourceSpan>,
    peer_spans: &[SourceSpan],
    d: &mut Diags,
) {
    let family = cfg.family();
    let addrs = cfg
        .unicast_source
        .iter()
        .zip(source_span.iter())
        .chain(cfg.unicast_peers.iter().zip(peer_spans));
    for (addr, span) in addrs {
        if Family::of(addr) != family {
            d.push(
                Problem::new(ProblemKind::Conflict, *span, format!("{} unicast address in an {family} instance", Family::of(addr)), "wrong family")
                    .help(format!("adverts of an {family} instance travel over {family}: use {family} addresses for `unicast-source` and `unicast-peer`")),
            );
        }
    }
}

pub(super) fn read_sync_group(
    node: &KdlNode,
    d: &mut Diags,
    anchors: &mut Anchors,
) -> Option<SyncGroupCfg> {
    let name = block_name(node, Some(RefKind::SyncGroup), d, anchors);
    d.check_props(node, &[]);
    let mut members = Vec::new();
    let mut notify = NotifyCfg::default();
    let mut seen = HashMap::new();
    for child in children(node) {
        match child.name().value() {
            "member" => {
                d.check_props(child, &[]);
                d.no_children(child);
                if args(child).next().is_none() {
                    d.arg(child, 0, "instance names");
                }
                for e in args(child) {
                    if let Some(m) = d.nonempty(e) {
                        anchors.reference(RefKind::Instance, m, e.span());
                        members.push(m.to_string());
                    }
                }
            }
            key if SYNC_GROUP_NODES.contains(&key) => {
                d.once(&mut seen, child);
                read_notify(child, &mut notify, d);
            }
            _ => d.unknown_node(child, "`vrrp-sync-group`", SYNC_GROUP_NODES),
        }
    }
    let name = name?;
    if members.is_empty() {
        d.push(
            Problem::new(
                ProblemKind::Missing,
                name_span(node),
                format!("vrrp-sync-group `{name}` has no members"),
                "empty group",
            )
            .help("add `member \"VI_1\" \"VI_2\"`"),
        );
        return None;
    }
    Some(SyncGroupCfg {
        name,
        members,
        notify,
        span: node.span().into(),
    })
}

/// `track-process "nginx" weight=-20 quorum=1 quorum-max=4`
fn read_track_process(node: &KdlNode, d: &mut Diags) -> Option<TrackProcessCfg> {
    d.max_args(node, 1);
    d.check_props(node, TRACK_PROCESS_PROPS);
    d.no_children(node);
    let name = d
        .arg(node, 0, "a process name or command line")
        .and_then(|e| d.nonempty(e))
        .map(str::to_string);
    let weight = match prop(node, "weight") {
        Some(e) => d.int(e, -253, 253, "track-process weight")?,
        None => 0,
    };
    let quorum = match prop(node, "quorum") {
        Some(e) => d.int(e, 1, 65_535, "quorum")?,
        None => 1,
    };
    let quorum_max = match prop(node, "quorum-max") {
        Some(e) => Some(d.int::<u32>(e, i128::from(quorum), 65_535, "quorum-max")?),
        None => None,
    };
    Some(TrackProcessCfg {
        name: name?,
        weight,
        quorum,
        quorum_max,
    })
}
