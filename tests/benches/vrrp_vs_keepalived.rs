//! holdfast vs keepalived, measured in the same run on the same lab:
//! failover time, advert send jitter, CPU per advert and memory.
//!
//! Run as root: `cargo bench -p holdfast-tests --bench vrrp_vs_keepalived`.
//! `HF_BENCH_ROUNDS` (default 5) sets failover rounds; `HF_BENCH` selects
//! parts (`failover,jitter,scale`, default all); `HF_BENCH_TIMERS` (e.g.
//! `0.1,0.01`) limits the failover runs to those advert intervals. Rounds alternate between the
//! two daemons so that machine noise hits both alike.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use holdfast_tests::capture::{Capture, Frame};
use holdfast_tests::lab::{Daemon, Lab, holdfast_release_bin, sh, wait_until};

const VIP: &str = "192.168.77.254";

#[derive(Clone, Copy, PartialEq, Debug)]
enum Impl {
    Holdfast,
    Keepalived,
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Failure {
    Kill,
    LinkDown,
    Term,
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn holdfast_conf(instances: &[(String, u8, String, u8)], adv: &str, version: u8) -> String {
    let mut s = String::new();
    for (i, (iface, vrid, vip, prio)) in instances.iter().enumerate() {
        let _ = write!(
            s,
            "vrrp-instance \"VI_{i}\" {{\n  interface \"{iface}\"\n  virtual-router-id {vrid}\n  version {version}\n  priority {prio}\n  advert-interval {adv}\n  virtual-ipaddress \"{vip}\"\n}}\n"
        );
    }
    s
}

fn keepalived_conf(instances: &[(String, u8, String, u8)], adv: &str, version: u8) -> String {
    let mut s = format!("global_defs {{\n  router_id bench\n  vrrp_version {version}\n}}\n");
    for (i, (iface, vrid, vip, prio)) in instances.iter().enumerate() {
        let _ = write!(
            s,
            "vrrp_instance VI_{i} {{\n  state BACKUP\n  interface {iface}\n  virtual_router_id {vrid}\n  priority {prio}\n  advert_int {adv}\n  virtual_ipaddress {{\n    {vip} dev {iface}\n  }}\n}}\n"
        );
    }
    s
}

struct Node {
    daemon: Daemon,
    which: Impl,
    vrrp_pid_file: std::path::PathBuf,
}

impl Node {
    /// The pids doing the work (keepalived: parent and VRRP child).
    fn pids(&self) -> Vec<u32> {
        let mut p = vec![self.daemon.pid()];
        if self.which == Impl::Keepalived
            && let Some(child) = std::fs::read_to_string(&self.vrrp_pid_file)
                .ok()
                .and_then(|s| s.trim().parse().ok())
        {
            p.push(child);
        }
        p
    }

    fn kill_hard(&self) {
        let pids = self.pids();
        if self.which == Impl::Keepalived {
            // Freeze the parent first so it cannot respawn the child.
            let _ = Command::new("kill")
                .args(["-STOP", &pids[0].to_string()])
                .status();
        }
        for pid in pids.iter().rev() {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
    }
}

fn start(lab: &Lab, which: Impl, host: &str, tag: &str, conf: &str) -> Node {
    let vrrp_pid_file = lab.dir.join(format!("{tag}-vrrp.pid"));
    let daemon = match which {
        Impl::Holdfast => {
            let path = lab.write(&format!("{tag}.kdl"), conf);
            let bin = release_bin();
            lab.spawn(
                host,
                tag,
                &[
                    bin.to_str().unwrap(),
                    "--log-level",
                    "warn",
                    "run",
                    "--config",
                    path.to_str().unwrap(),
                ],
            )
        }
        Impl::Keepalived => {
            let path = lab.write(&format!("{tag}.conf"), conf);
            let pid = lab.dir.join(format!("{tag}.pid"));
            lab.spawn(
                host,
                tag,
                &[
                    "keepalived",
                    "-n",
                    "-l",
                    "-G",
                    "-P",
                    "-f",
                    path.to_str().unwrap(),
                    "-p",
                    pid.to_str().unwrap(),
                    "-r",
                    vrrp_pid_file.to_str().unwrap(),
                ],
            )
        }
    };
    Node {
        daemon,
        which,
        vrrp_pid_file,
    }
}

fn conf_for(which: Impl, instances: &[(String, u8, String, u8)], adv: &str, version: u8) -> String {
    match which {
        Impl::Holdfast => holdfast_conf(instances, adv, version),
        Impl::Keepalived => keepalived_conf(instances, adv, version),
    }
}

fn stats(v: &mut [f64]) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[0], v[v.len() / 2], v[v.len() - 1])
}

/// Percentile by nearest rank.
fn pct(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

// ===== failover =====

/// Rounds of: failure of the master r1 → first advert and first gratuitous
/// ARP from r2, seconds after the failure.
fn failover(
    which: Impl,
    failure: Failure,
    version: u8,
    adv: &str,
    rounds: usize,
) -> (Vec<f64>, Vec<f64>) {
    let lab = Lab::new(&["r1", "r2"]);
    let one = |prio| vec![("eth0".to_string(), 51u8, format!("{VIP}/24"), prio)];
    let adv_s: f64 = adv.parse().unwrap();
    let settle = Duration::from_secs_f64(adv_s * 4.0 + 3.0);
    let mut r1 = start(
        &lab,
        which,
        "r1",
        "r1",
        &conf_for(which, &one(150), adv, version),
    );
    let _r2 = start(
        &lab,
        which,
        "r2",
        "r2",
        &conf_for(which, &one(100), adv, version),
    );
    assert!(
        wait_until(settle, || lab.holders(VIP) == ["r1"]),
        "{which:?}: r1 not master"
    );
    let r2_ip: IpAddr = lab.host("r2").ipv4.parse().unwrap();
    let r2_mac: Vec<u8> = lab
        .host("r2")
        .mac
        .split(':')
        .map(|x| u8::from_str_radix(x, 16).unwrap())
        .collect();
    let (mut adverts, mut garps) = (Vec::new(), Vec::new());
    let mut seed = 0x9e37_79b9_u32;
    for round in 0..rounds {
        // Fail at a varying phase of r1's advert cycle.
        seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let phase = f64::from(seed >> 8) / f64::from(1u32 << 24);
        std::thread::sleep(Duration::from_secs_f64(adv_s * (3.0 + phase)));
        let cap = Capture::start(
            &lab.switch_ns(),
            &lab.dir.join(format!("round{round}.pcap")),
        );
        let t0 = now();
        match failure {
            Failure::Kill => r1.kill_hard(),
            Failure::Term => r1.daemon.signal("TERM"),
            Failure::LinkDown => lab.set_link("r1", false),
        }
        let took_over = wait_until(settle, || lab.has_addr("r2", VIP));
        std::thread::sleep(Duration::from_millis(300));
        let frames = cap.finish();
        assert!(took_over, "{which:?} {failure:?}: r2 did not take over");
        let first_adv = frames.iter().find_map(|f| match f {
            Frame::Advert {
                at, src, priority, ..
            } if *src == r2_ip && *priority > 0 && *at > t0 => Some(at - t0),
            _ => None,
        });
        let first_garp = frames.iter().find_map(|f| match f {
            Frame::Arp {
                at,
                sender_mac,
                sender_ip,
                ..
            } if sender_mac[..] == r2_mac[..] && sender_ip.to_string() == VIP && *at > t0 => {
                Some(at - t0)
            }
            _ => None,
        });
        adverts.extend(first_adv);
        garps.extend(first_garp);
        // Restore r1 as master for the next round.
        match failure {
            Failure::LinkDown => lab.set_link("r1", true),
            Failure::Kill | Failure::Term => {
                let _ = r1.daemon.wait(Duration::from_secs(5));
                let _ = Command::new("ip")
                    .args([
                        "-n",
                        &lab.host("r1").ns,
                        "addr",
                        "del",
                        &format!("{VIP}/24"),
                        "dev",
                        "eth0",
                    ])
                    .stderr(Stdio::null())
                    .status();
                r1 = start(
                    &lab,
                    which,
                    "r1",
                    &format!("r1-{round}"),
                    &conf_for(which, &one(150), adv, version),
                );
            }
        }
        assert!(
            wait_until(settle, || lab.holders(VIP) == ["r1"]),
            "{which:?}: r1 did not return"
        );
    }
    (adverts, garps)
}

fn run_failover(rounds: usize, out: &mut String) {
    let _ = writeln!(
        out,
        "\n## Failover: failure of the master -> first advert / first gratuitous ARP from the new master (s)"
    );
    let _ = writeln!(
        out,
        "{rounds} rounds each; min / median / max; ratio = holdfast median / keepalived median\n"
    );
    let _ = writeln!(
        out,
        "| failure | timers | what | holdfast | keepalived | ratio |\n|---|---|---|---|---|---|"
    );
    for failure in [Failure::Kill, Failure::LinkDown, Failure::Term] {
        for (version, adv) in [(2u8, "1"), (3, "0.1"), (3, "0.01")] {
            if std::env::var("HF_BENCH_TIMERS").is_ok_and(|t| !t.split(',').any(|x| x == adv)) {
                continue;
            }
            let (mut ha, mut hg) = failover(Impl::Holdfast, failure, version, adv, rounds);
            let (mut ka, mut kg) = failover(Impl::Keepalived, failure, version, adv, rounds);
            for (what, h, k) in [("advert", &mut ha, &mut ka), ("GARP", &mut hg, &mut kg)] {
                if h.is_empty() || k.is_empty() {
                    let _ = writeln!(
                        out,
                        "| {failure:?} | v{version}/{adv}s | {what} | n={} | n={} | - |",
                        h.len(),
                        k.len()
                    );
                    continue;
                }
                let (hmin, hmed, hmax) = stats(h);
                let (kmin, kmed, kmax) = stats(k);
                let _ = writeln!(
                    out,
                    "| {failure:?} | v{version}/{adv}s | {what} | {hmin:.3} / {hmed:.3} / {hmax:.3} | {kmin:.3} / {kmed:.3} / {kmax:.3} | {:.2} |",
                    hmed / kmed
                );
            }
            eprintln!("{out}");
        }
    }
}

// ===== jitter =====

fn jitter(which: Impl, stress: bool, seconds: u64) -> String {
    let lab = Lab::new(&["r1", "r2"]);
    let one = |prio| vec![("eth0".to_string(), 51u8, format!("{VIP}/24"), prio)];
    let _r1 = start(
        &lab,
        which,
        "r1",
        "r1",
        &conf_for(which, &one(150), "0.01", 3),
    );
    let _r2 = start(
        &lab,
        which,
        "r2",
        "r2",
        &conf_for(which, &one(100), "0.01", 3),
    );
    assert!(wait_until(Duration::from_secs(5), || lab.holders(VIP) == ["r1"]));
    std::thread::sleep(Duration::from_secs(1));
    let mut load = stress.then(|| {
        Command::new("stress-ng")
            .args(["--cpu", "2", "--timeout", &format!("{}s", seconds + 3)])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("stress-ng")
    });
    let cap = Capture::start(&lab.switch_ns(), &lab.dir.join("jitter.pcap"));
    std::thread::sleep(Duration::from_secs(seconds));
    let frames = cap.finish();
    if let Some(l) = load.as_mut() {
        let _ = l.kill();
        let _ = l.wait();
    }
    let r1: IpAddr = lab.host("r1").ipv4.parse().unwrap();
    let times: Vec<f64> = frames
        .iter()
        .filter_map(|f| match f {
            Frame::Advert {
                at, src, priority, ..
            } if *src == r1 && *priority > 0 => Some(*at),
            _ => None,
        })
        .collect();
    let mut intervals: Vec<f64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    let rate = (times.len() - 1) as f64 / (times[times.len() - 1] - times[0]);
    let mut late: Vec<f64> = intervals.iter().map(|i| (i - 0.01).max(0.0)).collect();
    intervals.sort_by(f64::total_cmp);
    late.sort_by(f64::total_cmp);
    let spurious = frames
        .iter()
        .filter(
            |f| matches!(f, Frame::Advert { src, .. } if src.to_string() == lab.host("r2").ipv4),
        )
        .count();
    format!(
        "| {which:?} | {} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.2} | {spurious} |",
        if stress { "stress-ng --cpu 2" } else { "idle" },
        times.len(),
        pct(&intervals, 50.0) * 1e3,
        pct(&intervals, 99.0) * 1e3,
        pct(&late, 99.0) * 1e3,
        intervals[intervals.len() - 1] * 1e3,
        rate,
    )
}

fn run_jitter(out: &mut String) {
    let _ = writeln!(
        out,
        "\n## Advert send jitter at 0.01 s (VRRPv3, 10 s capture on the bridge)\n"
    );
    let _ = writeln!(
        out,
        "| daemon | load | adverts | interval p50 ms | p99 ms | late p99 ms | max ms | adverts/s | backup adverts |\n|---|---|---|---|---|---|---|---|---|"
    );
    for stress in [false, true] {
        for which in [Impl::Holdfast, Impl::Keepalived] {
            let line = jitter(which, stress, 10);
            let _ = writeln!(out, "{line}");
            eprintln!("{line}");
        }
    }
}

// ===== CPU and memory =====

fn proc_cpu_ticks(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = s.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    f.get(11).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0)
}

fn proc_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|x| x.parse().ok()))
        .unwrap_or(0)
}

fn scale(which: Impl, n: usize, adv: &str, window: u64) -> String {
    let lab = Lab::new(&["r1"]);
    let ns = lab.host("r1").ns.clone();
    let ifaces = n.div_ceil(250);
    for k in 1..ifaces {
        let peer = format!("x{k}");
        sh(&[
            "ip",
            "link",
            "add",
            &format!("eth{k}"),
            "netns",
            &ns,
            "type",
            "veth",
            "peer",
            "name",
            &peer,
            "netns",
            &lab.switch_ns(),
        ]);
        sh(&[
            "ip",
            "-n",
            &ns,
            "addr",
            "add",
            &format!("192.168.{}.11/24", 77 + k),
            "dev",
            &format!("eth{k}"),
        ]);
        sh(&["ip", "-n", &ns, "link", "set", &format!("eth{k}"), "up"]);
        sh(&["ip", "-n", &lab.switch_ns(), "link", "set", &peer, "up"]);
    }
    let instances: Vec<(String, u8, String, u8)> = (0..n)
        .map(|i| {
            let (k, vrid) = (i / 250, (i % 250) as u8 + 1);
            (
                format!("eth{k}"),
                vrid,
                format!("10.{}.{vrid}.1/32", 100 + k),
                150,
            )
        })
        .collect();
    let node = start(
        &lab,
        which,
        "r1",
        "r1",
        &conf_for(which, &instances, adv, 3),
    );
    let count_vips = || {
        sh(&["ip", "-n", &ns, "-o", "addr", "show"])
            .lines()
            .filter(|l| l.contains(" 10.1"))
            .count()
    };
    let all = wait_until(Duration::from_secs(30), || count_vips() == n);
    assert!(
        all,
        "{which:?}: only {} of {n} instances became master",
        count_vips()
    );
    std::thread::sleep(Duration::from_secs(6)); // past the second GARP burst
    let pids = node.pids();
    let before: u64 = pids.iter().map(|p| proc_cpu_ticks(*p)).sum();
    std::thread::sleep(Duration::from_secs(window));
    let after: u64 = pids.iter().map(|p| proc_cpu_ticks(*p)).sum();
    let rss: u64 = pids.iter().map(|p| proc_rss_kib(*p)).sum();
    let cpu_s = (after - before) as f64 / 100.0;
    let adv_s: f64 = adv.parse().unwrap();
    let adverts = n as f64 * window as f64 / adv_s;
    format!(
        "| {which:?} | {n} | {adv} | {:.1} % | {:.2} | {:.1} |",
        cpu_s / window as f64 * 100.0,
        cpu_s / adverts * 1e6,
        rss as f64 / 1024.0
    )
}

fn run_scale(out: &mut String) {
    let _ = writeln!(
        out,
        "\n## CPU and memory (VRRPv3, all instances master, 10 s window; keepalived = parent + VRRP child)\n"
    );
    let _ = writeln!(
        out,
        "| daemon | instances | advert s | CPU of one core | µs CPU per advert | RSS MiB |\n|---|---|---|---|---|---|"
    );
    for (n, adv) in [(1, "1"), (100, "1"), (1000, "1"), (1000, "0.01")] {
        for which in [Impl::Holdfast, Impl::Keepalived] {
            let line = scale(which, n, adv, 10);
            let _ = writeln!(out, "{line}");
            eprintln!("{line}");
        }
    }
}

fn release_bin() -> std::path::PathBuf {
    static BIN: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(holdfast_release_bin).clone()
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing useful: run only when benchmarking.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    assert!(
        holdfast_tests::lab::available(),
        "the VRRP benchmark needs root and network namespaces"
    );
    let rounds = std::env::var("HF_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    let parts = std::env::var("HF_BENCH").unwrap_or_else(|_| "failover,jitter,scale".into());
    let mut out = String::from("# holdfast vs keepalived (VRRP), same machine, same run\n");
    if parts.contains("jitter") {
        run_jitter(&mut out);
    }
    if parts.contains("scale") {
        run_scale(&mut out);
    }
    if parts.contains("failover") {
        run_failover(rounds, &mut out);
    }
    println!("{out}");
}
