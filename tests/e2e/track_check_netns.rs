//! `vrrp-check` + `track-check`, keepalived's `vrrp_script` +
//! `track_script`, on a live pair: a check that starts failing lowers the
//! priority in the adverts and moves mastership, and its recovery moves it
//! back — with keepalived's static arithmetic, and the same through the
//! `keepalived-track` policy, which now sees the checks in its input.
//! Needs root.

use std::path::Path;
use std::time::Duration;

use holdfast_tests::capture::Capture;
use holdfast_tests::lab::{Lab, wait_until};

mod common;
use common::{VIP, build_policy, cache, instance, lab_or_skip, only_holder, start};

/// The timing test runs alone: other tests of this file run beside each
/// other (each takes the lane shared), never beside it (it takes it whole),
/// so their daemons and traffic do not share its two cores and its bridge.
static LANE: std::sync::RwLock<()> = std::sync::RwLock::new(());

fn shared_lane() -> std::sync::RwLockReadGuard<'static, ()> {
    LANE.read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn whole_lane() -> std::sync::RwLockWriteGuard<'static, ()> {
    LANE.write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A `vrrp-check` whose one `exec` check passes while `marker` exists.
fn app_check(marker: &Path) -> String {
    format!(
        "vrrp-check \"app\" {{\n    check \"exec\" command=\"test -e '{}'\" interval=0.1 timeout=1 rise=2 fall=2\n}}\n",
        marker.display()
    )
}

/// r1's adverts' priorities, in order, without repeats.
fn priorities(lab: &Lab, capture: Capture) -> Vec<u8> {
    common::distinct_priorities(&common::adverts_of(lab, "r1", capture))
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
    let _lane = shared_lane();
    let Some(seen) = fail_then_recover(false) else {
        return;
    };
    assert_eq!(seen, [150, 90, 150], "r1's advertised priorities");
}

#[test]
fn keepalived_track_sees_the_checks_and_answers_the_same() {
    let _lane = shared_lane();
    let Some(seen) = fail_then_recover(true) else {
        return;
    };
    assert_eq!(seen, [150, 90, 150], "r1's advertised priorities");
}

/// A priority policy sees each tracked check's latency and last error
/// (contract 0.2.0): `check-echo` lowers the priority by the check's
/// latency while it passes, and faults naming the error once it fails.
#[test]
fn a_priority_policy_sees_the_checks_latency_and_error() {
    let _lane = shared_lane();
    let Some(lab) = lab_or_skip(&["r1", "r2"]) else {
        return;
    };
    let marker = lab.dir.join("app-ok");
    std::fs::write(&marker, "").unwrap();
    let echo = build_policy(&lab, "fixtures/check-echo", "echo.wasm");
    let config = format!(
        "{}{}policy \"echo\" {{\n    path \"{}\"\n}}\n{}",
        cache(&lab),
        app_check(&marker),
        echo.display(),
        instance(
            150,
            "0.1",
            "    track-check \"app\" weight=-60\n    priority-policy \"echo\"\n"
        )
    );
    let r1 = start(&lab, "r1", &config);
    let _r2 = start(&lab, "r2", &instance(120, "0.1", ""));
    assert!(
        wait_until(Duration::from_secs(10), || lab.holders(VIP) == ["r1"]),
        "{}",
        r1.log_text()
    );
    std::fs::remove_file(&marker).unwrap();
    assert!(
        wait_until(Duration::from_secs(5), || {
            r1
            .log_text()
            .contains("priority policy reports fault instance=VI_1 reason=app down: test exit status: 1 after ")
        }),
        "the policy names the check's error: {}",
        r1.log_text()
    );
    assert!(wait_until(Duration::from_secs(5), || lab.holders(VIP) == ["r2"]));
    let log = r1.log_text();
    let line = log
        .lines()
        .find(|l| l.contains("priority policy reports fault"))
        .unwrap_or_default();
    let us: u64 = line
        .rsplit("after ")
        .next()
        .and_then(|t| t.trim_end_matches(" us").trim().parse().ok())
        .unwrap_or_else(|| panic!("a latency in {line}"));
    // The check ran a program: its latency is real, and under its timeout.
    assert!(us > 0 && us < 1_000_000, "{line}");
}

#[test]
fn a_failing_check_of_weight_zero_means_fault() {
    let _lane = shared_lane();
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
    let _lane = shared_lane();
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
    // Without the flag the same link loss means Fault (r2 settled as backup first).
    let r2 = start(&lab, "r2", &instance(100, "0.1", ""));
    assert!(wait_until(Duration::from_secs(3), || r2
        .log_text()
        .contains("to=\"BACKUP\"")));
    std::thread::sleep(Duration::from_millis(500));
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

/// Which implementation runs r1 in the side-by-side scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum R1 {
    /// keepalived 2.2.7: `vrrp_script` + `track_script`.
    Keepalived,
    /// holdfast: `vrrp-check` + `track-check`, static arithmetic.
    Holdfast,
    /// holdfast, the same through the `keepalived-track` policy.
    HoldfastPolicy,
}

/// What r1 advertised: its priorities in order, and how long after the
/// script started failing (and after it recovered) the new priority went out.
#[derive(Debug)]
struct Timeline {
    priorities: Vec<u8>,
    lowered_after: f64,
    restored_after: f64,
}

fn now_epoch() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// r1 (150) runs `test -e MARKER` every second (rise 2, fall 2, weight
/// -60) against a holdfast r2 (120) at 1 s adverts; the marker goes away,
/// then comes back.
fn side_by_side(which: R1) -> Option<Timeline> {
    let lab = lab_or_skip(&["r1", "r2"])?;
    let marker = lab.dir.join("app-ok");
    std::fs::write(&marker, "").unwrap();
    let command = format!("test -e {}", marker.display());
    let r1 = match which {
        R1::Keepalived => common::start_keepalived_with(
            &lab,
            "r1",
            &format!(
                "global_defs {{\n    router_id r1\n    vrrp_version 3\n    script_user root\n}}\nvrrp_script app {{\n    script \"{command}\"\n    interval 1\n    timeout 1\n    rise 2\n    fall 2\n    weight -60\n}}\nvrrp_instance VI_1 {{\n    state BACKUP\n    interface eth0\n    virtual_router_id 51\n    priority 150\n    advert_int 1\n    virtual_ipaddress {{\n        {VIP}/24 dev eth0\n    }}\n    track_script {{\n        app\n    }}\n}}\n"
            ),
        ),
        R1::Holdfast | R1::HoldfastPolicy => {
            let mut config = format!(
                "{}vrrp-check \"app\" {{\n    check \"exec\" command=\"{command}\" interval=1 timeout=1 rise=2 fall=2\n}}\n",
                cache(&lab)
            );
            let mut extra = String::from("    track-check \"app\" weight=-60\n");
            if which == R1::HoldfastPolicy {
                let track = build_policy(&lab, "keepalived-track", "track.wasm");
                config.push_str(&format!(
                    "policy \"track\" {{\n    path \"{}\"\n}}\n",
                    track.display()
                ));
                extra.push_str("    priority-policy \"track\"\n");
            }
            config.push_str(&instance(150, "1", &extra));
            start(&lab, "r1", &config)
        }
    };
    let _r2 = start(&lab, "r2", &instance(120, "1", ""));
    assert!(
        wait_until(Duration::from_secs(15), || lab.holders(VIP) == ["r1"]),
        "{which:?}: r1 must be master first: {:?}\n{}",
        lab.holders(VIP),
        r1.log_text()
    );
    // Two more adverts at 150 with the script passing.
    std::thread::sleep(Duration::from_millis(2500));
    let capture = Capture::start(&lab.switch_ns(), &lab.dir.join("side.pcap"));
    let failed_at = now_epoch();
    std::fs::remove_file(&marker).unwrap();
    assert!(
        wait_until(Duration::from_secs(10), || lab.holders(VIP) == ["r2"]),
        "{which:?}: r2 must take over\n{}",
        r1.log_text()
    );
    std::thread::sleep(Duration::from_millis(1500));
    let recovered_at = now_epoch();
    std::fs::write(&marker, "").unwrap();
    assert!(
        wait_until(Duration::from_secs(10), || lab.holders(VIP) == ["r1"]),
        "{which:?}: r1 must preempt again\n{}",
        r1.log_text()
    );
    std::thread::sleep(Duration::from_millis(1500));
    let adverts = common::adverts_of(&lab, "r1", capture);
    let first = |p: u8, after: f64| {
        adverts
            .iter()
            .find(|(at, prio)| *prio == p && *at >= after)
            .map(|(at, _)| at - after)
    };
    let priorities = common::distinct_priorities(&adverts);
    Some(Timeline {
        lowered_after: first(90, failed_at).unwrap_or(f64::NAN),
        restored_after: first(150, recovered_at).unwrap_or(f64::NAN),
        priorities,
    })
}

#[test]
fn track_check_matches_keepalived_track_script() {
    let _lane = shared_lane();
    if !holdfast_tests::skip_unless(common::keepalived_available(), "keepalived") {
        return;
    }
    let Some(keepalived) = side_by_side(R1::Keepalived) else {
        return;
    };
    let Some(holdfast) = side_by_side(R1::Holdfast) else {
        return;
    };
    let Some(policy) = side_by_side(R1::HoldfastPolicy) else {
        return;
    };
    eprintln!("keepalived {keepalived:?}\nholdfast {holdfast:?}\nkeepalived-track {policy:?}");
    assert_eq!(
        keepalived.priorities,
        [150, 90, 150],
        "keepalived: {keepalived:?}"
    );
    for (name, t) in [("holdfast", &holdfast), ("keepalived-track", &policy)] {
        assert_eq!(t.priorities, keepalived.priorities, "{name}: {t:?}");
        // Scripts run once a second on both, in unrelated phases: the new
        // priority goes out within one script interval of keepalived's.
        for (ours, theirs) in [
            (t.lowered_after, keepalived.lowered_after),
            (t.restored_after, keepalived.restored_after),
        ] {
            assert!(
                (ours - theirs).abs() <= 1.1,
                "{name}: {ours:.2} s against keepalived's {theirs:.2} s\n{t:?}\n{keepalived:?}"
            );
        }
    }
}

/// Checks run on their own thread: 1,000 HTTP checks against a server that
/// accepts connections and never answers (each holds a connection for its
/// whole timeout, and fails) leave r1's 0.01 s adverts on schedule.
#[test]
fn a_thousand_hanging_checks_do_not_delay_adverts() {
    let _lane = whole_lane();
    let Some(lab) = lab_or_skip(&["r1", "r2"]) else {
        return;
    };
    // r2 hosts the silent server: a listening socket that is never read.
    let r2_ip = lab.host("r2").ipv4.clone();
    let silent = lab.spawn(
        "r2",
        "silent",
        &[
            "python3",
            "-c",
            "import socket,time\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\ns.bind(('0.0.0.0',8080))\ns.listen(4096)\ntime.sleep(120)",
        ],
    );
    let mut block = String::from("vrrp-check \"slow\" {\n");
    for _ in 0..1000 {
        block.push_str(&format!(
            "    check \"http\" connect-ip=\"{r2_ip}\" port=8080 path=\"/\" interval=1 timeout=0.5 rise=1 fall=1\n"
        ));
    }
    block.push_str("}\n");
    let config = format!(
        "{block}{}",
        instance(150, "0.01", "    track-check \"slow\" weight=-10\n")
    );
    let r1 = start(&lab, "r1", &config);
    assert!(
        wait_until(Duration::from_secs(8), || lab.has_addr("r1", VIP)),
        "{}",
        r1.log_text()
    );
    // The checks time out and fail: r1 advertises 140, and stays master.
    assert!(
        wait_until(Duration::from_secs(5), || r1
            .log_text()
            .contains("tracked check changed")),
        "{}",
        r1.log_text()
    );
    // Captured on r1's own interface: when r1 sends each advert (the
    // bridge, busy with the checks' connections, is not what is timed).
    let capture = Capture::start_on(&lab.host("r1").ns, "eth0", &lab.dir.join("busy.pcap"));
    std::thread::sleep(Duration::from_secs(4));
    let adverts = common::adverts_of(&lab, "r1", capture);
    let worst = common::worst_gap(&adverts);
    eprintln!(
        "1000 hanging checks: {} adverts in 4 s, worst gap {:.4} s",
        adverts.len(),
        worst
    );
    assert!(adverts.len() >= 350, "{} adverts in 4 s", adverts.len());
    assert!(
        adverts.iter().all(|a| a.1 == 140),
        "the checks fail: 150 - 10"
    );
    // One missed advert would be a 0.02 s gap.
    assert!(
        worst < 0.018,
        "an advert was late: {worst:.4} s apart at 0.01 s"
    );
    drop(silent);
}

/// `track-process` works with holdfast inside a network namespace (where
/// keepalived's process-events connector does not answer) and notices a
/// process that dies within a second.
#[test]
fn track_process_moves_mastership_within_a_second() {
    let _lane = shared_lane();
    let Some(lab) = lab_or_skip(&["r1", "r2"]) else {
        return;
    };
    // A program with a name of its own (the process table is the host's).
    let name = format!("hfapp{}", std::process::id() % 100_000);
    let program = lab.dir.join(&name);
    std::fs::copy("/bin/sleep", &program).unwrap();
    let program = program.display().to_string();
    let app = lab.spawn("r1", "app", &[&program, "300"]);
    let extra = format!("    track-process \"{name}\" weight=-60\n");
    let r1 = start(&lab, "r1", &instance(150, "0.1", &extra));
    let _r2 = start(&lab, "r2", &instance(120, "0.1", ""));
    assert!(
        wait_until(Duration::from_secs(8), || lab.holders(VIP) == ["r1"]),
        "{}",
        r1.log_text()
    );
    only_holder(&lab, VIP, "r1", Duration::from_millis(700));
    let killed = std::time::Instant::now();
    app.signal("KILL");
    assert!(
        wait_until(Duration::from_secs(3), || r1
            .log_text()
            .contains("tracked process changed")),
        "{}",
        r1.log_text()
    );
    let noticed = killed.elapsed();
    eprintln!("track-process: noticed after {noticed:?}");
    assert!(
        noticed < Duration::from_millis(1200),
        "noticed after {noticed:?}"
    );
    assert!(
        wait_until(Duration::from_secs(3), || lab.holders(VIP) == ["r2"]),
        "{}",
        r1.log_text()
    );
    let _app = lab.spawn("r1", "app2", &[&program, "300"]);
    assert!(
        wait_until(Duration::from_secs(5), || lab.holders(VIP) == ["r1"]),
        "{}",
        r1.log_text()
    );
}

/// An instance whose interface is down when holdfast starts starts in
/// Fault, and leaves it when the link comes up.
#[test]
fn an_interface_down_at_start_means_fault_until_it_is_up() {
    let _lane = shared_lane();
    let Some(lab) = lab_or_skip(&["r1", "r2"]) else {
        return;
    };
    lab.set_link("r1", false);
    let r1 = start(&lab, "r1", &instance(150, "0.1", ""));
    assert!(
        wait_until(Duration::from_secs(5), || r1
            .log_text()
            .contains("interface down at start: fault")),
        "{}",
        r1.log_text()
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(!lab.has_addr("r1", VIP), "no VIP while in Fault");
    lab.set_link("r1", true);
    assert!(
        wait_until(Duration::from_secs(5), || lab.has_addr("r1", VIP)),
        "{}",
        r1.log_text()
    );
}
