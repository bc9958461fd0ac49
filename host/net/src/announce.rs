//! Gratuitous ARP (IPv4) and unsolicited neighbour advertisements (IPv6),
//! so the LAN learns at once that the virtual addresses moved.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddrV6};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::error::NetError;
use crate::sys::link_layer_address;

const ETH_P_ARP: u16 = 0x0806;
const BROADCAST: [u8; 6] = [0xff; 6];
/// All-nodes multicast (RFC 4861 §7.2.6: unsolicited NAs go to ff02::1).
const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

/// A gratuitous ARP request for `ip` from `mac` (RFC 5227 §3 "ARP Announcement";
/// the form keepalived sends): sender and target protocol address are both `ip`.
pub fn gratuitous_arp(mac: [u8; 6], ip: Ipv4Addr) -> [u8; 28] {
    let mut p = [0u8; 28];
    p[0..2].copy_from_slice(&1u16.to_be_bytes()); // Ethernet
    p[2..4].copy_from_slice(&0x0800u16.to_be_bytes()); // IPv4
    p[4] = 6;
    p[5] = 4;
    p[6..8].copy_from_slice(&1u16.to_be_bytes()); // request
    p[8..14].copy_from_slice(&mac);
    p[14..18].copy_from_slice(&ip.octets());
    // target hardware address stays zero
    p[24..28].copy_from_slice(&ip.octets());
    p
}

/// An unsolicited neighbour advertisement for `ip` (RFC 4861 §4.4, §7.2.6):
/// Override set, Solicited clear, with the target link-layer address option.
/// The checksum is left zero: the kernel fills it in for ICMPv6 raw sockets.
pub fn unsolicited_na(mac: [u8; 6], ip: Ipv6Addr) -> [u8; 32] {
    let mut p = [0u8; 32];
    p[0] = 136; // Neighbor Advertisement
    p[4] = 0x20; // O flag
    p[8..24].copy_from_slice(&ip.octets());
    p[24] = 2; // Target Link-Layer Address option
    p[25] = 1; // length in units of 8 bytes
    p[26..32].copy_from_slice(&mac);
    p
}

/// Sends announcements on one interface.
#[derive(Debug)]
pub struct Announcer {
    mac: [u8; 6],
    arp: Option<(Socket, SockAddr)>,
    na: Option<(Socket, SockAddr)>,
}

impl Announcer {
    /// Opens what the families in use need: a packet socket for ARP, an ICMPv6 socket for NA.
    pub fn open(
        ifname: &str,
        ifindex: u32,
        mac: [u8; 6],
        v4: bool,
        v6: bool,
    ) -> Result<Self, NetError> {
        let what = |w: &str| format!("{w} (announcements on {ifname})");
        let arp = if v4 {
            let s = Socket::new(
                Domain::PACKET,
                Type::DGRAM,
                Some(Protocol::from(i32::from(ETH_P_ARP.to_be()))),
            )
            .map_err(|e| NetError::io(what("open packet socket"), e))?;
            s.set_nonblocking(true)
                .map_err(|e| NetError::io(what("set non-blocking"), e))?;
            let to = link_layer_address(ifindex, ETH_P_ARP, BROADCAST)
                .map_err(|e| NetError::io(what("address"), e))?;
            Some((s, to))
        } else {
            None
        };
        let na = if v6 {
            let s = Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::ICMPV6))
                .map_err(|e| NetError::io(what("open ICMPv6 socket"), e))?;
            s.bind_device(Some(ifname.as_bytes()))
                .map_err(|e| NetError::io(what("bind to device"), e))?;
            s.set_multicast_hops_v6(255)
                .and_then(|()| s.set_multicast_if_v6(ifindex))
                .map_err(|e| NetError::io(what("set hop limit 255"), e))?;
            s.set_nonblocking(true)
                .map_err(|e| NetError::io(what("set non-blocking"), e))?;
            Some((
                s,
                SockAddr::from(SocketAddrV6::new(ALL_NODES, 0, 0, ifindex)),
            ))
        } else {
            None
        };
        Ok(Self { mac, arp, na })
    }

    /// Announces one address once.
    pub fn announce(&self, addr: IpAddr) -> io::Result<()> {
        match (addr, &self.arp, &self.na) {
            (IpAddr::V4(a), Some((s, to)), _) => {
                s.send_to(&gratuitous_arp(self.mac, a), to).map(|_| ())
            }
            (IpAddr::V6(a), _, Some((s, to))) => {
                s.send_to(&unsolicited_na(self.mac, a), to).map(|_| ())
            }
            _ => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "no announcement socket for this family",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: [u8; 6] = [0x02, 0, 0, 0x77, 0, 0x11];

    #[test]
    fn gratuitous_arp_matches_keepalived() {
        // The ARP payload of keepalived 2.2.7's GARP in the lab captures:
        // ...0806 0001 0800 0604 0001 020000770011 c0a84dfe 000000000000 c0a84dfe
        let expected = [
            0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x00, 0x00, 0x77, 0x00, 0x11,
            192, 168, 77, 254, 0, 0, 0, 0, 0, 0, 192, 168, 77, 254,
        ];
        assert_eq!(
            gratuitous_arp(MAC, Ipv4Addr::new(192, 168, 77, 254)),
            expected
        );
    }

    #[test]
    fn unsolicited_na_sets_override_and_target() {
        let ip: Ipv6Addr = "2001:db8::254".parse().unwrap();
        let na = unsolicited_na(MAC, ip);
        assert_eq!((na[0], na[1], na[4]), (136, 0, 0x20));
        assert_eq!(&na[8..24], &ip.octets());
        assert_eq!(&na[24..32], &[2, 1, 0x02, 0, 0, 0x77, 0, 0x11]);
    }
}
