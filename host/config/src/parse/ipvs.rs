//! `virtual-server` blocks and their real servers and checks.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use kdl::{KdlEntry, KdlNode};

use super::{Anchors, RefKind};
use crate::error::{Problem, ProblemKind};
use crate::model::{
    Family, Forwarding, Protocol, RealServerCfg, TunnelType, VirtualServerCfg, VirtualServerKey,
};
use crate::reader::{Diags, args, children, name_span, prop};

pub(super) const VS_NODES: &[&str] = &[
    "scheduler",
    "forwarding",
    "persistence-timeout",
    "persistence-granularity",
    "quorum",
    "sorry-server",
    "inhibit-on-failure",
    "alpha",
    "weight-policy",
    "real-server",
    "ops",
    "sh-port",
    "sh-fallback",
    "mh-port",
    "mh-fallback",
];

/// The schedulers of Linux IPVS (`net/netfilter/ipvs/ip_vs_*.c`).
pub(crate) const SCHEDULERS: &[&str] = &[
    "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "mh", "fo", "ovf", "twos",
];

pub(super) const RS_NODES: &[&str] = &["check", "health-policy", "notify-up", "notify-down"];
pub(super) const VS_PROPS: &[&str] = &["protocol", "fwmark", "family"];
pub(super) const QUORUM_PROPS: &[&str] = &["hysteresis"];
pub(super) const FORWARDING_PROPS: &[&str] = &["type", "port"];
pub(super) const RS_PROPS: &[&str] =
    &["weight", "forwarding", "upper-threshold", "lower-threshold"];

fn socket_addr(d: &mut Diags, entry: &KdlEntry, port_optional: bool) -> Option<SocketAddr> {
    let s = d.string(entry)?;
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Some(sa);
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        if port_optional {
            return Some(SocketAddr::new(ip, 0));
        }
        d.push(
            Problem::new(
                ProblemKind::Missing,
                entry.span(),
                format!("`{s}` has no port"),
                "port missing",
            )
            .help(format!("write \"{}\"", SocketAddr::new(ip, 80))),
        );
        return None;
    }
    d.push(
        Problem::new(
            ProblemKind::Value,
            entry.span(),
            format!("`{s}` is not an address and port"),
            "not ADDRESS:PORT",
        )
        .help("write \"192.0.2.1:80\" or \"[2001:db8::1]:80\""),
    );
    None
}

pub(super) fn one_of<'a>(
    d: &mut Diags,
    entry: &KdlEntry,
    what: &str,
    allowed: &[&'a str],
) -> Option<&'a str> {
    let s = d.string(entry)?;
    if let Some(found) = allowed.iter().find(|a| a.eq_ignore_ascii_case(s)) {
        return Some(found);
    }
    let mut p = Problem::new(
        ProblemKind::Value,
        entry.span(),
        format!("unknown {what} `{s}`"),
        format!("not a {what}"),
    );
    p = match crate::reader::suggest(s, allowed) {
        Some(m) => p.help(format!(
            "did you mean \"{m}\"? ({what}s: {})",
            allowed.join(", ")
        )),
        None => p.help(format!("{what}s: {}", allowed.join(", "))),
    };
    d.push(p);
    None
}

pub(super) fn read_virtual_server(
    node: &KdlNode,
    d: &mut Diags,
    anchors: &mut Anchors,
) -> Option<VirtualServerCfg> {
    d.max_args(node, 1);
    d.check_props(node, VS_PROPS);
    let key = read_key(node, d, anchors);
    let fwmark = matches!(key, Some(VirtualServerKey::Fwmark { .. }));
    let family = key.map(|k| k.family());

    let mut vs = VirtualServerCfg {
        key: key.unwrap_or(VirtualServerKey::Fwmark {
            mark: 0,
            family: Family::V4,
        }),
        scheduler: "wlc".to_string(),
        scheduler_flags: Vec::new(),
        one_packet: false,
        forwarding: Forwarding::Nat,
        persistence_timeout: None,
        persistence_granularity: None,
        quorum: 1,
        hysteresis: 0,
        sorry_server: None,
        inhibit_on_failure: false,
        alpha: false,
        weight_policy: None,
        real_servers: Vec::new(),
        span: node.span().into(),
    };
    let mut seen = HashMap::new();
    let mut real_servers: HashMap<SocketAddr, miette::SourceSpan> = HashMap::new();
    for child in children(node) {
        let name = child.name().value();
        if VS_NODES.contains(&name) && name != "real-server" {
            d.once(&mut seen, child);
        }
        match name {
            "scheduler" => {
                if let Some(s) = d
                    .single(child, "a scheduler")
                    .and_then(|e| one_of(d, e, "scheduler", SCHEDULERS))
                {
                    vs.scheduler = s.to_string();
                }
            }
            "forwarding" => {
                if let Some(f) = read_forwarding(
                    child,
                    child.entries().iter().find(|e| e.name().is_none()),
                    d,
                ) {
                    vs.forwarding = f;
                }
            }
            "persistence-timeout" => {
                if let Some(v) = d
                    .single(child, "seconds")
                    .and_then(|e| d.int(e, 1, 31_536_000, "persistence-timeout"))
                {
                    vs.persistence_timeout = Some(Duration::from_secs(v));
                }
            }
            "persistence-granularity" => {
                let max = if family == Some(Family::V6) { 128 } else { 32 };
                vs.persistence_granularity = d
                    .single(child, "a prefix length")
                    .and_then(|e| d.int(e, 1, max, "persistence-granularity"));
            }
            "quorum" => {
                d.max_args(child, 1);
                d.check_props(child, QUORUM_PROPS);
                d.no_children(child);
                if let Some(q) = d
                    .arg(child, 0, "a weight sum")
                    .and_then(|e| d.int(e, 0, u32::MAX as i128, "quorum"))
                {
                    vs.quorum = q;
                }
                if let Some(e) = prop(child, "hysteresis")
                    && let Some(h) = d.int::<u32>(e, 0, u32::MAX as i128, "hysteresis")
                {
                    if h > vs.quorum {
                        d.push(
                                Problem::new(ProblemKind::Value, e.span(), format!("hysteresis {h} is larger than quorum {}", vs.quorum), "larger than quorum")
                                    .help("quorum is lost below quorum - hysteresis, so hysteresis must not exceed quorum"),
                            );
                    }
                    vs.hysteresis = h;
                }
            }
            "sorry-server" => {
                if let Some(e) = d.single(child, "ADDRESS:PORT")
                    && let Some(sa) = socket_addr(d, e, fwmark)
                {
                    if Some(Family::of(&sa.ip())) != family && family.is_some() {
                        d.push(
                            Problem::new(
                                ProblemKind::Conflict,
                                e.span(),
                                "sorry server of the wrong address family",
                                format!("{}", Family::of(&sa.ip())),
                            )
                            .help(format!(
                                "this virtual server is {}: use a sorry server of that family",
                                family.unwrap_or(Family::V4)
                            )),
                        );
                    } else {
                        vs.sorry_server = Some(sa);
                    }
                }
            }
            "inhibit-on-failure" => {
                d.flag(child);
                vs.inhibit_on_failure = true;
            }
            "alpha" => {
                d.flag(child);
                vs.alpha = true;
            }
            "ops" => {
                d.flag(child);
                vs.one_packet = true;
            }
            "sh-port" | "sh-fallback" | "mh-port" | "mh-fallback" => {
                d.flag(child);
                vs.scheduler_flags.push(name.to_string());
            }
            "weight-policy" => {
                if let Some(e) = d.single(child, "a policy name")
                    && let Some(p) = d.nonempty(e)
                {
                    anchors.reference(RefKind::Policy, p, e.span());
                    vs.weight_policy = Some(p.to_string());
                }
            }
            "real-server" => {
                if let Some(rs) = read_real_server(child, fwmark, family, d, anchors) {
                    let span = child.entries()[0].span();
                    if let Some(first) = real_servers.insert(rs.addr, span) {
                        d.push(
                            Problem::new(
                                ProblemKind::Duplicate,
                                span,
                                format!("real server {} is listed twice", rs.addr),
                                "second entry",
                            )
                            .also(first, "first entry")
                            .help("IPVS keeps one destination per address and port: merge the two"),
                        );
                        real_servers.insert(rs.addr, first);
                        continue;
                    }
                    vs.real_servers.push(rs);
                }
            }
            _ => d.unknown_node(child, "`virtual-server`", VS_NODES),
        }
    }
    key?;
    Some(vs)
}

fn read_key(node: &KdlNode, d: &mut Diags, anchors: &mut Anchors) -> Option<VirtualServerKey> {
    let addr = args(node).next();
    let fwmark = prop(node, "fwmark");
    match (addr, fwmark) {
        (Some(a), Some(f)) => {
            d.push(
                Problem::new(
                    ProblemKind::Conflict,
                    f.span(),
                    "a virtual server has an address or a fwmark, not both",
                    "fwmark",
                )
                .also(a.span(), "address")
                .help("remove the address, or the fwmark"),
            );
            None
        }
        (None, None) => {
            d.push(
                Problem::new(ProblemKind::Missing, name_span(node), "virtual server without address or fwmark", "no identity")
                    .help("write `virtual-server \"10.0.0.100:80\" protocol=\"tcp\"` or `virtual-server fwmark=7`"),
            );
            None
        }
        (Some(a), None) => {
            if let Some(p) = prop(node, "family") {
                d.push(
                    Problem::new(
                        ProblemKind::Conflict,
                        p.span(),
                        "`family=` is only for fwmark services",
                        "not needed",
                    )
                    .help("the address already says which family it is"),
                );
            }
            let addr = socket_addr(d, a, false)?;
            let protocol = match prop(node, "protocol") {
                Some(e) => match one_of(d, e, "protocol", &["tcp", "udp", "sctp"])? {
                    "udp" => Protocol::Udp,
                    "sctp" => Protocol::Sctp,
                    _ => Protocol::Tcp,
                },
                None => Protocol::Tcp,
            };
            let key = VirtualServerKey::Addr { addr, protocol };
            anchors.virtual_server.push((key, a.span()));
            Some(key)
        }
        (None, Some(f)) => {
            if let Some(p) = prop(node, "protocol") {
                d.push(
                    Problem::new(
                        ProblemKind::Conflict,
                        p.span(),
                        "`protocol=` does not apply to fwmark services",
                        "not used",
                    )
                    .help("the firewall rule that sets the mark decides the protocol"),
                );
            }
            let mark = d.int(f, 1, u32::MAX as i128, "fwmark")?;
            let family = match prop(node, "family") {
                Some(e) => match one_of(d, e, "family", &["ipv4", "ipv6"])? {
                    "ipv6" => Family::V6,
                    _ => Family::V4,
                },
                None => Family::V4,
            };
            let key = VirtualServerKey::Fwmark { mark, family };
            anchors.virtual_server.push((key, f.span()));
            Some(key)
        }
    }
}

/// `forwarding "nat"|"dr"|"tunnel" [type="ipip"|"gue"|"gre"] [port=N]`, or the
/// same as a `forwarding=` property of a real server.
fn read_forwarding(node: &KdlNode, value: Option<&KdlEntry>, d: &mut Diags) -> Option<Forwarding> {
    if node.name().value() == "forwarding" {
        d.max_args(node, 1);
        d.check_props(node, FORWARDING_PROPS);
        d.no_children(node);
        if value.is_none() {
            d.arg(node, 0, "a method");
        }
    }
    let method = one_of(d, value?, "forwarding method", &["nat", "dr", "tunnel"])?;
    let tunnel_props = node.name().value() == "forwarding";
    let ty = prop(node, "type").filter(|_| tunnel_props);
    let port = prop(node, "port").filter(|_| tunnel_props);
    if method != "tunnel"
        && let Some(e) = ty.or(port)
    {
        d.push(
            Problem::new(
                ProblemKind::Conflict,
                e.span(),
                format!("tunnel options on `{method}` forwarding"),
                "only for tunnel",
            )
            .help("`type=` and `port=` apply to `forwarding \"tunnel\"`"),
        );
    }
    Some(match method {
        "nat" => Forwarding::Nat,
        "dr" => Forwarding::Dr,
        _ => {
            let tunnel = match ty.map(|e| one_of(d, e, "tunnel type", &["ipip", "gue", "gre"])) {
                Some(None) => return None,
                Some(Some("gue")) => match port {
                    Some(p) => TunnelType::Gue {
                        port: d.int(p, 1, 65535, "GUE port")?,
                    },
                    None => {
                        d.push(
                            Problem::new(
                                ProblemKind::Missing,
                                ty.map_or(name_span(node), |e| e.span()),
                                "GUE tunnels need a port",
                                "no port=",
                            )
                            .help("add `port=6080` (the receiver's GUE port)"),
                        );
                        return None;
                    }
                },
                Some(Some("gre")) => TunnelType::Gre,
                _ => TunnelType::Ipip,
            };
            Forwarding::Tunnel(tunnel)
        }
    })
}

fn read_real_server(
    node: &KdlNode,
    fwmark: bool,
    family: Option<Family>,
    d: &mut Diags,
    anchors: &mut Anchors,
) -> Option<RealServerCfg> {
    d.max_args(node, 1);
    d.check_props(node, RS_PROPS);
    let addr = d
        .arg(node, 0, "ADDRESS:PORT")
        .and_then(|e| socket_addr(d, e, fwmark));
    let weight = match prop(node, "weight") {
        Some(e) => d.int(e, 0, 65535, "real-server weight"),
        None => Some(1),
    };
    let forwarding = prop(node, "forwarding").and_then(|e| read_forwarding(node, Some(e), d));
    let threshold = |d: &mut Diags, key: &str| {
        prop(node, key)
            .and_then(|e| d.int::<u32>(e, 0, 65535, key))
            .unwrap_or(0)
    };
    let upper_threshold = threshold(d, "upper-threshold");
    let lower_threshold = threshold(d, "lower-threshold");

    if let (Some(addr), Some(vs_family)) = (addr, family) {
        let tunnel = matches!(forwarding, Some(Forwarding::Tunnel(_)));
        if Family::of(&addr.ip()) != vs_family && !tunnel {
            d.push(
                Problem::new(
                    ProblemKind::Conflict,
                    node.entries()[0].span(),
                    format!(
                        "{} real server behind an {vs_family} virtual server",
                        Family::of(&addr.ip())
                    ),
                    "wrong family",
                )
                .help("only tunnelled real servers may differ in family from their virtual server"),
            );
        }
    }

    let mut rs = RealServerCfg {
        addr: addr.unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0))),
        weight: weight.unwrap_or(1),
        forwarding,
        upper_threshold,
        lower_threshold,
        checks: Vec::new(),
        health_policy: None,
        notify_up: None,
        notify_down: None,
        span: node.span().into(),
    };
    let mut seen = HashMap::new();
    for child in children(node) {
        let name = child.name().value();
        if name != "check" && RS_NODES.contains(&name) {
            d.once(&mut seen, child);
        }
        match name {
            "check" => {
                if let Some(c) =
                    super::check::read(child, d, anchors, super::check::Where::RealServer)
                {
                    rs.checks.push(c);
                }
            }
            "health-policy" => {
                if let Some(e) = d.single(child, "a policy name")
                    && let Some(p) = d.nonempty(e)
                {
                    anchors.reference(RefKind::Policy, p, e.span());
                    rs.health_policy = Some(p.to_string());
                }
            }
            "notify-up" => {
                rs.notify_up = d
                    .single(child, "a command")
                    .and_then(|e| d.nonempty(e))
                    .map(str::to_string)
            }
            "notify-down" => {
                rs.notify_down = d
                    .single(child, "a command")
                    .and_then(|e| d.nonempty(e))
                    .map(str::to_string)
            }
            _ => d.unknown_node(child, "`real-server`", RS_NODES),
        }
    }
    addr?;
    weight?;
    Some(rs)
}
