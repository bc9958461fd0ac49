//! holdfast against holdfast over real raw sockets, in network namespaces
//! (two or three routers and a client on one bridge). Needs root.

use std::time::{Duration, Instant};

use holdfast_tests::lab::{Lab, wait_until};
use holdfast_tests::skip_unless;

const VIP: &str = "192.168.77.254";

fn instance(priority: u8, interval: &str, extra: &str) -> String {
    format!(
        "vrrp-instance \"VI_1\" {{\n    interface \"eth0\"\n    virtual-router-id 51\n    priority {priority}\n    advert-interval {interval}\n    virtual-ipaddress \"{VIP}/24\"\n{extra}}}\n"
    )
}

fn start(lab: &Lab, host: &str, config: &str) -> holdfast_tests::lab::Daemon {
    let path = lab.write(&format!("{host}.kdl"), config);
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_holdfast"));
    lab.spawn(
        host,
        host,
        &[
            bin.to_str().unwrap(),
            "run",
            "--config",
            path.to_str().unwrap(),
        ],
    )
}

fn lab_or_skip(names: &[&str]) -> Option<Lab> {
    skip_unless(
        holdfast_tests::lab::available(),
        "root with network namespaces",
    )
    .then(|| Lab::new(names))
}

/// Asserts that exactly `host` holds the VIP, now and for `hold` (no dual master).
fn only_holder(lab: &Lab, addr: &str, host: &str, hold: Duration) {
    let start = Instant::now();
    loop {
        assert_eq!(lab.holders(addr), [host], "VIP holders");
        if start.elapsed() >= hold {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

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

/// A `global` block that keeps the precompile cache inside the lab.
fn cache(lab: &Lab) -> String {
    format!(
        "global {{\n    policy-cache \"{}\"\n}}\n",
        lab.dir.join("cache").display()
    )
}

/// Builds a policy crate with `holdfast policy build` into the lab directory.
fn build_policy(lab: &Lab, crate_dir: &str, out: &str) -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../policies")
        .join(crate_dir);
    let target = lab.dir.join(out);
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_holdfast"))
        .args(["policy", "build"])
        .arg(&dir)
        .arg("-o")
        .arg(&target)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "policy build {crate_dir}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    target
}

#[test]
fn a_priority_policy_drives_mastership_and_hot_swaps_without_restart() {
    let Some(lab) = lab_or_skip(&["r1", "r2"]) else {
        return;
    };
    let track = build_policy(&lab, "keepalived-track", "track.wasm");
    let lower = build_policy(&lab, "fixtures/lower", "lower.wasm");
    let live = lab.dir.join("live.wasm");
    std::fs::copy(&track, &live).unwrap();
    let policy = format!(
        "{}policy \"p\" {{\n    path \"{}\"\n}}\n",
        cache(&lab),
        live.display()
    );
    let mut r1 = start(
        &lab,
        "r1",
        &format!(
            "{policy}{}",
            instance(150, "0.1", "    priority-policy \"p\"\n")
        ),
    );
    let _r2 = start(&lab, "r2", &instance(100, "0.1", ""));
    assert!(
        wait_until(Duration::from_secs(8), || lab.has_addr("r1", VIP)),
        "{}",
        r1.log_text()
    );
    only_holder(&lab, VIP, "r1", Duration::from_secs(1));
    let pid = r1.pid();

    // Replace the module (as a deploy tool does: write elsewhere, rename over),
    // with r1's adverts captured on the switch.
    let capture =
        holdfast_tests::capture::Capture::start(&lab.switch_ns(), &lab.dir.join("swap.pcap"));
    let staged = lab.dir.join("staged.wasm");
    std::fs::copy(&lower, &staged).unwrap();
    std::fs::rename(&staged, &live).unwrap();
    // The new policy answers 150 / 3 = 50 < 100: r2 preempts.
    assert!(
        wait_until(Duration::from_secs(5), || lab.holders(VIP) == ["r2"]),
        "{:?}\n{}",
        lab.holders(VIP),
        r1.log_text()
    );
    // No missed advert: r1 kept its 0.1 s schedule through the swap, and the
    // new priority went out in an advert before r2 took over.
    let r1_adverts: Vec<(f64, u8)> = capture
        .finish()
        .into_iter()
        .filter_map(|f| match f {
            holdfast_tests::capture::Frame::Advert { at, src, priority }
                if src.to_string() == lab.host("r1").ipv4 =>
            {
                Some((at, priority))
            }
            _ => None,
        })
        .collect();
    let priorities: Vec<u8> = r1_adverts.iter().map(|a| a.1).collect();
    assert!(
        priorities.first() == Some(&150) && priorities.contains(&50),
        "r1's adverts went from 150 to 50: {priorities:?}"
    );
    let worst_gap = r1_adverts
        .windows(2)
        .map(|w| w[1].0 - w[0].0)
        .fold(0.0, f64::max);
    eprintln!(
        "r1: {} adverts during the swap, worst gap {worst_gap:.3} s",
        r1_adverts.len()
    );
    assert!(
        worst_gap < 0.15,
        "an advert was missed: {worst_gap:.3} s between two of r1's adverts"
    );
    assert!(r1.running(), "no restart");
    assert_eq!(r1.pid(), pid);
    let log = r1.log_text();
    assert!(log.contains("policy swapped"), "{log}");
    assert!(log.contains("new policy version ready"), "{log}");

    // Written in place (open, write, close): the closed file is picked up,
    // never a half-written one. keepalived-track answers 150 again: r1 preempts.
    std::fs::copy(&track, &live).unwrap();
    assert!(
        wait_until(Duration::from_secs(5), || lab.holders(VIP) == ["r1"]),
        "{:?}\n{}",
        lab.holders(VIP),
        r1.log_text()
    );
    assert!(!r1.log_text().contains("rejected"), "{}", r1.log_text());
    assert_eq!(r1.pid(), pid);

    // A broken replacement is rejected and the running policy stays.
    std::fs::write(lab.dir.join("junk.wasm"), b"not wasm").unwrap();
    std::fs::rename(lab.dir.join("junk.wasm"), &live).unwrap();
    assert!(
        wait_until(Duration::from_secs(5), || r1
            .log_text()
            .contains("new policy version rejected")),
        "{}",
        r1.log_text()
    );
    only_holder(&lab, VIP, "r1", Duration::from_secs(1));
    assert!(r1.running());
}

#[test]
fn a_looping_policy_is_contained_and_adverts_keep_their_schedule() {
    let Some(lab) = lab_or_skip(&["r1", "r2"]) else {
        return;
    };
    // It passes the self-test and loops on real input (r1 tracks an interface).
    let spin = build_policy(&lab, "fixtures/spin-on-track", "spin.wasm");
    // Ample fuel: each call runs until its 20 ms deadline, on every tick.
    let policy = format!(
        "{}policy \"spin\" {{\n    path \"{}\"\n    fuel 10000000000\n    timeout-ms 20\n}}\n",
        cache(&lab),
        spin.display()
    );
    let extra = "    priority-policy \"spin\"\n    track-interface \"lo\" weight=-10\n";
    let r1 = start(
        &lab,
        "r1",
        &format!("{policy}{}", instance(150, "0.01", extra)),
    );
    let _r2 = start(&lab, "r2", &instance(100, "0.01", ""));
    assert!(
        wait_until(Duration::from_secs(8), || lab.has_addr("r1", VIP)),
        "{}",
        r1.log_text()
    );
    // r2's Master_Down_Interval is 36 ms: a single 20 ms stall of r1's
    // adverts per call would not do it, but several would. r1 must stay the
    // only master through several failing calls.
    only_holder(&lab, VIP, "r1", Duration::from_secs(4));
    let log = r1.log_text();
    assert!(
        log.contains("priority policy failed; static tracking applies"),
        "{log}"
    );
    assert!(log.contains("deadline"), "classified as a deadline: {log}");
}

/// A hostile module as r1's priority policy, against a live pair at 0.02 s
/// adverts. r1 is configured at 150 and tracks `lo` with weight +20, so
/// keepalived's static tracking (the fallback) gives 170; r2 runs at 160.
/// r1 is master only if the fallback applies, and stays the only master
/// only if its adverts keep their schedule (r2's Master_Down_Interval is
/// 67.5 ms) while the module is stopped by its limits, again and again.
fn hostile_module_is_contained(crate_dir: &str, log_needle: &str) {
    let Some(lab) = lab_or_skip(&["r1", "r2"]) else {
        return;
    };
    let module = build_policy(&lab, crate_dir, "hostile.wasm");
    let policy = format!(
        "{}policy \"hostile\" {{\n    path \"{}\"\n    fuel 10000000000\n    timeout-ms 20\n    memory-mib 16\n}}\n",
        cache(&lab),
        module.display()
    );
    let extra = "    priority-policy \"hostile\"\n    track-interface \"lo\" weight=20\n";
    let _r2 = start(&lab, "r2", &instance(160, "0.02", ""));
    let mut r1 = start(
        &lab,
        "r1",
        &format!("{policy}{}", instance(150, "0.02", extra)),
    );
    assert!(
        wait_until(Duration::from_secs(8), || lab.holders(VIP) == ["r1"]),
        "the fallback (170) must win over r2 (160): holders {:?}\n{}",
        lab.holders(VIP),
        r1.log_text()
    );
    only_holder(&lab, VIP, "r1", Duration::from_secs(3));
    assert!(r1.running());
    let log = r1.log_text();
    assert!(
        log.contains(log_needle),
        "expected {log_needle:?} in:\n{log}"
    );
}

#[test]
fn hostile_memory_bomb_is_contained() {
    hostile_module_is_contained("fixtures/memory-bomb", "kind=memory limit");
}

#[test]
fn hostile_deep_recursion_is_contained() {
    hostile_module_is_contained("fixtures/recursion", "kind=trap");
}

#[test]
fn hostile_panic_is_contained() {
    hostile_module_is_contained("fixtures/panic", "kind=trap");
}

#[test]
fn hostile_huge_output_is_contained() {
    hostile_module_is_contained("fixtures/huge-output", "kind=memory limit");
}

#[test]
fn hostile_init_failure_is_contained() {
    hostile_module_is_contained("fixtures/init-fails", "kind=init failed");
}

#[test]
fn hostile_wrong_world_is_contained() {
    hostile_module_is_contained("fixtures/weight-world", "kind=wrong world");
}

#[test]
fn hostile_log_flood_is_cut_and_its_answer_applies() {
    let Some(lab) = lab_or_skip(&["r1", "r2"]) else {
        return;
    };
    let module = build_policy(&lab, "fixtures/log-flood", "flood.wasm");
    let policy = format!(
        "{}policy \"flood\" {{\n    path \"{}\"\n    fuel 10000000000\n    timeout-ms 500\n}}\n",
        cache(&lab),
        module.display()
    );
    // The flood answers the base priority (150), not the fallback (170):
    // r2 (160) stays master, and r1's log holds a bounded number of lines.
    let extra = "    priority-policy \"flood\"\n    track-interface \"lo\" weight=20\n";
    let _r2 = start(&lab, "r2", &instance(160, "0.02", ""));
    assert!(wait_until(Duration::from_secs(8), || lab.has_addr("r2", VIP)));
    let r1 = start(
        &lab,
        "r1",
        &format!("{policy}{}", instance(150, "0.02", extra)),
    );
    assert!(wait_until(Duration::from_secs(8), || r1
        .log_text()
        .contains("flood line")));
    only_holder(&lab, VIP, "r2", Duration::from_secs(3));
    let log = r1.log_text();
    let lines = log.matches("flood line").count();
    assert!(
        (1..=20 * 50).contains(&lines),
        "at most 20 lines per call, {lines} logged"
    );
    assert!(!log.contains("priority policy failed"), "{log}");
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
