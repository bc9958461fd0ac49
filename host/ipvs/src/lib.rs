//! Linux IPVS over generic netlink, modelled on rust-netlink's wireguard
//! pair: message types that only encode and decode ([`IpvsMessage`],
//! [`ServiceAttr`], [`DestAttr`]), typed objects ([`Service`], [`Dest`]),
//! a thin async [`IpvsHandle`] with request builders, and a reconciler
//! that turns desired state and a kernel dump into the fewest operations.
//!
//! ```no_run
//! # async fn f() -> Result<(), holdfast_ipvs::IpvsError> {
//! use holdfast_ipvs::*;
//! let ipvs = IpvsHandle::connect()?;
//! let key = ServiceKey::Addr { protocol: Protocol::Tcp, addr: "10.0.0.1".parse().unwrap(), port: 80 };
//! ipvs.service().add(Service::new(key, "rr")).scheduler("wrr").execute().await?;
//! ipvs.dest(key).add(Dest::new("10.0.1.1".parse().unwrap(), 8080)).weight(5).execute().await?;
//! # Ok(()) }
//! ```

pub mod apply;
mod attr;
mod constants;
mod error;
mod handle;
mod message;
mod model;
pub mod reconcile;

pub use attr::{DestAttr, IpvsAttr, RawStats, ServiceAttr};
pub use constants::{IPVS_GENL_NAME, IPVS_GENL_VERSION, svc_flags, tun_flags};
pub use error::{IpvsError, Op};
pub use handle::{
    DestChange, DestRequests, Info, IpvsHandle, ServiceChange, ServiceRequests, Timeouts,
};
pub use message::{IpvsCmd, IpvsMessage};
pub use model::{Dest, DestConns, Forward, Protocol, Service, ServiceKey, Stats, Tunnel};
