//! Why a received packet was dropped.
//!
//! Each variant carries what is needed to count it in the RFC 6527
//! statistics and to log it with structured fields.

use std::net::IpAddr;

/// A VRRP packet that failed decoding or validation (RFC 5798 §7.1,
/// RFC 3768 §7.1). The packet is counted and dropped; nothing else happens.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Shorter than the fixed header (or the IPv4 header).
    #[error("packet too short: {len} bytes")]
    TooShort {
        /// Bytes received.
        len: usize,
    },
    /// The IP header is not IPv4/protocol 112 or is malformed.
    #[error("not a VRRP IP datagram: {reason}")]
    BadIpHeader {
        /// What was wrong.
        reason: &'static str,
    },
    /// Version field is neither 2 nor 3.
    #[error("unknown VRRP version {version}")]
    BadVersion {
        /// The version field.
        version: u8,
    },
    /// The version differs from the instance's.
    #[error("VRRP version {received} received, {configured} configured")]
    VersionMismatch {
        /// Version in the packet.
        received: u8,
        /// Version configured.
        configured: u8,
    },
    /// Type field is not 1 (ADVERTISEMENT).
    #[error("unknown VRRP packet type {kind}")]
    BadType {
        /// The type field.
        kind: u8,
    },
    /// The length does not match the address count (plus v2 authentication).
    #[error("length {len} does not fit {count} addresses")]
    BadLength {
        /// VRRP message length.
        len: usize,
        /// Count IPvX Addr field.
        count: u8,
    },
    /// VRRPv2 over IPv6 does not exist.
    #[error("VRRPv2 packet over IPv6")]
    V2OverIpv6,
    /// The checksum does not verify (in any accepted form).
    #[error("bad checksum {received:#06x}, expected {expected:#06x}")]
    BadChecksum {
        /// Checksum field.
        received: u16,
        /// What we computed (RFC form).
        expected: u16,
    },
    /// TTL / hop limit is not 255 (RFC 5798 §7.1 "MUST verify that the IPvX TTL/Hop Limit is 255").
    #[error("TTL/hop limit {ttl}, must be 255")]
    BadTtl {
        /// The received TTL or hop limit.
        ttl: u8,
    },
    /// No instance is configured for this VRID on the interface.
    #[error("VRID {vrid} is not configured")]
    VridNotConfigured {
        /// The VRID in the packet.
        vrid: u8,
    },
    /// VRRPv2: the advertisement interval differs from ours (RFC 3768 §7.1).
    #[error("advertisement interval {received}s received, {configured}s configured")]
    IntervalMismatch {
        /// Interval in the packet (seconds).
        received: u16,
        /// Interval configured (seconds).
        configured: u16,
    },
    /// VRRPv2: the authentication type differs from ours.
    #[error("authentication type {received} received, {configured} configured")]
    AuthTypeMismatch {
        /// Type in the packet.
        received: u8,
        /// Type configured.
        configured: u8,
    },
    /// VRRPv2: the simple-text password differs.
    #[error("authentication password mismatch")]
    AuthMismatch,
    /// VRRPv2: an authentication type that does not exist.
    #[error("unknown authentication type {kind}")]
    UnknownAuthType {
        /// The Auth Type field.
        kind: u8,
    },
    /// VRRPv2: IP Authentication Header (type 2) is not supported.
    #[error("AH authentication (type 2) is not supported")]
    AhUnsupported,
    /// The advertisement interval field is zero.
    #[error("advertisement interval is zero")]
    ZeroInterval,
    /// The packet came from one of our own addresses (a reflection).
    #[error("advert from our own address {src}")]
    OwnAdvert {
        /// The source address.
        src: IpAddr,
    },
    /// A unicast instance received an advert from an address that is not a configured peer.
    #[error("advert from {src}, which is not a unicast peer")]
    UnknownPeer {
        /// The source address.
        src: IpAddr,
    },
}
