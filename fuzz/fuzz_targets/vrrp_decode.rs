//! Fuzzes the VRRP decoder the way packets reach it: an IPv4 datagram from a
//! raw socket (header split, then VRRP decode), or a bare VRRP message over
//! IPv6, then the instance's validation.
#![no_main]

use std::net::IpAddr;
use std::time::Instant;

use holdfast_vrrp::packet::split_ipv4;
use holdfast_vrrp::{Advertisement, Instance, InstanceConfig, Received};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let (src, dst, ttl, payload): (IpAddr, IpAddr, u8, &[u8]) = if selector & 1 == 0 {
        match split_ipv4(rest) {
            Ok((meta, payload)) => (meta.src.into(), meta.dst.into(), meta.ttl, payload),
            Err(_) => return,
        }
    } else {
        ("fe80::1".parse().unwrap(), "ff02::12".parse().unwrap(), 255, rest)
    };
    if let Ok((advert, form)) = Advertisement::decode(payload, src, dst) {
        // Whatever decodes re-encodes to something that decodes to the same
        // advert (bytes may differ: reserved bits are ignored on receipt).
        let again = advert.encode(src, dst, form);
        assert_eq!(Advertisement::decode(&again, src, dst).map(|(a, _)| a), Ok(advert));
    }
    let config = InstanceConfig::new(51, vec!["192.0.2.254".parse().unwrap()]);
    let mut instance = Instance::new(config, "192.0.2.1".parse().unwrap());
    let now = Instant::now();
    instance.startup(now);
    let _ = instance.handle_packet(now, Received { src, dst, ttl, payload });
    while instance.poll_action().is_some() {}
});
