//! Per-instance statistics, as RFC 6527 (VRRPv3 MIB) counts them.

use serde::Serialize;

use crate::error::DecodeError;
use crate::fsm::Transition;

/// Counters of one virtual router (RFC 6527 `vrrpv3StatisticsEntry`, plus
/// the global error counters attributed to the instance that received them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Statistics {
    /// `vrrpv3StatisticsMasterTransitions`.
    pub master_transitions: u64,
    /// `vrrpv3StatisticsNewMasterReason` of the last transition to master.
    pub new_master_reason: Option<Transition>,
    /// `vrrpv3StatisticsRcvdAdvertisements`: valid adverts received.
    pub adverts_rx: u64,
    /// Adverts sent.
    pub adverts_tx: u64,
    /// `vrrpv3StatisticsAdvIntervalErrors` (v2 interval mismatch).
    pub interval_errors: u64,
    /// `vrrpv3StatisticsIpTtlErrors`.
    pub ttl_errors: u64,
    /// `vrrpv3StatisticsRcvdPriZeroPackets`.
    pub priority_zero_rx: u64,
    /// `vrrpv3StatisticsSentPriZeroPackets`.
    pub priority_zero_tx: u64,
    /// `vrrpv3StatisticsRcvdInvalidTypePackets`.
    pub invalid_type: u64,
    /// `vrrpv3StatisticsAddressListErrors`: address list differs from ours (the advert is still used).
    pub address_list_errors: u64,
    /// `vrrpv3StatisticsPacketLengthErrors` (and truncated/malformed IP headers).
    pub length_errors: u64,
    /// `vrrpv3RouterChecksumErrors`.
    pub checksum_errors: u64,
    /// `vrrpv3RouterVersionErrors`.
    pub version_errors: u64,
    /// `vrrpv3RouterVrIdErrors`.
    pub vrid_errors: u64,
    /// RFC 2787 `vrrpStatsAuthFailures` / `vrrpStatsInvalidAuthType` (v2).
    pub auth_errors: u64,
    /// Adverts from an address that is not a configured unicast peer.
    pub unknown_peer: u64,
    /// Our own adverts reflected back.
    pub own_adverts: u64,
    /// Adverts accepted whose checksum omitted the IPv4 pseudo-header.
    pub checksum_as_v2_rx: u64,
}

impl Statistics {
    /// Counts a dropped packet under its RFC 6527 counter.
    pub fn count_error(&mut self, err: &DecodeError) {
        let counter = match err {
            DecodeError::TooShort { .. }
            | DecodeError::BadLength { .. }
            | DecodeError::BadIpHeader { .. } => &mut self.length_errors,
            DecodeError::BadVersion { .. }
            | DecodeError::VersionMismatch { .. }
            | DecodeError::V2OverIpv6 => &mut self.version_errors,
            DecodeError::BadType { .. } => &mut self.invalid_type,
            DecodeError::BadChecksum { .. } => &mut self.checksum_errors,
            DecodeError::BadTtl { .. } => &mut self.ttl_errors,
            DecodeError::VridNotConfigured { .. } => &mut self.vrid_errors,
            DecodeError::IntervalMismatch { .. } | DecodeError::ZeroInterval => {
                &mut self.interval_errors
            }
            DecodeError::AuthTypeMismatch { .. }
            | DecodeError::AuthMismatch
            | DecodeError::AhUnsupported
            | DecodeError::UnknownAuthType { .. } => &mut self.auth_errors,
            DecodeError::OwnAdvert { .. } => &mut self.own_adverts,
            DecodeError::UnknownPeer { .. } => &mut self.unknown_peer,
        };
        *counter += 1;
    }

    /// Total packets dropped for any reason.
    pub fn errors(&self) -> u64 {
        self.interval_errors
            + self.ttl_errors
            + self.invalid_type
            + self.length_errors
            + self.checksum_errors
            + self.version_errors
            + self.vrid_errors
            + self.auth_errors
            + self.unknown_peer
            + self.own_adverts
    }
}
