//! What the state machine asks its I/O shell to do.

use serde::{Deserialize, Serialize};

use crate::fsm::{State, Transition};
use crate::packet::Advertisement;

/// An output of a virtual router, drained with `Instance::poll_action`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "action")]
pub enum Action {
    /// Send this advertisement (to the multicast group or every unicast peer).
    SendAdvert {
        /// The message.
        advert: Advertisement,
    },
    /// Install the virtual addresses on the interface.
    AddVips,
    /// Remove the virtual addresses from the interface.
    RemoveVips,
    /// Send `count` gratuitous ARPs (IPv4) or unsolicited neighbour advertisements (IPv6) per address.
    SendGratuitous {
        /// Messages per address in this burst.
        count: u32,
    },
    /// A reconfigured master: install these addresses only.
    AddAddresses {
        /// The addresses added to the configuration.
        addresses: Vec<std::net::IpAddr>,
    },
    /// A reconfigured master: remove these addresses only.
    RemoveAddresses {
        /// The addresses removed from the configuration.
        addresses: Vec<std::net::IpAddr>,
    },
    /// A reconfigured master: announce these addresses only.
    AnnounceAddresses {
        /// The addresses added.
        addresses: Vec<std::net::IpAddr>,
        /// Messages per address.
        count: u32,
    },
    /// The state changed (for notify scripts, the event stream and logs).
    StateChanged {
        /// Previous state.
        from: State,
        /// New state.
        to: State,
        /// Why.
        reason: Transition,
        /// Effective priority at the time.
        priority: u8,
    },
}
