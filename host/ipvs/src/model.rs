//! Typed IPVS objects (what the reconciler and the daemon use), converted
//! to and from the attribute lists the kernel speaks.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use netlink_packet_core::{Nla, parse_u32, parse_u64};

use crate::attr::{DestAttr, RawStats, ServiceAttr};
use crate::constants::*;

const AF_INET: u16 = 2;
const AF_INET6: u16 = 10;

/// A transport protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// TCP (6).
    Tcp,
    /// UDP (17).
    Udp,
    /// SCTP (132).
    Sctp,
}

impl Protocol {
    fn number(self) -> u16 {
        match self {
            Self::Tcp => 6,
            Self::Udp => 17,
            Self::Sctp => 132,
        }
    }

    fn from_number(n: u16) -> Option<Self> {
        Some(match n {
            6 => Self::Tcp,
            17 => Self::Udp,
            132 => Self::Sctp,
            _ => return None,
        })
    }
}

/// What identifies a virtual service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServiceKey {
    /// `protocol address:port`.
    Addr {
        /// Protocol.
        protocol: Protocol,
        /// Virtual address.
        addr: IpAddr,
        /// Virtual port.
        port: u16,
    },
    /// A firewall mark, for one address family.
    Fwmark {
        /// The mark.
        mark: u32,
        /// IPv6 (else IPv4).
        ipv6: bool,
    },
}

impl fmt::Display for ServiceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Addr {
                protocol,
                addr,
                port,
            } => write!(
                f,
                "{:?} {}",
                protocol,
                std::net::SocketAddr::new(*addr, *port)
            ),
            Self::Fwmark { mark, ipv6 } => {
                write!(f, "fwmark {mark}{}", if *ipv6 { " (IPv6)" } else { "" })
            }
        }
    }
}

fn addr_bytes(a: IpAddr) -> [u8; 16] {
    let mut out = [0u8; 16];
    match a {
        IpAddr::V4(v4) => out[..4].copy_from_slice(&v4.octets()),
        IpAddr::V6(v6) => out = v6.octets(),
    }
    out
}

fn addr_from(af: u16, b: [u8; 16]) -> IpAddr {
    if af == AF_INET6 {
        IpAddr::V6(Ipv6Addr::from(b))
    } else {
        IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
    }
}

impl ServiceKey {
    /// IPv6?
    pub fn is_ipv6(&self) -> bool {
        match self {
            Self::Addr { addr, .. } => addr.is_ipv6(),
            Self::Fwmark { ipv6, .. } => *ipv6,
        }
    }

    fn af(&self) -> u16 {
        if self.is_ipv6() { AF_INET6 } else { AF_INET }
    }

    /// The attributes that name this service (for GET/DEL and dest commands).
    pub fn attrs(&self) -> Vec<ServiceAttr> {
        match *self {
            Self::Addr {
                protocol,
                addr,
                port,
            } => vec![
                ServiceAttr::Af(self.af()),
                ServiceAttr::Protocol(protocol.number()),
                ServiceAttr::Addr(addr_bytes(addr)),
                ServiceAttr::Port(port),
            ],
            Self::Fwmark { mark, .. } => {
                vec![ServiceAttr::Af(self.af()), ServiceAttr::Fwmark(mark)]
            }
        }
    }
}

/// A virtual service's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// Identity.
    pub key: ServiceKey,
    /// Scheduler name.
    pub scheduler: String,
    /// `IP_VS_SVC_F_*` flags (without the kernel's HASHED bit).
    pub flags: u32,
    /// Persistence timeout, seconds (0 without persistence).
    pub timeout: u32,
    /// Persistence netmask: an IPv4 mask (`0xffffffff` = /32) or an IPv6 prefix length.
    pub netmask: u32,
    /// Persistence engine.
    pub pe_name: Option<String>,
}

impl Service {
    /// A service with a scheduler and no persistence.
    pub fn new(key: ServiceKey, scheduler: &str) -> Self {
        Self {
            key,
            scheduler: scheduler.to_string(),
            flags: 0,
            timeout: 0,
            netmask: if key.is_ipv6() { 128 } else { u32::MAX },
            pe_name: None,
        }
    }

    /// Full attributes for NEW/SET_SERVICE.
    pub fn attrs(&self) -> Vec<ServiceAttr> {
        let mut a = self.key.attrs();
        a.push(ServiceAttr::Scheduler(self.scheduler.clone()));
        if let Some(pe) = &self.pe_name {
            a.push(ServiceAttr::PeName(pe.clone()));
        }
        a.push(ServiceAttr::Flags {
            flags: self.flags,
            mask: u32::MAX,
        });
        a.push(ServiceAttr::Timeout(self.timeout));
        a.push(ServiceAttr::Netmask(self.netmask));
        a
    }

    /// Reads a service from a dump.
    pub fn from_attrs(attrs: &[ServiceAttr]) -> Option<(Self, Stats)> {
        let (mut af, mut proto, mut addr, mut port, mut mark) = (None, None, None, None, None);
        let mut s = Service {
            key: ServiceKey::Fwmark {
                mark: 0,
                ipv6: false,
            },
            scheduler: String::new(),
            flags: 0,
            timeout: 0,
            netmask: 0,
            pe_name: None,
        };
        let mut stats = Stats::default();
        for a in attrs {
            match a {
                ServiceAttr::Af(v) => af = Some(*v),
                ServiceAttr::Protocol(v) => proto = Some(*v),
                ServiceAttr::Addr(v) => addr = Some(*v),
                ServiceAttr::Port(v) => port = Some(*v),
                ServiceAttr::Fwmark(v) => mark = Some(*v),
                ServiceAttr::Scheduler(v) => s.scheduler = v.clone(),
                ServiceAttr::Flags { flags, .. } => s.flags = flags & !svc_flags::HASHED,
                ServiceAttr::Timeout(v) => s.timeout = *v,
                ServiceAttr::Netmask(v) => s.netmask = *v,
                ServiceAttr::PeName(v) => s.pe_name = Some(v.clone()),
                ServiceAttr::Stats64(v) => stats = Stats::from_raw(v),
                ServiceAttr::Stats(_) | ServiceAttr::Other(_) => {}
            }
        }
        let af = af?;
        s.key = match mark {
            Some(m) if m != 0 => ServiceKey::Fwmark {
                mark: m,
                ipv6: af == AF_INET6,
            },
            _ => ServiceKey::Addr {
                protocol: Protocol::from_number(proto?)?,
                addr: addr_from(af, addr?),
                port: port?,
            },
        };
        Some((s, stats))
    }
}

/// How IPVS forwards to a real server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Forward {
    /// NAT (masquerading).
    Nat,
    /// Direct routing.
    DirectRoute,
    /// IP-in-IP, GUE or GRE tunnelling.
    Tunnel(Tunnel),
    /// Local node.
    Local,
    /// Bypass.
    Bypass,
}

/// Tunnel encapsulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Tunnel {
    /// IP-in-IP.
    #[default]
    Ipip,
    /// GUE, to a UDP port, with [`crate::tun_flags`].
    Gue {
        /// UDP port.
        port: u16,
        /// Checksum flags.
        flags: u16,
    },
    /// GRE with [`crate::tun_flags`].
    Gre {
        /// Checksum flags.
        flags: u16,
    },
}

/// A real server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dest {
    /// Address.
    pub addr: IpAddr,
    /// Port.
    pub port: u16,
    /// Forwarding method.
    pub forward: Forward,
    /// Weight (0 = no new connections).
    pub weight: u32,
    /// Upper connection threshold (0 = none).
    pub upper_threshold: u32,
    /// Lower connection threshold.
    pub lower_threshold: u32,
}

/// Connection counts of a real server (read-only, from dumps).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DestConns {
    /// Active.
    pub active: u32,
    /// Inactive.
    pub inactive: u32,
    /// Persistent.
    pub persistent: u32,
}

impl Dest {
    /// A NAT real server with weight 1.
    pub fn new(addr: IpAddr, port: u16) -> Self {
        Self {
            addr,
            port,
            forward: Forward::Nat,
            weight: 1,
            upper_threshold: 0,
            lower_threshold: 0,
        }
    }

    /// The attributes that name it (DEL_DEST).
    pub fn key_attrs(&self) -> Vec<DestAttr> {
        vec![
            DestAttr::AddrFamily(if self.addr.is_ipv6() {
                AF_INET6
            } else {
                AF_INET
            }),
            DestAttr::Addr(addr_bytes(self.addr)),
            DestAttr::Port(self.port),
        ]
    }

    /// Full attributes for NEW/SET_DEST.
    pub fn attrs(&self) -> Vec<DestAttr> {
        let mut a = self.key_attrs();
        let (method, tunnel) = match self.forward {
            Forward::Nat => (FWD_MASQ, None),
            Forward::Local => (FWD_LOCALNODE, None),
            Forward::DirectRoute => (FWD_DROUTE, None),
            Forward::Bypass => (FWD_BYPASS, None),
            Forward::Tunnel(t) => (FWD_TUNNEL, Some(t)),
        };
        a.push(DestAttr::FwdMethod(method));
        a.push(DestAttr::Weight(self.weight));
        if let Some(t) = tunnel {
            let (ty, port, flags) = match t {
                Tunnel::Ipip => (TUN_IPIP, 0, 0),
                Tunnel::Gue { port, flags } => (TUN_GUE, port, flags),
                Tunnel::Gre { flags } => (TUN_GRE, 0, flags),
            };
            a.push(DestAttr::TunType(ty));
            a.push(DestAttr::TunPort(port));
            a.push(DestAttr::TunFlags(flags));
        }
        a.push(DestAttr::UpperThreshold(self.upper_threshold));
        a.push(DestAttr::LowerThreshold(self.lower_threshold));
        a
    }

    /// Reads a real server from a dump.
    pub fn from_attrs(attrs: &[DestAttr]) -> Option<(Self, DestConns)> {
        let (mut af, mut addr, mut port, mut method) = (AF_INET, None, None, FWD_MASQ);
        let (mut tun_type, mut tun_port, mut tun_flags) = (TUN_IPIP, 0, 0);
        let mut d = Dest::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);
        let mut conns = DestConns::default();
        for a in attrs {
            match a {
                DestAttr::AddrFamily(v) => af = *v,
                DestAttr::Addr(v) => addr = Some(*v),
                DestAttr::Port(v) => port = Some(*v),
                DestAttr::FwdMethod(v) => method = v & 7,
                DestAttr::Weight(v) => d.weight = *v,
                DestAttr::UpperThreshold(v) => d.upper_threshold = *v,
                DestAttr::LowerThreshold(v) => d.lower_threshold = *v,
                DestAttr::ActiveConns(v) => conns.active = *v,
                DestAttr::InactiveConns(v) => conns.inactive = *v,
                DestAttr::PersistConns(v) => conns.persistent = *v,
                DestAttr::TunType(v) => tun_type = *v,
                DestAttr::TunPort(v) => tun_port = *v,
                DestAttr::TunFlags(v) => tun_flags = *v,
                DestAttr::Stats(_) | DestAttr::Stats64(_) | DestAttr::Other(_) => {}
            }
        }
        d.addr = addr_from(af, addr?);
        d.port = port?;
        d.forward = match method {
            FWD_MASQ => Forward::Nat,
            FWD_LOCALNODE => Forward::Local,
            FWD_DROUTE => Forward::DirectRoute,
            FWD_BYPASS => Forward::Bypass,
            _ => Forward::Tunnel(match tun_type {
                TUN_GUE => Tunnel::Gue {
                    port: tun_port,
                    flags: tun_flags,
                },
                TUN_GRE => Tunnel::Gre { flags: tun_flags },
                _ => Tunnel::Ipip,
            }),
        };
        Some((d, conns))
    }
}

/// Traffic counters (from the 64-bit statistics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Connections scheduled.
    pub conns: u64,
    /// Packets in.
    pub in_packets: u64,
    /// Packets out.
    pub out_packets: u64,
    /// Bytes in.
    pub in_bytes: u64,
    /// Bytes out.
    pub out_bytes: u64,
}

impl Stats {
    /// Reads `IPVS_STATS_ATTR_*` (u32 or u64 values).
    pub fn from_raw(raw: &RawStats) -> Self {
        let mut s = Self::default();
        for a in raw.attrs().unwrap_or_default() {
            let mut v = vec![0u8; a.value_len()];
            a.emit_value(&mut v);
            let n = match v.len() {
                8 => parse_u64(&v).unwrap_or(0),
                4 => u64::from(parse_u32(&v).unwrap_or(0)),
                _ => continue,
            };
            match a.kind() {
                1 => s.conns = n,
                2 => s.in_packets = n,
                3 => s.out_packets = n,
                4 => s.in_bytes = n,
                5 => s.out_bytes = n,
                _ => {}
            }
        }
        s
    }
}
