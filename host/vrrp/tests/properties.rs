//! Property tests of the codec and of elections.

#[path = "support/sim.rs"]
mod sim;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use holdfast_vrrp::{Advertisement, Auth, ChecksumForm, State, Version};
use proptest::prelude::*;

fn advert_strategy() -> impl Strategy<Value = (Advertisement, IpAddr, IpAddr, ChecksumForm)> {
    (
        any::<bool>(),
        any::<bool>(),
        any::<u8>(),
        any::<u8>(),
        1u16..=4095,
        0usize..=20,
        any::<[u8; 8]>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_flat_map(|(v3, v6, vrid, priority, interval, n, pw, pass, compat)| {
            let v6 = v3 && v6; // VRRPv2 is IPv4 only
            let addrs = if v6 {
                proptest::collection::vec(
                    any::<u128>().prop_map(|a| IpAddr::V6(Ipv6Addr::from(a))),
                    n,
                )
                .boxed()
            } else {
                proptest::collection::vec(
                    any::<u32>().prop_map(|a| IpAddr::V4(Ipv4Addr::from(a))),
                    n,
                )
                .boxed()
            };
            let ends = if v6 {
                (any::<u128>(), any::<u128>())
                    .prop_map(|(s, d)| (IpAddr::V6(s.into()), IpAddr::V6(d.into())))
                    .boxed()
            } else {
                (any::<u32>(), any::<u32>())
                    .prop_map(|(s, d)| (IpAddr::V4(s.into()), IpAddr::V4(d.into())))
                    .boxed()
            };
            (addrs, ends).prop_map(move |(addresses, (src, dst))| {
                let version = if v3 { Version::V3 } else { Version::V2 };
                let advert = Advertisement {
                    version,
                    vrid,
                    priority,
                    interval: if v3 {
                        interval
                    } else {
                        (interval % 255).max(1)
                    },
                    auth: (!v3).then_some(if pass { Auth::Pass(pw) } else { Auth::None(pw) }),
                    addresses,
                };
                let form = if v3 && !v6 && compat {
                    ChecksumForm::NoPseudoHeader
                } else {
                    ChecksumForm::Standard
                };
                (advert, src, dst, form)
            })
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// decode(encode(p)) == p, in either checksum form.
    #[test]
    fn decode_inverts_encode((advert, src, dst, form) in advert_strategy()) {
        let bytes = advert.encode(src, dst, form);
        prop_assert_eq!(bytes.len(), advert.len());
        let decoded = Advertisement::decode(&bytes, src, dst);
        // An IPv4 message whose two checksum forms coincide decodes as Standard.
        prop_assert_eq!(decoded.map(|(a, _)| a), Ok(advert));
    }

    /// Any byte string decodes to an advert or an error; never a panic.
    #[test]
    fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400), v6 in any::<bool>()) {
        let (src, dst): (IpAddr, IpAddr) = if v6 {
            ("fe80::1".parse().unwrap(), "ff02::12".parse().unwrap())
        } else {
            ("192.0.2.1".parse().unwrap(), "224.0.0.18".parse().unwrap())
        };
        let _ = Advertisement::decode(&bytes, src, dst);
        let _ = holdfast_vrrp::packet::split_ipv4(&bytes);
    }

    /// A flipped bit anywhere is detected (checksum, length or field checks).
    #[test]
    fn single_bit_errors_are_rejected((advert, src, dst, _) in advert_strategy(), bit in any::<prop::sample::Index>()) {
        let mut bytes = advert.encode(src, dst, ChecksumForm::Standard);
        let i = bit.index(bytes.len() * 8);
        bytes[i / 8] ^= 1 << (i % 8);
        prop_assert!(Advertisement::decode(&bytes, src, dst).is_err());
    }
}

#[derive(Debug, Clone)]
enum Disturbance {
    Kill(usize),
    Restart(usize),
    Shutdown(usize),
    Startup(usize),
    SetPriority(usize, u8),
}

fn disturbance(n: usize) -> impl Strategy<Value = Disturbance> {
    prop_oneof![
        (0..n).prop_map(Disturbance::Kill),
        (0..n).prop_map(Disturbance::Restart),
        (0..n).prop_map(Disturbance::Shutdown),
        (0..n).prop_map(Disturbance::Startup),
        (0..n, 1u8..=254).prop_map(|(i, p)| Disturbance::SetPriority(i, p)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Whatever happens to 2–4 routers (deaths, restarts, shutdowns,
    /// priority changes at random times), once adverts have flowed
    /// undisturbed for a while, exactly one running router is master.
    #[test]
    fn one_master_once_adverts_flow(
        priorities in proptest::collection::vec(1u8..=255, 2..=4),
        nopreempt in proptest::collection::vec(any::<bool>(), 4),
        interval_cs in prop_oneof![Just(1u16), Just(10), Just(100)],
        disturbances in proptest::collection::vec((0u64..20_000, disturbance(4)), 0..12),
    ) {
        let n = priorities.len();
        let mut routers = BTreeMap::new();
        let names: Vec<String> = (0..n).map(|i| format!("r{i}")).collect();
        for (i, p) in priorities.iter().enumerate() {
            let spec = serde_json::json!({
                "primary": format!("192.0.2.{}", i + 1),
                "priority": p,
                "interval_cs": interval_cs,
                // nopreempt needs a backup start, which every router has here.
                "nopreempt": nopreempt[i] && *p != 255,
            });
            routers.insert(names[i].clone(), serde_json::from_value::<sim::RouterSpec>(spec).unwrap());
        }
        let scale = f64::from(interval_cs) / 100.0; // disturbances within 20 intervals
        let mut events: Vec<serde_json::Value> = names.iter().map(|r| serde_json::json!({"at_ms": 0.0, "router": r, "do": "startup"})).collect();
        let mut last = 0.0f64;
        for (at, d) in &disturbances {
            let at_ms = *at as f64 * scale;
            last = last.max(at_ms);
            let (i, ev) = match d {
                Disturbance::Kill(i) => (i, serde_json::json!({"do": "kill"})),
                Disturbance::Restart(i) => (i, serde_json::json!({"do": "restart"})),
                Disturbance::Shutdown(i) => (i, serde_json::json!({"do": "shutdown"})),
                Disturbance::Startup(i) => (i, serde_json::json!({"do": "startup"})),
                Disturbance::SetPriority(i, p) => (i, serde_json::json!({"do": "set-priority", "priority": p})),
            };
            let mut ev = ev;
            ev["at_ms"] = at_ms.into();
            ev["router"] = names[*i % n].clone().into();
            events.push(ev);
        }
        // Quiet period: well past any Master_Down_Interval (< 4 intervals).
        let until = last + 10.0 * f64::from(interval_cs) * 10.0;
        let scenario: sim::Scenario = serde_json::from_value(serde_json::json!({
            "description": "property", "routers": routers, "until_ms": until as u64, "events": events,
        })).unwrap();
        let sim = sim::Sim::run(&scenario);
        let running = names.iter().filter(|r| sim.is_alive(r) && sim.state(r) != State::Initialize).count();
        let masters = sim.live_masters();
        prop_assert_eq!(masters, usize::from(running > 0), "{} running; trace:\n{}", running, sim.trace);
    }
}
