//! holdfast against holdfast over real raw sockets, in network namespaces
//! (two or three routers and a client on one bridge). Needs root.

use std::time::{Duration, Instant};

use holdfast_tests::lab::wait_until;

mod common;
use common::{VIP, instance, lab_or_skip, only_holder, start};

#[test]
fn election_failover_on_sigkill_gratuitous_arp_and_preemption() {
    let Some(lab) = lab_or_skip(&["r1", "r2"]) else {
        return;
    };
    let r1 = start(&lab, "r1", &instance(150, "0.1", ""));
    let _r2 = start(&lab, "r2", &instance(100, "0.1", ""));
    assert!(
        wait_until(Duration::from_secs(5), || lab.has_addr("r1", VIP)),
        "r1 never became master:\n{}",
        r1.log_text()
    );
    only_holder(&lab, VIP, "r1", Duration::from_millis(600));

    // The client learns r1's MAC for the VIP.
    assert!(lab.try_exec("c", &["ping", "-c", "1", "-W", "1", VIP]));
    assert_eq!(
        lab.client_neighbour(VIP).as_deref(),
        Some(lab.host("r1").mac.as_str())
    );

    // SIGKILL: no priority 0, r2 takes over after Master_Down_Interval and announces.
    std::thread::sleep(Duration::from_millis(1100)); // past the client's ARP locktime
    r1.signal("KILL");
    assert!(
        wait_until(Duration::from_secs(3), || lab.has_addr("r2", VIP)),
        "r2 did not take over"
    );
    let r2_mac = lab.host("r2").mac.clone();
    assert!(
        wait_until(Duration::from_secs(2), || lab
            .client_neighbour(VIP)
            .as_deref()
            == Some(r2_mac.as_str())),
        "gratuitous ARP did not move the client's neighbour entry: {:?}",
        lab.client_neighbour(VIP)
    );
    assert!(
        lab.try_exec("c", &["ping", "-c", "1", "-W", "1", VIP]),
        "the VIP answers after failover"
    );

    // r1 comes back: the VIP its killed run left behind is removed at start,
    // then it preempts r2 (higher priority, preempt on).
    assert!(lab.has_addr("r1", VIP), "SIGKILL leaves the VIP behind");
    let _r1 = start(&lab, "r1", &instance(150, "0.1", ""));
    assert!(
        wait_until(Duration::from_secs(3), || lab.holders(VIP) == ["r1"]),
        "r1 did not preempt: {:?}",
        lab.holders(VIP)
    );
    only_holder(&lab, VIP, "r1", Duration::from_millis(500));
}

#[test]
fn sigterm_releases_with_priority_zero_and_exits_zero() {
    let Some(lab) = lab_or_skip(&["r1", "r2"]) else {
        return;
    };
    // 1 s adverts: Master_Down_Interval is 3.6 s, Skew_Time 0.6 s; a takeover
    // well under 2 s proves the priority-0 advert was sent and honoured.
    let mut r1 = start(&lab, "r1", &instance(150, "1", ""));
    let _r2 = start(&lab, "r2", &instance(100, "1", ""));
    assert!(wait_until(Duration::from_secs(6), || lab.has_addr("r1", VIP)));
    only_holder(&lab, VIP, "r1", Duration::from_millis(1500));
    let t0 = Instant::now();
    r1.signal("TERM");
    assert_eq!(
        r1.wait(Duration::from_secs(5)),
        Some(0),
        "exit code after SIGTERM:\n{}",
        r1.log_text()
    );
    assert!(!lab.has_addr("r1", VIP), "VIP removed on stop");
    assert!(wait_until(Duration::from_secs(3), || lab.has_addr("r2", VIP)));
    let took = t0.elapsed();
    assert!(
        took < Duration::from_millis(2000),
        "takeover after SIGTERM took {took:?}: no priority 0?"
    );
}

#[test]
fn link_down_moves_to_fault_and_back() {
    let Some(lab) = lab_or_skip(&["r1", "r2"]) else {
        return;
    };
    let r1 = start(&lab, "r1", &instance(150, "0.1", ""));
    let _r2 = start(&lab, "r2", &instance(100, "0.1", ""));
    assert!(wait_until(Duration::from_secs(5), || lab.has_addr("r1", VIP)));
    lab.set_link("r1", false);
    assert!(
        wait_until(Duration::from_secs(3), || lab.has_addr("r2", VIP)),
        "r2 did not take over"
    );
    assert!(
        wait_until(Duration::from_secs(2), || !lab.has_addr("r1", VIP)),
        "r1 in Fault must drop the VIP"
    );
    lab.set_link("r1", true);
    assert!(
        wait_until(Duration::from_secs(3), || lab.holders(VIP) == ["r1"]),
        "r1 back: {:?}",
        lab.holders(VIP)
    );
    assert!(
        r1.log_text().contains("\"FAULT\""),
        "fault state was logged:\n{}",
        r1.log_text()
    );
}

#[test]
fn nopreempt_leaves_the_new_master_alone() {
    let Some(lab) = lab_or_skip(&["r1", "r2"]) else {
        return;
    };
    let mut r1 = start(&lab, "r1", &instance(150, "0.1", "    nopreempt\n"));
    let _r2 = start(&lab, "r2", &instance(100, "0.1", "    nopreempt\n"));
    assert!(wait_until(Duration::from_secs(5), || lab.has_addr("r1", VIP)));
    r1.signal("TERM");
    r1.wait(Duration::from_secs(5));
    assert!(wait_until(Duration::from_secs(3), || lab.has_addr("r2", VIP)));
    let _r1 = start(&lab, "r1", &instance(150, "0.1", "    nopreempt\n"));
    only_holder(&lab, VIP, "r2", Duration::from_secs(2));
}

#[test]
fn three_nodes_elect_one_and_the_next_takes_over() {
    let Some(lab) = lab_or_skip(&["r1", "r2", "r3"]) else {
        return;
    };
    let r1 = start(&lab, "r1", &instance(150, "0.1", ""));
    let _r2 = start(&lab, "r2", &instance(120, "0.1", ""));
    let _r3 = start(&lab, "r3", &instance(90, "0.1", ""));
    assert!(wait_until(Duration::from_secs(5), || lab.has_addr("r1", VIP)));
    only_holder(&lab, VIP, "r1", Duration::from_secs(1));
    r1.signal("KILL");
    assert!(wait_until(Duration::from_secs(3), || lab.has_addr("r2", VIP)));
    // r1's VIP stays on its dead host; among the live ones only r2 holds it.
    std::thread::sleep(Duration::from_millis(800));
    assert!(!lab.has_addr("r3", VIP), "r3 must stay backup");
}

#[test]
fn unicast_peers() {
    let Some(lab) = lab_or_skip(&["r1", "r2"]) else {
        return;
    };
    let uni = |me: &str, peer: &str| {
        format!("    unicast-source \"{me}\"\n    unicast-peer \"{peer}\"\n")
    };
    let r1 = start(
        &lab,
        "r1",
        &instance(150, "0.1", &uni("192.168.77.11", "192.168.77.12")),
    );
    let _r2 = start(
        &lab,
        "r2",
        &instance(100, "0.1", &uni("192.168.77.12", "192.168.77.11")),
    );
    assert!(wait_until(Duration::from_secs(5), || lab.has_addr("r1", VIP)));
    only_holder(&lab, VIP, "r1", Duration::from_secs(1));
    r1.signal("KILL");
    assert!(wait_until(Duration::from_secs(3), || lab.has_addr("r2", VIP)));
}

/// Two instances with the same VRID on one interface, each with its own
/// unicast peer: every advert reaches the instance that peers with its
/// sender. r1 runs both at 100; r2 (150) and r3 (150) each run one; r1
/// must be backup in both, so it holds neither address (before the
/// router, the second instance took all of the VRID's adverts and the
/// first one became a second master).
#[test]
fn instances_sharing_a_vrid_are_told_apart_by_their_unicast_peers() {
    let Some(lab) = lab_or_skip(&["r1", "r2", "r3"]) else {
        return;
    };
    let (vip_a, vip_b) = ("192.168.77.201", "192.168.77.202");
    let inst = |name: &str, prio: u8, me: &str, peer: &str, vip: &str| {
        format!(
            "vrrp-instance \"{name}\" {{\n    interface \"eth0\"\n    virtual-router-id 51\n    priority {prio}\n    advert-interval 0.1\n    unicast-source \"{me}\"\n    unicast-peer \"{peer}\"\n    virtual-ipaddress \"{vip}/24\"\n}}\n"
        )
    };
    let (r1ip, r2ip, r3ip) = ("192.168.77.11", "192.168.77.12", "192.168.77.13");
    let r1 = start(
        &lab,
        "r1",
        &format!(
            "{}{}",
            inst("A", 100, r1ip, r2ip, vip_a),
            inst("B", 100, r1ip, r3ip, vip_b)
        ),
    );
    let _r2 = start(&lab, "r2", &inst("A", 150, r2ip, r1ip, vip_a));
    let _r3 = start(&lab, "r3", &inst("B", 150, r3ip, r1ip, vip_b));
    assert!(
        wait_until(Duration::from_secs(6), || lab.holders(vip_a) == ["r2"]
            && lab.holders(vip_b) == ["r3"]),
        "{:?} {:?}\n{}",
        lab.holders(vip_a),
        lab.holders(vip_b),
        r1.log_text()
    );
    // Past Master_Down_Interval at r1's priority (3 × 0.1 s + skew): r1
    // must still hold neither address.
    only_holder(&lab, vip_a, "r2", Duration::from_secs(1));
    only_holder(&lab, vip_b, "r3", Duration::from_secs(1));
    assert!(
        !r1.log_text().contains("to=\"MASTER\""),
        "{}",
        r1.log_text()
    );
}

#[test]
fn ipv6_vrrpv3() {
    let Some(lab) = lab_or_skip(&["r1", "r2"]) else {
        return;
    };
    let v6 = |prio: u8| {
        format!(
            "vrrp-instance \"VI_6\" {{\n    interface \"eth0\"\n    virtual-router-id 61\n    priority {prio}\n    advert-interval 0.1\n    virtual-ipaddress \"fd00:77::254/64\"\n}}\n"
        )
    };
    let r1 = start(&lab, "r1", &v6(150));
    let _r2 = start(&lab, "r2", &v6(100));
    assert!(
        wait_until(Duration::from_secs(5), || lab
            .has_addr("r1", "fd00:77::254")),
        "r1:\n{}",
        r1.log_text()
    );
    only_holder(&lab, "fd00:77::254", "r1", Duration::from_secs(1));
    r1.signal("KILL");
    assert!(wait_until(Duration::from_secs(3), || lab
        .has_addr("r2", "fd00:77::254")));
}

#[test]
fn vrrpv2_with_password() {
    let Some(lab) = lab_or_skip(&["r1", "r2"]) else {
        return;
    };
    let v2 = |prio: u8, pw: &str| {
        instance(
            prio,
            "1",
            &format!("    version 2\n    authentication \"pass\" \"{pw}\"\n"),
        )
    };
    let r1 = start(&lab, "r1", &v2(150, "lab-pw"));
    let _r2 = start(&lab, "r2", &v2(100, "lab-pw"));
    assert!(wait_until(Duration::from_secs(6), || lab.has_addr("r1", VIP)));
    only_holder(&lab, VIP, "r1", Duration::from_secs(2));
    r1.signal("TERM");
    assert!(wait_until(Duration::from_secs(3), || lab.has_addr("r2", VIP)));
}

#[test]
fn a_wrong_password_is_not_a_peer() {
    let Some(lab) = lab_or_skip(&["r1", "r2"]) else {
        return;
    };
    let v2 = |prio: u8, pw: &str| {
        instance(
            prio,
            "1",
            &format!("    version 2\n    authentication \"pass\" \"{pw}\"\n"),
        )
    };
    let _r1 = start(&lab, "r1", &v2(150, "right"));
    let _r2 = start(&lab, "r2", &v2(100, "wrong"));
    // Each drops the other's adverts, so both become master: proof that
    // authentication is checked on the wire.
    assert!(
        wait_until(Duration::from_secs(8), || lab.holders(VIP).len() == 2),
        "{:?}",
        lab.holders(VIP)
    );
}

#[test]
fn clear_exit_codes_for_a_missing_interface_and_missing_privileges() {
    let Some(lab) = lab_or_skip(&["r1"]) else {
        return;
    };
    let cfg = "vrrp-instance \"VI_1\" {\n    interface \"nonexistent0\"\n    virtual-router-id 1\n    virtual-ipaddress \"192.168.77.254/24\"\n}\n";
    let mut d = start(&lab, "r1", cfg);
    assert_eq!(d.wait(Duration::from_secs(10)), Some(69));
    assert!(
        d.log_text()
            .contains("interface nonexistent0 does not exist"),
        "{}",
        d.log_text()
    );

    let path = lab.write("unpriv.kdl", &instance(100, "1", ""));
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_holdfast"));
    let mut d = lab.spawn(
        "r1",
        "unpriv",
        &[
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            bin.to_str().unwrap(),
            "run",
            "--config",
            path.to_str().unwrap(),
        ],
    );
    assert_eq!(
        d.wait(Duration::from_secs(10)),
        Some(77),
        "{}",
        d.log_text()
    );
    assert!(
        d.log_text().contains("permission denied"),
        "{}",
        d.log_text()
    );
}

#[test]
fn notify_scripts_run_in_order_with_keepalived_arguments_without_delaying_adverts() {
    let Some(lab) = lab_or_skip(&["r1", "r2"]) else {
        return;
    };
    let log = lab.dir.join("notify.log");
    let script = |name: &str, body: &str| {
        let p = lab.write(name, &format!("#!/bin/sh\n{body}\n"));
        std::process::Command::new("chmod")
            .arg("+x")
            .arg(&p)
            .status()
            .unwrap();
        p.display().to_string()
    };
    let slow = script(
        "slow.sh",
        &format!("sleep 3; echo slow-done >> {}", log.display()),
    );
    let any = script("notify.sh", &format!("echo \"$@\" >> {}", log.display()));
    let stop = script("stop.sh", &format!("echo stop-script >> {}", log.display()));
    let extra =
        format!("    notify-master \"{slow}\"\n    notify-stop \"{stop}\"\n    notify \"{any}\"\n");
    let mut r1 = start(&lab, "r1", &instance(150, "0.1", &extra));
    let _r2 = start(&lab, "r2", &instance(100, "0.1", ""));
    assert!(wait_until(Duration::from_secs(5), || lab.has_addr("r1", VIP)));
    // The master script sleeps 3 s; adverts must keep flowing meanwhile, or
    // r2 (Master_Down_Interval 0.36 s) would take over.
    only_holder(&lab, VIP, "r1", Duration::from_secs(2));
    let read = || std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        wait_until(Duration::from_secs(5), || read()
            .contains("INSTANCE VI_1 MASTER 150")),
        "{}",
        read()
    );
    r1.signal("TERM");
    assert_eq!(r1.wait(Duration::from_secs(15)), Some(0));
    let lines: Vec<String> = read().lines().map(str::to_string).collect();
    assert_eq!(
        lines,
        [
            "INSTANCE VI_1 BACKUP 150",
            "slow-done",
            "INSTANCE VI_1 MASTER 150",
            "stop-script",
            "INSTANCE VI_1 STOP 150"
        ],
        "scripts run one at a time, in event order"
    );
}

#[test]
fn tracked_file_and_interface_move_mastership() {
    let Some(lab) = lab_or_skip(&["r1", "r2"]) else {
        return;
    };
    let prio = lab.write("prio", "0\n");
    // A veth pair inside r1 (this kernel may lack the dummy driver); both ends up = carrier.
    lab.exec(
        "r1",
        &[
            "ip", "link", "add", "trk0", "type", "veth", "peer", "name", "trk1",
        ],
    );
    lab.exec("r1", &["ip", "link", "set", "trk1", "up"]);
    lab.exec("r1", &["ip", "link", "set", "trk0", "up"]);
    let extra = format!(
        "    track-file \"{}\" weight=-1\n    track-interface \"trk0\" weight=-80\n",
        prio.display()
    );
    let r1 = start(&lab, "r1", &instance(150, "0.1", &extra));
    let _r2 = start(&lab, "r2", &instance(100, "0.1", ""));
    assert!(
        wait_until(Duration::from_secs(5), || lab.has_addr("r1", VIP)),
        "{}",
        r1.log_text()
    );

    // 150 - 60 = 90 < 100: r2 preempts.
    std::fs::write(&prio, "60\n").unwrap();
    assert!(
        wait_until(Duration::from_secs(3), || lab.holders(VIP) == ["r2"]),
        "track-file: {:?}",
        lab.holders(VIP)
    );
    std::fs::write(&prio, "0\n").unwrap();
    assert!(
        wait_until(Duration::from_secs(3), || lab.holders(VIP) == ["r1"]),
        "back to 150: {:?}",
        lab.holders(VIP)
    );

    // trk0 down: 150 - 80 = 70 < 100.
    lab.exec("r1", &["ip", "link", "set", "trk0", "down"]);
    assert!(
        wait_until(Duration::from_secs(3), || lab.holders(VIP) == ["r2"]),
        "track-interface: {:?}",
        lab.holders(VIP)
    );
    lab.exec("r1", &["ip", "link", "set", "trk0", "up"]);
    assert!(
        wait_until(Duration::from_secs(3), || lab.holders(VIP) == ["r1"]),
        "{:?}",
        lab.holders(VIP)
    );
}

#[test]
fn a_vip_on_another_device_is_announced_from_that_device() {
    let Some(lab) = lab_or_skip(&["r1"]) else {
        return;
    };
    // r1 gets a second interface on the same switch, with its own MAC.
    let ns = lab.host("r1").ns.clone();
    let sw = lab.switch_ns();
    holdfast_tests::lab::sh(&[
        "ip", "link", "add", "eth1", "netns", &ns, "type", "veth", "peer", "name", "q1", "netns",
        &sw,
    ]);
    holdfast_tests::lab::sh(&["ip", "-n", &sw, "link", "set", "q1", "master", "br0", "up"]);
    holdfast_tests::lab::sh(&[
        "ip",
        "-n",
        &ns,
        "link",
        "set",
        "eth1",
        "address",
        "02:00:00:77:01:11",
    ]);
    holdfast_tests::lab::sh(&["ip", "-n", &ns, "link", "set", "eth1", "up"]);
    let capture = holdfast_tests::capture::Capture::start(&sw, &lab.dir.join("dev.pcap"));
    let config = "vrrp-instance \"VI_1\" {\n    interface \"eth0\"\n    virtual-router-id 51\n    priority 150\n    advert-interval 0.1\n    virtual-ipaddress \"192.168.77.250/24\" dev=\"eth1\"\n}\n";
    let r1 = start(&lab, "r1", config);
    assert!(
        wait_until(Duration::from_secs(8), || lab
            .exec("r1", &["ip", "-4", "addr", "show", "dev", "eth1"])
            .contains("192.168.77.250")),
        "{}",
        r1.log_text()
    );
    std::thread::sleep(Duration::from_millis(500));
    let garps: Vec<[u8; 6]> = capture
        .finish()
        .into_iter()
        .filter_map(|f| match f {
            holdfast_tests::capture::Frame::Arp {
                sender_mac,
                sender_ip,
                ..
            } if sender_ip.to_string() == "192.168.77.250" => Some(sender_mac),
            _ => None,
        })
        .collect();
    assert!(!garps.is_empty(), "no gratuitous ARP for the VIP");
    assert!(
        garps.iter().all(|m| *m == [2, 0, 0, 0x77, 1, 0x11]),
        "announced with eth1's MAC: {garps:x?}"
    );
}
