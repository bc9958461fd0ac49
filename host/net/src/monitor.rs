//! Link and address changes from rtnetlink notifications (`ip monitor`).

use std::net::IpAddr;

use futures::StreamExt;
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::address::AddressAttribute;
use rtnetlink::MulticastGroup;
use tokio::sync::mpsc;

use crate::error::NetError;
use crate::netlink::LinkInfo;

/// A change the VRRP shell cares about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkEvent {
    /// A link appeared or changed (up/down, rename).
    Link(LinkInfo),
    /// A link was deleted.
    LinkRemoved {
        /// Its index.
        index: u32,
    },
    /// An address was added to a link.
    AddressAdded {
        /// Link index.
        index: u32,
        /// The address.
        addr: IpAddr,
    },
    /// An address was removed from a link.
    AddressRemoved {
        /// Link index.
        index: u32,
        /// The address.
        addr: IpAddr,
    },
}

fn address_of(msg: &netlink_packet_route::address::AddressMessage) -> Option<IpAddr> {
    msg.attributes.iter().find_map(|a| match a {
        AddressAttribute::Local(a) | AddressAttribute::Address(a) => Some(*a),
        _ => None,
    })
}

/// Subscribes to link and address notifications; events arrive on the
/// returned channel until the receiver is dropped.
pub fn watch_links() -> Result<mpsc::UnboundedReceiver<LinkEvent>, NetError> {
    let groups = [
        MulticastGroup::Link,
        MulticastGroup::Ipv4Ifaddr,
        MulticastGroup::Ipv6Ifaddr,
    ];
    let (conn, _handle, mut messages) = rtnetlink::new_multicast_connection(&groups)
        .map_err(|e| NetError::io("subscribe to rtnetlink groups", e))?;
    tokio::spawn(conn);
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some((msg, _)) = messages.next().await {
            let netlink_packet_core::NetlinkPayload::InnerMessage(inner) = msg.payload else {
                continue;
            };
            let event = match inner {
                RouteNetlinkMessage::NewLink(l) => LinkEvent::Link(LinkInfo::from_message(&l)),
                RouteNetlinkMessage::DelLink(l) => LinkEvent::LinkRemoved {
                    index: l.header.index,
                },
                RouteNetlinkMessage::NewAddress(a) => match address_of(&a) {
                    Some(addr) => LinkEvent::AddressAdded {
                        index: a.header.index,
                        addr,
                    },
                    None => continue,
                },
                RouteNetlinkMessage::DelAddress(a) => match address_of(&a) {
                    Some(addr) => LinkEvent::AddressRemoved {
                        index: a.header.index,
                        addr,
                    },
                    None => continue,
                },
                _ => continue,
            };
            if tx.send(event).is_err() {
                break;
            }
        }
    });
    Ok(rx)
}
