//! The configuration in IPVS terms: services, destinations and the
//! membership rules of each virtual server.

use holdfast_config::{
    Family, Forwarding, Protocol as CfgProtocol, RealServerCfg, TunnelType, VirtualServerCfg,
    VirtualServerKey,
};
use holdfast_ipvs::reconcile::MembershipRules;
use holdfast_ipvs::{Dest, Forward, Protocol, Service, ServiceKey, Tunnel, svc_flags};

/// The IPVS identity of a virtual server.
pub(crate) fn service_key(key: &VirtualServerKey) -> ServiceKey {
    match *key {
        VirtualServerKey::Addr { addr, protocol } => ServiceKey::Addr {
            protocol: match protocol {
                CfgProtocol::Tcp => Protocol::Tcp,
                CfgProtocol::Udp => Protocol::Udp,
                CfgProtocol::Sctp => Protocol::Sctp,
            },
            addr: addr.ip(),
            port: addr.port(),
        },
        VirtualServerKey::Fwmark { mark, family } => ServiceKey::Fwmark {
            mark,
            ipv6: family == Family::V6,
        },
    }
}

/// The service settings of a virtual server.
pub(crate) fn service(vs: &VirtualServerCfg) -> Service {
    let key = service_key(&vs.key);
    let mut s = Service::new(key, &vs.scheduler);
    for flag in &vs.scheduler_flags {
        s.flags |= match flag.as_str() {
            // sh and mh share the scheduler flag bits (SCHED1, SCHED2).
            "sh-fallback" | "mh-fallback" => svc_flags::SH_FALLBACK,
            "sh-port" | "mh-port" => svc_flags::SH_PORT,
            _ => 0,
        };
    }
    if vs.one_packet {
        s.flags |= svc_flags::ONEPACKET;
    }
    if let Some(t) = vs.persistence_timeout {
        s.flags |= svc_flags::PERSISTENT;
        s.timeout = t.as_secs().max(1) as u32;
    }
    if let Some(bits) = vs.persistence_granularity {
        s.netmask = if key.is_ipv6() {
            u32::from(bits)
        } else {
            // An IPv4 mask in network byte order, as the kernel keeps it.
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from_ne_bytes(mask.to_be_bytes())
        };
    }
    s
}

fn forward(f: Forwarding) -> Forward {
    match f {
        Forwarding::Nat => Forward::Nat,
        Forwarding::Dr => Forward::DirectRoute,
        Forwarding::Tunnel(TunnelType::Ipip) => Forward::Tunnel(Tunnel::Ipip),
        Forwarding::Tunnel(TunnelType::Gue { port }) => {
            Forward::Tunnel(Tunnel::Gue { port, flags: 0 })
        }
        Forwarding::Tunnel(TunnelType::Gre) => Forward::Tunnel(Tunnel::Gre { flags: 0 }),
    }
}

/// A real server as configured (weight = its configured weight).
pub(crate) fn dest(vs: &VirtualServerCfg, rs: &RealServerCfg) -> Dest {
    Dest {
        addr: rs.addr.ip(),
        port: rs.addr.port(),
        forward: forward(rs.forwarding.unwrap_or(vs.forwarding)),
        weight: rs.weight,
        upper_threshold: rs.upper_threshold,
        lower_threshold: rs.lower_threshold,
    }
}

/// Quorum, sorry server, inhibit.
pub(crate) fn rules(vs: &VirtualServerCfg) -> MembershipRules {
    MembershipRules {
        inhibit_on_failure: vs.inhibit_on_failure,
        quorum: vs.quorum,
        hysteresis: vs.hysteresis,
        sorry: vs.sorry_server.map(|a| Dest {
            weight: 1,
            forward: forward(vs.forwarding),
            ..Dest::new(a.ip(), a.port())
        }),
    }
}
