//! Config diff: the ordered, typed changes a reload acts on.

use holdfast_config::{ConfigChange as C, InstanceChange as I, diff, parse_str};

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
    unicast-peer "192.0.2.2"
    virtual-ipaddress "192.0.2.20/24"
}
vrrp-sync-group "G" {
    member "VI_1"
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

fn changes(new: &str) -> Vec<C> {
    diff(&parse(BASE), &parse(new))
}

#[test]
fn identical_configs_have_no_changes() {
    assert_eq!(changes(BASE), []);
}

#[test]
fn layout_and_comments_do_not_count_as_changes() {
    let reformatted = format!("// a comment\n\n{}", BASE.replace("    ", "\t"));
    assert_eq!(changes(&reformatted), []);
}

#[test]
fn an_instance_changes_in_place_with_its_values() {
    let new = BASE
        .replace("priority 150", "priority 120\n    advert-interval 0.5")
        .replace(
            "virtual-ipaddress \"192.0.2.10/24\"",
            "virtual-ipaddress \"192.0.2.10/24\"\n    virtual-ipaddress \"192.0.2.11/24\"",
        )
        .replace("unicast-peer \"192.0.2.2\"", "unicast-peer \"192.0.2.3\"");
    assert_eq!(
        changes(&new),
        [
            C::InstanceChanged {
                name: "VI_1".into(),
                changes: vec![
                    I::Priority { from: 150, to: 120 },
                    I::AdvertInterval {
                        from_cs: 100,
                        to_cs: 50
                    },
                    I::VipAdded {
                        addr: "192.0.2.11".parse().unwrap(),
                        prefix: 24,
                        excluded: false
                    },
                ],
            },
            C::InstanceChanged {
                name: "VI_2".into(),
                changes: vec![I::Peers {
                    added: vec!["192.0.2.3".parse().unwrap()],
                    removed: vec!["192.0.2.2".parse().unwrap()],
                }],
            },
        ]
    );
}

#[test]
fn a_new_vrid_replaces_the_instance_and_nothing_else() {
    let new = BASE.replace("virtual-router-id 52", "virtual-router-id 53");
    assert_eq!(
        changes(&new),
        [C::InstanceReplaced {
            name: "VI_2".into(),
            because: vec!["virtual-router-id"],
        }]
    );
}

#[test]
fn removals_come_before_additions_and_groups_follow_their_members() {
    let new = BASE
        .replace("\"VI_2\"", "\"VI_3\"")
        .replace("member \"VI_1\"", "member \"VI_1\"\n    member \"VI_3\"");
    assert_eq!(
        changes(&new),
        [
            C::InstanceRemoved {
                name: "VI_2".into()
            },
            C::InstanceAdded {
                name: "VI_3".into()
            },
            C::SyncGroupChanged {
                name: "G".into(),
                joined: vec!["VI_3".into()],
                left: vec![],
                notify: false,
            },
        ]
    );
}

#[test]
fn real_servers_change_one_by_one() {
    let new = BASE
        .replace("\"10.0.1.12:80\" weight=10", "\"10.0.1.12:80\" weight=5")
        .replace(
            "real-server \"10.0.1.11:80\" weight=10\n",
            "real-server \"10.0.1.13:80\"\n",
        );
    let vs = "tcp 10.0.0.100:80".to_string();
    assert_eq!(
        changes(&new),
        [
            C::RealServerRemoved {
                virtual_server: vs.clone(),
                real_server: "10.0.1.11:80".parse().unwrap(),
            },
            C::RealServerAdded {
                virtual_server: vs.clone(),
                real_server: "10.0.1.13:80".parse().unwrap(),
            },
            C::RealServerChanged {
                virtual_server: vs,
                real_server: "10.0.1.12:80".parse().unwrap(),
                fields: vec!["weight"],
            },
        ]
    );
}

#[test]
fn global_and_policy_changes_come_first_and_unused_policies_last() {
    let new = format!(
        "global {{ notify-timeout 20; }}\npolicy \"new\" {{ path \"/p/new.wasm\"; }}\n{}",
        BASE.replace(
            "policy \"track\" { path \"/p/track.wasm\"; fuel 100000; }",
            ""
        )
        .replace("scheduler \"wrr\"", "scheduler \"rr\"")
    );
    assert_eq!(
        changes(&new),
        [
            C::Global {
                fields: vec!["notify-timeout"]
            },
            C::PolicyAdded { name: "new".into() },
            C::VirtualServerChanged {
                key: "tcp 10.0.0.100:80".into(),
                fields: vec!["scheduler"],
            },
            C::PolicyRemoved {
                name: "track".into()
            },
        ]
    );
}

#[test]
fn a_moved_virtual_server_is_a_remove_and_an_add() {
    let new = BASE.replace("10.0.0.100:80", "10.0.0.101:80");
    assert_eq!(
        changes(&new),
        [
            C::VirtualServerRemoved {
                key: "tcp 10.0.0.100:80".into()
            },
            C::VirtualServerAdded {
                key: "tcp 10.0.0.101:80".into()
            },
        ]
    );
}

#[test]
fn vrrp_check_blocks_added_changed_and_removed_come_before_instances() {
    let with = |checks: &str| {
        format!(
            "{checks}{}",
            BASE.replace(
                "priority 150\n",
                "priority 150\n    track-check \"a\" weight=-10\n"
            )
        )
    };
    let a = "vrrp-check \"a\" {\n    check \"exec\" command=\"true\" interval=1\n}\n";
    let a2 = "vrrp-check \"a\" {\n    check \"exec\" command=\"true\" interval=2\n}\n";
    let b = "vrrp-check \"b\" {\n    check \"exec\" command=\"true\"\n}\n";
    let old = parse(&with(&format!("{a}{b}")));
    let new = parse(&with(a2));
    assert_eq!(
        diff(&old, &new),
        [
            C::VrrpCheck {
                name: "b".into(),
                how: "removed"
            },
            C::VrrpCheck {
                name: "a".into(),
                how: "changed"
            },
        ]
    );
    let added = diff(&parse(&with(a)), &parse(&with(&format!("{a}{b}"))));
    assert_eq!(
        added,
        [C::VrrpCheck {
            name: "b".into(),
            how: "added"
        }]
    );
    assert_eq!(added[0].to_string(), "vrrp-check `b` added");
}
