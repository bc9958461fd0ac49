//! `check KIND ...` nodes, on real servers and in `vrrp-check` blocks.
//!
//! Only the kinds the daemon runs are accepted; the others are known (so
//! the error can say so) and rejected as not supported yet, never accepted
//! and silently passed.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use kdl::KdlNode;

use super::ipvs::one_of;
use super::{Anchors, RefKind, block_name};
use crate::error::{Problem, ProblemKind};
use crate::model::{CheckCfg, CheckKind, VrrpCheckCfg};
use crate::reader::{Diags, children, name_span, prop};

/// Every kind keepalived has a checker for, as holdfast spells them,
/// and `probe`, a WebAssembly probe module.
pub(super) const CHECK_KINDS: &[&str] = &[
    "tcp", "http", "https", "udp", "dns", "icmp", "smtp", "exec", "file", "probe",
];
/// The kinds that run in this version.
pub(super) const RUNNING_KINDS: &[&str] = &[
    "tcp", "http", "https", "udp", "dns", "icmp", "smtp", "exec", "file", "probe",
];
/// Properties every kind takes.
const CHECK_TIMING: &[&str] = &[
    "interval",
    "timeout",
    "rise",
    "fall",
    "retry",
    "delay-before-retry",
    "warmup",
];
/// Properties of the kinds that reach a target over the network.
const CHECK_TARGET: &[&str] = &["connect-ip", "bind-to", "bind-interface"];
/// Properties of one URL (on the check itself, or on each `url` child).
pub(super) const URL_PROPS: &[&str] = &["path", "status", "digest", "regex"];
/// Record types a `dns` check may query.
const DNS_TYPES: &[&str] = &["A", "AAAA", "NS", "CNAME", "SOA", "MX", "TXT", "PTR", "SRV"];

/// Where a check is: its target comes from the real server, or (in a
/// `vrrp-check`) from `connect-ip=` and `port=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Where {
    RealServer,
    VrrpCheck,
}

/// `vrrp-check "NAME" { check KIND ...; ... }`: at least one check.
pub(super) fn read_vrrp_check(
    node: &KdlNode,
    d: &mut Diags,
    anchors: &mut Anchors,
) -> Option<VrrpCheckCfg> {
    let name = block_name(node, Some(RefKind::VrrpCheck), d, anchors);
    d.check_props(node, &[]);
    let mut checks = Vec::new();
    let mut any = false;
    for child in children(node) {
        match child.name().value() {
            "check" => {
                any = true;
                checks.extend(read(child, d, anchors, Where::VrrpCheck));
            }
            _ => d.unknown_node(child, "`vrrp-check`", &["check"]),
        }
    }
    let name = name?;
    if !any {
        d.push(
            Problem::new(
                ProblemKind::Missing,
                name_span(node),
                format!("vrrp-check `{name}` has no `check`"),
                "no checks in this block",
            )
            .help("add one, e.g. `check \"exec\" command=\"pidof nginx\" interval=1`"),
        );
        return None;
    }
    Some(VrrpCheckCfg { name, checks })
}

/// The properties a check of `kind` takes.
pub(super) fn kind_props(kind: &str) -> Vec<&'static str> {
    let specific: &[&str] = match kind {
        "http" => &["path", "status", "digest", "regex", "host", "http-protocol"],
        "https" => &[
            "path",
            "status",
            "digest",
            "regex",
            "host",
            "http-protocol",
            "sni",
            "verify",
            "ca",
        ],
        "udp" => &["payload", "require-reply", "reply"],
        "dns" => &["name", "type"],
        "smtp" => &["helo-name"],
        "exec" => &["command", "user", "dynamic"],
        "file" => &["path", "weight", "reverse"],
        "probe" => &["policy"],
        _ => &[],
    };
    let target: &[&str] = match kind {
        "exec" | "file" => &[],
        "icmp" => CHECK_TARGET,
        _ => &["port", "connect-ip", "bind-to", "bind-interface"],
    };
    [CHECK_TIMING, target, specific].concat()
}

/// The port a kind probes when neither `port=` nor the real server says.
fn default_port(kind: &str) -> Option<u16> {
    match kind {
        "dns" => Some(53),
        "smtp" => Some(25),
        _ => None,
    }
}

/// Reads one `check` node.
pub(super) fn read(
    node: &KdlNode,
    d: &mut Diags,
    anchors: &mut Anchors,
    at: Where,
) -> Option<CheckCfg> {
    d.max_args(node, 1);
    let kind = d
        .arg(node, 0, "a kind")
        .and_then(|e| one_of(d, e, "check kind", CHECK_KINDS));
    let allowed = kind.map(kind_props).unwrap_or_default();
    if kind.is_some() {
        d.check_props(node, &allowed);
    }
    let kind = kind?;
    if !matches!(kind, "http" | "https") {
        d.no_children(node);
    }
    if !RUNNING_KINDS.contains(&kind) {
        d.unsupported(
            node.entries()[0].span(),
            &format!("the `{kind}` check"),
            "an `exec` check can run any probe program meanwhile",
        );
        return None;
    }
    let what = if kind == "probe" {
        read_probe(node, d, anchors)?
    } else {
        read_kind(node, d, kind)?
    };
    let mut cfg = read_common(node, d)?;
    cfg.kind = what;
    if cfg.port.is_none() {
        cfg.port = default_port(kind);
    }
    if at == Where::VrrpCheck && matches!(cfg.kind, CheckKind::File { .. }) {
        d.push(
            Problem::new(
                ProblemKind::Conflict,
                node.entries()[0].span(),
                "a `file` check sets real-server weights",
                "not in a vrrp-check",
            )
            .help("use `track-file PATH weight=N` in the instance instead"),
        );
        return None;
    }
    if at == Where::VrrpCheck && !matches!(cfg.kind, CheckKind::Exec { .. }) {
        let needs_port = !matches!(cfg.kind, CheckKind::Icmp);
        let missing = match (cfg.connect_ip, cfg.port) {
            (None, _) => Some(("connect-ip", "connect-ip=\"127.0.0.1\"")),
            (_, None) if needs_port => Some(("port", "port=80")),
            _ => None,
        };
        if let Some((what, example)) = missing {
            d.push(
                Problem::new(
                    ProblemKind::Missing,
                    node.entries()[0].span(),
                    format!("a network check in a `vrrp-check` needs `{what}=`"),
                    "no target",
                )
                .help(format!(
                    "add `{example}`: there is no real server to take it from"
                )),
            );
            return None;
        }
    }
    Some(cfg)
}

pub(super) fn string_prop(node: &KdlNode, d: &mut Diags, key: &str) -> Option<String> {
    prop(node, key)
        .and_then(|e| d.nonempty(e))
        .map(str::to_string)
}

/// What the kind does, from its own properties.
fn read_kind(node: &KdlNode, d: &mut Diags, kind: &str) -> Option<CheckKind> {
    Some(match kind {
        "tcp" => CheckKind::Tcp,
        "icmp" => CheckKind::Icmp,
        "http" | "https" => super::http_check::read(node, d, kind == "https")?,
        "udp" => CheckKind::Udp {
            payload: match prop(node, "payload") {
                Some(e) => hex_prop(d, e)?,
                None => Vec::new(),
            },
            require_reply: prop(node, "require-reply")
                .and_then(|e| d.boolean(e))
                .unwrap_or(false),
            reply: match prop(node, "reply") {
                Some(e) => Some(hex_prop(d, e)?),
                None => None,
            },
        },
        "dns" => CheckKind::Dns {
            name: string_prop(node, d, "name").unwrap_or_else(|| ".".to_string()),
            record: match prop(node, "type") {
                Some(e) => one_of(d, e, "record type", DNS_TYPES)?.to_string(),
                None => "SOA".to_string(),
            },
        },
        "smtp" => CheckKind::Smtp {
            helo_name: string_prop(node, d, "helo-name").unwrap_or_else(|| "localhost".into()),
        },
        "file" => {
            let Some(path) = string_prop(node, d, "path") else {
                d.push(
                    Problem::new(
                        ProblemKind::Missing,
                        node.entries()[0].span(),
                        "file check without `path=`",
                        "no file",
                    )
                    .help("add `path=\"/run/holdfast/rs1.weight\"`"),
                );
                return None;
            };
            CheckKind::File {
                path: PathBuf::from(path),
                weight: match prop(node, "weight") {
                    Some(e) => d.int(e, -254, 253, "file check weight")?,
                    None => 0,
                },
                reverse: prop(node, "reverse")
                    .and_then(|e| d.boolean(e))
                    .unwrap_or(false),
            }
        }
        _ => read_exec(node, d)?,
    })
}

/// `check "probe" policy="NAME"`: a probe module checks the target.
fn read_probe(node: &KdlNode, d: &mut Diags, anchors: &mut Anchors) -> Option<CheckKind> {
    let Some(e) = prop(node, "policy") else {
        d.push(
            Problem::new(
                ProblemKind::Missing,
                node.entries()[0].span(),
                "probe check without `policy=`",
                "no probe module",
            )
            .help("add `policy=\"redis\"`, naming a `policy` block whose module exports the probe world"),
        );
        return None;
    };
    let policy = d.nonempty(e)?.to_string();
    anchors.reference(RefKind::Policy, &policy, e.span());
    Some(CheckKind::Probe { policy })
}

fn read_exec(node: &KdlNode, d: &mut Diags) -> Option<CheckKind> {
    let Some(command) = string_prop(node, d, "command") else {
        d.push(
            Problem::new(
                ProblemKind::Missing,
                node.entries()[0].span(),
                "exec check without `command=`",
                "no command",
            )
            .help("add `command=\"/usr/local/bin/check-app\"`"),
        );
        return None;
    };
    if shlex::split(&command).is_none_or(|w| w.is_empty()) {
        d.push(
            Problem::new(
                ProblemKind::Value,
                prop(node, "command")?.span(),
                format!("cannot split `{command}` into a program and its arguments"),
                "unbalanced quotes",
            )
            .help("quote as a shell would: \"check --name 'my app'\" (no shell runs it; write `sh -c '...'` for one)"),
        );
        return None;
    }
    Some(CheckKind::Exec {
        command,
        user: string_prop(node, d, "user"),
        dynamic: prop(node, "dynamic")
            .and_then(|e| d.boolean(e))
            .unwrap_or(false),
    })
}

fn hex_prop(d: &mut Diags, e: &kdl::KdlEntry) -> Option<Vec<u8>> {
    let s = d.string(e)?;
    let bytes = hex_bytes(s);
    if bytes.is_none() {
        d.push(
            Problem::new(
                ProblemKind::Value,
                e.span(),
                "not hex bytes",
                "not hex bytes",
            )
            .help("write the bytes as hex digits, e.g. \"deadbeef\""),
        );
    }
    bytes
}

/// Timing, target and source: what every kind shares.
fn read_common(node: &KdlNode, d: &mut Diags) -> Option<CheckCfg> {
    let secs = |d: &mut Diags, key: &str, default: f64| match prop(node, key) {
        Some(e) => d.seconds(e, 0.0, 3600.0, key),
        None => Some(Duration::from_secs_f64(default)),
    };
    let count = |d: &mut Diags, key: &str, default: u32| match prop(node, key) {
        Some(e) => d.int(e, 1, 100, key),
        None => Some(default),
    };
    let interval = match prop(node, "interval") {
        Some(e) => d.seconds(e, 0.01, 3600.0, "interval")?,
        None => Duration::from_secs(5),
    };
    let timeout = match prop(node, "timeout") {
        Some(e) => d.seconds(e, 0.01, 3600.0, "timeout")?,
        None => Duration::from_secs(2),
    };
    let port = match prop(node, "port") {
        Some(e) => Some(d.int(e, 1, 65535, "port")?),
        None => None,
    };
    let retry = match prop(node, "retry") {
        Some(e) => d.int(e, 0, 100, "retry")?,
        None => 0,
    };
    Some(CheckCfg {
        kind: CheckKind::Tcp,
        interval,
        timeout,
        rise: count(d, "rise", 2)?,
        fall: count(d, "fall", 3)?,
        port,
        connect_ip: ip_prop(node, d, "connect-ip")?,
        bind_to: ip_prop(node, d, "bind-to")?,
        bind_interface: string_prop(node, d, "bind-interface"),
        retry,
        delay_before_retry: secs(d, "delay-before-retry", 1.0)?,
        warmup: secs(d, "warmup", 0.0)?,
    })
}

/// An optional address property: `Some(None)` when absent, `None` when bad.
fn ip_prop(node: &KdlNode, d: &mut Diags, key: &str) -> Option<Option<IpAddr>> {
    let Some(e) = prop(node, key) else {
        return Some(None);
    };
    let s = d.string(e)?;
    match s.parse::<IpAddr>() {
        Ok(ip) => Some(Some(ip)),
        Err(_) => {
            d.push(
                Problem::new(
                    ProblemKind::Value,
                    e.span(),
                    format!("`{s}` is not an address"),
                    "not an IP address",
                )
                .help("write \"127.0.0.1\" or \"2001:db8::1\""),
            );
            None
        }
    }
}

fn hex_bytes(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}
