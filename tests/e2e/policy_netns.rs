//! Priority policies driving a live VRRP pair in network namespaces: hot
//! swap without a restart or a missed advert, and every hostile module
//! contained by its limits while adverts keep their schedule. Needs root.

use std::time::Duration;

use holdfast_tests::lab::wait_until;

mod common;
use common::{VIP, build_policy, cache, instance, lab_or_skip, only_holder, start};

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
    let r1_adverts = common::adverts_of(&lab, "r1", capture);
    let priorities: Vec<u8> = r1_adverts.iter().map(|a| a.1).collect();
    assert!(
        priorities.first() == Some(&150) && priorities.contains(&50),
        "r1's adverts went from 150 to 50: {priorities:?}"
    );
    let worst_gap = common::worst_gap(&r1_adverts);
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
