//! Mixed clusters: holdfast and Debian's keepalived on one link, each in
//! both roles, for VRRPv2 at 1 s, VRRPv3 at 0.1 s, IPv6 and unicast.
//!
//! Each case: the master side (priority 150) is elected and the backup side
//! (100) stays backup while adverts flow (no dual master, both agree); the
//! master stops gracefully and the backup takes over; the master returns
//! and preempts, and the backup yields. Needs root and `keepalived`.

use std::time::Duration;

use holdfast_tests::lab::{Daemon, Lab, wait_until};
use holdfast_tests::skip_unless;

mod common;
use common::{keepalived_available, start_keepalived_with};

#[derive(Clone, Copy)]
struct Case {
    version: u8,
    interval: &'static str,
    ipv6: bool,
    unicast: bool,
    password: Option<&'static str>,
}

impl Case {
    fn vip(&self) -> &'static str {
        if self.ipv6 {
            "fd00:77::254"
        } else {
            "192.168.77.254"
        }
    }
    fn prefix(&self) -> u8 {
        if self.ipv6 { 64 } else { 24 }
    }
    fn peers(host: &str) -> (&'static str, &'static str) {
        if host == "r1" {
            ("192.168.77.11", "192.168.77.12")
        } else {
            ("192.168.77.12", "192.168.77.11")
        }
    }
    fn interval_secs(&self) -> f64 {
        self.interval.parse().unwrap()
    }

    fn holdfast_config(&self, host: &str, priority: u8) -> String {
        let mut extra = format!("    version {}\n", self.version);
        if self.unicast {
            let (me, peer) = Self::peers(host);
            extra += &format!("    unicast-source \"{me}\"\n    unicast-peer \"{peer}\"\n");
        }
        if let Some(pw) = self.password {
            extra += &format!("    authentication \"pass\" \"{pw}\"\n");
        }
        format!(
            "vrrp-instance \"VI_1\" {{\n    interface \"eth0\"\n    virtual-router-id 51\n    priority {priority}\n    advert-interval {}\n    virtual-ipaddress \"{}/{}\"\n{extra}}}\n",
            self.interval,
            self.vip(),
            self.prefix()
        )
    }

    fn keepalived_config(&self, host: &str, priority: u8) -> String {
        let mut extra = String::new();
        if self.unicast {
            let (me, peer) = Self::peers(host);
            extra +=
                &format!("    unicast_src_ip {me}\n    unicast_peer {{\n        {peer}\n    }}\n");
        }
        if let Some(pw) = self.password {
            extra += &format!(
                "    authentication {{\n        auth_type PASS\n        auth_pass {pw}\n    }}\n"
            );
        }
        format!(
            "global_defs {{\n    router_id {host}\n    vrrp_version {}\n}}\nvrrp_instance VI_1 {{\n    state BACKUP\n    interface eth0\n    virtual_router_id 51\n    priority {priority}\n    advert_int {}\n{extra}    virtual_ipaddress {{\n        {}/{} dev eth0\n    }}\n}}\n",
            self.version,
            self.interval,
            self.vip(),
            self.prefix()
        )
    }
}

fn start_holdfast(lab: &Lab, host: &str, case: &Case, priority: u8) -> Daemon {
    let path = lab.write(
        &format!("{host}.kdl"),
        &case.holdfast_config(host, priority),
    );
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_holdfast"));
    lab.spawn(
        host,
        &format!("{host}-holdfast"),
        &[
            bin.to_str().unwrap(),
            "--log-level",
            "debug",
            "run",
            "--config",
            path.to_str().unwrap(),
        ],
    )
}

fn start_keepalived(lab: &Lab, host: &str, case: &Case, priority: u8) -> Daemon {
    start_keepalived_with(lab, host, &case.keepalived_config(host, priority))
}

#[derive(Clone, Copy, PartialEq)]
enum Impl {
    Holdfast,
    Keepalived,
}

fn start(lab: &Lab, which: Impl, host: &str, case: &Case, priority: u8) -> Daemon {
    match which {
        Impl::Holdfast => start_holdfast(lab, host, case, priority),
        Impl::Keepalived => start_keepalived(lab, host, case, priority),
    }
}

fn run_case(master: Impl, backup: Impl, case: Case) {
    if !skip_unless(
        holdfast_tests::lab::available(),
        "root with network namespaces",
    ) || !skip_unless(keepalived_available(), "keepalived (Debian package)")
    {
        return;
    }
    let lab = Lab::new(&["r1", "r2"]);
    let vip = case.vip();
    let adv = case.interval_secs();
    let settle = Duration::from_secs_f64(adv * 4.0 + 3.0);
    let logs =
        |a: &Daemon, b: &Daemon| format!("--- r1\n{}\n--- r2\n{}", a.log_text(), b.log_text());

    let mut m = start(&lab, master, "r1", &case, 150);
    let b = start(&lab, backup, "r2", &case, 100);
    assert!(
        wait_until(settle, || lab.holders(vip) == ["r1"]),
        "r1 not sole master: {:?}\n{}",
        lab.holders(vip),
        logs(&m, &b)
    );
    // Adverts flow: the backup stays backup (no dual master) for several intervals.
    let hold = Duration::from_secs_f64((adv * 5.0).max(1.5));
    assert!(
        !wait_until(hold, || lab.holders(vip) != ["r1"]),
        "dual master or flap: {:?}\n{}",
        lab.holders(vip),
        logs(&m, &b)
    );

    // Graceful stop of the master: priority 0, the backup takes over.
    m.signal("TERM");
    m.wait(Duration::from_secs(10));
    assert!(
        wait_until(settle, || lab.holders(vip) == ["r2"]),
        "r2 did not take over: {:?}\n{}",
        lab.holders(vip),
        logs(&m, &b)
    );

    // The master returns and preempts; the backup yields to it.
    let m2 = start(&lab, master, "r1", &case, 150);
    assert!(
        wait_until(settle, || lab.holders(vip) == ["r1"]),
        "r1 did not preempt: {:?}\n{}",
        lab.holders(vip),
        logs(&m2, &b)
    );
    assert!(
        !wait_until(hold, || lab.holders(vip) != ["r1"]),
        "unstable after preemption: {:?}\n{}",
        lab.holders(vip),
        logs(&m2, &b)
    );
}

const V2: Case = Case {
    version: 2,
    interval: "1",
    ipv6: false,
    unicast: false,
    password: None,
};
const V2_PASS: Case = Case {
    version: 2,
    interval: "1",
    ipv6: false,
    unicast: false,
    password: Some("lab-pw"),
};
const V3: Case = Case {
    version: 3,
    interval: "0.1",
    ipv6: false,
    unicast: false,
    password: None,
};
const V3_IPV6: Case = Case {
    version: 3,
    interval: "0.1",
    ipv6: true,
    unicast: false,
    password: None,
};
const V3_UNICAST: Case = Case {
    version: 3,
    interval: "0.1",
    ipv6: false,
    unicast: true,
    password: None,
};

#[test]
fn keepalived_master_holdfast_backup_v2() {
    run_case(Impl::Keepalived, Impl::Holdfast, V2);
}
#[test]
fn holdfast_master_keepalived_backup_v2() {
    run_case(Impl::Holdfast, Impl::Keepalived, V2);
}
#[test]
fn keepalived_master_holdfast_backup_v2_password() {
    run_case(Impl::Keepalived, Impl::Holdfast, V2_PASS);
}
#[test]
fn holdfast_master_keepalived_backup_v2_password() {
    run_case(Impl::Holdfast, Impl::Keepalived, V2_PASS);
}
#[test]
fn keepalived_master_holdfast_backup_v3() {
    run_case(Impl::Keepalived, Impl::Holdfast, V3);
}
#[test]
fn holdfast_master_keepalived_backup_v3() {
    run_case(Impl::Holdfast, Impl::Keepalived, V3);
}
#[test]
fn keepalived_master_holdfast_backup_ipv6() {
    run_case(Impl::Keepalived, Impl::Holdfast, V3_IPV6);
}
#[test]
fn holdfast_master_keepalived_backup_ipv6() {
    run_case(Impl::Holdfast, Impl::Keepalived, V3_IPV6);
}
#[test]
fn keepalived_master_holdfast_backup_unicast() {
    run_case(Impl::Keepalived, Impl::Holdfast, V3_UNICAST);
}
#[test]
fn holdfast_master_keepalived_backup_unicast() {
    run_case(Impl::Holdfast, Impl::Keepalived, V3_UNICAST);
}
