//! The IPVS netlink attributes: encode and decode only, byte-exact with
//! what the kernel sends (its dumps carry nested attributes without
//! `NLA_F_NESTED`, addresses as 16 bytes, ports in network order). Unknown
//! attributes are kept as they came and emitted again unchanged.

use netlink_packet_core::{
    DecodeError, DefaultNla, Emitable, Nla, NlaBuffer, NlasIterator, Parseable, emit_u16,
    emit_u16_be, emit_u32, parse_string, parse_u8, parse_u16, parse_u16_be, parse_u32,
};

use crate::constants::*;

fn addr16(payload: &[u8]) -> Result<[u8; 16], DecodeError> {
    // The kernel sends 16 bytes (union nf_inet_addr); accept a bare IPv4 too.
    let mut out = [0u8; 16];
    match payload.len() {
        16 => out.copy_from_slice(payload),
        4 => out[..4].copy_from_slice(payload),
        n => return Err(DecodeError::from(format!("address of {n} bytes"))),
    }
    Ok(out)
}

fn string_len(s: &str) -> usize {
    s.len() + 1 // NUL-terminated, as nla_put_string
}

fn emit_string(buf: &mut [u8], s: &str) {
    buf[..s.len()].copy_from_slice(s.as_bytes());
    buf[s.len()] = 0;
}

fn nested<'a, T>(payload: &'a [u8]) -> Result<Vec<T>, DecodeError>
where
    T: Parseable<NlaBuffer<&'a [u8]>>,
{
    NlasIterator::new(payload)
        .map(|nla| nla.and_then(|b| T::parse(&b)))
        .collect()
}

fn nested_len<T: Nla>(attrs: &[T]) -> usize {
    attrs.buffer_len()
}

/// A nested statistics attribute (`IPVS_*_ATTR_STATS` / `STATS64`), kept as
/// its raw bytes: a dump of 10,000 destinations carries 200,000 counters
/// that the reconciler never reads, so they are decoded only on demand
/// ([`crate::Stats::from_raw`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RawStats(pub Vec<u8>);

impl RawStats {
    /// The counters as attributes.
    pub fn attrs(&self) -> Result<Vec<DefaultNla>, DecodeError> {
        nested(&self.0)
    }
}

/// An attribute of `IPVS_CMD_ATTR_SERVICE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceAttr {
    /// `AF_INET` / `AF_INET6`.
    Af(u16),
    /// `IPPROTO_TCP` / `UDP` / `SCTP`.
    Protocol(u16),
    /// The virtual address (16 bytes; IPv4 in the first 4).
    Addr([u8; 16]),
    /// The virtual port (host order here, network order on the wire).
    Port(u16),
    /// A firewall mark.
    Fwmark(u32),
    /// The scheduler (`rr`, `wrr`, ...).
    Scheduler(String),
    /// `struct ip_vs_flags { flags, mask }`.
    Flags {
        /// Flag bits ([`crate::svc_flags`]).
        flags: u32,
        /// Which bits to change.
        mask: u32,
    },
    /// Persistence timeout (s).
    Timeout(u32),
    /// Persistence netmask (IPv4: a mask, network order bits; IPv6: a prefix length).
    Netmask(u32),
    /// 32-bit statistics.
    Stats(RawStats),
    /// Persistence engine (`sip`).
    PeName(String),
    /// 64-bit statistics.
    Stats64(RawStats),
    /// Anything else, kept for a byte-exact round trip.
    Other(DefaultNla),
}

impl Nla for ServiceAttr {
    fn value_len(&self) -> usize {
        match self {
            Self::Af(_) | Self::Protocol(_) | Self::Port(_) => 2,
            Self::Addr(_) => 16,
            Self::Fwmark(_) | Self::Timeout(_) | Self::Netmask(_) => 4,
            Self::Scheduler(s) | Self::PeName(s) => string_len(s),
            Self::Flags { .. } => 8,
            Self::Stats(a) | Self::Stats64(a) => a.0.len(),
            Self::Other(o) => o.value_len(),
        }
    }

    fn kind(&self) -> u16 {
        match self {
            Self::Af(_) => SVC_ATTR_AF,
            Self::Protocol(_) => SVC_ATTR_PROTOCOL,
            Self::Addr(_) => SVC_ATTR_ADDR,
            Self::Port(_) => SVC_ATTR_PORT,
            Self::Fwmark(_) => SVC_ATTR_FWMARK,
            Self::Scheduler(_) => SVC_ATTR_SCHED_NAME,
            Self::Flags { .. } => SVC_ATTR_FLAGS,
            Self::Timeout(_) => SVC_ATTR_TIMEOUT,
            Self::Netmask(_) => SVC_ATTR_NETMASK,
            Self::Stats(_) => SVC_ATTR_STATS,
            Self::PeName(_) => SVC_ATTR_PE_NAME,
            Self::Stats64(_) => SVC_ATTR_STATS64,
            Self::Other(o) => o.kind(),
        }
    }

    fn emit_value(&self, buf: &mut [u8]) {
        match self {
            Self::Af(v) | Self::Protocol(v) => emit_u16(buf, *v).expect("2 bytes"),
            Self::Port(v) => emit_u16_be(buf, *v).expect("2 bytes"),
            Self::Addr(a) => buf.copy_from_slice(a),
            Self::Fwmark(v) | Self::Timeout(v) | Self::Netmask(v) => {
                emit_u32(buf, *v).expect("4 bytes")
            }
            Self::Scheduler(s) | Self::PeName(s) => emit_string(buf, s),
            Self::Flags { flags, mask } => {
                emit_u32(&mut buf[..4], *flags).expect("4 bytes");
                emit_u32(&mut buf[4..8], *mask).expect("4 bytes");
            }
            Self::Stats(a) | Self::Stats64(a) => buf.copy_from_slice(&a.0),
            Self::Other(o) => o.emit_value(buf),
        }
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Parseable<NlaBuffer<&'a T>> for ServiceAttr {
    fn parse(buf: &NlaBuffer<&'a T>) -> Result<Self, DecodeError> {
        let v = buf.value();
        Ok(match buf.kind() {
            SVC_ATTR_AF => Self::Af(parse_u16(v)?),
            SVC_ATTR_PROTOCOL => Self::Protocol(parse_u16(v)?),
            SVC_ATTR_ADDR => Self::Addr(addr16(v)?),
            SVC_ATTR_PORT => Self::Port(parse_u16_be(v)?),
            SVC_ATTR_FWMARK => Self::Fwmark(parse_u32(v)?),
            SVC_ATTR_SCHED_NAME => Self::Scheduler(parse_string(v)?),
            SVC_ATTR_FLAGS if v.len() == 8 => Self::Flags {
                flags: parse_u32(&v[..4])?,
                mask: parse_u32(&v[4..])?,
            },
            SVC_ATTR_TIMEOUT => Self::Timeout(parse_u32(v)?),
            SVC_ATTR_NETMASK => Self::Netmask(parse_u32(v)?),
            SVC_ATTR_STATS => Self::Stats(RawStats(v.to_vec())),
            SVC_ATTR_PE_NAME => Self::PeName(parse_string(v)?),
            SVC_ATTR_STATS64 => Self::Stats64(RawStats(v.to_vec())),
            _ => Self::Other(DefaultNla::parse(buf)?),
        })
    }
}

/// An attribute of `IPVS_CMD_ATTR_DEST`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DestAttr {
    /// Real server address (16 bytes).
    Addr([u8; 16]),
    /// Real server port (host order here).
    Port(u16),
    /// `IP_VS_CONN_F_*` forwarding method.
    FwdMethod(u32),
    /// Weight.
    Weight(u32),
    /// Upper connection threshold.
    UpperThreshold(u32),
    /// Lower connection threshold.
    LowerThreshold(u32),
    /// Active connections (read-only).
    ActiveConns(u32),
    /// Inactive connections (read-only).
    InactiveConns(u32),
    /// Persistent connections (read-only).
    PersistConns(u32),
    /// 32-bit statistics.
    Stats(RawStats),
    /// Address family of the address (mixed-family services).
    AddrFamily(u16),
    /// 64-bit statistics.
    Stats64(RawStats),
    /// Tunnel type (`ipip`, `gue`, `gre`).
    TunType(u8),
    /// Tunnel (GUE) port, host order here.
    TunPort(u16),
    /// Tunnel flags ([`crate::tun_flags`]).
    TunFlags(u16),
    /// Anything else, kept for a byte-exact round trip.
    Other(DefaultNla),
}

impl Nla for DestAttr {
    fn value_len(&self) -> usize {
        match self {
            Self::Addr(_) => 16,
            Self::Port(_) | Self::AddrFamily(_) | Self::TunPort(_) | Self::TunFlags(_) => 2,
            Self::TunType(_) => 1,
            Self::FwdMethod(_)
            | Self::Weight(_)
            | Self::UpperThreshold(_)
            | Self::LowerThreshold(_)
            | Self::ActiveConns(_)
            | Self::InactiveConns(_)
            | Self::PersistConns(_) => 4,
            Self::Stats(a) | Self::Stats64(a) => a.0.len(),
            Self::Other(o) => o.value_len(),
        }
    }

    fn kind(&self) -> u16 {
        match self {
            Self::Addr(_) => DEST_ATTR_ADDR,
            Self::Port(_) => DEST_ATTR_PORT,
            Self::FwdMethod(_) => DEST_ATTR_FWD_METHOD,
            Self::Weight(_) => DEST_ATTR_WEIGHT,
            Self::UpperThreshold(_) => DEST_ATTR_U_THRESH,
            Self::LowerThreshold(_) => DEST_ATTR_L_THRESH,
            Self::ActiveConns(_) => DEST_ATTR_ACTIVE_CONNS,
            Self::InactiveConns(_) => DEST_ATTR_INACT_CONNS,
            Self::PersistConns(_) => DEST_ATTR_PERSIST_CONNS,
            Self::Stats(_) => DEST_ATTR_STATS,
            Self::AddrFamily(_) => DEST_ATTR_ADDR_FAMILY,
            Self::Stats64(_) => DEST_ATTR_STATS64,
            Self::TunType(_) => DEST_ATTR_TUN_TYPE,
            Self::TunPort(_) => DEST_ATTR_TUN_PORT,
            Self::TunFlags(_) => DEST_ATTR_TUN_FLAGS,
            Self::Other(o) => o.kind(),
        }
    }

    fn emit_value(&self, buf: &mut [u8]) {
        match self {
            Self::Addr(a) => buf.copy_from_slice(a),
            Self::Port(v) | Self::TunPort(v) => emit_u16_be(buf, *v).expect("2 bytes"),
            Self::AddrFamily(v) | Self::TunFlags(v) => emit_u16(buf, *v).expect("2 bytes"),
            Self::TunType(v) => buf[0] = *v,
            Self::FwdMethod(v)
            | Self::Weight(v)
            | Self::UpperThreshold(v)
            | Self::LowerThreshold(v)
            | Self::ActiveConns(v)
            | Self::InactiveConns(v)
            | Self::PersistConns(v) => emit_u32(buf, *v).expect("4 bytes"),
            Self::Stats(a) | Self::Stats64(a) => buf.copy_from_slice(&a.0),
            Self::Other(o) => o.emit_value(buf),
        }
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Parseable<NlaBuffer<&'a T>> for DestAttr {
    fn parse(buf: &NlaBuffer<&'a T>) -> Result<Self, DecodeError> {
        let v = buf.value();
        Ok(match buf.kind() {
            DEST_ATTR_ADDR => Self::Addr(addr16(v)?),
            DEST_ATTR_PORT => Self::Port(parse_u16_be(v)?),
            DEST_ATTR_FWD_METHOD => Self::FwdMethod(parse_u32(v)?),
            DEST_ATTR_WEIGHT => Self::Weight(parse_u32(v)?),
            DEST_ATTR_U_THRESH => Self::UpperThreshold(parse_u32(v)?),
            DEST_ATTR_L_THRESH => Self::LowerThreshold(parse_u32(v)?),
            DEST_ATTR_ACTIVE_CONNS => Self::ActiveConns(parse_u32(v)?),
            DEST_ATTR_INACT_CONNS => Self::InactiveConns(parse_u32(v)?),
            DEST_ATTR_PERSIST_CONNS => Self::PersistConns(parse_u32(v)?),
            DEST_ATTR_STATS => Self::Stats(RawStats(v.to_vec())),
            DEST_ATTR_ADDR_FAMILY => Self::AddrFamily(parse_u16(v)?),
            DEST_ATTR_STATS64 => Self::Stats64(RawStats(v.to_vec())),
            DEST_ATTR_TUN_TYPE => Self::TunType(parse_u8(v)?),
            DEST_ATTR_TUN_PORT => Self::TunPort(parse_u16_be(v)?),
            DEST_ATTR_TUN_FLAGS => Self::TunFlags(parse_u16(v)?),
            _ => Self::Other(DefaultNla::parse(buf)?),
        })
    }
}

/// A top-level attribute of an IPVS message. Its meaning depends on the
/// command: `GET_INFO` replies reuse numbers 1 and 2 for the info
/// attributes, so parsing takes the command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IpvsAttr {
    /// `IPVS_CMD_ATTR_SERVICE`.
    Service(Vec<ServiceAttr>),
    /// `IPVS_CMD_ATTR_DEST`.
    Dest(Vec<DestAttr>),
    /// TCP established timeout (s).
    TimeoutTcp(u32),
    /// TCP FIN_WAIT timeout (s).
    TimeoutTcpFin(u32),
    /// UDP timeout (s).
    TimeoutUdp(u32),
    /// `IPVS_INFO_ATTR_VERSION` (GET_INFO replies).
    InfoVersion(u32),
    /// `IPVS_INFO_ATTR_CONN_TAB_SIZE` (GET_INFO replies).
    InfoConnTabSize(u32),
    /// Anything else.
    Other(DefaultNla),
}

impl Nla for IpvsAttr {
    fn value_len(&self) -> usize {
        match self {
            Self::Service(a) => nested_len(a),
            Self::Dest(a) => nested_len(a),
            Self::Other(o) => o.value_len(),
            _ => 4,
        }
    }

    fn kind(&self) -> u16 {
        match self {
            Self::Service(_) => CMD_ATTR_SERVICE,
            Self::Dest(_) => CMD_ATTR_DEST,
            Self::TimeoutTcp(_) => CMD_ATTR_TIMEOUT_TCP,
            Self::TimeoutTcpFin(_) => CMD_ATTR_TIMEOUT_TCP_FIN,
            Self::TimeoutUdp(_) => CMD_ATTR_TIMEOUT_UDP,
            Self::InfoVersion(_) => INFO_ATTR_VERSION,
            Self::InfoConnTabSize(_) => INFO_ATTR_CONN_TAB_SIZE,
            Self::Other(o) => o.kind(),
        }
    }

    fn emit_value(&self, buf: &mut [u8]) {
        match self {
            Self::Service(a) => a.as_slice().emit(buf),
            Self::Dest(a) => a.as_slice().emit(buf),
            Self::TimeoutTcp(v)
            | Self::TimeoutTcpFin(v)
            | Self::TimeoutUdp(v)
            | Self::InfoVersion(v)
            | Self::InfoConnTabSize(v) => emit_u32(buf, *v).expect("4 bytes"),
            Self::Other(o) => o.emit_value(buf),
        }
    }
}

impl IpvsAttr {
    /// Parses one top-level attribute of a message with command `cmd`.
    pub fn parse_for(cmd: u8, buf: &NlaBuffer<&[u8]>) -> Result<Self, DecodeError> {
        let v = buf.value();
        Ok(match (cmd, buf.kind()) {
            // The kernel answers GET_INFO with SET_INFO.
            (CMD_SET_INFO | CMD_GET_INFO, INFO_ATTR_VERSION) => Self::InfoVersion(parse_u32(v)?),
            (CMD_SET_INFO | CMD_GET_INFO, INFO_ATTR_CONN_TAB_SIZE) => {
                Self::InfoConnTabSize(parse_u32(v)?)
            }
            (_, CMD_ATTR_SERVICE) => Self::Service(nested(v)?),
            (_, CMD_ATTR_DEST) => Self::Dest(nested(v)?),
            (_, CMD_ATTR_TIMEOUT_TCP) => Self::TimeoutTcp(parse_u32(v)?),
            (_, CMD_ATTR_TIMEOUT_TCP_FIN) => Self::TimeoutTcpFin(parse_u32(v)?),
            (_, CMD_ATTR_TIMEOUT_UDP) => Self::TimeoutUdp(parse_u32(v)?),
            _ => Self::Other(DefaultNla::parse(buf)?),
        })
    }
}
