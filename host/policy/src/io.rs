//! The inputs and outputs of policy calls, as public, serde-friendly types
//! (what `holdfast policy eval --input JSON` reads), converted to and from
//! the generated bindings at the boundary.

use serde::{Deserialize, Serialize};

use crate::bindings::types as wit;
use crate::bindings::v0_1::types as wit_v0_1;

/// A VRRP instance's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VrrpState {
    /// Not running.
    Initialize,
    /// Backup.
    Backup,
    /// Master.
    Master,
    /// Fault.
    Fault,
}

/// A tracked interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackedInterface {
    /// Interface name.
    pub name: String,
    /// Carrier up.
    pub up: bool,
    /// keepalived weight.
    #[serde(default)]
    pub weight: i32,
}

/// A tracked file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackedFile {
    /// Path.
    pub path: String,
    /// The number it holds.
    pub value: i64,
    /// keepalived weight.
    #[serde(default = "one")]
    pub weight: i32,
}

fn one() -> i32 {
    1
}

/// A tracked check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackedCheck {
    /// Check name.
    pub name: String,
    /// Passing.
    pub up: bool,
    /// keepalived weight.
    #[serde(default)]
    pub weight: i32,
    /// The last probe's latency (not seen by 0.1.0 modules).
    #[serde(default)]
    pub latency_us: Option<u64>,
    /// The last probe's error (not seen by 0.1.0 modules).
    #[serde(default)]
    pub last_error: Option<String>,
}

/// Input of a priority policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriorityInput {
    /// Instance name.
    pub instance: String,
    /// Configured priority.
    pub base_priority: u8,
    /// Currently advertised priority.
    pub current_priority: u8,
    /// Current state.
    pub state: VrrpState,
    /// Tracked interfaces.
    #[serde(default)]
    pub interfaces: Vec<TrackedInterface>,
    /// Tracked files.
    #[serde(default)]
    pub files: Vec<TrackedFile>,
    /// Tracked checks.
    #[serde(default)]
    pub checks: Vec<TrackedCheck>,
    /// The followed master's priority.
    #[serde(default)]
    pub master_priority: Option<u8>,
}

/// Output of a priority policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PriorityOutput {
    /// Advertise this priority (clamped by the caller).
    Priority(u8),
    /// Go to Fault, with a reason.
    Fault(String),
}

/// What kind of probe produced a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProbeKind {
    /// TCP connect.
    Tcp,
    /// HTTP.
    Http,
    /// HTTPS.
    Https,
    /// UDP.
    Udp,
    /// DNS.
    Dns,
    /// ICMP echo.
    Icmp,
    /// A program.
    Exec,
    /// An SMTP greeting (a TCP exchange to 0.1.0 modules).
    Smtp,
    /// A number in a file (`exec` to 0.1.0 modules).
    File,
    /// A probe module (`tcp` to 0.1.0 modules).
    Probe,
}

/// Input of a health policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeResult {
    /// Probe kind.
    pub kind: ProbeKind,
    /// Target (`addr:port`, URL).
    pub target: String,
    /// Whether the probe itself succeeded.
    pub success: bool,
    /// Latency.
    #[serde(default)]
    pub latency_us: Option<u64>,
    /// HTTP status.
    #[serde(default)]
    pub status_code: Option<u16>,
    /// Start of the body.
    #[serde(default)]
    pub body_snippet: Option<String>,
    /// Digest of the body.
    #[serde(default)]
    pub body_digest: Option<String>,
    /// Error text.
    #[serde(default)]
    pub error: Option<String>,
    /// Consecutive successes including this one.
    #[serde(default)]
    pub consecutive_successes: u32,
    /// Consecutive failures including this one.
    #[serde(default)]
    pub consecutive_failures: u32,
}

/// Output of a health policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HealthVerdict {
    /// In service.
    Up,
    /// Out of service, with a reason.
    Down(String),
    /// In service but degraded, with a reason.
    Degraded(String),
}

/// Input of a weight policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightInput {
    /// Real server (`addr:port`).
    pub real_server: String,
    /// Configured weight.
    pub base_weight: u32,
    /// Current health.
    pub healthy: bool,
    /// Recent latencies, oldest first.
    #[serde(default)]
    pub latency_history_us: Vec<u64>,
    /// IPVS active connections.
    #[serde(default)]
    pub active_connections: u32,
    /// IPVS inactive connections.
    #[serde(default)]
    pub inactive_connections: u32,
}

/// Input of a probe module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeInput {
    /// The only address its exchanges may reach.
    pub target: std::net::SocketAddr,
    /// The whole call's deadline, exchanges included.
    pub timeout_ms: u32,
}

/// Output of a probe module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeOutput {
    /// The target passed.
    pub up: bool,
    /// The real server's weight, if the probe sets it.
    #[serde(default)]
    pub weight: Option<u32>,
    /// What it saw (escaped by the host).
    #[serde(default)]
    pub message: String,
}

impl ProbeKind {
    /// The nearest kind the 0.1.0 contract knows.
    fn v0_1(self) -> wit_v0_1::ProbeKind {
        use wit_v0_1::ProbeKind as Old;
        match self {
            Self::Tcp | Self::Smtp | Self::Probe => Old::Tcp,
            Self::Http => Old::Http,
            Self::Https => Old::Https,
            Self::Udp => Old::Udp,
            Self::Dns => Old::Dns,
            Self::Icmp => Old::Icmp,
            Self::Exec | Self::File => Old::Exec,
        }
    }

    fn current(self) -> wit::ProbeKind {
        match self {
            Self::Tcp => wit::ProbeKind::Tcp,
            Self::Http => wit::ProbeKind::Http,
            Self::Https => wit::ProbeKind::Https,
            Self::Udp => wit::ProbeKind::Udp,
            Self::Dns => wit::ProbeKind::Dns,
            Self::Icmp => wit::ProbeKind::Icmp,
            Self::Exec => wit::ProbeKind::Exec,
            Self::Smtp => wit::ProbeKind::Smtp,
            Self::File => wit::ProbeKind::File,
            Self::Probe => wit::ProbeKind::Probe,
        }
    }
}

/// What a 0.2.0 priority policy is set up with: the input's unchanging part.
pub(crate) fn setup(i: &PriorityInput) -> wit::PrioritySetup {
    let tracked = |name: &str, weight: i32| wit::Tracked {
        name: name.to_string(),
        weight,
    };
    wit::PrioritySetup {
        instance: i.instance.clone(),
        base_priority: i.base_priority,
        interfaces: i
            .interfaces
            .iter()
            .map(|t| tracked(&t.name, t.weight))
            .collect(),
        files: i.files.iter().map(|t| tracked(&t.path, t.weight)).collect(),
        checks: i
            .checks
            .iter()
            .map(|t| tracked(&t.name, t.weight))
            .collect(),
    }
}

/// Whether `sent` is still `i`'s setup (compared without allocating: this
/// runs on every call).
pub(crate) fn same_setup(sent: &wit::PrioritySetup, i: &PriorityInput) -> bool {
    let same = |list: &[wit::Tracked], names: &mut dyn Iterator<Item = (&str, i32)>| {
        let mut n = 0;
        for (name, weight) in names {
            match list.get(n) {
                Some(t) if t.name == name && t.weight == weight => n += 1,
                _ => return false,
            }
        }
        n == list.len()
    };
    sent.instance == i.instance
        && sent.base_priority == i.base_priority
        && same(
            &sent.interfaces,
            &mut i.interfaces.iter().map(|t| (t.name.as_str(), t.weight)),
        )
        && same(
            &sent.files,
            &mut i.files.iter().map(|t| (t.path.as_str(), t.weight)),
        )
        && same(
            &sent.checks,
            &mut i.checks.iter().map(|t| (t.name.as_str(), t.weight)),
        )
}

/// The input's changing part, in the setup's order; a check's error is
/// sent only when it differs from `sent` (what the instance last saw),
/// which is brought up to date.
pub(crate) fn state(i: &PriorityInput, sent: &mut [Option<String>]) -> wit::PriorityState {
    let error = |t: &TrackedCheck, seen: Option<&mut Option<String>>| match seen {
        Some(seen) if *seen == t.last_error => wit::ErrorChange::Same,
        Some(seen) => {
            seen.clone_from(&t.last_error);
            match &t.last_error {
                Some(e) => wit::ErrorChange::Set(e.clone()),
                None => wit::ErrorChange::Cleared,
            }
        }
        // Not in the setup's count: the policy is told in full.
        None => t
            .last_error
            .clone()
            .map_or(wit::ErrorChange::Cleared, wit::ErrorChange::Set),
    };
    let mut seen = sent.iter_mut();
    wit::PriorityState {
        current_priority: i.current_priority,
        state: i.state.into(),
        interfaces: i.interfaces.iter().map(|t| t.up).collect(),
        files: i.files.iter().map(|t| t.value).collect(),
        checks: i
            .checks
            .iter()
            .map(|t| wit::CheckState {
                up: t.up,
                latency_us: t.latency_us,
                last_error: error(t, seen.next()),
            })
            .collect(),
        master_priority: i.master_priority,
    }
}

impl From<&TrackedCheck> for wit_v0_1::TrackedCheck {
    fn from(t: &TrackedCheck) -> Self {
        Self {
            name: t.name.clone(),
            up: t.up,
            weight: t.weight,
        }
    }
}

impl From<&ProbeInput> for wit::ProbeInput {
    fn from(p: &ProbeInput) -> Self {
        Self {
            target: p.target.to_string(),
            address: p.target.ip().to_string(),
            port: p.target.port(),
            timeout_ms: p.timeout_ms,
        }
    }
}

impl From<wit::ProbeOutput> for ProbeOutput {
    fn from(o: wit::ProbeOutput) -> Self {
        Self {
            up: o.up,
            weight: o.weight,
            message: o.message,
        }
    }
}

/// The conversions both contract versions share, field for field.
macro_rules! lowering {
    ($wit:ident, $kind:ident) => {
        impl From<VrrpState> for $wit::VrrpState {
            fn from(s: VrrpState) -> Self {
                match s {
                    VrrpState::Initialize => Self::Initialize,
                    VrrpState::Backup => Self::Backup,
                    VrrpState::Master => Self::Master,
                    VrrpState::Fault => Self::Fault,
                }
            }
        }

        impl From<$wit::PriorityOutput> for PriorityOutput {
            fn from(o: $wit::PriorityOutput) -> Self {
                match o {
                    $wit::PriorityOutput::Priority(p) => Self::Priority(p),
                    $wit::PriorityOutput::Fault(r) => Self::Fault(r),
                }
            }
        }

        impl From<&ProbeResult> for $wit::ProbeResult {
            fn from(p: &ProbeResult) -> Self {
                Self {
                    kind: p.kind.$kind(),
                    target: p.target.clone(),
                    success: p.success,
                    latency_us: p.latency_us,
                    status_code: p.status_code,
                    body_snippet: p.body_snippet.clone(),
                    body_digest: p.body_digest.clone(),
                    error: p.error.clone(),
                    consecutive_successes: p.consecutive_successes,
                    consecutive_failures: p.consecutive_failures,
                }
            }
        }

        impl From<$wit::HealthVerdict> for HealthVerdict {
            fn from(v: $wit::HealthVerdict) -> Self {
                match v {
                    $wit::HealthVerdict::Up => Self::Up,
                    $wit::HealthVerdict::Down(r) => Self::Down(r),
                    $wit::HealthVerdict::Degraded(r) => Self::Degraded(r),
                }
            }
        }

        impl From<&WeightInput> for $wit::WeightInput {
            fn from(w: &WeightInput) -> Self {
                Self {
                    real_server: w.real_server.clone(),
                    base_weight: w.base_weight,
                    healthy: w.healthy,
                    latency_history_us: w.latency_history_us.clone(),
                    active_connections: w.active_connections,
                    inactive_connections: w.inactive_connections,
                }
            }
        }
    };
}

lowering!(wit, current);
lowering!(wit_v0_1, v0_1);

/// 0.1.0 priority policies get everything on every call.
impl From<&PriorityInput> for wit_v0_1::PriorityInput {
    fn from(i: &PriorityInput) -> Self {
        Self {
            instance: i.instance.clone(),
            base_priority: i.base_priority,
            current_priority: i.current_priority,
            state: i.state.into(),
            interfaces: i
                .interfaces
                .iter()
                .map(|t| wit_v0_1::TrackedInterface {
                    name: t.name.clone(),
                    up: t.up,
                    weight: t.weight,
                })
                .collect(),
            files: i
                .files
                .iter()
                .map(|t| wit_v0_1::TrackedFile {
                    path: t.path.clone(),
                    value: t.value,
                    weight: t.weight,
                })
                .collect(),
            checks: i.checks.iter().map(Into::into).collect(),
            master_priority: i.master_priority,
        }
    }
}
