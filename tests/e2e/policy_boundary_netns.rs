//! The boundary around the policy sandbox, tried against a live VRRP pair:
//! hostile files and hostile modules swapped in under a running daemon.
//!
//! r1 runs the `lower` policy (its base 240 becomes 80) and is master over
//! r2 (60); without its policy, r1 would advertise 240. Each hostile swap
//! must be refused with a clear log line while r1 keeps advertising 80 on
//! its 0.1 s schedule (the old policy runs on), its resident memory stays
//! within 16 MiB of where it was, and SIGTERM ends it within a second.
//! Needs root.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use holdfast_tests::capture::Capture;
use holdfast_tests::lab::{Daemon, Lab, wait_until};
use holdfast_tests::wasm::{Body, component};

mod common;
use common::{VIP, build_policy, cache, instance, lab_or_skip, only_holder, start};

/// How much r1's resident memory may grow over a refused swap.
const RSS_BOUND_KIB: u64 = 16 * 1024;
const INTERVAL: f64 = 0.1;

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// A pair with r1 master under `lower`; `policy_extra` goes in r1's policy block.
struct Pair {
    lab: Lab,
    r1: Daemon,
    _r2: Daemon,
    live: PathBuf,
}

fn pair(policy_extra: &str) -> Option<Pair> {
    let lab = lab_or_skip(&["r1", "r2"])?;
    let lower = build_policy(&lab, "fixtures/lower", "lower.wasm");
    let live = lab.dir.join("live.wasm");
    std::fs::copy(&lower, &live).unwrap();
    let config = format!(
        "{}policy \"p\" {{\n    path \"{}\"\n{policy_extra}}}\n{}",
        cache(&lab),
        live.display(),
        instance(240, &INTERVAL.to_string(), "    priority-policy \"p\"\n")
    );
    let r1 = start(&lab, "r1", &config);
    let r2 = start(&lab, "r2", &instance(60, &INTERVAL.to_string(), ""));
    assert!(
        wait_until(Duration::from_secs(8), || lab.has_addr("r1", VIP)),
        "{}",
        r1.log_text()
    );
    assert!(r1.log_text().contains("policy loaded"), "{}", r1.log_text());
    Some(Pair {
        lab,
        r1,
        _r2: r2,
        live,
    })
}

/// Swaps in a hostile file with `swap`, waits for `refusal` in r1's log,
/// and checks everything the module comment promises. Returns r1's log.
fn refused_while_running(p: &mut Pair, swap: impl FnOnce(&Lab, &Path), refusal: &str) -> String {
    let pid = p.r1.pid();
    // Let start-up allocations settle before the baseline.
    std::thread::sleep(Duration::from_millis(500));
    let before = rss_kib(pid);
    let capture = Capture::start(&p.lab.switch_ns(), &p.lab.dir.join("swap.pcap"));
    swap(&p.lab, &p.live);
    assert!(
        wait_until(Duration::from_secs(15), || p
            .r1
            .log_text()
            .contains(refusal)),
        "no {refusal:?} in:\n{}",
        p.r1.log_text()
    );
    only_holder(&p.lab, VIP, "r1", Duration::from_secs(1));
    let after = rss_kib(pid);
    let adverts = r1_adverts(&p.lab, capture);
    check_adverts(&adverts);
    assert!(p.r1.running(), "{}", p.r1.log_text());
    assert!(
        after <= before + RSS_BOUND_KIB,
        "RSS grew from {before} KiB to {after} KiB"
    );
    eprintln!(
        "r1: RSS {before} -> {after} KiB, {} adverts during the swap",
        adverts.len()
    );
    p.r1.log_text()
}

fn r1_adverts(lab: &Lab, capture: Capture) -> Vec<(f64, u8)> {
    common::adverts_of(lab, "r1", capture)
}

/// Every advert carries the old policy's answer, on schedule.
fn check_adverts(adverts: &[(f64, u8)]) {
    assert!(adverts.len() >= 8, "{} adverts", adverts.len());
    let priorities: Vec<u8> = adverts.iter().map(|a| a.1).collect();
    assert!(
        priorities.iter().all(|&p| p == 80),
        "the old policy (80) must answer throughout: {priorities:?}"
    );
    let worst = common::worst_gap(adverts);
    assert!(
        worst < INTERVAL * 1.5,
        "an advert was late: {worst:.3} s between two at {INTERVAL} s"
    );
}

/// SIGTERM ends the daemon within a second, cleanly.
fn stops_promptly(r1: &mut Daemon) {
    let started = Instant::now();
    r1.signal("TERM");
    let code = r1.wait(Duration::from_secs(1));
    assert_eq!(
        code,
        Some(0),
        "exit within 1 s of SIGTERM (took {:?})\n{}",
        started.elapsed(),
        r1.log_text()
    );
}

/// Writes `bytes` beside `live` and renames it into place, as deploy tools do.
fn rename_in(live: &Path, bytes: &[u8]) {
    let staged = live.with_extension("staged");
    std::fs::write(&staged, bytes).unwrap();
    std::fs::rename(&staged, live).unwrap();
}

#[test]
fn a_device_symlink_is_refused() {
    let Some(mut p) = pair("") else { return };
    let log = refused_while_running(
        &mut p,
        |_, live| {
            let link = live.with_extension("link");
            std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
            std::fs::rename(&link, live).unwrap();
        },
        "is a character device; a policy must be a regular file",
    );
    assert!(log.contains("kind=not a regular file"), "{log}");
    // One rename, one reload, one refusal.
    assert_eq!(log.matches("is a character device").count(), 1, "{log}");
    stops_promptly(&mut p.r1);
}

#[test]
fn a_fifo_is_refused_and_later_swaps_still_work() {
    let Some(mut p) = pair("") else { return };
    refused_while_running(
        &mut p,
        |_, live| {
            let fifo = live.with_extension("fifo");
            assert!(
                std::process::Command::new("mkfifo")
                    .arg(&fifo)
                    .status()
                    .unwrap()
                    .success()
            );
            std::fs::rename(&fifo, live).unwrap();
        },
        "is a FIFO; a policy must be a regular file",
    );
    // Nothing waits on the FIFO: the next swap is picked up. keepalived-track
    // answers the base priority, 240.
    let track = build_policy(&p.lab, "keepalived-track", "track.wasm");
    rename_in(&p.live, &std::fs::read(track).unwrap());
    assert!(
        wait_until(Duration::from_secs(10), || p
            .r1
            .log_text()
            .contains("policy swapped")),
        "{}",
        p.r1.log_text()
    );
    stops_promptly(&mut p.r1);
}

#[test]
fn a_huge_sparse_file_is_refused_unread() {
    let Some(mut p) = pair("") else { return };
    let log = refused_while_running(
        &mut p,
        |_, live| {
            let big = live.with_extension("big");
            std::fs::File::create(&big)
                .unwrap()
                .set_len(8 << 30)
                .unwrap();
            std::fs::rename(&big, live).unwrap();
        },
        "over the 4 MiB cap (max-module-mib)",
    );
    assert!(log.contains("kind=too large"), "{log}");
    stops_promptly(&mut p.r1);
}

#[test]
fn a_file_rewritten_while_being_read_never_loads_half_a_module() {
    let Some(mut p) = pair("") else { return };
    let lower = std::fs::read(&p.live).unwrap();
    let pid = p.r1.pid();
    std::thread::sleep(Duration::from_millis(500));
    let before = rss_kib(pid);
    let capture = Capture::start(&p.lab.switch_ns(), &p.lab.dir.join("rewrite.pcap"));
    // Rewritten in place 40 times: truncated, half written, a pause, the rest.
    for _ in 0..40 {
        use std::io::Write;
        let mut f = std::fs::File::create(&p.live).unwrap();
        f.write_all(&lower[..lower.len() / 2]).unwrap();
        f.flush().unwrap();
        std::thread::sleep(Duration::from_millis(5));
        f.write_all(&lower[lower.len() / 2..]).unwrap();
    }
    std::thread::sleep(Duration::from_secs(2));
    only_holder(&p.lab, VIP, "r1", Duration::from_secs(1));
    check_adverts(&r1_adverts(&p.lab, capture));
    assert!(p.r1.running());
    assert!(rss_kib(pid) <= before + RSS_BOUND_KIB);
    // The last version is whole: it loaded after the rewrites ended.
    assert!(
        p.r1.log_text().contains("new policy version ready"),
        "{}",
        p.r1.log_text()
    );
    stops_promptly(&mut p.r1);
}

#[test]
fn a_module_of_one_enormous_function_is_refused_before_compiling() {
    let Some(mut p) = pair("") else { return };
    let log = refused_while_running(
        &mut p,
        |_, live| rename_in(live, &component(Body::Chain(100_000), 1, 1)),
        "refused before compiling",
    );
    assert!(log.contains("kind=over the module limits"), "{log}");
    stops_promptly(&mut p.r1);
}

#[test]
fn a_compile_over_its_memory_budget_is_stopped_and_memory_returns() {
    // Within the static limits, but compiling it takes about 140 MiB.
    let Some(mut p) = pair("    compile-memory-mib 32\n") else {
        return;
    };
    let log = refused_while_running(
        &mut p,
        |_, live| rename_in(live, &component(Body::Chain(40_000), 1, 1)),
        "kind=compile over budget",
    );
    assert!(log.contains("32 MiB"), "{log}");
    stops_promptly(&mut p.r1);
}

#[test]
fn shutdown_is_prompt_while_a_compile_runs() {
    // A compile that takes seconds (its budget ample) is under way at SIGTERM.
    let Some(mut p) = pair("    compile-memory-mib 4096\n    compile-timeout-ms 600000\n") else {
        return;
    };
    rename_in(&p.live, &component(Body::Chain(80_000), 1, 1));
    let mut worker = None;
    assert!(
        wait_until(Duration::from_secs(5), || {
            worker = compile_worker_of(p.r1.pid());
            worker.is_some()
        }),
        "no compile worker started\n{}",
        p.r1.log_text()
    );
    stops_promptly(&mut p.r1);
    // The worker does not outlive the daemon.
    let worker = worker.unwrap_or_default();
    assert!(
        wait_until(Duration::from_millis(500), || gone(worker)),
        "compile worker {worker} outlived the daemon"
    );
}

/// Whether `pid` has exited (gone, or a zombie not yet reaped by init).
fn gone(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| Some(s.rsplit_once(')')?.1.split_whitespace().next()? == "Z"))
        .unwrap_or(true)
}

/// The pid of a compile worker whose parent is `pid`.
fn compile_worker_of(pid: u32) -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let path = e.path();
        let child: u32 = e.file_name().to_str()?.parse().ok()?;
        let cmdline = std::fs::read(path.join("cmdline")).ok()?;
        let stat = std::fs::read_to_string(path.join("stat")).ok()?;
        let ppid: u32 = stat
            .rsplit_once(')')?
            .1
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()?;
        (ppid == pid && String::from_utf8_lossy(&cmdline).contains("compile-worker"))
            .then_some(child)
    })
}

#[test]
fn a_module_of_another_contract_version_is_refused() {
    let Some(mut p) = pair("") else { return };
    let other = build_policy(&p.lab, "fixtures/other-contract", "other.wasm");
    let bytes = std::fs::read(other).unwrap();
    let log = refused_while_running(
        &mut p,
        |_, live| rename_in(live, &bytes),
        "built against holdfast:policy@0.9.0; this host accepts holdfast:policy@0.1.0, holdfast:policy@0.2.0",
    );
    assert!(log.contains("kind=unsupported contract"), "{log}");
    stops_promptly(&mut p.r1);
}

#[test]
fn no_module_can_forge_a_daemon_log_line() {
    let Some(lab) = lab_or_skip(&["r1", "r2"]) else {
        return;
    };
    let forge = build_policy(&lab, "fixtures/forge-log", "forge.wasm");
    // VI_1 runs the forger, which logs and faults on real input (it tracks
    // `lo`); VI_2's copy fails `init` with the same text.
    let config = format!(
        "{}policy \"forge\" {{\n    path \"{f}\"\n}}\npolicy \"forge-init\" {{\n    path \"{f}\"\n    params {{\n        fail-init\n    }}\n}}\n{}vrrp-instance \"VI_2\" {{\n    interface \"eth0\"\n    virtual-router-id 52\n    priority 100\n    advert-interval 0.05\n    virtual-ipaddress \"192.168.77.253/24\"\n    priority-policy \"forge-init\"\n}}\n",
        cache(&lab),
        instance(
            150,
            "0.05",
            "    priority-policy \"forge\"\n    track-interface \"lo\" weight=0\n"
        ),
        f = forge.display(),
    );
    let mut r1 = start(&lab, "r1", &config);
    let _r2 = start(&lab, "r2", &instance(100, "0.05", ""));
    assert!(
        wait_until(Duration::from_secs(8), || {
            let log = r1.log_text();
            log.contains("policy log") && log.contains("priority policy reports fault")
        }),
        "{}",
        r1.log_text()
    );
    // The forger faults: r2 is master.
    assert!(wait_until(Duration::from_secs(5), || lab.holders(VIP) == ["r2"]));
    stops_promptly(&mut r1);
    let log = std::fs::read(&r1.log).unwrap();
    let text = String::from_utf8_lossy(&log);
    for line in text.lines() {
        let stamp = line.get(..11).unwrap_or_default();
        assert!(
            stamp.len() == 11
                && stamp.as_bytes()[4] == b'-'
                && stamp.ends_with('T')
                && !stamp.starts_with("1999"),
            "a line the daemon did not start: {line:?}"
        );
        assert!(
            !line.chars().any(|c| c.is_control() || c == '\u{2028}'),
            "a control character in {line:?}"
        );
    }
    // The module's text is there, visible and attributed, on every path.
    for needle in [
        r"policy log policy=forge text=ok\n1999-01-01",
        r"priority policy reports fault instance=VI_1 reason=ok\n1999-01-01",
        r"policy=forge-init kind=init failed error=ok\n1999-01-01",
    ] {
        assert!(text.contains(needle), "{needle} in:\n{text}");
    }
    for visible in [r"\r1999", r"\u{85}1999", r"\u{1b}[2K", r"\u{2028}1999"] {
        assert!(text.contains(visible), "{visible} in:\n{text}");
    }
}
