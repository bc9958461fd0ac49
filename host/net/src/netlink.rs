//! Links and addresses over rtnetlink: look up interfaces, add and remove
//! virtual addresses.

use std::net::IpAddr;

use futures::TryStreamExt;
use netlink_packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage,
};
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
use rtnetlink::Handle;

use crate::error::NetError;

/// What we need to know about an interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkInfo {
    /// Kernel interface index.
    pub index: u32,
    /// Interface name.
    pub name: String,
    /// Hardware address (zeros when the link has none).
    pub mac: [u8; 6],
    /// Administratively up and carrier present (IFF_UP and IFF_RUNNING).
    pub up: bool,
}

impl LinkInfo {
    pub(crate) fn from_message(msg: &LinkMessage) -> Self {
        let mut info = Self {
            index: msg.header.index,
            name: String::new(),
            mac: [0; 6],
            up: msg.header.flags.contains(LinkFlags::Up)
                && msg.header.flags.contains(LinkFlags::Running),
        };
        for attr in &msg.attributes {
            match attr {
                LinkAttribute::IfName(n) => info.name.clone_from(n),
                LinkAttribute::Address(a) if a.len() == 6 => info.mac.copy_from_slice(a),
                _ => {}
            }
        }
        info
    }
}

/// An address on an interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceAddress {
    /// The address.
    pub addr: IpAddr,
    /// Prefix length.
    pub prefix: u8,
    /// Still doing duplicate address detection (IPv6), not usable as a source yet.
    pub tentative: bool,
}

/// A virtual address to install.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VipSpec {
    /// Interface index.
    pub index: u32,
    /// Address.
    pub addr: IpAddr,
    /// Prefix length.
    pub prefix: u8,
    /// IPv4 label (e.g. `eth0:vip`).
    pub label: Option<String>,
}

/// An rtnetlink connection; cheap to clone.
#[derive(Debug, Clone)]
pub struct Netlink {
    handle: Handle,
}

impl Netlink {
    /// Opens a connection, running its driver on the current tokio runtime.
    pub fn connect() -> Result<Self, NetError> {
        let (conn, handle, _) =
            rtnetlink::new_connection().map_err(|e| NetError::io("open rtnetlink socket", e))?;
        tokio::spawn(conn);
        Ok(Self { handle })
    }

    /// Looks up an interface by name.
    pub async fn link(&self, name: &str) -> Result<LinkInfo, NetError> {
        let mut links = self
            .handle
            .link()
            .get()
            .match_name(name.to_string())
            .execute();
        match links.try_next().await {
            Ok(Some(msg)) => Ok(LinkInfo::from_message(&msg)),
            Ok(None) => Err(NetError::NoSuchInterface {
                name: name.to_string(),
            }),
            Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -libc::ENODEV => {
                Err(NetError::NoSuchInterface {
                    name: name.to_string(),
                })
            }
            Err(e) => Err(NetError::netlink(format!("look up interface {name}"), e)),
        }
    }

    /// The addresses on an interface.
    pub async fn addresses(&self, index: u32) -> Result<Vec<InterfaceAddress>, NetError> {
        let msgs: Vec<AddressMessage> = self
            .handle
            .address()
            .get()
            .set_link_index_filter(index)
            .execute()
            .try_collect()
            .await
            .map_err(|e| NetError::netlink(format!("list addresses of interface {index}"), e))?;
        Ok(msgs
            .iter()
            .filter(|m| m.header.index == index)
            .filter_map(|m| {
                let addr = m.attributes.iter().find_map(|a| match a {
                    AddressAttribute::Address(a) => Some(*a),
                    _ => None,
                })?;
                let tentative = m.header.flags.contains(AddressHeaderFlags::Tentative)
                    || m.attributes.iter().any(|a| matches!(a, AddressAttribute::Flags(f) if f.contains(AddressFlags::Tentative)));
                Some(InterfaceAddress { addr, prefix: m.header.prefix_len, tentative })
            })
            .collect())
    }

    /// Adds a virtual address; one already present is not an error.
    pub async fn add_vip(&self, vip: &VipSpec) -> Result<(), NetError> {
        let mut req = self.handle.address().add(vip.index, vip.addr, vip.prefix);
        let msg = req.message_mut();
        if let Some(label) = &vip.label {
            msg.attributes.push(AddressAttribute::Label(label.clone()));
        }
        if vip.addr.is_ipv6() {
            // A VIP must be usable at once; DAD would hold it tentative and
            // could mark it "dadfailed" against the old master's copy.
            msg.header.flags |= AddressHeaderFlags::Nodad;
            msg.attributes
                .push(AddressAttribute::Flags(AddressFlags::Nodad));
        }
        match req.execute().await {
            Ok(()) => Ok(()),
            Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -libc::EEXIST => Ok(()),
            Err(e) => Err(NetError::netlink(
                format!("add {}/{} to interface {}", vip.addr, vip.prefix, vip.index),
                e,
            )),
        }
    }

    /// Removes a virtual address; one already absent is not an error.
    pub async fn del_vip(&self, index: u32, addr: IpAddr, prefix: u8) -> Result<(), NetError> {
        let message = match addr {
            IpAddr::V4(a) => rtnetlink::AddressMessageBuilder::<std::net::Ipv4Addr>::new()
                .index(index)
                .address(a, prefix)
                .build(),
            IpAddr::V6(a) => rtnetlink::AddressMessageBuilder::<std::net::Ipv6Addr>::new()
                .index(index)
                .address(a, prefix)
                .build(),
        };
        match self.handle.address().del(message).execute().await {
            Ok(()) => Ok(()),
            Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -libc::EADDRNOTAVAIL => {
                Ok(())
            }
            Err(e) => Err(NetError::netlink(
                format!("remove {addr}/{prefix} from interface {index}"),
                e,
            )),
        }
    }
}
