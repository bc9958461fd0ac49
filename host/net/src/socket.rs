//! Raw VRRP sockets (IP protocol 112), one receiver per interface and
//! family, one sender per instance.
//!
//! RFC 5798 §5.1: adverts go to 224.0.0.18 / ff02::12 (or unicast peers)
//! with TTL / hop limit 255; we also mark them TOS/traffic class 0xc0
//! (network control), as keepalived does.

use std::io::{self, IoSliceMut, Read};
use std::net::{IpAddr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::os::fd::AsRawFd;

use holdfast_vrrp::packet::{IPPROTO_VRRP, MULTICAST_V4, MULTICAST_V6, VRRP_TTL, split_ipv4};
use nix::sys::socket::{ControlMessageOwned, MsgFlags, SockaddrIn6, recvmsg, setsockopt, sockopt};
use socket2::{Domain, InterfaceIndexOrAddress, Protocol, SockAddr, Socket, Type};
use tokio::io::unix::AsyncFd;

use crate::error::NetError;

/// DSCP CS6 (network control), as keepalived marks VRRP.
const TOS_NETWORK_CONTROL: u32 = 0xc0;

/// A received VRRP message with the IP header fields validation needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RxMeta {
    /// IP source.
    pub src: IpAddr,
    /// IP destination.
    pub dst: IpAddr,
    /// TTL or hop limit.
    pub ttl: u8,
    /// Where the VRRP message starts in the buffer.
    pub offset: usize,
    /// Its length.
    pub len: usize,
}

fn raw_socket(v6: bool, protocol: i32) -> io::Result<Socket> {
    let domain = if v6 { Domain::IPV6 } else { Domain::IPV4 };
    Socket::new(domain, Type::RAW, Some(Protocol::from(protocol)))
}

/// Receives every VRRP packet arriving on one interface for one family.
#[derive(Debug)]
pub struct VrrpReceiver {
    fd: AsyncFd<Socket>,
    v6: bool,
}

impl VrrpReceiver {
    /// Opens the socket, binds it to the interface and joins the VRRP group.
    pub fn open(ifname: &str, ifindex: u32, v6: bool) -> Result<Self, NetError> {
        let what = |w: &str| format!("{w} (VRRP receive socket on {ifname})");
        let sock = raw_socket(v6, i32::from(IPPROTO_VRRP))
            .map_err(|e| NetError::io(what("open raw socket"), e))?;
        sock.bind_device(Some(ifname.as_bytes()))
            .map_err(|e| NetError::io(what("bind to device"), e))?;
        if v6 {
            sock.join_multicast_v6(&MULTICAST_V6, ifindex)
                .map_err(|e| NetError::io(what("join ff02::12"), e))?;
            sock.set_recv_hoplimit_v6(true)
                .map_err(|e| NetError::io(what("IPV6_RECVHOPLIMIT"), e))?;
            setsockopt(&sock, sockopt::Ipv6RecvPacketInfo, &true)
                .map_err(|e| NetError::io(what("IPV6_RECVPKTINFO"), e.into()))?;
        } else {
            sock.join_multicast_v4_n(&MULTICAST_V4, &InterfaceIndexOrAddress::Index(ifindex))
                .map_err(|e| NetError::io(what("join 224.0.0.18"), e))?;
        }
        sock.set_nonblocking(true)
            .map_err(|e| NetError::io(what("set non-blocking"), e))?;
        let fd = crate::sys::async_socket(sock)
            .map_err(|e| NetError::io(what("register with the runtime"), e))?;
        Ok(Self { fd, v6 })
    }

    /// Waits for the next packet; malformed IPv4 headers are returned as
    /// `Err(InvalidData)` so the caller can count them and go on.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<RxMeta> {
        loop {
            let mut guard = self.fd.readable().await?;
            match guard.try_io(|fd| {
                if self.v6 {
                    recv_v6(fd.get_ref(), buf)
                } else {
                    recv_v4(fd.get_ref(), buf)
                }
            }) {
                Ok(result) => return result,
                Err(_would_block) => continue,
            }
        }
    }
}

fn recv_v4(sock: &Socket, buf: &mut [u8]) -> io::Result<RxMeta> {
    let mut reader = sock;
    let n = reader.read(buf)?;
    // A raw IPv4 socket delivers the IP header: TTL and addresses come from it.
    let (meta, payload) =
        split_ipv4(&buf[..n]).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    let offset = payload.as_ptr() as usize - buf.as_ptr() as usize;
    Ok(RxMeta {
        src: meta.src.into(),
        dst: meta.dst.into(),
        ttl: meta.ttl,
        offset,
        len: payload.len(),
    })
}

fn recv_v6(sock: &Socket, buf: &mut [u8]) -> io::Result<RxMeta> {
    // A raw IPv6 socket strips the header: hop limit and destination come as ancillary data.
    let mut cmsg = nix::cmsg_space!(libc::in6_pktinfo, libc::c_int);
    let mut iov = [IoSliceMut::new(buf)];
    let msg = recvmsg::<SockaddrIn6>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::empty(),
    )
    .map_err(io::Error::from)?;
    let src = msg
        .address
        .map(|a| IpAddr::V6(a.ip()))
        .ok_or_else(|| io::Error::other("no source address"))?;
    let (mut dst, mut ttl) = (IpAddr::V6(MULTICAST_V6), 0);
    for c in msg.cmsgs().map_err(io::Error::from)? {
        match c {
            ControlMessageOwned::Ipv6PacketInfo(info) => {
                dst = IpAddr::V6(Ipv6Addr::from(info.ipi6_addr.s6_addr))
            }
            ControlMessageOwned::Ipv6HopLimit(h) => ttl = u8::try_from(h).unwrap_or(0),
            _ => {}
        }
    }
    Ok(RxMeta {
        src,
        dst,
        ttl,
        offset: 0,
        len: msg.bytes,
    })
}

/// Sends one instance's adverts from its source address.
#[derive(Debug)]
pub struct VrrpSender {
    sock: Socket,
    src: IpAddr,
    destinations: Vec<(IpAddr, SockAddr)>,
}

impl VrrpSender {
    /// Opens a socket that sends from `src` on the interface, to the
    /// multicast group or to each of `unicast_peers`.
    pub fn open(
        ifname: &str,
        ifindex: u32,
        src: IpAddr,
        unicast_peers: &[IpAddr],
    ) -> Result<Self, NetError> {
        let what = |w: &str| format!("{w} (VRRP send socket {src} on {ifname})");
        let v6 = src.is_ipv6();
        let sock = raw_socket(v6, i32::from(IPPROTO_VRRP))
            .map_err(|e| NetError::io(what("open raw socket"), e))?;
        sock.bind_device(Some(ifname.as_bytes()))
            .map_err(|e| NetError::io(what("bind to device"), e))?;
        let bind_addr = match src {
            IpAddr::V4(a) => SocketAddr::from((a, 0)),
            IpAddr::V6(a) => SocketAddr::V6(SocketAddrV6::new(
                a,
                0,
                0,
                if a.is_unicast_link_local() {
                    ifindex
                } else {
                    0
                },
            )),
        };
        sock.bind(&bind_addr.into())
            .map_err(|e| NetError::io(what("bind to the source address"), e))?;
        let ttl = u32::from(VRRP_TTL);
        let set = if v6 {
            sock.set_multicast_hops_v6(ttl)
                .and_then(|()| sock.set_unicast_hops_v6(ttl))
                .and_then(|()| sock.set_multicast_if_v6(ifindex))
                .and_then(|()| sock.set_multicast_loop_v6(false))
                .and_then(|()| sock.set_tclass_v6(TOS_NETWORK_CONTROL))
        } else {
            sock.set_multicast_ttl_v4(ttl)
                .and_then(|()| sock.set_ttl_v4(ttl))
                .and_then(|()| sock.set_tos_v4(TOS_NETWORK_CONTROL))
                .and_then(|()| sock.set_multicast_loop_v4(false))
        };
        set.map_err(|e| NetError::io(what("set TTL/TOS/multicast options"), e))?;
        sock.set_nonblocking(true)
            .map_err(|e| NetError::io(what("set non-blocking"), e))?;
        let targets: Vec<IpAddr> = if unicast_peers.is_empty() {
            vec![if v6 {
                IpAddr::V6(MULTICAST_V6)
            } else {
                IpAddr::V4(MULTICAST_V4)
            }]
        } else {
            unicast_peers.to_vec()
        };
        let destinations = targets
            .into_iter()
            .map(|ip| {
                let sa = match ip {
                    IpAddr::V4(a) => SocketAddr::from((a, 0)),
                    IpAddr::V6(a) => SocketAddr::V6(SocketAddrV6::new(a, 0, 0, ifindex)),
                };
                (ip, SockAddr::from(sa))
            })
            .collect();
        Ok(Self {
            sock,
            src,
            destinations,
        })
    }

    /// The source address.
    pub fn source(&self) -> IpAddr {
        self.src
    }

    /// The destinations (multicast group or unicast peers).
    pub fn destinations(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.destinations.iter().map(|(ip, _)| *ip)
    }

    /// Sends one encoded message to `dst` (which must be one of [`destinations`](Self::destinations)).
    /// Never blocks: a full socket buffer is an error the caller counts.
    pub fn send_to(&self, bytes: &[u8], dst: IpAddr) -> io::Result<()> {
        let (_, sa) = self
            .destinations
            .iter()
            .find(|(ip, _)| *ip == dst)
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "not a destination of this sender",
                )
            })?;
        self.sock.send_to(bytes, sa).map(|_| ())
    }
}
