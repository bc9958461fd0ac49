//! Numbers from `include/uapi/linux/ip_vs.h` (Linux 6.1).

/// The generic netlink family name.
pub const IPVS_GENL_NAME: &str = "IPVS";
/// The family version.
pub const IPVS_GENL_VERSION: u8 = 1;

// enum { IPVS_CMD_UNSPEC = 0, IPVS_CMD_NEW_SERVICE, ... }
pub(crate) const CMD_NEW_SERVICE: u8 = 1;
pub(crate) const CMD_SET_SERVICE: u8 = 2;
pub(crate) const CMD_DEL_SERVICE: u8 = 3;
pub(crate) const CMD_GET_SERVICE: u8 = 4;
pub(crate) const CMD_NEW_DEST: u8 = 5;
pub(crate) const CMD_SET_DEST: u8 = 6;
pub(crate) const CMD_DEL_DEST: u8 = 7;
pub(crate) const CMD_GET_DEST: u8 = 8;
pub(crate) const CMD_SET_CONFIG: u8 = 12;
pub(crate) const CMD_GET_CONFIG: u8 = 13;
pub(crate) const CMD_SET_INFO: u8 = 14;
pub(crate) const CMD_GET_INFO: u8 = 15;
pub(crate) const CMD_FLUSH: u8 = 17;

// IPVS_CMD_ATTR_*
pub(crate) const CMD_ATTR_SERVICE: u16 = 1;
pub(crate) const CMD_ATTR_DEST: u16 = 2;
pub(crate) const CMD_ATTR_TIMEOUT_TCP: u16 = 4;
pub(crate) const CMD_ATTR_TIMEOUT_TCP_FIN: u16 = 5;
pub(crate) const CMD_ATTR_TIMEOUT_UDP: u16 = 6;

// IPVS_SVC_ATTR_*
pub(crate) const SVC_ATTR_AF: u16 = 1;
pub(crate) const SVC_ATTR_PROTOCOL: u16 = 2;
pub(crate) const SVC_ATTR_ADDR: u16 = 3;
pub(crate) const SVC_ATTR_PORT: u16 = 4;
pub(crate) const SVC_ATTR_FWMARK: u16 = 5;
pub(crate) const SVC_ATTR_SCHED_NAME: u16 = 6;
pub(crate) const SVC_ATTR_FLAGS: u16 = 7;
pub(crate) const SVC_ATTR_TIMEOUT: u16 = 8;
pub(crate) const SVC_ATTR_NETMASK: u16 = 9;
pub(crate) const SVC_ATTR_STATS: u16 = 10;
pub(crate) const SVC_ATTR_PE_NAME: u16 = 11;
pub(crate) const SVC_ATTR_STATS64: u16 = 12;

// IPVS_DEST_ATTR_*
pub(crate) const DEST_ATTR_ADDR: u16 = 1;
pub(crate) const DEST_ATTR_PORT: u16 = 2;
pub(crate) const DEST_ATTR_FWD_METHOD: u16 = 3;
pub(crate) const DEST_ATTR_WEIGHT: u16 = 4;
pub(crate) const DEST_ATTR_U_THRESH: u16 = 5;
pub(crate) const DEST_ATTR_L_THRESH: u16 = 6;
pub(crate) const DEST_ATTR_ACTIVE_CONNS: u16 = 7;
pub(crate) const DEST_ATTR_INACT_CONNS: u16 = 8;
pub(crate) const DEST_ATTR_PERSIST_CONNS: u16 = 9;
pub(crate) const DEST_ATTR_STATS: u16 = 10;
pub(crate) const DEST_ATTR_ADDR_FAMILY: u16 = 11;
pub(crate) const DEST_ATTR_STATS64: u16 = 12;
pub(crate) const DEST_ATTR_TUN_TYPE: u16 = 13;
pub(crate) const DEST_ATTR_TUN_PORT: u16 = 14;
pub(crate) const DEST_ATTR_TUN_FLAGS: u16 = 15;

// IPVS_INFO_ATTR_*
pub(crate) const INFO_ATTR_VERSION: u16 = 1;
pub(crate) const INFO_ATTR_CONN_TAB_SIZE: u16 = 2;

/// `IP_VS_SVC_F_*` service flags.
pub mod svc_flags {
    /// Persistent service.
    pub const PERSISTENT: u32 = 0x0001;
    /// Hashed entry (kernel-owned).
    pub const HASHED: u32 = 0x0002;
    /// One-packet scheduling (UDP).
    pub const ONEPACKET: u32 = 0x0004;
    /// `sh-fallback` (SCHED1).
    pub const SH_FALLBACK: u32 = 0x0008;
    /// `sh-port` (SCHED2).
    pub const SH_PORT: u32 = 0x0010;
    /// Scheduler flag 3.
    pub const SCHED3: u32 = 0x0020;
}

// IP_VS_CONN_F_* forwarding methods (IP_VS_CONN_F_FWD_MASK = 7)
pub(crate) const FWD_MASQ: u32 = 0;
pub(crate) const FWD_LOCALNODE: u32 = 1;
pub(crate) const FWD_TUNNEL: u32 = 2;
pub(crate) const FWD_DROUTE: u32 = 3;
pub(crate) const FWD_BYPASS: u32 = 4;

// IP_VS_CONN_F_TUNNEL_TYPE_*
pub(crate) const TUN_IPIP: u8 = 0;
pub(crate) const TUN_GUE: u8 = 1;
pub(crate) const TUN_GRE: u8 = 2;

/// `IP_VS_TUNNEL_ENCAP_FLAG_*`.
pub mod tun_flags {
    /// Outer UDP checksum.
    pub const CSUM: u16 = 1 << 0;
    /// Remote checksum offload.
    pub const REMCSUM: u16 = 1 << 1;
}
