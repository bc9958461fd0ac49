//! `vrrp-check` + `track-check`, keepalived's `vrrp_script` +
//! `track_script`, on a live pair: a check that starts failing lowers the
//! priority in the adverts and moves mastership, and its recovery moves it
//! back — with keepalived's static arithmetic, and the same through the
//! `keepalived-track` policy, which now sees the checks in its input.
//! Needs root.

use std::path::Path;
use std::time::Duration;

use holdfast_tests::capture::{Capture, Frame};
use holdfast_tests::lab::{Lab, wait_until};

mod common;
use common::{VIP, build_policy, cache, instance, lab_or_skip, only_holder, start};

/// A `vrrp-check` whose one `exec` check passes while `marker` exists.
fn app_check(marker: &Path) -> String {
    format!(
        "vrrp-check \"app\" {{\n    check \"exec\" command=\"test -e '{}'\" interval=0.1 timeout=1 rise=2 fall=2\n}}\n",
        marker.display()
    )
}

/// r1's adverts' priorities, in order, without repeats.
fn priorities(lab: &Lab, capture: Capture) -> Vec<u8> {
    let r1 = lab.host("r1").ipv4.clone();
    let mut out: Vec<u8> = Vec::new();
    for f in capture.finish() {
        if let Frame::Advert { src, priority, .. } = f
            && src.to_string() == r1
            && out.last() != Some(&priority)
        {
            out.push(priority);
        }
    }
    out
}

/// r1 (150) tracks the check with weight -60 against r2 (120): failing, r1
/// advertises 90 and r2 takes over; recovered, r1 preempts at 150.
/// `extra` adds lines to r1's instance (a policy); returns r1's advertised
/// priorities through the scenario.
fn fail_then_recover(policy: bool) -> Option<Vec<u8>> {
    let lab = lab_or_skip(&["r1", "r2"])?;
    let marker = lab.dir.join("app-ok");
    std::fs::write(&marker, "").unwrap();
    let mut config = format!("{}{}", cache(&lab), app_check(&marker));
    let mut extra = String::from("    track-check \"app\" weight=-60\n");
    if policy {
        let track = build_policy(&lab, "keepalived-track", "track.wasm");
        config.push_str(&format!(
            "policy \"track\" {{\n    path \"{}\"\n}}\n",
            track.display()
        ));
        extra.push_str("    priority-policy \"track\"\n");
    }
    config.push_str(&instance(150, "0.1", &extra));
    let r1 = start(&lab, "r1", &config);
    let _r2 = start(&lab, "r2", &instance(120, "0.1", ""));
    assert!(
        wait_until(Duration::from_secs(8), || lab.holders(VIP) == ["r1"]),
        "{:?}\n{}",
        lab.holders(VIP),
        r1.log_text()
    );
    only_holder(&lab, VIP, "r1", Duration::from_millis(500));
    let capture = Capture::start(&lab.switch_ns(), &lab.dir.join("track.pcap"));

    std::fs::remove_file(&marker).unwrap();
    assert!(
        wait_until(Duration::from_secs(5), || lab.holders(VIP) == ["r2"]),
        "the check failed: r2 must take over\n{}",
        r1.log_text()
    );
    only_holder(&lab, VIP, "r2", Duration::from_millis(500));

    std::fs::write(&marker, "").unwrap();
    assert!(
        wait_until(Duration::from_secs(5), || lab.holders(VIP) == ["r1"]),
        "the check recovered: r1 must preempt\n{}",
        r1.log_text()
    );
    only_holder(&lab, VIP, "r1", Duration::from_millis(500));
    let log = r1.log_text();
    assert!(log.contains("tracked check changed"), "{log}");
    assert!(
        log.contains("error=\"test exit status: 1\""),
        "the failing command and its status are named: {log}"
    );
    Some(priorities(&lab, capture))
}

#[test]
fn a_failing_check_lowers_priority_and_moves_mastership() {
    let Some(seen) = fail_then_recover(false) else {
        return;
    };
    assert_eq!(seen, [150, 90, 150], "r1's advertised priorities");
}

#[test]
fn keepalived_track_sees_the_checks_and_answers_the_same() {
    let Some(seen) = fail_then_recover(true) else {
        return;
    };
    assert_eq!(seen, [150, 90, 150], "r1's advertised priorities");
}

#[test]
fn a_failing_check_of_weight_zero_means_fault() {
    let Some(lab) = lab_or_skip(&["r1", "r2"]) else {
        return;
    };
    let marker = lab.dir.join("app-ok");
    std::fs::write(&marker, "").unwrap();
    let config = format!(
        "{}{}",
        app_check(&marker),
        instance(150, "0.1", "    track-check \"app\"\n")
    );
    let r1 = start(&lab, "r1", &config);
    let _r2 = start(&lab, "r2", &instance(120, "0.1", ""));
    assert!(wait_until(Duration::from_secs(8), || lab.holders(VIP) == ["r1"]));
    std::fs::remove_file(&marker).unwrap();
    assert!(
        wait_until(Duration::from_secs(5), || r1
            .log_text()
            .contains("to=\"FAULT\"")),
        "{}",
        r1.log_text()
    );
    assert!(wait_until(Duration::from_secs(5), || lab.holders(VIP) == ["r2"]));
    std::fs::write(&marker, "").unwrap();
    assert!(
        wait_until(Duration::from_secs(5), || lab.holders(VIP) == ["r1"]),
        "{}",
        r1.log_text()
    );
}

#[test]
fn dont_track_primary_keeps_a_master_out_of_fault_on_link_down() {
    let Some(lab) = lab_or_skip(&["r1", "r2"]) else {
        return;
    };
    let r1 = start(
        &lab,
        "r1",
        &instance(150, "0.1", "    dont-track-primary\n"),
    );
    assert!(wait_until(Duration::from_secs(8), || lab.has_addr("r1", VIP)));
    lab.set_link("r1", false);
    std::thread::sleep(Duration::from_secs(1));
    let log = r1.log_text();
    assert!(!log.contains("to=\"FAULT\""), "{log}");
    assert!(lab.has_addr("r1", VIP), "still master, VIP kept");
    lab.set_link("r1", true);
    // Without the flag the same link loss means Fault.
    let r2 = start(&lab, "r2", &instance(100, "0.1", ""));
    assert!(wait_until(Duration::from_secs(3), || lab.holders(VIP) == ["r1"]));
    lab.set_link("r2", false);
    assert!(
        wait_until(Duration::from_secs(3), || r2
            .log_text()
            .contains("to=\"FAULT\"")),
        "{}",
        r2.log_text()
    );
    lab.set_link("r2", true);
}
