//! VRRP advertisement wire format: RFC 5798 §5 (v3) and RFC 3768 §5 (v2).
//!
//! ```text
//! RFC 5798 §5.1 (VRRPv3)                  RFC 3768 §5.1 (VRRPv2)
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Version| Type  | Virtual Rtr ID|   Priority    |Count IPvX Addr|
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |(rsvd) |     Max Adver Int     |          Checksum             |   v3
//! |   Auth Type   |   Adver Int   |          Checksum             |   v2
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                       IPvX Address(es)                        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                  Authentication Data (v2 only, 8 bytes)       |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

use crate::error::DecodeError;

/// IP protocol number of VRRP (RFC 5798 §5.2.4).
pub const IPPROTO_VRRP: u8 = 112;
/// IPv4 multicast group for VRRP (RFC 5798 §5.1.1.2).
pub const MULTICAST_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// IPv6 multicast group for VRRP (RFC 5798 §5.1.2.2).
pub const MULTICAST_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
/// TTL / hop limit of every VRRP packet (RFC 5798 §5.1.1.3).
pub const VRRP_TTL: u8 = 255;
/// Fixed header length.
pub const HEADER_LEN: usize = 8;
/// VRRPv2 authentication data length.
pub const AUTH_LEN: usize = 8;
/// The one packet type, ADVERTISEMENT (RFC 5798 §5.2.2).
pub const TYPE_ADVERTISEMENT: u8 = 1;

/// VRRP protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Version {
    /// RFC 3768.
    V2,
    /// RFC 5798.
    V3,
}

impl Version {
    /// The version field's value.
    pub fn number(self) -> u8 {
        match self {
            Self::V2 => 2,
            Self::V3 => 3,
        }
    }
}

/// VRRPv2 authentication (RFC 3768 §5.3.6). VRRPv3 has none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Auth {
    /// Type 0; the 8 data bytes as received (normally zero).
    None([u8; AUTH_LEN]),
    /// Type 1, simple text password, zero-padded to 8 bytes.
    Pass([u8; AUTH_LEN]),
}

impl Auth {
    /// Type 0 with zero data, as senders fill it.
    pub const NONE: Self = Self::None([0; AUTH_LEN]);

    /// Type 1 from a password of at most 8 bytes (longer ones are cut, as keepalived does).
    pub fn pass(password: &str) -> Self {
        let mut data = [0; AUTH_LEN];
        let bytes = password.as_bytes();
        let n = bytes.len().min(AUTH_LEN);
        data[..n].copy_from_slice(&bytes[..n]);
        Self::Pass(data)
    }

    /// The Auth Type field.
    pub fn kind(&self) -> u8 {
        match self {
            Self::None(_) => 0,
            Self::Pass(_) => 1,
        }
    }

    fn data(&self) -> &[u8; AUTH_LEN] {
        match self {
            Self::None(d) | Self::Pass(d) => d,
        }
    }
}

/// How the VRRPv3 checksum of an IPv4 packet was (or is to be) computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ChecksumForm {
    /// As the RFC of the version says: v3 over the pseudo-header and the
    /// message (RFC 5798 §5.2.8), v2 over the message (RFC 3768 §5.3.8).
    Standard,
    /// VRRPv3 over IPv4 without the pseudo-header, as v2 computes it
    /// (keepalived's `v3_checksum_as_v2`, RFC 9568 §5.2.8's discussion).
    NoPseudoHeader,
}

/// A decoded VRRP advertisement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Advertisement {
    /// Protocol version.
    pub version: Version,
    /// Virtual Router ID.
    pub vrid: u8,
    /// Sender's priority; 0 = the master is stopping.
    pub priority: u8,
    /// v3: Max Adver Int in centiseconds (12 bits). v2: Adver Int in seconds.
    pub interval: u16,
    /// v2 authentication; `None` for v3.
    pub auth: Option<Auth>,
    /// The virtual addresses, all of one family.
    pub addresses: Vec<IpAddr>,
}

impl Advertisement {
    /// The advertisement interval in centiseconds, whichever the version.
    pub fn interval_cs(&self) -> u32 {
        match self.version {
            Version::V2 => u32::from(self.interval) * 100,
            Version::V3 => u32::from(self.interval),
        }
    }

    fn address_len(&self) -> usize {
        match self.addresses.first() {
            Some(IpAddr::V6(_)) => 16,
            _ => 4,
        }
    }

    /// Length of the encoded VRRP message.
    pub fn len(&self) -> usize {
        let auth = if self.version == Version::V2 {
            AUTH_LEN
        } else {
            0
        };
        HEADER_LEN + self.addresses.len() * self.address_len() + auth
    }

    /// Never true: a VRRP message always has its header.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Encodes the message. The checksum is computed for the IP source and
    /// destination given (they only matter for v3 with `PseudoHeader`).
    pub fn encode(&self, src: IpAddr, dst: IpAddr, form: ChecksumForm) -> Vec<u8> {
        let mut buf = Vec::with_capacity(self.len());
        self.encode_into(&mut buf, src, dst, form);
        buf
    }

    /// Encodes into `buf` (cleared first), so a sender can reuse one buffer.
    pub fn encode_into(&self, buf: &mut Vec<u8>, src: IpAddr, dst: IpAddr, form: ChecksumForm) {
        buf.clear();
        buf.push((self.version.number() << 4) | TYPE_ADVERTISEMENT);
        buf.push(self.vrid);
        buf.push(self.priority);
        buf.push(self.addresses.len() as u8);
        match self.version {
            Version::V3 => buf.extend_from_slice(&(self.interval & 0x0fff).to_be_bytes()),
            Version::V2 => {
                buf.push(self.auth.unwrap_or(Auth::NONE).kind());
                buf.push(self.interval as u8);
            }
        }
        buf.extend_from_slice(&[0, 0]);
        for addr in &self.addresses {
            match addr {
                IpAddr::V4(a) => buf.extend_from_slice(&a.octets()),
                IpAddr::V6(a) => buf.extend_from_slice(&a.octets()),
            }
        }
        if self.version == Version::V2 {
            buf.extend_from_slice(self.auth.unwrap_or(Auth::NONE).data());
        }
        let sum = checksum_for(self.version, buf, src, dst, form);
        buf[6..8].copy_from_slice(&sum.to_be_bytes());
    }

    /// Decodes and checksums a VRRP message received from `src` to `dst`.
    ///
    /// RFC 5798 §7.1: the checksum MUST verify. For IPv4 VRRPv3 both checksum
    /// forms are accepted (peers such as keepalived with `v3_checksum_as_v2`
    /// omit the pseudo-header); the form that verified is returned so the
    /// caller can log or count it.
    pub fn decode(
        bytes: &[u8],
        src: IpAddr,
        dst: IpAddr,
    ) -> Result<(Self, ChecksumForm), DecodeError> {
        if bytes.len() < HEADER_LEN {
            return Err(DecodeError::TooShort { len: bytes.len() });
        }
        let version = match bytes[0] >> 4 {
            2 => Version::V2,
            3 => Version::V3,
            version => return Err(DecodeError::BadVersion { version }),
        };
        let kind = bytes[0] & 0x0f;
        if kind != TYPE_ADVERTISEMENT {
            return Err(DecodeError::BadType { kind });
        }
        if version == Version::V2 && src.is_ipv6() {
            return Err(DecodeError::V2OverIpv6);
        }
        let count = bytes[3];
        let addr_len = if src.is_ipv6() { 16 } else { 4 };
        let auth_len = if version == Version::V2 { AUTH_LEN } else { 0 };
        if bytes.len() != HEADER_LEN + usize::from(count) * addr_len + auth_len {
            return Err(DecodeError::BadLength {
                len: bytes.len(),
                count,
            });
        }
        let received = u16::from_be_bytes([bytes[6], bytes[7]]);
        let form = verify_checksum(version, bytes, src, dst, received)?;

        let (interval, auth) = match version {
            Version::V3 => (u16::from_be_bytes([bytes[4], bytes[5]]) & 0x0fff, None),
            Version::V2 => {
                let mut data = [0; AUTH_LEN];
                data.copy_from_slice(&bytes[bytes.len() - AUTH_LEN..]);
                let auth = match bytes[4] {
                    0 => Auth::None(data),
                    1 => Auth::Pass(data),
                    2 => return Err(DecodeError::AhUnsupported),
                    kind => return Err(DecodeError::UnknownAuthType { kind }),
                };
                (u16::from(bytes[5]), Some(auth))
            }
        };
        if interval == 0 {
            return Err(DecodeError::ZeroInterval);
        }
        let body = &bytes[HEADER_LEN..HEADER_LEN + usize::from(count) * addr_len];
        let addresses = body
            .chunks_exact(addr_len)
            .map(|c| match c.len() {
                4 => IpAddr::from(<[u8; 4]>::try_from(c).unwrap_or_default()),
                _ => IpAddr::from(<[u8; 16]>::try_from(c).unwrap_or_default()),
            })
            .collect();
        Ok((
            Self {
                version,
                vrid: bytes[1],
                priority: bytes[2],
                interval,
                auth,
                addresses,
            },
            form,
        ))
    }
}

fn verify_checksum(
    version: Version,
    bytes: &[u8],
    src: IpAddr,
    dst: IpAddr,
    received: u16,
) -> Result<ChecksumForm, DecodeError> {
    let rfc = checksum_for(version, bytes, src, dst, ChecksumForm::Standard);
    if rfc == received {
        return Ok(ChecksumForm::Standard);
    }
    if version == Version::V3 && src.is_ipv4() {
        let compat = checksum_for(version, bytes, src, dst, ChecksumForm::NoPseudoHeader);
        if compat == received {
            return Ok(ChecksumForm::NoPseudoHeader);
        }
    }
    Err(DecodeError::BadChecksum {
        received,
        expected: rfc,
    })
}

/// The checksum a message should carry; the checksum field's current
/// content is ignored (treated as zero).
fn checksum_for(version: Version, msg: &[u8], src: IpAddr, dst: IpAddr, form: ChecksumForm) -> u16 {
    let mut sum = Sum::default();
    if version == Version::V3 {
        match (src, dst) {
            // RFC 5798 §5.2.8 and RFC 8200 §8.1: the IPv6 pseudo-header always applies.
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                sum.add(&s.octets());
                sum.add(&d.octets());
                sum.add(&(msg.len() as u32).to_be_bytes());
                sum.add(&[0, 0, 0, IPPROTO_VRRP]);
            }
            (IpAddr::V4(s), IpAddr::V4(d)) if form == ChecksumForm::Standard => {
                sum.add(&s.octets());
                sum.add(&d.octets());
                sum.add(&[0, IPPROTO_VRRP]);
                sum.add(&(msg.len() as u16).to_be_bytes());
            }
            _ => {}
        }
    }
    sum.add(&msg[..6]);
    sum.add(&msg[8..]);
    sum.finish()
}

/// RFC 1071 one's-complement sum.
#[derive(Default)]
struct Sum(u32);

impl Sum {
    /// Adds bytes; every call but the last must pass an even length.
    fn add(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(2);
        for c in &mut chunks {
            self.0 += u32::from(u16::from_be_bytes([c[0], c[1]]));
        }
        if let [last] = chunks.remainder() {
            self.0 += u32::from(*last) << 8;
        }
    }

    fn finish(mut self) -> u16 {
        while self.0 > 0xffff {
            self.0 = (self.0 & 0xffff) + (self.0 >> 16);
        }
        !(self.0 as u16)
    }
}

/// The parts of a received IPv4 header that VRRP validation needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Meta {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// Time to live.
    pub ttl: u8,
}

/// Splits an IPv4 datagram as a raw IPv4 socket delivers it into its header
/// fields and the VRRP message.
pub fn split_ipv4(datagram: &[u8]) -> Result<(Ipv4Meta, &[u8]), DecodeError> {
    if datagram.len() < 20 {
        return Err(DecodeError::TooShort {
            len: datagram.len(),
        });
    }
    if datagram[0] >> 4 != 4 {
        return Err(DecodeError::BadIpHeader { reason: "not IPv4" });
    }
    let ihl = usize::from(datagram[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([datagram[2], datagram[3]]));
    if ihl < 20 || total < ihl || datagram.len() < total {
        return Err(DecodeError::BadIpHeader {
            reason: "bad header or total length",
        });
    }
    if datagram[9] != IPPROTO_VRRP {
        return Err(DecodeError::BadIpHeader {
            reason: "protocol is not 112",
        });
    }
    let addr = |o: usize| {
        Ipv4Addr::new(
            datagram[o],
            datagram[o + 1],
            datagram[o + 2],
            datagram[o + 3],
        )
    };
    let meta = Ipv4Meta {
        src: addr(12),
        dst: addr(16),
        ttl: datagram[8],
    };
    Ok((meta, &datagram[ihl..total]))
}
