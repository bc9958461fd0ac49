//! The SDK for holdfast policy authors.
//!
//! A policy is a small Rust crate compiled to a WebAssembly component that
//! holdfast runs in a sandbox (fuel, deadline and memory limits on every
//! call) and can replace while the daemon runs. Implement one of the four
//! traits, export it with [`export_policy!`], and build it with
//! `holdfast policy build DIR`.
//!
//! ```
//! use holdfast_policy_sdk::*;
//!
//! /// Loses 20 points per tracked interface that is down; faults when all are.
//! pub struct Track;
//!
//! impl Init for Track {
//!     // `params` is the KDL `params` block as JSON; reject what you cannot use.
//!     fn init(params: String) -> Result<(), String> {
//!         if params.contains("penalty") {
//!             return Err("this example has no parameters".into());
//!         }
//!         Ok(())
//!     }
//! }
//!
//! impl PriorityPolicy for Track {
//!     fn priority(input: &PriorityInput) -> PriorityOutput {
//!         let down = input.interfaces.iter().filter(|i| !i.up).count();
//!         if down > 0 && down == input.interfaces.len() {
//!             return PriorityOutput::Fault(format!("all {down} interfaces down"));
//!         }
//!         let penalty = (20 * down).min(usize::from(input.base_priority) - 1) as u8;
//!         PriorityOutput::Priority(input.base_priority - penalty)
//!     }
//! }
//!
//! export_policy!(priority: Track);
//!
//! // The logic is plain Rust: test it natively, without a runtime.
//! let eth = |up| TrackedInterface { name: "eth0".into(), up, weight: 0 };
//! let input = PriorityInput {
//!     instance: "VI_1".into(),
//!     base_priority: 100,
//!     current_priority: 100,
//!     state: VrrpState::Master,
//!     interfaces: vec![eth(false), eth(true)],
//!     files: vec![],
//!     checks: vec![],
//!     master_priority: None,
//! };
//! assert!(matches!(Track::priority(&input), PriorityOutput::Priority(80)));
//! let all_down = PriorityInput { interfaces: vec![eth(false)], ..input };
//! assert!(matches!(Track::priority(&all_down), PriorityOutput::Fault(_)));
//! assert!(Track::init("{}".into()).is_ok());
//! ```
//!
//! Host calls (logging with [`info!`], [`now_ms`], [`instance_state`]) exist
//! only inside holdfast; natively they are unreachable, so keep them out of
//! the paths your native tests run.
//!
//! A probe module ([`ProbePolicy`]) checks a target itself: it talks to
//! its own target through [`net`] (TCP, TLS, UDP or HTTP exchanges, each
//! bounded in bytes and time) and can reach nothing else.
//!
//! The contract is the WIT package `holdfast:policy@0.2.0` in this crate's
//! `wit/` directory; the types below are generated from it. holdfast also
//! loads modules built against 0.1.0 (`wit-0.1.0/`).
#![deny(missing_docs)]

#[doc(hidden)]
#[allow(
    clippy::too_many_arguments,
    reason = "generated bindings mirror the WIT records"
)]
pub mod priority_bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "priority",
        pub_export_macro: true,
        export_macro_name: "export_priority",
        default_bindings_module: "holdfast_policy_sdk::priority_bindings",
        generate_all,
    });
}

#[doc(hidden)]
#[allow(
    clippy::too_many_arguments,
    reason = "generated bindings mirror the WIT records"
)]
pub mod health_bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "health",
        pub_export_macro: true,
        export_macro_name: "export_health",
        default_bindings_module: "holdfast_policy_sdk::health_bindings",
        // One copy of the shared interfaces, so the types are the same in every world.
        with: {
            "holdfast:policy/types@0.2.0": crate::priority_bindings::holdfast::policy::types,
            "holdfast:policy/log@0.2.0": crate::priority_bindings::holdfast::policy::log,
            "holdfast:policy/clock@0.2.0": crate::priority_bindings::holdfast::policy::clock,
            "holdfast:policy/state@0.2.0": crate::priority_bindings::holdfast::policy::state,
        },
    });
}

#[doc(hidden)]
#[allow(
    clippy::too_many_arguments,
    reason = "generated bindings mirror the WIT records"
)]
pub mod weight_bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "weight",
        pub_export_macro: true,
        export_macro_name: "export_weight",
        default_bindings_module: "holdfast_policy_sdk::weight_bindings",
        // One copy of the shared interfaces, so the types are the same in every world.
        with: {
            "holdfast:policy/types@0.2.0": crate::priority_bindings::holdfast::policy::types,
            "holdfast:policy/log@0.2.0": crate::priority_bindings::holdfast::policy::log,
            "holdfast:policy/clock@0.2.0": crate::priority_bindings::holdfast::policy::clock,
            "holdfast:policy/state@0.2.0": crate::priority_bindings::holdfast::policy::state,
        },
    });
}

#[doc(hidden)]
#[allow(
    clippy::too_many_arguments,
    reason = "generated bindings mirror the WIT records"
)]
pub mod probe_bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "probe",
        pub_export_macro: true,
        export_macro_name: "export_probe",
        default_bindings_module: "holdfast_policy_sdk::probe_bindings",
        // One copy of the shared interfaces, so the types are the same in every world.
        with: {
            "holdfast:policy/types@0.2.0": crate::priority_bindings::holdfast::policy::types,
            "holdfast:policy/log@0.2.0": crate::priority_bindings::holdfast::policy::log,
            "holdfast:policy/clock@0.2.0": crate::priority_bindings::holdfast::policy::clock,
        },
        generate_all,
    });
}

#[doc(hidden)]
pub use std::format;

pub use priority_bindings::holdfast::policy::types::{
    HealthVerdict, PriorityOutput, ProbeInput, ProbeKind, ProbeOutput, ProbeResult, VrrpState,
    WeightInput,
};

mod priority_input;
pub use priority_input::{PriorityInput, TrackedCheck, TrackedFile, TrackedInterface};
#[doc(hidden)]
pub use priority_input::{priority_call, priority_setup};

/// A probe's exchanges with its own target (the host refuses any other
/// address). Available inside holdfast only, in a [`ProbePolicy`].
pub mod net {
    use crate::probe_bindings::holdfast::policy::network as host;
    pub use crate::probe_bindings::holdfast::policy::network::{
        Exchange, HttpRequest, HttpResponse,
    };

    /// An exchange with `to` that sends `send` and reads until the reply
    /// ends with `until` (or `max_reply` bytes, or the peer closes).
    pub fn exchange(
        to: &str,
        send: &[u8],
        until: Option<&[u8]>,
        max_reply: u32,
        timeout_ms: u32,
    ) -> Exchange {
        Exchange {
            to: to.to_string(),
            send: send.to_vec(),
            until: until.map(<[u8]>::to_vec),
            max_reply,
            timeout_ms,
        }
    }

    /// Over TCP.
    pub fn tcp(x: &Exchange) -> Result<Vec<u8>, String> {
        host::tcp_exchange(x)
    }

    /// Over TLS (not verified), with SNI when named.
    pub fn tls(x: &Exchange, server_name: Option<&str>) -> Result<Vec<u8>, String> {
        host::tls_exchange(x, server_name)
    }

    /// One datagram each way.
    pub fn udp(x: &Exchange) -> Result<Vec<u8>, String> {
        host::udp_exchange(x)
    }

    /// An HTTP/1.1 request.
    pub fn http(r: &HttpRequest) -> Result<HttpResponse, String> {
        host::http(r)
    }
}

/// Logging into the daemon's log, at a level.
pub mod log {
    pub use crate::priority_bindings::holdfast::policy::log::Level;

    /// Writes one message to the daemon's log (tagged with the policy's name).
    pub fn write(level: Level, message: &str) {
        crate::priority_bindings::holdfast::policy::log::log(level, message);
    }
}

/// Milliseconds since the daemon started (monotonic).
pub fn now_ms() -> u64 {
    priority_bindings::holdfast::policy::clock::now_ms()
}

/// The state of a VRRP instance of this daemon, by name.
pub fn instance_state(name: &str) -> Option<VrrpState> {
    priority_bindings::holdfast::policy::state::instance_state(name)
}

/// Logs at info level with `format!` syntax.
#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => { $crate::log::write($crate::log::Level::Info, &$crate::format!($($arg)*)) };
}

/// Logs at warn level with `format!` syntax.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => { $crate::log::write($crate::log::Level::Warn, &$crate::format!($($arg)*)) };
}

/// Logs at debug level with `format!` syntax.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => { $crate::log::write($crate::log::Level::Debug, &$crate::format!($($arg)*)) };
}

/// A policy's `init`: receives the KDL `params` block as a JSON object.
/// The default accepts anything.
pub trait Init {
    /// Validates and stores parameters; an error rejects the policy.
    fn init(params: String) -> Result<(), String> {
        let _ = params;
        Ok(())
    }
}

/// Computes a VRRP instance's priority.
pub trait PriorityPolicy: Init {
    /// The priority to advertise, or `PriorityOutput::Fault(reason)`.
    /// The default keeps the configured priority.
    fn priority(input: &PriorityInput) -> PriorityOutput {
        PriorityOutput::Priority(input.base_priority)
    }
}

/// Turns a probe result into a health verdict.
pub trait HealthPolicy: Init {
    /// The verdict. The default follows the probe.
    fn verdict(input: ProbeResult) -> HealthVerdict {
        if input.success {
            HealthVerdict::Up
        } else {
            HealthVerdict::Down(input.error.unwrap_or_else(|| "probe failed".to_string()))
        }
    }
}

/// Computes a real server's weight.
pub trait WeightPolicy: Init {
    /// The weight. The default keeps the configured weight while healthy.
    fn weight(input: WeightInput) -> u32 {
        if input.healthy { input.base_weight } else { 0 }
    }
}

/// Checks a target through [`net`] exchanges with it.
pub trait ProbePolicy: Init {
    /// Up or down, an optional weight, and what it saw.
    fn probe(input: ProbeInput) -> ProbeOutput;
}

/// Exports a policy type: `export_policy!(priority: MyPolicy)`, or
/// `health:` / `weight:` / `probe:`.
#[macro_export]
macro_rules! export_policy {
    (priority: $ty:ty) => {
        const _: () = {
            struct __HoldfastExport;
            impl $crate::priority_bindings::Guest for __HoldfastExport {
                fn init(params: String) -> Result<(), String> {
                    <$ty as $crate::Init>::init(params)
                }
                fn setup(setup: $crate::priority_bindings::holdfast::policy::types::PrioritySetup) {
                    $crate::priority_setup(setup)
                }
                fn priority(
                    state: $crate::priority_bindings::holdfast::policy::types::PriorityState,
                ) -> $crate::PriorityOutput {
                    $crate::priority_call(state, <$ty as $crate::PriorityPolicy>::priority)
                }
            }
            $crate::priority_bindings::export_priority!(__HoldfastExport);
        };
    };
    (health: $ty:ty) => {
        const _: () = {
            struct __HoldfastExport;
            impl $crate::health_bindings::Guest for __HoldfastExport {
                fn init(params: String) -> Result<(), String> {
                    <$ty as $crate::Init>::init(params)
                }
                fn verdict(input: $crate::ProbeResult) -> $crate::HealthVerdict {
                    <$ty as $crate::HealthPolicy>::verdict(input)
                }
            }
            $crate::health_bindings::export_health!(__HoldfastExport);
        };
    };
    (weight: $ty:ty) => {
        const _: () = {
            struct __HoldfastExport;
            impl $crate::weight_bindings::Guest for __HoldfastExport {
                fn init(params: String) -> Result<(), String> {
                    <$ty as $crate::Init>::init(params)
                }
                fn weight(input: $crate::WeightInput) -> u32 {
                    <$ty as $crate::WeightPolicy>::weight(input)
                }
            }
            $crate::weight_bindings::export_weight!(__HoldfastExport);
        };
    };
    (probe: $ty:ty) => {
        const _: () = {
            struct __HoldfastExport;
            impl $crate::probe_bindings::Guest for __HoldfastExport {
                fn init(params: String) -> Result<(), String> {
                    <$ty as $crate::Init>::init(params)
                }
                fn probe(input: $crate::ProbeInput) -> $crate::ProbeOutput {
                    <$ty as $crate::ProbePolicy>::probe(input)
                }
            }
            $crate::probe_bindings::export_probe!(__HoldfastExport);
        };
    };
}
