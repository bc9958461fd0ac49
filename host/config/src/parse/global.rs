//! The `global` block.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use kdl::KdlNode;

use crate::error::{Problem, ProblemKind};
use crate::model::{ApiEndpoint, GlobalCfg, VrrpVersion};
use crate::reader::{Diags, children, name_span};

pub(super) const GLOBAL_NODES: &[&str] = &[
    "router-id",
    "api",
    "policy-cache",
    "vrrp-version",
    "notify-timeout",
    "ipvs-reconcile-interval",
    "lvs-flush-on-stop",
    "realtime-priority",
    "lock-memory",
];

pub(super) fn read(node: &KdlNode, d: &mut Diags) -> GlobalCfg {
    let mut g = GlobalCfg::default();
    d.max_args(node, 0);
    d.check_props(node, &[]);
    let mut seen = HashMap::new();
    for child in children(node) {
        let name = child.name().value();
        if GLOBAL_NODES.contains(&name) {
            d.once(&mut seen, child);
        }
        match name {
            "router-id" => {
                if let Some(v) = d.single(child, "a name").and_then(|e| d.nonempty(e)) {
                    g.router_id = Some(v.to_string());
                }
                d.unsupported(
                    name_span(child),
                    "`router-id`",
                    "nothing reads it until the event stream and API exist; remove it",
                );
            }
            "api" => {
                if let Some(e) = d.single(child, "an endpoint")
                    && let Some(v) = d.string(e)
                {
                    match parse_api(v) {
                        Some(api) => {
                            g.api = Some(api);
                            d.unsupported(
                                name_span(child),
                                "the control API (`api`)",
                                "no API listens in this version; remove it",
                            );
                        }
                        None => d.push(
                            Problem::new(
                                ProblemKind::Value,
                                e.span(),
                                format!("`{v}` is not an API endpoint"),
                                "bad endpoint",
                            )
                            .help("use \"unix:/path/to/socket\" or \"tcp:127.0.0.1:9190\""),
                        ),
                    }
                }
            }
            "policy-cache" => {
                if let Some(v) = d.single(child, "a directory").and_then(|e| d.nonempty(e)) {
                    g.policy_cache = PathBuf::from(v);
                }
            }
            "vrrp-version" => {
                if let Some(v) = d
                    .single(child, "2 or 3")
                    .and_then(|e| d.int::<u8>(e, 2, 3, "VRRP version"))
                {
                    g.vrrp_version = if v == 2 {
                        VrrpVersion::V2
                    } else {
                        VrrpVersion::V3
                    };
                }
            }
            "notify-timeout" => {
                if let Some(v) = d
                    .single(child, "seconds")
                    .and_then(|e| d.seconds(e, 0.1, 3600.0, "notify-timeout"))
                {
                    g.notify_timeout = v;
                }
            }
            "ipvs-reconcile-interval" => {
                if let Some(v) = d
                    .single(child, "seconds")
                    .and_then(|e| d.seconds(e, 0.1, 3600.0, "ipvs-reconcile-interval"))
                {
                    g.ipvs_reconcile_interval = v;
                }
            }
            "lvs-flush-on-stop" => {
                d.flag(child);
                g.lvs_flush_on_stop = true;
            }
            "realtime-priority" => {
                if let Some(v) = d
                    .single(child, "a priority")
                    .and_then(|e| d.int(e, 0, 99, "realtime-priority"))
                {
                    g.realtime_priority = v;
                }
            }
            "lock-memory" => {
                d.flag(child);
                g.lock_memory = true;
            }
            _ => d.unknown_node(child, "`global`", GLOBAL_NODES),
        }
    }
    g
}

fn parse_api(v: &str) -> Option<ApiEndpoint> {
    if let Some(path) = v.strip_prefix("unix:") {
        return path
            .starts_with('/')
            .then(|| ApiEndpoint::Unix(PathBuf::from(path)));
    }
    v.strip_prefix("tcp:")?
        .parse::<SocketAddr>()
        .ok()
        .map(ApiEndpoint::Tcp)
}
