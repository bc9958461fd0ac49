//! Config diff: what hot reload will act on.

use holdfast_config::{Change, diff, parse_str};

const BASE: &str = r#"
policy "track" { path "/p/track.wasm"; fuel 100000; }
vrrp-instance "VI_1" {
    interface "eth0"
    virtual-router-id 51
    priority 150
    virtual-ipaddress "192.0.2.10/24"
}
vrrp-instance "VI_2" {
    interface "eth0"
    virtual-router-id 52
    virtual-ipaddress "192.0.2.20/24"
}
virtual-server "10.0.0.100:80" protocol="tcp" {
    scheduler "wrr"
    real-server "10.0.1.11:80" weight=10
    real-server "10.0.1.12:80" weight=10
}
"#;

fn parse(text: &str) -> holdfast_config::Config {
    parse_str("test.kdl", text).unwrap_or_else(|e| panic!("{}", e.render(false)))
}

fn modified(name: &str, fields: &[&str]) -> Change {
    Change::Modified {
        name: name.to_string(),
        fields: fields.iter().map(|f| f.to_string()).collect(),
    }
}

#[test]
fn identical_configs_have_an_empty_diff() {
    assert!(diff(&parse(BASE), &parse(BASE)).is_empty());
}

#[test]
fn layout_and_comments_do_not_count_as_changes() {
    let reformatted = format!("// a comment\n\n{}", BASE.replace("    ", "\t"));
    assert!(diff(&parse(BASE), &parse(&reformatted)).is_empty());
}

#[test]
fn instance_field_changes_are_named() {
    let new = BASE
        .replace("priority 150", "priority 120")
        .replace("\"192.0.2.10/24\"", "\"192.0.2.11/24\"");
    let d = diff(&parse(BASE), &parse(&new));
    assert_eq!(
        d.vrrp_instances,
        [modified("VI_1", &["priority", "virtual-ipaddress"])]
    );
    assert!(d.virtual_servers.is_empty() && d.policies.is_empty() && d.global.is_empty());
}

#[test]
fn added_and_removed_instances() {
    let new = BASE.replace("\"VI_2\"", "\"VI_3\"");
    let d = diff(&parse(BASE), &parse(&new));
    assert_eq!(
        d.vrrp_instances,
        [
            Change::Removed {
                name: "VI_2".into()
            },
            Change::Added {
                name: "VI_3".into()
            }
        ]
    );
}

#[test]
fn real_server_changes_are_listed_per_destination() {
    let new = BASE
        .replace("\"10.0.1.12:80\" weight=10", "\"10.0.1.12:80\" weight=5")
        .replace(
            "real-server \"10.0.1.11:80\" weight=10\n",
            "real-server \"10.0.1.13:80\"\n",
        );
    let d = diff(&parse(BASE), &parse(&new));
    assert_eq!(
        d.virtual_servers,
        [modified(
            "tcp 10.0.0.100:80",
            &[
                "real-server 10.0.1.11:80 removed",
                "real-server 10.0.1.12:80 weight",
                "real-server 10.0.1.13:80 added"
            ]
        )]
    );
}

#[test]
fn policy_and_global_changes() {
    let new = format!(
        "global {{ notify-timeout 20; }}\n{}",
        BASE.replace("fuel 100000", "fuel 200000")
    );
    let d = diff(&parse(BASE), &parse(&new));
    assert_eq!(d.global, ["notify-timeout"]);
    assert_eq!(d.policies, [modified("track", &["fuel"])]);
}

#[test]
fn a_moved_virtual_server_is_a_remove_and_an_add() {
    let new = BASE.replace("10.0.0.100:80", "10.0.0.101:80");
    let d = diff(&parse(BASE), &parse(&new));
    assert_eq!(
        d.virtual_servers,
        [
            Change::Removed {
                name: "tcp 10.0.0.100:80".into()
            },
            Change::Added {
                name: "tcp 10.0.0.101:80".into()
            }
        ]
    );
}
