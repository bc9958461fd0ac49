//! IPVS against a real kernel, in the VM (this machine's kernel has none).
//!
//! `ipvs_kernel_in_a_vm` (host side) boots the VM and runs this binary's
//! ignored `in_vm_*` tests inside it. They program IPVS through our handle
//! and check the kernel's own view (`ipvsadm -Ln`, `/proc/net/ip_vs`), and
//! capture the kernel's dump replies as golden bytes (`tests/golden/`).

use std::collections::BTreeSet;
use std::net::IpAddr;

use holdfast_ipvs::reconcile::{self, DesiredService, Table};
use holdfast_ipvs::*;
use holdfast_tests::{skip_unless, vm};

#[test]
fn ipvs_kernel_in_a_vm() {
    if vm::inside() || !skip_unless(vm::available(), "root and the IPVS VM (QEMU)") {
        return;
    }
    let env: &[(&str, &str)] = if std::env::var("UPDATE_GOLDEN").is_ok() {
        &[("UPDATE_GOLDEN", "1")]
    } else {
        &[]
    };
    let run = vm::run_in_vm("in_vm_", env, &[], 900);
    let out = &run.output;
    if std::env::var("UPDATE_GOLDEN").is_ok() {
        for line in out
            .lines()
            .filter_map(|l| l.split_once("GOLDEN ").map(|(_, r)| r))
        {
            let (name, hex) = line.split_once(' ').expect("GOLDEN name hex");
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/golden")
                .join(format!("{name}.hex"));
            let old = std::fs::read_to_string(&path).unwrap_or_default();
            let header: String = old
                .lines()
                .take_while(|l| l.starts_with('#'))
                .map(|l| format!("{l}\n"))
                .collect();
            std::fs::write(&path, format!("{header}{hex}\n")).unwrap();
        }
    }
    assert_eq!(run.code, Some(0), "in-VM tests failed:\n{out}");
    let passed = out
        .lines()
        .find_map(|l| l.strip_prefix("test result: ok. "))
        .and_then(|l| l.split(' ').next())
        .and_then(|n| n.parse::<u32>().ok());
    assert!(
        passed.is_some_and(|n| n >= 5),
        "expected the in-VM tests to run:\n{out}"
    );
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn tcp(addr: &str, port: u16) -> ServiceKey {
    ServiceKey::Addr {
        protocol: Protocol::Tcp,
        addr: ip(addr),
        port,
    }
}

/// `ipvsadm -Ln` with runs of spaces squeezed (its columns are padded).
fn ipvsadm() -> String {
    vm::squeezed("ipvsadm -Ln")
}

fn clear() {
    vm::sh("ipvsadm -C");
}

#[test]
#[ignore = "runs inside the IPVS VM"]
fn in_vm_info_and_timeouts() {
    rt().block_on(async {
        let h = IpvsHandle::connect().unwrap();
        let info = h.info().await.unwrap();
        assert_eq!(info.version.0, 1, "{info:?}");
        assert!(info.conn_tab_size >= 4096, "{info:?}");
        let proc_version = vm::sh("head -1 /proc/net/ip_vs");
        assert!(
            proc_version.contains(&format!("size={}", info.conn_tab_size)),
            "{proc_version}"
        );
        h.set_timeouts(Timeouts {
            tcp: 900,
            tcp_fin: 60,
            udp: 200,
        })
        .await
        .unwrap();
        assert_eq!(
            h.timeouts().await.unwrap(),
            Timeouts {
                tcp: 900,
                tcp_fin: 60,
                udp: 200
            }
        );
        assert!(vm::sh("ipvsadm -L --timeout").contains("900 60 200"));
    });
}

#[test]
#[ignore = "runs inside the IPVS VM"]
fn in_vm_services_and_dests_nat_dr_tunnel() {
    clear();
    rt().block_on(async {
        let h = IpvsHandle::connect().unwrap();
        let web = tcp("10.0.0.1", 80);
        h.service()
            .add(Service::new(web, "rr"))
            .scheduler("wrr")
            .persistent(300)
            .execute()
            .await
            .unwrap();
        let d = |a: &str| Dest::new(ip(a), 8080);
        h.dest(web)
            .add(d("10.0.1.1"))
            .weight(5)
            .execute()
            .await
            .unwrap();
        h.dest(web)
            .add(d("10.0.1.2"))
            .forward(Forward::DirectRoute)
            .weight(3)
            .execute()
            .await
            .unwrap();
        h.dest(web)
            .add(d("10.0.1.3"))
            .forward(Forward::Tunnel(Tunnel::Ipip))
            .thresholds(100, 10)
            .execute()
            .await
            .unwrap();
        h.dest(web)
            .add(d("10.0.1.4"))
            .forward(Forward::Tunnel(Tunnel::Gue {
                port: 6080,
                flags: tun_flags::CSUM,
            }))
            .execute()
            .await
            .unwrap();
        h.dest(web)
            .add(d("10.0.1.5"))
            .forward(Forward::Tunnel(Tunnel::Gre { flags: 0 }))
            .execute()
            .await
            .unwrap();
        let table = ipvsadm();
        for want in [
            "TCP 10.0.0.1:80 wrr persistent 300",
            "-> 10.0.1.1:8080 Masq 5",
            "-> 10.0.1.2:8080 Route 3",
            "-> 10.0.1.3:8080 Tunnel 1",
        ] {
            assert!(table.contains(want), "missing {want:?} in\n{table}");
        }
        let tun = vm::sh("ipvsadm -Ln --tun-info");
        assert!(
            tun.contains("gue") && tun.contains("6080") && tun.contains("gre"),
            "{tun}"
        );

        // Our dump reads back exactly what we wrote.
        let services = h.service().list().await.unwrap();
        assert_eq!(services.len(), 1);
        assert_eq!(services[0].0.scheduler, "wrr");
        assert_eq!(services[0].0.timeout, 300);
        assert_ne!(services[0].0.flags & svc_flags::PERSISTENT, 0);
        let dests = h.dest(web).list().await.unwrap();
        assert_eq!(dests.len(), 5);
        let gue = dests
            .iter()
            .find(|(x, _)| x.addr == ip("10.0.1.4"))
            .unwrap();
        assert_eq!(
            gue.0.forward,
            Forward::Tunnel(Tunnel::Gue {
                port: 6080,
                flags: tun_flags::CSUM
            })
        );
        let thr = dests
            .iter()
            .find(|(x, _)| x.addr == ip("10.0.1.3"))
            .unwrap();
        assert_eq!((thr.0.upper_threshold, thr.0.lower_threshold), (100, 10));

        // Edit a weight, delete a dest, delete the service.
        h.dest(web)
            .edit(d("10.0.1.1"))
            .weight(9)
            .execute()
            .await
            .unwrap();
        assert!(ipvsadm().contains("-> 10.0.1.1:8080 Masq 9"));
        h.dest(web).del(&d("10.0.1.2")).await.unwrap();
        assert!(!ipvsadm().contains("10.0.1.2:8080"));
        // The kernel's errno comes back typed, with the object.
        let err = h.dest(web).del(&d("10.0.1.2")).await.unwrap_err();
        assert_eq!(err.errno(), Some(2), "ENOENT: {err}");
        assert!(
            err.to_string().contains("10.0.1.2:8080 in Tcp 10.0.0.1:80"),
            "{err}"
        );
        let err = h
            .service()
            .add(Service::new(web, "rr"))
            .execute()
            .await
            .unwrap_err();
        assert_eq!(err.errno(), Some(17), "EEXIST: {err}");
        h.service().del(web).await.unwrap();
        assert_eq!(ipvsadm().lines().count(), 3, "{}", ipvsadm());
    });
}

#[test]
#[ignore = "runs inside the IPVS VM"]
fn in_vm_every_scheduler_fwmark_and_ipv6() {
    clear();
    rt().block_on(async {
        let h = IpvsHandle::connect().unwrap();
        // Debian's cloud kernel builds these (twos is not built).
        let schedulers = [
            "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh",
        ];
        for (i, s) in schedulers.iter().enumerate() {
            let key = tcp("10.9.0.1", 1000 + i as u16);
            h.service()
                .add(Service::new(key, s))
                .execute()
                .await
                .unwrap_or_else(|e| panic!("{s}: {e}"));
        }
        let table = ipvsadm();
        for (i, s) in schedulers.iter().enumerate() {
            assert!(
                table.contains(&format!("TCP 10.9.0.1:{} {s}", 1000 + i)),
                "{s}\n{table}"
            );
        }
        let mark = ServiceKey::Fwmark {
            mark: 7,
            ipv6: false,
        };
        h.service()
            .add(Service::new(mark, "sh"))
            .flags(svc_flags::SH_PORT | svc_flags::SH_FALLBACK)
            .execute()
            .await
            .unwrap();
        h.dest(mark)
            .add(Dest::new(ip("10.0.2.1"), 0))
            .forward(Forward::DirectRoute)
            .execute()
            .await
            .unwrap();
        let table = ipvsadm();
        assert!(table.contains("FWM 7 sh (sh-fallback,sh-port)"), "{table}");
        let v6 = ServiceKey::Addr {
            protocol: Protocol::Udp,
            addr: ip("2001:db8::1"),
            port: 53,
        };
        h.service()
            .add(Service::new(v6, "rr"))
            .execute()
            .await
            .unwrap();
        h.dest(v6)
            .add(Dest::new(ip("2001:db8::53"), 53))
            .weight(2)
            .execute()
            .await
            .unwrap();
        let table = ipvsadm();
        assert!(table.contains("UDP [2001:db8::1]:53 rr"), "{table}");
        assert!(table.contains("-> [2001:db8::53]:53"), "{table}");
        let listed = h.service().list().await.unwrap();
        assert_eq!(listed.len(), schedulers.len() + 2);
        assert!(listed.iter().any(|(s, _)| s.key == v6));
        assert!(
            listed
                .iter()
                .any(|(s, _)| s.key == mark
                    && s.flags == svc_flags::SH_PORT | svc_flags::SH_FALLBACK)
        );
    });
    clear();
}

async fn dump(h: &IpvsHandle) -> Table {
    holdfast_ipvs::apply::dump(h, |_| true).await.unwrap().0
}

async fn execute(h: &IpvsHandle, ops: &[reconcile::Operation]) {
    let failed = holdfast_ipvs::apply::execute(h, ops).await;
    assert!(failed.is_empty(), "{failed:?}");
}

#[test]
#[ignore = "runs inside the IPVS VM"]
fn in_vm_reconcile_converges_reverts_hand_edits_and_spares_foreign_services() {
    clear();
    // Someone else's service: never ours to touch.
    vm::sh(
        "ipvsadm -A -t 192.0.2.99:443 -s lc && ipvsadm -a -t 192.0.2.99:443 -r 192.0.2.100:443 -m",
    );
    rt().block_on(async {
        let h = IpvsHandle::connect().unwrap();
        let web = tcp("10.0.0.1", 80);
        let mut dests: Vec<Dest> = (1..=3).map(|i| Dest { weight: i, ..Dest::new(ip(&format!("10.0.1.{i}")), 80) }).collect();
        let desired = vec![DesiredService { service: Service::new(web, "wrr"), dests: dests.clone() }];
        let owned: BTreeSet<ServiceKey> = [web].into();
        let ops = reconcile::plan(&desired, &dump(&h).await, &owned);
        assert_eq!(ops.len(), 4, "{ops:?}");
        execute(&h, &ops).await;
        assert!(reconcile::plan(&desired, &dump(&h).await, &owned).is_empty(), "idempotent");

        // A hand-made change: a weight edited, a dest deleted, a dest added.
        vm::sh("ipvsadm -e -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 50 && ipvsadm -d -t 10.0.0.1:80 -r 10.0.1.2:80 && ipvsadm -a -t 10.0.0.1:80 -r 10.0.1.9:80 -m");
        let ops = reconcile::plan(&desired, &dump(&h).await, &owned);
        assert_eq!(ops.len(), 3, "exactly the three reverts: {ops:?}");
        execute(&h, &ops).await;
        assert!(reconcile::plan(&desired, &dump(&h).await, &owned).is_empty());
        let table = ipvsadm();
        assert!(table.contains("-> 10.0.1.1:80 Masq 1"), "{table}");
        assert!(!table.contains("10.0.1.9"), "{table}");

        // A 1-dest weight change touches only that dest.
        dests[2].weight = 7;
        let desired = vec![DesiredService { service: Service::new(web, "wrr"), dests }];
        let ops = reconcile::plan(&desired, &dump(&h).await, &owned);
        assert_eq!(ops, vec![reconcile::Operation::EditDest(web, desired[0].dests[2].clone())]);
        execute(&h, &ops).await;

        // Our service removed from the config: deleted; the foreign one stays.
        let ops = reconcile::plan(&[], &dump(&h).await, &owned);
        assert_eq!(ops, vec![reconcile::Operation::DelService(web)]);
        execute(&h, &ops).await;
        let table = ipvsadm();
        assert!(table.contains("TCP 192.0.2.99:443 lc") && table.contains("192.0.2.100:443"), "{table}");
        assert!(!table.contains("10.0.0.1:80"), "{table}");
    });
    clear();
}

mod golden {
    include!("golden/list.rs");
}

/// The kernel's replies to a request, raw: each message's generic netlink
/// header and attributes (the netlink header carries a dynamic family id,
/// sequence and port, so it is left out).
fn raw_replies(family: u16, cmd: u8, attrs: &[IpvsAttr], dump: bool) -> Vec<Vec<u8>> {
    use netlink_packet_core::Emitable;
    use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_GENERIC};
    let mut body = vec![cmd, 1, 0, 0];
    let attrs_len = attrs.buffer_len();
    let start = body.len();
    body.resize(start + attrs_len, 0);
    attrs.emit(&mut body[start..]);
    let flags: u16 = 0x1 | if dump { 0x300 } else { 0x4 };
    let mut msg = Vec::new();
    msg.extend_from_slice(&(16 + body.len() as u32).to_ne_bytes());
    msg.extend_from_slice(&family.to_ne_bytes());
    msg.extend_from_slice(&flags.to_ne_bytes());
    msg.extend_from_slice(&1u32.to_ne_bytes());
    msg.extend_from_slice(&0u32.to_ne_bytes());
    msg.extend_from_slice(&body);
    let mut sock = Socket::new(NETLINK_GENERIC).unwrap();
    sock.bind_auto().unwrap();
    sock.connect(&SocketAddr::new(0, 0)).unwrap();
    sock.send(&msg, 0).unwrap();
    let mut out = Vec::new();
    loop {
        let (buf, _) = sock.recv_from_full().unwrap();
        let mut at = 0;
        while at + 16 <= buf.len() {
            let len = u32::from_ne_bytes(buf[at..at + 4].try_into().unwrap()) as usize;
            let ty = u16::from_ne_bytes(buf[at + 4..at + 6].try_into().unwrap());
            match ty {
                3 => return out, // NLMSG_DONE
                2 => {
                    let code = i32::from_ne_bytes(buf[at + 16..at + 20].try_into().unwrap());
                    assert_eq!(code, 0, "netlink error");
                    if !dump {
                        return out;
                    }
                }
                t if t == family => out.push(buf[at + 16..at + len].to_vec()),
                _ => {}
            }
            at += (len + 3) & !3;
        }
        if !dump && !out.is_empty() {
            return out;
        }
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
#[ignore = "runs inside the IPVS VM"]
fn in_vm_golden_kernel_replies() {
    clear();
    // Set up by ipvsadm (another client); the replies are the kernel's bytes.
    vm::sh(golden::SETUP);
    let family = rt().block_on(async {
        let (conn, handle, _) = genetlink::new_connection().unwrap();
        tokio::spawn(conn);
        handle.resolve_family::<IpvsMessage>().await.unwrap().id
    });
    let web = IpvsAttr::Service(tcp("10.0.0.1", 80).attrs());
    let v6 = IpvsAttr::Service(
        ServiceKey::Addr {
            protocol: Protocol::Udp,
            addr: ip("2001:db8::1"),
            port: 53,
        }
        .attrs(),
    );
    let mut captured = Vec::new();
    // The service table's hash is seeded per boot: dump order varies, so
    // replies are named in sorted order.
    let mut take = |prefix: &str, mut replies: Vec<Vec<u8>>| {
        replies.sort();
        for (i, r) in replies.into_iter().enumerate() {
            captured.push((format!("{prefix}-{i}"), hex(&r)));
        }
    };
    take("get-service", raw_replies(family, 4, &[], true));
    take("get-dest-web", raw_replies(family, 8, &[web], true));
    take("get-dest-v6", raw_replies(family, 8, &[v6], true));
    take("get-info", raw_replies(family, 15, &[], false));
    take("get-config", raw_replies(family, 13, &[], false));
    let update = std::env::var("UPDATE_GOLDEN").is_ok();
    for (name, hex) in &captured {
        println!("GOLDEN {name} {hex}");
        if !update {
            let want = golden::FILES
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, text)| {
                    text.lines()
                        .filter(|l| !l.starts_with('#'))
                        .collect::<String>()
                })
                .unwrap_or_else(|| panic!("no golden file for {name}"));
            assert_eq!(hex, &want, "{name}: the kernel's bytes changed");
        }
    }
    assert_eq!(captured.len(), golden::FILES.len(), "{captured:?}");
    clear();
}
