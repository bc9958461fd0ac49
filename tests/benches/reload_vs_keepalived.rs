//! Reload side by side: keepalived (SIGHUP) and holdfast (SIGHUP), in the
//! same run on the same lab. r1 runs two instances as master — `steady`
//! (unchanged by the reload) and `moving` (priority 150 → 140 and one VIP
//! added) — and r2, always holdfast, backs both up (so the backup reacts
//! alike to both daemons' reloads; keepalived as a backup also rejects
//! adverts whose address list differs from its own). For each reload, from r1's own
//! interface: the worst advert gap of each instance around the reload,
//! gratuitous ARPs per address, adverts the backup sent (a flap), and the
//! state changes r1 logged. The delayed second gratuitous-ARP burst
//! (`garp_master_delay`) is off on both, so every ARP counted is the reload's.
//!
//! Run as root: `cargo bench -p holdfast-tests --bench reload_vs_keepalived`.
//! `HF_BENCH_ROUNDS` (default 3) sets reloads per daemon and interval;
//! `HF_BENCH_TIMERS` (default `0.1,0.01`) the advert intervals.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use holdfast_tests::capture::{Capture, Frame, gratuitous_arps};
use holdfast_tests::lab::{Daemon, Lab, holdfast_release_bin, wait_until};

const VIP_MOVING: &str = "192.168.77.201";
const VIP_STEADY: &str = "192.168.77.202";
const VIP_NEW: &str = "192.168.77.203";

#[derive(Clone, Copy, PartialEq, Debug)]
enum Impl {
    Holdfast,
    Keepalived,
}

/// (name, vrid, priority, VIPs)
type Inst<'a> = (&'a str, u8, u8, &'a [&'a str]);

fn conf(which: Impl, adv: &str, instances: &[Inst<'_>]) -> String {
    let mut s = match which {
        Impl::Holdfast => String::new(),
        Impl::Keepalived => "global_defs {\n  router_id bench\n  vrrp_version 3\n}\n".into(),
    };
    for (name, vrid, prio, vips) in instances {
        match which {
            Impl::Holdfast => {
                let v: String = vips
                    .iter()
                    .map(|v| format!("  virtual-ipaddress \"{v}/24\"\n"))
                    .collect();
                let _ = write!(
                    s,
                    "vrrp-instance \"{name}\" {{\n  interface \"eth0\"\n  virtual-router-id {vrid}\n  priority {prio}\n  advert-interval {adv}\n  garp-master-delay 0\n{v}}}\n"
                );
            }
            Impl::Keepalived => {
                let v: String = vips
                    .iter()
                    .map(|v| format!("    {v}/24 dev eth0\n"))
                    .collect();
                let _ = write!(
                    s,
                    "vrrp_instance {name} {{\n  state BACKUP\n  interface eth0\n  virtual_router_id {vrid}\n  priority {prio}\n  advert_int {adv}\n  garp_master_delay 0\n  virtual_ipaddress {{\n{v}  }}\n}}\n"
                );
            }
        }
    }
    s
}

fn file_name(which: Impl, tag: &str) -> String {
    match which {
        Impl::Holdfast => format!("{tag}.kdl"),
        Impl::Keepalived => format!("{tag}.conf"),
    }
}

fn start(lab: &Lab, which: Impl, host: &str, tag: &str, text: &str) -> Daemon {
    let path = lab.write(&file_name(which, tag), text);
    match which {
        Impl::Holdfast => {
            let bin = holdfast_release_bin();
            let socket = lab.dir.join(format!("{tag}.sock"));
            lab.spawn(
                host,
                tag,
                &[
                    bin.to_str().unwrap(),
                    "run",
                    "--config",
                    path.to_str().unwrap(),
                    "--control-socket",
                    socket.to_str().unwrap(),
                ],
            )
        }
        Impl::Keepalived => {
            let pid = lab.dir.join(format!("{tag}.pid"));
            let vpid = lab.dir.join(format!("{tag}-vrrp.pid"));
            lab.spawn(
                host,
                tag,
                &[
                    "keepalived",
                    "-n",
                    "-l",
                    "-D",
                    "-G",
                    "-P",
                    "-f",
                    path.to_str().unwrap(),
                    "-p",
                    pid.to_str().unwrap(),
                    "-r",
                    vpid.to_str().unwrap(),
                ],
            )
        }
    }
}

/// What one reload looked like from r1's interface.
#[derive(Debug, Default)]
struct Seen {
    steady_gap: f64,
    moving_gap: f64,
    garp_steady: usize,
    garp_moving_old: usize,
    garp_new: usize,
    backup_adverts: usize,
    state_changes: usize,
    backup_state_changes: usize,
}

fn worst_gap(frames: &[Frame], src: IpAddr, vrid: u8) -> f64 {
    let times: Vec<f64> = frames
        .iter()
        .filter_map(|f| match f {
            Frame::Advert {
                at,
                src: s,
                vrid: v,
                priority,
            } if *s == src && *v == vrid && *priority > 0 => Some(*at),
            _ => None,
        })
        .collect();
    times.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max)
}

fn state_lines(which: Impl, log: &str) -> usize {
    log.lines()
        .filter(|l| match which {
            Impl::Holdfast => l.contains("state change"),
            Impl::Keepalived => l.contains("Entering") && l.contains("STATE"),
        })
        .count()
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn one_reload(which: Impl, adv: &str) -> Seen {
    let lab = Lab::new(&["r1", "r2"]);
    let before: [Inst<'_>; 2] = [
        ("moving", 51, 150, &[VIP_MOVING]),
        ("steady", 52, 150, &[VIP_STEADY]),
    ];
    let after: [Inst<'_>; 2] = [
        ("moving", 51, 140, &[VIP_MOVING, VIP_NEW]),
        ("steady", 52, 150, &[VIP_STEADY]),
    ];
    let backup: [Inst<'_>; 2] = [
        ("moving", 51, 100, &[VIP_MOVING]),
        ("steady", 52, 100, &[VIP_STEADY]),
    ];
    let r1 = start(&lab, which, "r1", "r1", &conf(which, adv, &before));
    let r2 = start(
        &lab,
        Impl::Holdfast,
        "r2",
        "r2",
        &conf(Impl::Holdfast, adv, &backup),
    );
    assert!(
        wait_until(Duration::from_secs(10), || lab.holders(VIP_MOVING)
            == ["r1"]
            && lab.holders(VIP_STEADY) == ["r1"]),
        "{which:?}: r1 never became master:\n{}",
        r1.log_text()
    );
    std::thread::sleep(Duration::from_secs(2));
    let capture = Capture::start_on(&lab.host("r1").ns, "eth0", &lab.dir.join("reload.pcap"));
    let log_before = r1.log_text().len();
    let r2_before = r2.log_text().len();
    std::thread::sleep(Duration::from_millis(500));
    lab.write(&file_name(which, "r1"), &conf(which, adv, &after));
    let t_hup = now();
    r1.signal("HUP");
    assert!(
        wait_until(Duration::from_secs(5), || lab.has_addr("r1", VIP_NEW)),
        "{which:?}: the reload did not add the VIP"
    );
    std::thread::sleep(Duration::from_secs(2));
    let frames = capture.finish();
    let r1_ip: IpAddr = lab.host("r1").ipv4.parse().unwrap();
    let r2_ip: IpAddr = lab.host("r2").ipv4.parse().unwrap();
    let mac = lab.host("r1").mac.clone();
    let log = r1.log_text();
    Seen {
        steady_gap: worst_gap(&frames, r1_ip, 52),
        moving_gap: worst_gap(&frames, r1_ip, 51),
        garp_steady: gratuitous_arps(&frames, &mac, VIP_STEADY, t_hup),
        garp_moving_old: gratuitous_arps(&frames, &mac, VIP_MOVING, t_hup),
        garp_new: gratuitous_arps(&frames, &mac, VIP_NEW, t_hup),
        backup_adverts: frames
            .iter()
            .filter(|f| matches!(f, Frame::Advert { src, at, priority, .. } if *src == r2_ip && *at >= t_hup && *priority > 0))
            .count(),
        state_changes: state_lines(which, log.get(log_before..).unwrap_or_default()),
        backup_state_changes: state_lines(
            Impl::Holdfast,
            r2.log_text().get(r2_before..).unwrap_or_default(),
        ),
    }
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    assert!(
        holdfast_tests::lab::available(),
        "the reload benchmark needs root and network namespaces"
    );
    let rounds: usize = std::env::var("HF_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let timers = std::env::var("HF_BENCH_TIMERS").unwrap_or_else(|_| "0.1,0.01".into());
    let mut out = String::from(
        "# reload: keepalived vs holdfast, SIGHUP, same machine, same run\n\n\
         r1 masters `steady` (unchanged) and `moving` (priority 150 -> 140, one VIP added); r2 (holdfast) backs both up.\n\
         Gaps are the worst time between two of r1's adverts of that instance around the reload.\n\n\
         | daemon | interval | round | steady gap | moving gap | GARPs steady VIP | GARPs moving's old VIP | GARPs new VIP | backup adverts | r1 state changes | r2 state changes |\n\
         |---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for adv in timers.split(',') {
        for round in 1..=rounds {
            // Alternate, so machine noise hits both alike.
            for which in [Impl::Keepalived, Impl::Holdfast] {
                let s = one_reload(which, adv);
                let line = format!(
                    "| {which:?} | {adv} s | {round} | {:.4} s | {:.4} s | {} | {} | {} | {} | {} | {} |\n",
                    s.steady_gap,
                    s.moving_gap,
                    s.garp_steady,
                    s.garp_moving_old,
                    s.garp_new,
                    s.backup_adverts,
                    s.state_changes,
                    s.backup_state_changes
                );
                eprint!("{line}");
                out.push_str(&line);
            }
        }
    }
    println!("{out}");
}
