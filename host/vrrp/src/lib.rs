//! The VRRP protocol core of holdfast: RFC 5798 (VRRPv3, IPv4 and IPv6) and
//! RFC 3768 (VRRPv2) packets and the per-virtual-router state machine.
//!
//! This crate is **sans-IO**: a deterministic implementation of the protocol
//! logic. It contains no networking code and never reads the clock: time is
//! passed in, inputs go in through `handle_*` methods, and the resulting
//! actions come out of [`Instance::poll_action`]; [`Instance::poll_timeout`]
//! says when to call [`Instance::handle_timeout`] next. A [`Router`] owns
//! a host's instances by stable id: it routes received adverts, runs sync
//! groups and yields every instance's actions. The I/O shell (raw
//! sockets, netlink, timers) lives in other crates. A test in the workspace
//! keeps tokio, socket2 and rtnetlink out of this crate's dependencies.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use holdfast_vrrp::{Action, Instance, InstanceConfig, State};
//!
//! let vip = "192.0.2.254".parse().unwrap();
//! let mut router = Instance::new(InstanceConfig::new(51, vec![vip]), "192.0.2.11".parse().unwrap());
//! let t0 = Instant::now();
//! router.startup(t0);
//! assert_eq!(router.state(), State::Backup);
//! while router.poll_action().is_some() {}
//!
//! // No master is heard: Master_Down_Interval later, it takes over.
//! let due = router.poll_timeout().unwrap();
//! assert_eq!(due - t0, Duration::from_micros(3_609_375));
//! router.handle_timeout(due);
//! assert_eq!(router.state(), State::Master);
//! assert!(matches!(router.poll_action(), Some(Action::SendAdvert { .. })));
//! assert_eq!(router.poll_action(), Some(Action::AddVips));
//! ```

mod action;
mod error;
mod events;
mod fsm;
mod instance;
pub mod packet;
mod reconfigure;
mod router;
mod stats;
mod sync;
pub mod timing;

pub use action::Action;
pub use error::DecodeError;
pub use events::Received;
pub use fsm::{FaultReason, State, Transition};
pub use instance::{GarpSchedule, Instance, InstanceConfig, MasterInfo, Preempt};
pub use packet::{Advertisement, Auth, ChecksumForm, Version};
pub use reconfigure::NotInPlace;
pub use router::{GroupId, InstanceId, RouteError, Router};
pub use stats::Statistics;
pub use sync::{GroupCommand, SyncGroup};
