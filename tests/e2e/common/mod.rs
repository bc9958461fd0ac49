//! Shared by the netns suites: the VRRP instance every test runs, starting
//! holdfast in a lab host, and the single-holder assertion.
#![allow(dead_code, reason = "each suite uses a subset")]

use std::time::{Duration, Instant};

use holdfast_tests::lab::Lab;
use holdfast_tests::skip_unless;

pub(crate) const VIP: &str = "192.168.77.254";

pub(crate) fn instance(priority: u8, interval: &str, extra: &str) -> String {
    format!(
        "vrrp-instance \"VI_1\" {{\n    interface \"eth0\"\n    virtual-router-id 51\n    priority {priority}\n    advert-interval {interval}\n    virtual-ipaddress \"{VIP}/24\"\n{extra}}}\n"
    )
}

pub(crate) fn start(lab: &Lab, host: &str, config: &str) -> holdfast_tests::lab::Daemon {
    let path = lab.write(&format!("{host}.kdl"), config);
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_holdfast"));
    let socket = control_socket(lab, host);
    lab.spawn(
        host,
        host,
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

/// Where the daemon `start` ran in `host` listens for `holdfast reload`.
pub(crate) fn control_socket(lab: &Lab, host: &str) -> std::path::PathBuf {
    lab.dir.join(format!("{host}.sock"))
}

pub(crate) fn lab_or_skip(names: &[&str]) -> Option<Lab> {
    skip_unless(
        holdfast_tests::lab::available(),
        "root with network namespaces",
    )
    .then(|| Lab::new(names))
}

/// Asserts that exactly `host` holds the VIP, now and for `hold` (no dual master).
pub(crate) fn only_holder(lab: &Lab, addr: &str, host: &str, hold: Duration) {
    let start = Instant::now();
    loop {
        assert_eq!(lab.holders(addr), [host], "VIP holders");
        if start.elapsed() >= hold {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A `global` block that keeps the precompile cache inside the lab.
pub(crate) fn cache(lab: &Lab) -> String {
    format!(
        "global {{\n    policy-cache \"{}\"\n}}\n",
        lab.dir.join("cache").display()
    )
}

/// Builds a policy crate with `holdfast policy build` into the lab directory.
pub(crate) fn build_policy(lab: &Lab, crate_dir: &str, out: &str) -> std::path::PathBuf {
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

/// Whether Debian's keepalived is installed.
pub(crate) fn keepalived_available() -> bool {
    std::process::Command::new("keepalived")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success() || !o.stderr.is_empty())
}

/// Starts keepalived (VRRP only, in the foreground, logging to the
/// console) in a lab host with the configuration `conf`.
pub(crate) fn start_keepalived_with(
    lab: &Lab,
    host: &str,
    conf: &str,
) -> holdfast_tests::lab::Daemon {
    let conf = lab.write(&format!("{host}-keepalived.conf"), conf);
    let pid = lab.dir.join(format!("{host}-keepalived.pid"));
    let vpid = lab.dir.join(format!("{host}-vrrp.pid"));
    lab.spawn(
        host,
        &format!("{host}-keepalived"),
        &[
            "keepalived",
            "-n",
            "-l",
            "-D",
            "-G",
            "-P",
            "-f",
            conf.to_str().unwrap(),
            "-p",
            pid.to_str().unwrap(),
            "-r",
            vpid.to_str().unwrap(),
        ],
    )
}

/// `host`'s adverts in a capture on the lab's switch: (time, priority), in order.
pub(crate) fn adverts_of(
    lab: &Lab,
    host: &str,
    capture: holdfast_tests::capture::Capture,
) -> Vec<(f64, u8)> {
    let ip = lab.host(host).ipv4.clone();
    capture
        .finish()
        .into_iter()
        .filter_map(|f| match f {
            holdfast_tests::capture::Frame::Advert {
                at, src, priority, ..
            } if src.to_string() == ip => Some((at, priority)),
            _ => None,
        })
        .collect()
}

/// The longest time between two consecutive adverts.
pub(crate) fn worst_gap(adverts: &[(f64, u8)]) -> f64 {
    adverts
        .windows(2)
        .map(|w| w[1].0 - w[0].0)
        .fold(0.0, f64::max)
}

/// The priorities advertised, in order, without repeats.
pub(crate) fn distinct_priorities(adverts: &[(f64, u8)]) -> Vec<u8> {
    let mut out: Vec<u8> = Vec::new();
    for (_, p) in adverts {
        if out.last() != Some(p) {
            out.push(*p);
        }
    }
    out
}
