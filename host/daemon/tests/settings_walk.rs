//! Nothing accepted that does not run: every node and property that
//! `holdfast check` accepts (the parser's own lists, walked) is described
//! in `docs/config.md`, and the model field it fills is read by the
//! daemon's code — or the docs say it is accepted for keepalived
//! compatibility only, with no effect by design.

use std::path::{Path, PathBuf};

/// Where the model field a setting fills is not its name in snake case.
const FIELDS: &[(&str, &str)] = &[
    ("policy/timeout-ms", "timeout"),
    ("policy/compile-timeout-ms", "compile_timeout"),
    ("vrrp-instance/virtual-router-id", "vrid"),
    ("vrrp-instance/advert-interval", "advert_interval_cs"),
    ("global/vrrp-version", "version"),
    ("vrrp-instance/nopreempt", "preempt"),
    ("vrrp-instance/preempt-delay", "preempt"),
    ("vrrp-instance/unicast-peer", "unicast_peers"),
    ("vrrp-instance/virtual-ipaddress", "vips"),
    ("vrrp-instance/virtual-ipaddress-excluded", "excluded_vips"),
    ("vrrp-instance/track-interface", "track_interfaces"),
    ("vrrp-instance/track-file", "track_files"),
    ("vrrp-instance/track-check", "track_checks"),
    ("vrrp-instance/track-process", "track_processes"),
    ("vrrp-instance/notify-master", "notify"),
    ("vrrp-instance/notify-backup", "notify"),
    ("vrrp-instance/notify-fault", "notify"),
    ("vrrp-instance/notify-stop", "notify"),
    ("vrrp-instance/garp-master-delay", "master_delay"),
    ("vrrp-instance/garp-master-repeat", "master_repeat"),
    ("vrrp-instance/garp-master-refresh", "master_refresh"),
    (
        "vrrp-instance/garp-master-refresh-repeat",
        "master_refresh_repeat",
    ),
    ("vrrp-sync-group/member", "members"),
    ("vrrp-sync-group/notify-master", "notify"),
    ("vrrp-sync-group/notify-backup", "notify"),
    ("vrrp-sync-group/notify-fault", "notify"),
    ("vrrp-sync-group/notify-stop", "notify"),
    ("vrrp-check/check", "checks"),
    ("virtual-server/sh-port", "scheduler_flags"),
    ("virtual-server/sh-fallback", "scheduler_flags"),
    ("virtual-server/mh-port", "scheduler_flags"),
    ("virtual-server/mh-fallback", "scheduler_flags"),
    ("virtual-server/ops", "one_packet"),
    ("virtual-server/real-server", "real_servers"),
    ("virtual-server/protocol", "key"),
    ("virtual-server/fwmark", "key"),
    ("virtual-server/family", "key"),
    ("quorum/hysteresis", "hysteresis"),
    ("forwarding/type", "Tunnel"),
    ("forwarding/port", "Gue"),
    ("real-server/check", "checks"),
    ("real-server/notify-up", "notify_up"),
    ("real-server/notify-down", "notify_down"),
    ("virtual-ipaddress/label", "label"),
    ("virtual-ipaddress/dev", "dev"),
    ("check tcp/connect-ip", "connect_ip"),
    ("check http/connect-ip", "connect_ip"),
    ("check http/http-protocol", "http10"),
    ("check http/url", "urls"),
    ("check https/url", "urls"),
    ("check https/http-protocol", "http10"),
];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The daemon's code: every `.rs` file under `host/daemon/src`.
fn daemon_source() -> String {
    fn walk(dir: &Path, out: &mut String) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push_str(&std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    let mut out = String::new();
    walk(&repo().join("host/daemon/src"), &mut out);
    out
}

/// Whether `word` appears in `text` as an identifier of its own.
fn has_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        let ident = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        !ident(before) && !ident(after)
    })
}

#[test]
fn every_accepted_setting_is_documented_and_read_by_the_daemon() {
    let docs = std::fs::read_to_string(repo().join("docs/config.md")).unwrap();
    let source = daemon_source();
    let mut problems = Vec::new();
    for s in holdfast_config::accepted_settings() {
        let key = format!("{}/{}", s.within, s.name);
        let documented = if s.property {
            docs.contains(&format!("{}=", s.name)) || docs.contains(&format!("`{}`", s.name))
        } else {
            docs.contains(&format!("`{}", s.name))
        };
        if !documented {
            problems.push(format!("{key}: not described in docs/config.md"));
        }
        let field = FIELDS
            .iter()
            .find(|(k, _)| *k == key)
            .map_or_else(|| s.name.replace('-', "_"), |(_, f)| f.to_string());
        if !has_word(&source, &field) {
            problems.push(format!(
                "{key}: accepted, but the daemon never reads `{field}` (implement it, or reject it as unsupported)"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_walk_sees_what_the_parser_accepts() {
    let all = holdfast_config::accepted_settings();
    let has = |within: &str, name: &str| all.iter().any(|s| s.within == within && s.name == name);
    // Spot checks that the table is the parser's: nodes, properties, check kinds.
    assert!(has("vrrp-instance", "track-check"));
    assert!(has("policy", "max-module-mib"));
    assert!(has("check exec", "command"));
    assert!(has("check http", "connect-ip"));
    assert!(!has("check exec", "port"), "an exec check has no target");
    assert!(has("check probe", "policy"));
    for kind in [
        "tcp", "http", "https", "udp", "dns", "icmp", "smtp", "exec", "file", "probe",
    ] {
        assert!(has(&format!("check {kind}"), "interval"), "{kind}");
    }
    assert!(!has("check icmp", "port"), "an echo has no port");
    assert!(all.len() > 100, "{} settings", all.len());
}
