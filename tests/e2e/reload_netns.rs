//! Configuration reload in the netns lab, with adverts and ARP captured on
//! the reloading router's own interface across every reload: what did not
//! change is not touched (no advert gap, no gratuitous ARP, no state
//! change, no notify script), and what changed changes only as the
//! protocol says. At 0.1 s and 0.01 s advert intervals. Needs root.

use std::net::IpAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use holdfast_tests::capture::{Capture, Frame};
use holdfast_tests::lab::{Lab, wait_until};

mod common;
use common::{control_socket, lab_or_skip, start};

const VIP_A: &str = "192.168.77.201";
const VIP_B: &str = "192.168.77.202";
const VIP_NEW: &str = "192.168.77.203";
const VIP_C: &str = "192.168.77.204";

/// One instance block; `vips` are /24 addresses on eth0. The delayed
/// second gratuitous-ARP burst is off: every ARP counted is the reload's.
fn inst(name: &str, vrid: u8, priority: u8, interval: &str, vips: &[&str], extra: &str) -> String {
    let vips: String = vips
        .iter()
        .map(|v| format!("    virtual-ipaddress \"{v}/24\"\n"))
        .collect();
    format!(
        "vrrp-instance \"{name}\" {{\n    interface \"eth0\"\n    virtual-router-id {vrid}\n    priority {priority}\n    advert-interval {interval}\n    garp-master-delay 0\n{vips}{extra}}}\n"
    )
}

/// `holdfast reload` against the daemon `start` ran in `host`: (exit code, stdout, stderr).
fn reload(lab: &Lab, host: &str) -> (i32, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_holdfast"))
        .arg("reload")
        .arg("--control-socket")
        .arg(control_socket(lab, host))
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Writes `config` as `host`'s file and reloads it; asserts it was applied.
fn apply(lab: &Lab, host: &str, config: &str) -> String {
    lab.write(&format!("{host}.kdl"), config);
    let (code, out, err) = reload(lab, host);
    assert_eq!(code, 0, "reload refused:\n{out}\n{err}");
    out
}

/// r1's adverts of `vrid` (time, priority) and the times of gratuitous ARPs for `vip`.
fn adverts(frames: &[Frame], src: &str, vrid: u8) -> Vec<(f64, u8)> {
    let src: IpAddr = src.parse().unwrap();
    frames
        .iter()
        .filter_map(|f| match f {
            Frame::Advert {
                at,
                src: s,
                vrid: v,
                priority,
            } if *s == src && *v == vrid => Some((*at, *priority)),
            _ => None,
        })
        .collect()
}

/// Gratuitous ARPs for `vip` sent by the host with MAC `mac`.
fn garps(frames: &[Frame], mac: &str, vip: &str) -> usize {
    holdfast_tests::capture::gratuitous_arps(frames, mac, vip, 0.0)
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

fn state_changes(log: &str, instance: &str) -> usize {
    log.lines()
        .filter(|l| l.contains("state change") && l.contains(&format!("instance={instance}")))
        .count()
}

/// The reload guarantees, one after another in one lab, at `interval` seconds.
fn guarantees(interval: &str) {
    let Some(lab) = lab_or_skip(&["r1", "r2"]) else {
        return;
    };
    let secs: f64 = interval.parse().unwrap();
    let notify = lab.dir.join("notify-steady.txt");
    let script = lab.write(
        "notify.sh",
        &format!("#!/bin/sh\necho \"$@\" >> {}\n", notify.display()),
    );
    Command::new("chmod")
        .arg("+x")
        .arg(&script)
        .status()
        .unwrap();
    let steady_extra = format!("    notify \"{}\"\n", script.display());
    let steady = |p: u8| inst("steady", 52, p, interval, &[VIP_B], &steady_extra);
    let base = |p: u8, vips: &[&str]| inst("moving", 51, p, interval, vips, "");
    let r1_conf = |moving: &str, more: &str| format!("{moving}{}{more}", steady(150));

    let r1 = start(&lab, "r1", &r1_conf(&base(150, &[VIP_A]), ""));
    let r2 = start(
        &lab,
        "r2",
        &format!(
            "{}{}",
            base(100, &[VIP_A]),
            inst("steady", 52, 100, interval, &[VIP_B], "")
        ),
    );
    assert!(
        wait_until(Duration::from_secs(5), || lab.holders(VIP_A) == ["r1"]
            && lab.holders(VIP_B) == ["r1"]),
        "r1 never became master of both:\n{}",
        r1.log_text()
    );
    std::thread::sleep(Duration::from_millis(500));
    let notified = lines(&notify);
    assert!(
        notified.last().is_some_and(|l| l.contains("MASTER")),
        "notify ran at start: {notified:?}"
    );
    // State changes from here on are the reloads' doing.
    let (r1_from, r2_from) = (r1.log_text().len(), r2.log_text().len());
    let r1_ip = lab.host("r1").ipv4.clone();
    let r1_mac = lab.host("r1").mac.clone();
    let capture = Capture::start_on(&lab.host("r1").ns, "eth0", &lab.dir.join("reload.pcap"));

    // 1. The same file: nothing changes.
    let (code, out, _) = reload(&lab, "r1");
    assert_eq!(code, 0);
    assert!(out.contains("nothing changed"), "{out}");

    // 2. A VIP added to a master: only it is added and announced.
    let out = apply(&lab, "r1", &r1_conf(&base(150, &[VIP_A, VIP_NEW]), ""));
    assert!(out.contains("+192.168.77.203/24"), "{out}");
    assert!(
        wait_until(Duration::from_secs(2), || lab.has_addr("r1", VIP_NEW)),
        "the new VIP was not added"
    );
    std::thread::sleep(Duration::from_millis(300));

    // 3. A priority change: the next advert carries it, nobody moves.
    apply(&lab, "r1", &r1_conf(&base(120, &[VIP_A, VIP_NEW]), ""));
    std::thread::sleep(Duration::from_millis(300));

    // 4. An instance added beside the others, then removed.
    let third = inst("third", 53, 150, interval, &[VIP_C], "");
    apply(&lab, "r1", &r1_conf(&base(120, &[VIP_A, VIP_NEW]), &third));
    assert!(
        wait_until(Duration::from_secs(3), || lab.has_addr("r1", VIP_C)),
        "the added instance never became master:\n{}",
        r1.log_text()
    );
    apply(&lab, "r1", &r1_conf(&base(120, &[VIP_A, VIP_NEW]), ""));
    assert!(
        wait_until(Duration::from_secs(2), || !lab.has_addr("r1", VIP_C)),
        "the removed instance kept its VIP"
    );

    // 5. A VIP removed from a master: only it goes.
    apply(&lab, "r1", &r1_conf(&base(120, &[VIP_A]), ""));
    assert!(wait_until(Duration::from_secs(2), || !lab.has_addr("r1", VIP_NEW)));
    assert!(lab.has_addr("r1", VIP_A) && lab.has_addr("r1", VIP_B));

    // 6. A broken file: refused with file:line:col, nothing changes; the
    // next valid reload is answered.
    lab.write(
        "r1.kdl",
        &format!("{}priorty 5\n", r1_conf(&base(120, &[VIP_A]), "")),
    );
    let (code, _, err) = reload(&lab, "r1");
    assert_eq!(code, 1, "a broken file is refused: {err}");
    assert!(err.contains("r1.kdl:"), "the problem is located: {err}");
    assert!(err.contains("priorty"), "{err}");
    assert!(
        r1.log_text().contains("r1.kdl:"),
        "and logged with its place"
    );
    assert!(lab.has_addr("r1", VIP_A) && lab.has_addr("r1", VIP_B));
    let (code, out, _) = reload(&lab, "r1");
    assert_eq!(code, 1, "still broken: {out}");
    apply(&lab, "r1", &r1_conf(&base(120, &[VIP_A]), ""));

    // 7. A priority below the backup's: mastership moves, as the protocol says
    // (r2 preempts once r1 advertises less), and only for that instance.
    apply(&lab, "r1", &r1_conf(&base(90, &[VIP_A]), ""));
    assert!(
        wait_until(Duration::from_secs(3), || lab.holders(VIP_A) == ["r2"]),
        "r2 did not take over: {:?}\n{}",
        lab.holders(VIP_A),
        r2.log_text()
    );
    std::thread::sleep(Duration::from_millis(300));
    let frames = capture.finish();

    // The unchanged instance: adverts on schedule, no ARP, no state change, no script.
    let steady_adverts = adverts(&frames, &r1_ip, 52);
    assert!(
        steady_adverts.len() > 10,
        "{} adverts",
        steady_adverts.len()
    );
    assert!(steady_adverts.iter().all(|a| a.1 == 150));
    let worst = common::worst_gap(&steady_adverts);
    eprintln!(
        "interval {secs}: unchanged instance, {} adverts across 10 reloads, worst gap {worst:.4} s",
        steady_adverts.len()
    );
    assert!(
        worst < secs * 1.5,
        "the unchanged instance's adverts paused: {worst:.4} s at {secs} s"
    );
    assert_eq!(
        garps(&frames, &r1_mac, VIP_B),
        0,
        "the unchanged VIP was announced again"
    );
    assert_eq!(
        lines(&notify),
        notified,
        "a notify script ran for the unchanged instance"
    );
    let log = r1.log_text()[r1_from..].to_string();
    assert_eq!(
        state_changes(&log, "steady"),
        0,
        "the unchanged instance changed state:\n{log}"
    );
    // The VIP added: announced; the one already there: not.
    assert!(
        garps(&frames, &r1_mac, VIP_NEW) >= 1,
        "the added VIP was not announced"
    );
    assert_eq!(
        garps(&frames, &r1_mac, VIP_A),
        0,
        "an unchanged VIP of the changed instance was announced"
    );
    // The priority change reached the wire; r2 never left Backup for `moving` until step 7.
    let moving = adverts(&frames, &r1_ip, 51);
    let prios: Vec<u8> = moving.iter().map(|a| a.1).collect();
    assert!(
        prios.contains(&150) && prios.contains(&120) && prios.contains(&90),
        "{prios:?}"
    );
    let r2_log = r2.log_text()[r2_from..].to_string();
    assert_eq!(
        state_changes(&r2_log, "steady"),
        0,
        "r2's steady instance changed state:\n{r2_log}"
    );
    assert_eq!(
        state_changes(&r2_log, "moving"),
        1,
        "r2's moving instance: MASTER at step 7 only:\n{r2_log}"
    );
}

#[test]
fn reload_changes_only_what_changed_at_100ms() {
    guarantees("0.1");
}

#[test]
fn reload_changes_only_what_changed_at_10ms() {
    guarantees("0.01");
}

#[test]
fn a_member_added_to_a_master_sync_group_on_sighup_follows_it_and_is_announced() {
    let Some(lab) = lab_or_skip(&["r1"]) else {
        return;
    };
    let one = inst("one", 61, 150, "0.1", &[VIP_A], "");
    let group = |members: &str| format!("vrrp-sync-group \"g\" {{\n    member {members}\n}}\n");
    let r1 = start(&lab, "r1", &format!("{one}{}", group("\"one\"")));
    assert!(wait_until(Duration::from_secs(3), || lab.has_addr("r1", VIP_A)));
    let capture = Capture::start_on(&lab.host("r1").ns, "eth0", &lab.dir.join("group.pcap"));
    // A new member with a 3 s interval would wait ~10 s to become master on
    // its own: following the group, it is master at once.
    let two = inst("two", 62, 100, "3", &[VIP_B], "");
    // This reload is SIGHUP's: the same reload as `holdfast reload`.
    lab.write("r1.kdl", &format!("{one}{two}{}", group("\"one\" \"two\"")));
    r1.signal("HUP");
    assert!(
        wait_until(Duration::from_secs(2), || lab.has_addr("r1", VIP_B)),
        "the new member did not follow the group into Master:\n{}",
        r1.log_text()
    );
    std::thread::sleep(Duration::from_millis(300));
    let frames = capture.finish();
    let r1_mac = lab.host("r1").mac.clone();
    assert!(
        garps(&frames, &r1_mac, VIP_B) >= 1,
        "the member's VIP was not announced"
    );
    assert_eq!(
        garps(&frames, &r1_mac, VIP_A),
        0,
        "the group's other VIP was announced again"
    );
    assert_eq!(state_changes(&r1.log_text(), "one"), 2, "{}", r1.log_text());
    assert!(
        r1.log_text().contains("sync group `g` changed"),
        "the SIGHUP reload reported its change:\n{}",
        r1.log_text()
    );
}

#[test]
fn watch_config_reloads_when_the_file_is_replaced() {
    let Some(lab) = lab_or_skip(&["r1"]) else {
        return;
    };
    let path = lab.write("w.kdl", &inst("w", 71, 150, "0.1", &[VIP_A], ""));
    let bin = env!("CARGO_BIN_EXE_holdfast");
    let socket = lab.dir.join("w.sock");
    let r1 = lab.spawn(
        "r1",
        "w",
        &[
            bin,
            "run",
            "--config",
            path.to_str().unwrap(),
            "--control-socket",
            socket.to_str().unwrap(),
            "--watch-config",
        ],
    );
    assert!(wait_until(Duration::from_secs(3), || lab.has_addr("r1", VIP_A)));
    // Written elsewhere and renamed into place, as editors and config tools do.
    let tmp = lab.write(
        "w.kdl.new",
        &inst("w", 71, 150, "0.1", &[VIP_A, VIP_NEW], ""),
    );
    std::fs::rename(&tmp, &path).unwrap();
    assert!(
        wait_until(Duration::from_secs(3), || lab.has_addr("r1", VIP_NEW)),
        "no reload on the file change:\n{}",
        r1.log_text()
    );
    // A broken file is refused and logged with its place; the VIPs stay.
    let tmp = lab.write("w.kdl.new", "vrrp-instance \"w\" {\n    bogus 1\n}\n");
    std::fs::rename(&tmp, &path).unwrap();
    assert!(
        wait_until(Duration::from_secs(3), || r1
            .log_text()
            .contains("w.kdl:2:5")),
        "the refusal was not logged with its place:\n{}",
        r1.log_text()
    );
    assert!(lab.has_addr("r1", VIP_A) && lab.has_addr("r1", VIP_NEW));
}
