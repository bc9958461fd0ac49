//! `check KIND ...` nodes, on real servers and in `vrrp-check` blocks.
//!
//! Only the kinds the daemon runs are accepted; the others are known (so
//! the error can say so) and rejected as not supported yet, never accepted
//! and silently passed.

use std::net::IpAddr;
use std::time::Duration;

use kdl::KdlNode;

use super::ipvs::one_of;
use super::{Anchors, RefKind, block_name};
use crate::error::{Problem, ProblemKind};
use crate::model::{CheckCfg, CheckKind, VrrpCheckCfg};
use crate::reader::{Diags, children, name_span, prop};

/// Every kind keepalived has a checker for, as holdfast spells them.
pub(super) const CHECK_KINDS: &[&str] = &["tcp", "http", "https", "udp", "dns", "icmp", "exec"];
/// The kinds that run in this version.
const RUNNING_KINDS: &[&str] = &["tcp", "http", "exec"];
/// Properties every kind takes.
const CHECK_TIMING: &[&str] = &["interval", "timeout", "rise", "fall"];
/// Properties of the kinds that reach a target over the network.
const CHECK_TARGET: &[&str] = &["port", "connect-ip"];

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
                checks.extend(read(child, d, Where::VrrpCheck));
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
        "http" | "https" => &["path", "status", "host"],
        "udp" => &["payload", "require-reply"],
        "dns" => &["name", "type"],
        "exec" => &["command"],
        _ => &[],
    };
    let target: &[&str] = if kind == "exec" { &[] } else { CHECK_TARGET };
    [CHECK_TIMING, target, specific].concat()
}

/// Reads one `check` node.
pub(super) fn read(node: &KdlNode, d: &mut Diags, at: Where) -> Option<CheckCfg> {
    d.max_args(node, 1);
    d.no_children(node);
    let kind = d
        .arg(node, 0, "a kind")
        .and_then(|e| one_of(d, e, "check kind", CHECK_KINDS));
    let allowed = kind.map(kind_props).unwrap_or_default();
    if kind.is_some() {
        d.check_props(node, &allowed);
    }
    let kind = kind?;
    if !RUNNING_KINDS.contains(&kind) {
        d.unsupported(
            node.entries()[0].span(),
            &format!("the `{kind}` check"),
            "only `tcp`, `http` and `exec` checks run in this version; an `exec` check can run any program",
        );
        return None;
    }

    let string_prop = |d: &mut Diags, key: &str| {
        prop(node, key)
            .and_then(|e| d.nonempty(e))
            .map(str::to_string)
    };
    let kind = match kind {
        "tcp" => CheckKind::Tcp,
        "icmp" => CheckKind::Icmp,
        "http" | "https" => {
            let status = match prop(node, "status") {
                Some(e) => {
                    let s = d.string(e)?;
                    let Some(ranges) = parse_status(s) else {
                        d.push(
                            Problem::new(ProblemKind::Value, e.span(), format!("bad status list `{s}`"), "not status ranges")
                                .help("write codes or ranges between 100 and 599, e.g. \"200-299\" or \"200,204,300-399\""),
                        );
                        return None;
                    };
                    ranges
                }
                None => vec![(200, 299)],
            };
            let path = string_prop(d, "path").unwrap_or_else(|| "/".to_string());
            if !path.starts_with('/') {
                d.push(
                    Problem::new(
                        ProblemKind::Value,
                        prop(node, "path")?.span(),
                        "an HTTP path starts with `/`",
                        "relative path",
                    )
                    .help(format!("write \"/{path}\"")),
                );
            }
            CheckKind::Http {
                tls: kind == "https",
                path,
                status,
                host: string_prop(d, "host"),
            }
        }
        "udp" => {
            let payload = match prop(node, "payload") {
                Some(e) => {
                    let s = d.string(e)?;
                    match hex_bytes(s) {
                        Some(b) => b,
                        None => {
                            d.push(
                                Problem::new(
                                    ProblemKind::Value,
                                    e.span(),
                                    "payload is not hex",
                                    "not hex bytes",
                                )
                                .help("write the datagram as hex digits, e.g. \"deadbeef\""),
                            );
                            return None;
                        }
                    }
                }
                None => Vec::new(),
            };
            let require_reply = prop(node, "require-reply")
                .and_then(|e| d.boolean(e))
                .unwrap_or(false);
            CheckKind::Udp {
                payload,
                require_reply,
            }
        }
        "dns" => CheckKind::Dns {
            name: string_prop(d, "name").unwrap_or_else(|| ".".to_string()),
            record: match prop(node, "type") {
                Some(e) => one_of(
                    d,
                    e,
                    "record type",
                    &["A", "AAAA", "NS", "CNAME", "SOA", "MX", "TXT"],
                )?
                .to_string(),
                None => "SOA".to_string(),
            },
        },
        _ => match string_prop(d, "command") {
            Some(command) if shlex::split(&command).is_some_and(|w| !w.is_empty()) => {
                CheckKind::Exec { command }
            }
            Some(command) => {
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
            None => {
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
            }
        },
    };

    let secs = |d: &mut Diags, key: &str, default: u64| match prop(node, key) {
        Some(e) => d.seconds(e, 0.01, 3600.0, key),
        None => Some(Duration::from_secs(default)),
    };
    let count = |d: &mut Diags, key: &str, default: u32| match prop(node, key) {
        Some(e) => d.int(e, 1, 100, key),
        None => Some(default),
    };
    let interval = secs(d, "interval", 5)?;
    let timeout = secs(d, "timeout", 2)?;
    let port = match prop(node, "port") {
        Some(e) => Some(d.int(e, 1, 65535, "port")?),
        None => None,
    };
    let connect_ip = match prop(node, "connect-ip") {
        Some(e) => {
            let s = d.string(e)?;
            match s.parse::<IpAddr>() {
                Ok(ip) => Some(ip),
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
                    return None;
                }
            }
        }
        None => None,
    };
    if at == Where::VrrpCheck && !matches!(kind, CheckKind::Exec { .. }) {
        let missing = match (connect_ip, port) {
            (None, _) => Some(("connect-ip", "connect-ip=\"127.0.0.1\"")),
            (_, None) => Some(("port", "port=80")),
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
    Some(CheckCfg {
        kind,
        interval,
        timeout,
        rise: count(d, "rise", 2)?,
        fall: count(d, "fall", 3)?,
        port,
        connect_ip,
    })
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

/// `"200-299"` or `"200,204,300-399"`.
fn parse_status(s: &str) -> Option<Vec<(u16, u16)>> {
    s.split(',')
        .map(|part| {
            let (lo, hi) = part
                .trim()
                .split_once('-')
                .unwrap_or((part.trim(), part.trim()));
            let (lo, hi) = (
                lo.trim().parse::<u16>().ok()?,
                hi.trim().parse::<u16>().ok()?,
            );
            ((100..=599).contains(&lo) && (lo..=599).contains(&hi)).then_some((lo, hi))
        })
        .collect()
}
