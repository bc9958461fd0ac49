//! Networking for holdfast's VRRP: raw VRRP sockets, virtual IP addresses
//! and links over rtnetlink, link/address monitoring, gratuitous ARP and
//! unsolicited neighbour advertisements.
//!
//! This is the I/O shell around the sans-IO `holdfast-vrrp` core; it needs
//! CAP_NET_RAW and CAP_NET_ADMIN.

mod announce;
mod error;
mod monitor;
mod netlink;
mod socket;
mod sys;

pub use announce::{Announcer, gratuitous_arp, unsolicited_na};
pub use error::NetError;
pub use monitor::{LinkEvent, watch_links};
pub use netlink::{InterfaceAddress, LinkInfo, Netlink, VipSpec};
pub use socket::{RxMeta, VrrpReceiver, VrrpSender};
