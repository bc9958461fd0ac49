//! The typed, validated configuration.
//!
//! Every struct here is produced by [`crate::parse`] only after the whole
//! document passed validation, so consumers can rely on the invariants that
//! the field docs state (ranges, references that resolve, consistent address
//! families).

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

mod check;
pub use check::*;

/// Where a value came from in the source text: a byte offset and length.
///
/// Spans are provenance, not content: two configurations that differ only in
/// layout compare equal, which is what [`crate::diff`] needs. That is why
/// `PartialEq` is implemented by hand to always return `true`.
#[derive(Debug, Clone, Copy, Default, Eq, Serialize)]
pub struct Span {
    /// Byte offset of the first character.
    pub offset: usize,
    /// Length in bytes.
    pub len: usize,
}

impl PartialEq for Span {
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}

impl From<miette::SourceSpan> for Span {
    fn from(span: miette::SourceSpan) -> Self {
        Self {
            offset: span.offset(),
            len: span.len(),
        }
    }
}

impl From<Span> for miette::SourceSpan {
    fn from(span: Span) -> Self {
        (span.offset, span.len).into()
    }
}

/// A whole holdfast configuration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Config {
    /// The `global` block (defaults when absent).
    pub global: GlobalCfg,
    /// Policies by name, in name order.
    pub policies: BTreeMap<String, PolicyCfg>,
    /// VRRP instances in file order.
    pub vrrp_instances: Vec<VrrpInstanceCfg>,
    /// Sync groups in file order.
    pub sync_groups: Vec<SyncGroupCfg>,
    /// Virtual servers in file order.
    pub virtual_servers: Vec<VirtualServerCfg>,
    /// `vrrp-check` blocks by name, in name order.
    pub vrrp_checks: BTreeMap<String, VrrpCheckCfg>,
}

impl Config {
    /// Looks up a VRRP instance by name.
    pub fn vrrp_instance(&self, name: &str) -> Option<&VrrpInstanceCfg> {
        self.vrrp_instances.iter().find(|i| i.name == name)
    }
}

/// The control API endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum ApiEndpoint {
    /// `unix:/path/to/socket`
    Unix(PathBuf),
    /// `tcp:ADDR:PORT`
    Tcp(SocketAddr),
}

/// The `global` block.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GlobalCfg {
    /// `router-id`: this node's name in logs and events (default: hostname, filled in by the daemon).
    pub router_id: Option<String>,
    /// `api`: where the control API listens; `None` disables it.
    pub api: Option<ApiEndpoint>,
    /// `policy-cache`: directory for precompiled policy modules.
    pub policy_cache: PathBuf,
    /// `vrrp-version`: default `version` for instances that do not set one.
    pub vrrp_version: VrrpVersion,
    /// `notify-timeout`: how long a notify script may run before it is killed.
    pub notify_timeout: Duration,
    /// `ipvs-reconcile-interval`: how often the IPVS table is re-read and converged.
    pub ipvs_reconcile_interval: Duration,
    /// `lvs-flush-on-stop`: remove our virtual servers from the kernel on shutdown.
    pub lvs_flush_on_stop: bool,
    /// `realtime-priority`: SCHED_RR priority of the VRRP thread (0 = normal scheduling).
    pub realtime_priority: u8,
    /// `lock-memory`: lock the daemon's memory so it is never swapped (keepalived's `vrrp_no_swap`).
    pub lock_memory: bool,
}

impl Default for GlobalCfg {
    fn default() -> Self {
        Self {
            router_id: None,
            api: None,
            policy_cache: PathBuf::from("/var/lib/holdfast/cache"),
            vrrp_version: VrrpVersion::V3,
            notify_timeout: Duration::from_secs(10),
            ipvs_reconcile_interval: Duration::from_secs(5),
            lvs_flush_on_stop: false,
            realtime_priority: 1,
            lock_memory: false,
        }
    }
}

/// A scalar or nested policy parameter from a `params` block.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ParamValue {
    /// `#null`
    Null,
    /// `#true` / `#false`
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    String(String),
    /// A node with several arguments.
    List(Vec<ParamValue>),
    /// A node with children.
    Map(BTreeMap<String, ParamValue>),
}

/// What a health policy's failure falls back to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HealthFallback {
    /// Keep the previous verdict.
    Previous,
    /// Declare the real server down.
    Down,
}

/// The hard upper bound of `max-module-mib`.
pub const MAX_MODULE_MIB_LIMIT: u32 = 64;

/// A `policy "name" { .. }` block.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyCfg {
    /// The policy's name, referenced by `*-policy` nodes.
    pub name: String,
    /// `path`: the WebAssembly component.
    pub path: PathBuf,
    /// `fuel`: instructions-ish budget per call.
    pub fuel: u64,
    /// `timeout-ms`: wall-clock deadline per call.
    pub timeout: Duration,
    /// `memory-mib`: linear memory cap.
    pub memory_mib: u32,
    /// `max-module-mib`: the largest policy file read.
    pub max_module_mib: u32,
    /// `compile-memory-mib`: address space compiling it may take.
    pub compile_memory_mib: u32,
    /// `compile-timeout-ms`: time compiling it may take.
    pub compile_timeout: Duration,
    /// `fallback`: what a failed health policy call means.
    pub fallback: HealthFallback,
    /// `params`: handed to the policy's `init`.
    pub params: BTreeMap<String, ParamValue>,
    /// Where the block starts.
    pub span: Span,
}

/// VRRP protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum VrrpVersion {
    /// RFC 3768, IPv4 only, whole-second intervals.
    V2,
    /// RFC 5798, IPv4 and IPv6, centisecond intervals.
    V3,
}

/// IP address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Family {
    /// IPv4
    V4,
    /// IPv6
    V6,
}

impl Family {
    /// The family of an address.
    pub fn of(addr: &IpAddr) -> Self {
        match addr {
            IpAddr::V4(_) => Self::V4,
            IpAddr::V6(_) => Self::V6,
        }
    }
}

impl std::fmt::Display for Family {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::V4 => "IPv4",
            Self::V6 => "IPv6",
        })
    }
}

/// The state an instance starts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InitialState {
    /// Wait for Master_Down_Interval before claiming mastership.
    Backup,
    /// Claim mastership at once (RFC 5798 allows it only for the owner; keepalived allows it always).
    Master,
}

/// Preemption behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Preempt {
    /// A higher-priority backup takes over at once (the default).
    Yes,
    /// `nopreempt`: a higher-priority backup waits until the master goes away.
    No,
    /// `preempt-delay N`: a higher-priority backup waits N seconds after start-up.
    Delay(Duration),
}

/// Legacy VRRPv2 authentication.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Authentication {
    /// Type 1, simple text password (at most 8 bytes, zero-padded on the wire).
    Pass(String),
}

/// A `virtual-ipaddress` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VipCfg {
    /// The address.
    pub addr: IpAddr,
    /// Prefix length (32/128 when omitted).
    pub prefix: u8,
    /// `label=`: IPv4 address label such as `eth0:vip`.
    pub label: Option<String>,
    /// `dev=`: interface, when not the instance's own.
    pub dev: Option<String>,
    /// Where it was written.
    pub span: Span,
}

/// A `track-interface` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrackInterfaceCfg {
    /// Interface name.
    pub name: String,
    /// `weight=`: -253..=253; 0 (the default) means "down puts the instance in Fault".
    pub weight: i32,
}

/// A `track-file` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrackFileCfg {
    /// The file whose number is read.
    pub path: PathBuf,
    /// `weight=`: the number read is multiplied by this and added to the priority.
    pub weight: i32,
}

/// Notify scripts of an instance (command lines, split on whitespace when run).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NotifyCfg {
    /// `notify-master`
    pub master: Option<String>,
    /// `notify-backup`
    pub backup: Option<String>,
    /// `notify-fault`
    pub fault: Option<String>,
    /// `notify-stop`
    pub stop: Option<String>,
    /// `notify`: called on every transition with type, name, state, priority.
    pub any: Option<String>,
}

/// Gratuitous ARP / unsolicited NA schedule after becoming master.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct GarpCfg {
    /// `garp-master-delay`: delay before the second burst (0 = none).
    pub master_delay: Duration,
    /// `garp-master-repeat`: messages per burst.
    pub master_repeat: u32,
    /// `garp-master-refresh`: periodic refresh while master (0 = none).
    pub master_refresh: Duration,
    /// `garp-master-refresh-repeat`: messages per refresh.
    pub master_refresh_repeat: u32,
}

impl Default for GarpCfg {
    fn default() -> Self {
        Self {
            master_delay: Duration::from_secs(5),
            master_repeat: 5,
            master_refresh: Duration::ZERO,
            master_refresh_repeat: 1,
        }
    }
}

/// A `vrrp-instance "name" { .. }` block.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VrrpInstanceCfg {
    /// Instance name.
    pub name: String,
    /// `interface`: where adverts are sent and received.
    pub interface: String,
    /// `virtual-router-id`: 1..=255.
    pub vrid: u8,
    /// `version`.
    pub version: VrrpVersion,
    /// `priority`: 1..=255, 255 = address owner.
    pub priority: u8,
    /// `advert-interval` in centiseconds (v2: a multiple of 100).
    pub advert_interval_cs: u16,
    /// `initial-state`.
    pub initial_state: InitialState,
    /// `nopreempt` / `preempt-delay`.
    pub preempt: Preempt,
    /// `accept` / `no-accept`: whether a non-owner master accepts packets for the VIPs.
    pub accept: bool,
    /// `unicast-source`.
    pub unicast_source: Option<IpAddr>,
    /// `unicast-peer` (empty = multicast).
    pub unicast_peers: Vec<IpAddr>,
    /// `authentication` (v2 only).
    pub authentication: Option<Authentication>,
    /// `virtual-ipaddress`: all of one family, which is the instance's family.
    pub vips: Vec<VipCfg>,
    /// `virtual-ipaddress-excluded`: moved with mastership, not carried in adverts; may mix families.
    pub excluded_vips: Vec<VipCfg>,
    /// `track-interface`.
    pub track_interfaces: Vec<TrackInterfaceCfg>,
    /// `track-file`.
    pub track_files: Vec<TrackFileCfg>,
    /// `track-check NAME weight=N`: `vrrp-check` blocks.
    pub track_checks: Vec<TrackCheckCfg>,
    /// `track-process NAME weight=N quorum=N`: running processes.
    pub track_processes: Vec<TrackProcessCfg>,
    /// `priority-policy`: name of a defined policy.
    pub priority_policy: Option<String>,
    /// Notify scripts.
    pub notify: NotifyCfg,
    /// Gratuitous ARP / NA schedule.
    pub garp: GarpCfg,
    /// `v3-checksum-as-v2`: send the IPv4 v3 checksum without the pseudo-header (keepalived's option).
    pub v3_checksum_as_v2: bool,
    /// `use-vmac`: run on a macvlan with the virtual MAC; the value is its name.
    pub use_vmac: Option<String>,
    /// `dont-track-primary`: the instance's own interface going down does not mean Fault.
    pub dont_track_primary: bool,
    /// Where the block starts.
    pub span: Span,
}

impl VrrpInstanceCfg {
    /// The instance's address family: that of its VIPs, else of its unicast source, else IPv4.
    pub fn family(&self) -> Family {
        self.vips
            .first()
            .map(|v| Family::of(&v.addr))
            .or(self.unicast_source.as_ref().map(Family::of))
            .or(self.unicast_peers.first().map(Family::of))
            .unwrap_or(Family::V4)
    }

    /// The advertisement interval.
    pub fn advert_interval(&self) -> Duration {
        Duration::from_millis(u64::from(self.advert_interval_cs) * 10)
    }
}

/// A `vrrp-sync-group "name" { member .. }` block.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyncGroupCfg {
    /// Group name.
    pub name: String,
    /// Member instance names (all defined, each in at most one group).
    pub members: Vec<String>,
    /// Notify scripts of the group.
    pub notify: NotifyCfg,
    /// Where the block starts.
    pub span: Span,
}

/// Transport protocol of a virtual server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// TCP
    Tcp,
    /// UDP
    Udp,
    /// SCTP
    Sctp,
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Tcp => "tcp",
            Self::Udp => "udp",
            Self::Sctp => "sctp",
        })
    }
}

/// How a virtual server is identified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum VirtualServerKey {
    /// `virtual-server "ADDR:PORT" protocol=..`
    Addr {
        /// Address and port.
        addr: SocketAddr,
        /// Protocol.
        protocol: Protocol,
    },
    /// `virtual-server fwmark=N family=..`
    Fwmark {
        /// Firewall mark.
        mark: u32,
        /// Address family of the service.
        family: Family,
    },
}

impl VirtualServerKey {
    /// The address family of the service.
    pub fn family(&self) -> Family {
        match self {
            Self::Addr { addr, .. } => Family::of(&addr.ip()),
            Self::Fwmark { family, .. } => *family,
        }
    }
}

impl std::fmt::Display for VirtualServerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Addr { addr, protocol } => write!(f, "{protocol} {addr}"),
            Self::Fwmark { mark, family } => write!(f, "fwmark {mark} ({family})"),
        }
    }
}

/// Tunnel encapsulation for `forwarding "tunnel"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum TunnelType {
    /// IP-in-IP (the default).
    Ipip,
    /// Generic UDP Encapsulation to the given port.
    Gue {
        /// Destination UDP port.
        port: u16,
    },
    /// GRE.
    Gre,
}

/// Packet forwarding method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Forwarding {
    /// Masquerading.
    Nat,
    /// Direct routing.
    Dr,
    /// Tunnelling.
    Tunnel(TunnelType),
}

/// A `real-server "ADDR:PORT" { .. }`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RealServerCfg {
    /// Address and port.
    pub addr: SocketAddr,
    /// `weight=`: 0..=65535 (default 1).
    pub weight: u32,
    /// `forwarding=`: overrides the virtual server's.
    pub forwarding: Option<Forwarding>,
    /// `upper-threshold=` connection limit (0 = none).
    pub upper_threshold: u32,
    /// `lower-threshold=` connection limit (0 = none).
    pub lower_threshold: u32,
    /// Health checks; all must pass.
    pub checks: Vec<CheckCfg>,
    /// `health-policy`: name of a defined policy.
    pub health_policy: Option<String>,
    /// `notify-up`
    pub notify_up: Option<String>,
    /// `notify-down`
    pub notify_down: Option<String>,
    /// Where it was written.
    pub span: Span,
}

/// A `virtual-server` block.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VirtualServerCfg {
    /// Identity.
    pub key: VirtualServerKey,
    /// `scheduler`: an IPVS scheduler name.
    pub scheduler: String,
    /// Scheduler flags: `sh-port`, `sh-fallback`, `mh-port`, `mh-fallback`.
    pub scheduler_flags: Vec<String>,
    /// `ops`: one-packet scheduling (UDP).
    pub one_packet: bool,
    /// `forwarding`: default for real servers.
    pub forwarding: Forwarding,
    /// `persistence-timeout`.
    pub persistence_timeout: Option<Duration>,
    /// `persistence-granularity`: netmask prefix length.
    pub persistence_granularity: Option<u8>,
    /// `quorum`: minimum sum of live weights.
    pub quorum: u32,
    /// `quorum .. hysteresis=`.
    pub hysteresis: u32,
    /// `sorry-server`.
    pub sorry_server: Option<SocketAddr>,
    /// `inhibit-on-failure`: weight 0 instead of removal.
    pub inhibit_on_failure: bool,
    /// `alpha`: real servers start down until their first check passes.
    pub alpha: bool,
    /// `weight-policy`: name of a defined policy.
    pub weight_policy: Option<String>,
    /// Real servers in file order.
    pub real_servers: Vec<RealServerCfg>,
    /// Where the block starts.
    pub span: Span,
}
