//! The Router: stable ids, and adverts routed to the right instance when
//! several share a VRID on one interface (told apart by their unicast
//! peers). Sync groups and the drain run through it in every conformance
//! case (the simulator is built on it).

use std::net::IpAddr;
use std::time::Instant;

use holdfast_vrrp::{
    Action, Advertisement, ChecksumForm, Instance, InstanceConfig, Received, RouteError, Router,
    State, Version,
};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn unicast(vrid: u8, primary: &str, peers: &[&str]) -> Instance {
    let mut c = InstanceConfig::new(vrid, vec![ip("192.0.2.254")]);
    c.unicast_peers = peers.iter().map(|p| ip(p)).collect();
    Instance::new(c, ip(primary))
}

fn advert_from(src: &str, to: &str, vrid: u8) -> Vec<u8> {
    Advertisement {
        version: Version::V3,
        vrid,
        priority: 100,
        interval: 100,
        auth: None,
        addresses: vec![ip("192.0.2.254")],
    }
    .encode(ip(src), ip(to), ChecksumForm::Standard)
}

#[test]
fn instances_sharing_a_vrid_are_told_apart_by_their_peers() {
    let mut router = Router::new();
    let a = router.insert(1, unicast(51, "10.0.0.1", &["10.0.0.2"]));
    let b = router.insert(1, unicast(51, "10.0.0.1", &["10.0.0.3"]));
    let elsewhere = router.insert(2, unicast(51, "10.0.1.1", &[]));
    let from = |src: &str| advert_from(src, "10.0.0.1", 51);
    assert_eq!(router.route(1, ip("10.0.0.2"), &from("10.0.0.2")), Ok(a));
    assert_eq!(router.route(1, ip("10.0.0.3"), &from("10.0.0.3")), Ok(b));
    assert!(matches!(
        router.route(1, ip("10.0.0.9"), &from("10.0.0.9")),
        Err(RouteError::NoPeer { vrid: 51, .. })
    ));
    // Another interface is another link.
    assert_eq!(
        router.route(2, ip("10.0.0.9"), &from("10.0.0.9")),
        Ok(elsewhere)
    );
    // A multicast instance beside them takes what no peer set claims.
    let multicast = router.insert(1, unicast(51, "10.0.0.1", &[]));
    assert_eq!(
        router.route(1, ip("10.0.0.9"), &from("10.0.0.9")),
        Ok(multicast)
    );
    assert_eq!(router.route(1, ip("10.0.0.3"), &from("10.0.0.3")), Ok(b));

    // Delivered to that instance alone.
    let now = Instant::now();
    for id in router.ids().collect::<Vec<_>>() {
        router.get_mut(id).unwrap().startup(now);
    }
    while router.poll_action(now).is_some() {}
    let bytes = from("10.0.0.3");
    let rx = Received {
        src: ip("10.0.0.3"),
        dst: ip("10.0.0.1"),
        ttl: 255,
        payload: &bytes,
    };
    assert_eq!(router.handle_packet(now, 1, rx), Ok(b));
    assert_eq!(router.get(b).unwrap().stats().adverts_rx, 1);
    assert_eq!(router.get(a).unwrap().stats().adverts_rx, 0);
    assert_eq!(router.get(multicast).unwrap().stats().adverts_rx, 0);
}

#[test]
fn ids_are_stable_and_never_reused() {
    let mut router = Router::new();
    let a = router.insert(1, unicast(51, "10.0.0.1", &[]));
    let b = router.insert(1, unicast(52, "10.0.0.1", &[]));
    assert!(router.remove(a).is_some());
    assert!(router.remove(a).is_none(), "removed once");
    let c = router.insert(1, unicast(51, "10.0.0.1", &[]));
    assert_ne!(c, a, "a new instance never takes an old id");
    assert!(router.get(a).is_none());
    assert_eq!(router.get(b).unwrap().config().vrid, 52);
    assert_eq!(router.ids().collect::<Vec<_>>(), [b, c]);
    let bytes = advert_from("10.0.0.2", "224.0.0.18", 51);
    assert_eq!(router.route(1, ip("10.0.0.2"), &bytes), Ok(c));
    assert!(router.remove(c).is_some());
    assert_eq!(
        router.route(1, ip("10.0.0.2"), &bytes),
        Err(RouteError::NoInstance {
            ifindex: 1,
            vrid: 51
        })
    );
    assert_eq!(
        router.route(1, ip("10.0.0.2"), &[3]),
        Err(RouteError::Truncated)
    );
}

/// Drains every action; the state changes, in order.
fn drain(router: &mut Router, now: Instant) -> Vec<(holdfast_vrrp::InstanceId, State)> {
    let mut out = Vec::new();
    while let Some((id, action)) = router.poll_action(now) {
        if let Action::StateChanged { to, .. } = action {
            out.push((id, to));
        }
    }
    out
}

fn master_alone(router: &mut Router, vrid: u8, now: Instant) -> holdfast_vrrp::InstanceId {
    let mut c = InstanceConfig::new(vrid, vec![ip("192.0.2.254")]);
    c.start_as_master = true;
    c.priority = 255;
    let id = router.insert(1, Instance::new(c, ip("10.0.0.1")));
    router.get_mut(id).unwrap().startup(now);
    id
}

#[test]
fn a_member_joining_a_master_group_follows_it_and_leaving_releases_the_fault() {
    let now = Instant::now();
    let mut router = Router::new();
    let a = master_alone(&mut router, 51, now);
    let group = router.add_group(vec![a]);
    assert_eq!(drain(&mut router, now), [(a, State::Master)]);
    // A backup (lower priority, not owner) joins: it follows into Master.
    let b = router.insert(1, unicast(52, "10.0.0.1", &[]));
    router.get_mut(b).unwrap().startup(now);
    assert_eq!(drain(&mut router, now), [(b, State::Backup)]);
    router.set_group_members(now, group, vec![a, b]);
    assert_eq!(drain(&mut router, now), [(b, State::Master)]);
    assert_eq!(router.group_members(group), [a, b]);

    // A member with a fault of its own joining puts the others in Fault.
    let c = router.insert(1, unicast(53, "10.0.0.1", &[]));
    router.get_mut(c).unwrap().startup(now);
    router.get_mut(c).unwrap().interface_down(now);
    drain(&mut router, now);
    router.set_group_members(now, group, vec![a, b, c]);
    let changes = drain(&mut router, now);
    assert!(changes.contains(&(a, State::Fault)), "{changes:?}");
    assert!(changes.contains(&(b, State::Fault)), "{changes:?}");
    // It leaves: the group's fault is lifted from the others.
    router.set_group_members(now, group, vec![a, b]);
    let changes = drain(&mut router, now);
    assert!(
        changes.iter().any(|(id, s)| *id == a && *s != State::Fault),
        "{changes:?}"
    );
    assert!(
        router.get(b).unwrap().state() != State::Fault,
        "{changes:?}"
    );
    // Removing the group leaves its members running.
    router.remove_group(now, group);
    assert!(router.group_members(group).is_empty());
    assert!(router.get(a).is_some());
}
