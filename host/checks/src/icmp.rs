//! The `icmp` probe (keepalived's PING_CHECK): one echo request to the
//! target over a raw ICMP or ICMPv6 socket (the daemon has CAP_NET_RAW);
//! an echo reply with our identifier and sequence must come back in time.

use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::io::unix::AsyncFd;

use crate::Outcome;
use crate::net::Source;

const ECHO_REQUEST_V4: u8 = 8;
const ECHO_REPLY_V4: u8 = 0;
const ECHO_REQUEST_V6: u8 = 128;
const ECHO_REPLY_V6: u8 = 129;

/// An echo request: type, code 0, checksum, identifier, sequence, payload.
fn echo_request(v6: bool, id: u16, seq: u16) -> Vec<u8> {
    let mut packet = vec![if v6 { ECHO_REQUEST_V6 } else { ECHO_REQUEST_V4 }, 0, 0, 0];
    packet.extend_from_slice(&id.to_be_bytes());
    packet.extend_from_slice(&seq.to_be_bytes());
    packet.extend_from_slice(b"holdfast-check");
    // ICMPv6's checksum covers a pseudo-header: the kernel fills it in.
    if !v6 {
        let sum = checksum(&packet);
        packet[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    packet
}

/// The Internet checksum (RFC 1071).
fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Whether `packet` (an IPv4 datagram, or an ICMPv6 message) is our reply.
fn is_reply(v6: bool, packet: &[u8], id: u16, seq: u16) -> bool {
    let icmp = if v6 {
        packet
    } else {
        // Raw IPv4 sockets deliver the IP header too.
        let ihl = usize::from(packet.first().map_or(0, |b| b & 0x0f)) * 4;
        packet.get(ihl..).unwrap_or_default()
    };
    let want = if v6 { ECHO_REPLY_V6 } else { ECHO_REPLY_V4 };
    icmp.len() >= 8
        && icmp[0] == want
        && icmp[4..6] == id.to_be_bytes()
        && icmp[6..8] == seq.to_be_bytes()
}

fn open(source: &Source, target: IpAddr) -> std::io::Result<Socket> {
    let socket = match target {
        IpAddr::V4(_) => Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::ICMPV4))?,
        IpAddr::V6(_) => Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::ICMPV6))?,
    };
    if let Some(dev) = &source.interface {
        socket.bind_device(Some(dev.as_bytes()))?;
    }
    if source.addr.is_some() {
        socket.bind(&SockAddr::from(source.local(SocketAddr::new(target, 0))))?;
    }
    // Only the target's packets are delivered.
    socket.connect(&SockAddr::from(SocketAddr::new(target, 0)))?;
    socket.set_nonblocking(true)?;
    Ok(socket)
}

/// Registers the socket with the tokio reactor.
#[allow(
    unsafe_code,
    reason = "AsyncFd::register is unsafe: the descriptor must stay open"
)]
fn register(socket: Socket) -> std::io::Result<AsyncFd<Socket>> {
    // SAFETY: the `AsyncFd` owns `socket`, so its descriptor stays open
    // (and is the one registered) until the `AsyncFd` is dropped.
    unsafe { AsyncFd::register(socket) }.map_err(std::io::Error::from)
}

/// One echo to `target`; the caller bounds the time.
pub(crate) async fn run(source: &Source, target: IpAddr, seq: u16, started: Instant) -> Outcome {
    let v6 = target.is_ipv6();
    let socket = match open(source, target).and_then(register) {
        Ok(s) => s,
        Err(e) => return Outcome::failed(started, format!("icmp socket: {e}")),
    };
    let id = (std::process::id() & 0xffff) as u16;
    if let Err(e) = socket.get_ref().send(&echo_request(v6, id, seq)) {
        return Outcome::failed(started, format!("send: {e}"));
    }
    let mut buf = [0u8; 1500];
    loop {
        let mut ready = match socket.readable().await {
            Ok(r) => r,
            Err(e) => return Outcome::failed(started, format!("receive: {e}")),
        };
        match ready.try_io(|s| s.get_ref().read(&mut buf)) {
            Ok(Ok(n)) if is_reply(v6, &buf[..n], id, seq) => return Outcome::passed(started),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Outcome::failed(started, format!("receive: {e}")),
            Err(_would_block) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_echo_request_checksums_to_zero() {
        let p = echo_request(false, 0x1234, 7);
        assert_eq!(checksum(&p), 0);
        assert_eq!(&p[4..8], &[0x12, 0x34, 0, 7]);
    }

    #[test]
    fn replies_are_matched_by_identifier_and_sequence() {
        let mut ip = vec![0x45u8; 20];
        ip.extend_from_slice(&[ECHO_REPLY_V4, 0, 0, 0, 0x12, 0x34, 0, 7]);
        assert!(is_reply(false, &ip, 0x1234, 7));
        assert!(!is_reply(false, &ip, 0x1234, 8));
        let v6 = [ECHO_REPLY_V6, 0, 0, 0, 0x12, 0x34, 0, 7];
        assert!(is_reply(true, &v6, 0x1234, 7));
        assert!(!is_reply(true, &v6[..6], 0x1234, 7));
    }
}
