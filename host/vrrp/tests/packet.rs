//! Golden packets: keepalived 2.2.7's own adverts decode to the expected
//! fields and re-encode byte-identically; hand-made error packets fail with
//! the exact `DecodeError`.

#[path = "support/pcap.rs"]
mod pcap;

use std::net::IpAddr;

use holdfast_vrrp::packet::split_ipv4;
use holdfast_vrrp::{Advertisement, Auth, ChecksumForm, DecodeError, Version};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Decodes every VRRP frame of a capture, checks it re-encodes to the same
/// bytes, and returns the decoded adverts.
fn round_trip(capture: &str) -> Vec<(pcap::VrrpFrame, Advertisement)> {
    let frames = pcap::load(capture);
    assert!(!frames.is_empty(), "{capture} has no VRRP frames");
    frames
        .into_iter()
        .map(|f| {
            assert_eq!(f.ttl, 255, "{capture}: keepalived sends TTL 255");
            let (advert, form) = Advertisement::decode(&f.payload, f.src, f.dst)
                .unwrap_or_else(|e| panic!("{capture}: {e}"));
            assert_eq!(
                form,
                ChecksumForm::Standard,
                "{capture}: keepalived's default checksum form"
            );
            let encoded = advert.encode(f.src, f.dst, form);
            assert_eq!(encoded, f.payload, "{capture}: re-encoding differs");
            (f, advert)
        })
        .collect()
}

#[test]
fn v2_no_auth_one_second() {
    let adverts = round_trip("keepalived-v2-adv1s.pcap");
    let (f, a) = &adverts[0];
    assert_eq!((f.src, f.dst), (ip("192.168.77.11"), ip("224.0.0.18")));
    assert_eq!(
        *a,
        Advertisement {
            version: Version::V2,
            vrid: 51,
            priority: 150,
            interval: 1,
            auth: Some(Auth::NONE),
            addresses: vec![ip("192.168.77.254")],
        }
    );
    assert_eq!(a.interval_cs(), 100);
    // The capture includes keepalived's SIGTERM release (priority 0), then r2 taking over.
    let priorities: Vec<u8> = adverts.iter().map(|(_, a)| a.priority).collect();
    assert_eq!(priorities, [150, 150, 150, 150, 150, 0, 100, 100, 100, 100]);
}

#[test]
fn v2_simple_password() {
    let adverts = round_trip("keepalived-v2-auth-pass.pcap");
    for (_, a) in &adverts {
        assert_eq!(a.auth, Some(Auth::pass("lab-pw")));
    }
}

#[test]
fn v3_hundred_milliseconds() {
    let adverts = round_trip("keepalived-v3-adv100ms.pcap");
    let (_, a) = &adverts[0];
    assert_eq!((a.version, a.interval, a.auth), (Version::V3, 10, None));
    // Adverts are 100 ms apart on the wire.
    let gaps: Vec<u64> = adverts
        .windows(2)
        .map(|w| w[1].0.at_us - w[0].0.at_us)
        .collect();
    assert!(
        gaps.iter().take(3).all(|g| (90_000..110_000).contains(g)),
        "{gaps:?}"
    );
}

#[test]
fn v3_unicast() {
    let adverts = round_trip("keepalived-v3-unicast.pcap");
    let (f, a) = &adverts[0];
    assert_eq!((f.src, f.dst), (ip("192.168.77.11"), ip("192.168.77.12")));
    assert_eq!((a.version, a.interval), (Version::V3, 100));
}

#[test]
fn v3_ipv6() {
    let adverts = round_trip("keepalived-v3-ipv6.pcap");
    let (f, a) = &adverts[0];
    assert!(f.src.to_string().starts_with("fe80::"), "{}", f.src);
    assert_eq!(f.dst, ip("ff02::12"));
    assert_eq!(a.version, Version::V3);
    assert!(a.addresses.iter().all(IpAddr::is_ipv6));
}

#[test]
fn takeover_captures_round_trip() {
    for capture in [
        "keepalived-takeover-kill-v2-1.pcap",
        "keepalived-takeover-kill-v3-0.1.pcap",
        "keepalived-takeover-linkdown-v2-1.pcap",
        "keepalived-takeover-linkdown-v3-0.1.pcap",
    ] {
        let adverts = round_trip(capture);
        let sources: Vec<IpAddr> = adverts.iter().map(|(f, _)| f.src).collect();
        // r1 (150) is master first, then r2 (100) takes over and r1 is never heard again.
        let switch = sources
            .iter()
            .position(|s| *s == ip("192.168.77.12"))
            .unwrap();
        assert!(
            switch > 0 && sources[switch..].iter().all(|s| *s == ip("192.168.77.12")),
            "{capture}"
        );
    }
}

#[test]
fn split_ipv4_reads_the_header_of_a_raw_socket_datagram() {
    let f = &pcap::load("keepalived-v3-adv100ms.pcap")[0];
    let mut datagram = vec![
        0x45, 0xc0, 0, 0, 0, 1, 0, 0, 255, 112, 0, 0, 192, 168, 77, 11, 224, 0, 0, 18,
    ];
    datagram.extend_from_slice(&f.payload);
    let len = datagram.len() as u16;
    datagram[2..4].copy_from_slice(&len.to_be_bytes());
    let (meta, payload) = split_ipv4(&datagram).unwrap();
    assert_eq!(
        (meta.ttl, meta.src.to_string(), meta.dst.to_string()),
        (255, "192.168.77.11".into(), "224.0.0.18".into())
    );
    assert_eq!(payload, f.payload.as_slice());
    datagram[9] = 6;
    assert!(matches!(
        split_ipv4(&datagram),
        Err(DecodeError::BadIpHeader { .. })
    ));
    assert_eq!(
        split_ipv4(&datagram[..10]),
        Err(DecodeError::TooShort { len: 10 })
    );
}

/// A v3 advert that keepalived would send with `v3_checksum_as_v2`: accepted,
/// and reported as such; re-encoded in that form it is byte-identical.
#[test]
fn v3_checksum_without_pseudo_header_is_accepted() {
    let f = &pcap::load("keepalived-v3-adv100ms.pcap")[0];
    let (advert, _) = Advertisement::decode(&f.payload, f.src, f.dst).unwrap();
    let compat = advert.encode(f.src, f.dst, ChecksumForm::NoPseudoHeader);
    assert_ne!(compat, f.payload, "the two forms differ");
    let (again, form) = Advertisement::decode(&compat, f.src, f.dst).unwrap();
    assert_eq!(
        (again, form),
        (advert.clone(), ChecksumForm::NoPseudoHeader)
    );
    // IPv6 has no such compatibility form: encoding always uses the
    // pseudo-header, and a message-only checksum is rejected.
    let v6 = &pcap::load("keepalived-v3-ipv6.pcap")[0];
    let (a6, _) = Advertisement::decode(&v6.payload, v6.src, v6.dst).unwrap();
    assert_eq!(
        a6.encode(v6.src, v6.dst, ChecksumForm::NoPseudoHeader),
        v6.payload
    );
    let mut message_only = v6.payload.clone();
    fix_checksum(&mut message_only, None);
    assert!(matches!(
        Advertisement::decode(&message_only, v6.src, v6.dst),
        Err(DecodeError::BadChecksum { .. })
    ));
}

// ===== error packets =====

fn golden_v3() -> (Vec<u8>, IpAddr, IpAddr) {
    let f = &pcap::load("keepalived-v3-adv100ms.pcap")[0];
    (f.payload.clone(), f.src, f.dst)
}

fn golden_v2() -> (Vec<u8>, IpAddr, IpAddr) {
    let f = &pcap::load("keepalived-v2-adv1s.pcap")[0];
    (f.payload.clone(), f.src, f.dst)
}

/// Re-checksums a modified message so that only the intended field is
/// wrong: over the message, plus the IPv4 pseudo-header when given.
fn fix_checksum(bytes: &mut [u8], pseudo: Option<(IpAddr, IpAddr)>) {
    bytes[6] = 0;
    bytes[7] = 0;
    let mut sum: u32 = 0;
    if let Some((IpAddr::V4(s), IpAddr::V4(d))) = pseudo {
        for c in s.octets().chunks(2).chain(d.octets().chunks(2)) {
            sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
        }
        sum += 112 + bytes.len() as u32;
    }
    for c in bytes.chunks(2) {
        sum += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    bytes[6..8].copy_from_slice(&(!(sum as u16)).to_be_bytes());
}

#[test]
fn decode_errors_are_exact() {
    let (good, src, dst) = golden_v3();
    let decode = |b: &[u8]| Advertisement::decode(b, src, dst).map(|_| ());

    assert_eq!(decode(&good[..5]), Err(DecodeError::TooShort { len: 5 }));

    let mut b = good.clone();
    b[0] = 0x41;
    assert_eq!(decode(&b), Err(DecodeError::BadVersion { version: 4 }));

    let mut b = good.clone();
    b[0] = 0x32;
    assert_eq!(decode(&b), Err(DecodeError::BadType { kind: 2 }));

    let mut b = good.clone();
    b[3] = 2;
    assert_eq!(
        decode(&b),
        Err(DecodeError::BadLength { len: 12, count: 2 })
    );

    let mut b = good.clone();
    b[2] = 151;
    assert!(matches!(
        decode(&b),
        Err(DecodeError::BadChecksum {
            received: 0x3bd7,
            ..
        })
    ));

    let mut b = good.clone();
    b[4] = 0;
    b[5] = 0;
    fix_checksum(&mut b, Some((src, dst)));
    assert_eq!(decode(&b), Err(DecodeError::ZeroInterval));

    let v6 = ip("fe80::1");
    assert_eq!(
        Advertisement::decode(&golden_v2().0, v6, ip("ff02::12")).map(|_| ()),
        Err(DecodeError::V2OverIpv6)
    );
}

#[test]
fn v2_authentication_types() {
    let (good, src, dst) = golden_v2();
    let decode = |b: &[u8]| Advertisement::decode(b, src, dst).map(|(a, _)| a.auth);
    assert_eq!(decode(&good), Ok(Some(Auth::NONE)));

    let mut ah = good.clone();
    ah[4] = 2;
    fix_checksum(&mut ah, None);
    assert_eq!(decode(&ah), Err(DecodeError::AhUnsupported));

    let mut unknown = good.clone();
    unknown[4] = 9;
    fix_checksum(&mut unknown, None);
    assert_eq!(
        decode(&unknown),
        Err(DecodeError::UnknownAuthType { kind: 9 })
    );
}

#[test]
fn encode_matches_hand_built_bytes() {
    // VRRPv3, VRID 7, priority 200, 1 s, two IPv4 addresses, RFC checksum.
    let advert = Advertisement {
        version: Version::V3,
        vrid: 7,
        priority: 200,
        interval: 100,
        auth: None,
        addresses: vec![ip("10.0.0.1"), ip("10.0.0.2")],
    };
    let bytes = advert.encode(ip("10.0.0.10"), ip("224.0.0.18"), ChecksumForm::Standard);
    assert_eq!(&bytes[..6], &[0x31, 7, 200, 2, 0x00, 0x64]);
    assert_eq!(&bytes[8..], &[10, 0, 0, 1, 10, 0, 0, 2]);
    assert_eq!(bytes.len(), advert.len());
    let (back, _) = Advertisement::decode(&bytes, ip("10.0.0.10"), ip("224.0.0.18")).unwrap();
    assert_eq!(back, advert);
}
