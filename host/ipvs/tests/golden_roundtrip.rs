//! The kernel's own replies (captured in the IPVS VM, see `golden/list.rs`)
//! decode to the objects ipvsadm created and encode back byte for byte.

use holdfast_ipvs::*;
use netlink_packet_core::{Emitable, ParseableParametrized};
use netlink_packet_generic::GenlHeader;

mod golden {
    include!("golden/list.rs");
}

fn bytes(text: &str) -> Vec<u8> {
    let hex: String = text.lines().filter(|l| !l.starts_with('#')).collect();
    assert!(!hex.is_empty(), "empty golden file");
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

fn decode(name: &str) -> (Vec<u8>, IpvsMessage) {
    let text = golden::FILES.iter().find(|(n, _)| *n == name).unwrap().1;
    let b = bytes(text);
    let header = GenlHeader {
        cmd: b[0],
        version: b[1],
    };
    let msg = IpvsMessage::parse_with_param(&b[4..], header).unwrap();
    (b[4..].to_vec(), msg)
}

#[test]
fn every_golden_reply_round_trips_byte_for_byte() {
    for (name, _) in golden::FILES {
        let (attrs, msg) = decode(name);
        let mut out = vec![0u8; msg.buffer_len()];
        msg.emit(&mut out);
        assert_eq!(out, attrs, "{name}");
    }
}

fn services() -> Vec<Service> {
    (0..3)
        .map(|i| {
            let (_, msg) = decode(&format!("get-service-{i}"));
            assert_eq!(msg.cmd, IpvsCmd::NewService, "dump replies are NEW_SERVICE");
            match &msg.attrs[..] {
                [IpvsAttr::Service(a)] => Service::from_attrs(a).unwrap().0,
                other => panic!("{other:?}"),
            }
        })
        .collect()
}

#[test]
fn services_decode_to_what_ipvsadm_created() {
    let all = services();
    let web = all
        .iter()
        .find(|s| matches!(s.key, ServiceKey::Addr { port: 80, .. }))
        .unwrap();
    assert_eq!(
        web.key,
        ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr: "10.0.0.1".parse().unwrap(),
            port: 80
        }
    );
    assert_eq!(
        (web.scheduler.as_str(), web.flags, web.timeout),
        ("wrr", svc_flags::PERSISTENT, 300)
    );
    assert_eq!(web.netmask, 0xffff_ffff);
    let v6 = all
        .iter()
        .find(|s| matches!(s.key, ServiceKey::Addr { port: 53, .. }))
        .unwrap();
    assert_eq!(v6.scheduler, "rr");
    assert!(v6.key.is_ipv6());
    assert_eq!(v6.netmask, 128);
    let fw = all
        .iter()
        .find(|s| matches!(s.key, ServiceKey::Fwmark { .. }))
        .unwrap();
    assert_eq!(
        fw.key,
        ServiceKey::Fwmark {
            mark: 7,
            ipv6: false
        }
    );
    assert_eq!(fw.flags, svc_flags::SH_PORT | svc_flags::SH_FALLBACK);
    // What we would send for the same service names it the same way.
    assert_eq!(
        Service::new(web.key, "wrr").key.attrs()[..4],
        web.key.attrs()[..]
    );
}

#[test]
fn dests_decode_with_forwarding_tunnels_and_thresholds() {
    let dests: Vec<Dest> = ["get-dest-web-0", "get-dest-web-1", "get-dest-v6-0"]
        .iter()
        .map(|n| {
            let (_, msg) = decode(n);
            assert_eq!(msg.cmd, IpvsCmd::NewDest);
            match &msg.attrs[..] {
                [IpvsAttr::Dest(a)] => Dest::from_attrs(a).unwrap().0,
                other => panic!("{other:?}"),
            }
        })
        .collect();
    let masq = dests.iter().find(|d| d.forward == Forward::Nat).unwrap();
    assert_eq!(masq.addr.to_string(), "10.0.1.1");
    assert_eq!(
        (
            masq.port,
            masq.weight,
            masq.upper_threshold,
            masq.lower_threshold
        ),
        (8080, 5, 100, 10)
    );
    let gue = dests
        .iter()
        .find(|d| matches!(d.forward, Forward::Tunnel(_)))
        .unwrap();
    assert_eq!(
        gue.forward,
        Forward::Tunnel(Tunnel::Gue {
            port: 6080,
            flags: tun_flags::CSUM
        })
    );
    let dr = dests
        .iter()
        .find(|d| d.forward == Forward::DirectRoute)
        .unwrap();
    assert_eq!(
        (dr.addr.to_string().as_str(), dr.weight),
        ("2001:db8::53", 2)
    );
}

#[test]
fn info_and_config_replies() {
    let (_, info) = decode("get-info-0");
    assert!(
        info.attrs.contains(&IpvsAttr::InfoVersion(0x01_02_01)),
        "{info:?}"
    );
    let (_, cfg) = decode("get-config-0");
    assert!(
        cfg.attrs
            .iter()
            .any(|a| matches!(a, IpvsAttr::TimeoutTcp(t) if *t > 0)),
        "{cfg:?}"
    );
}

#[test]
fn unknown_attributes_survive_a_round_trip() {
    let (mut attrs, _) = decode("get-service-0");
    // Append an attribute from a future kernel inside the nested service.
    let extra = [8u8, 0, 0x63, 0, 1, 2, 3, 4];
    let nested_len = u16::from_ne_bytes([attrs[0], attrs[1]]) as usize;
    attrs.splice(nested_len..nested_len, extra);
    let new_len = (nested_len + extra.len()) as u16;
    attrs[..2].copy_from_slice(&new_len.to_ne_bytes());
    let msg = IpvsMessage::parse_with_param(&attrs, GenlHeader { cmd: 1, version: 1 }).unwrap();
    let mut out = vec![0u8; msg.buffer_len()];
    msg.emit(&mut out);
    assert_eq!(out, attrs);
}
