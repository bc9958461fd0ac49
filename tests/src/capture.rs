//! Packet captures on the lab's bridge (tcpdump), read back as VRRP adverts
//! and ARP announcements with their timestamps.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A frame of interest in a capture.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// A VRRP advert.
    Advert {
        /// Seconds since the Unix epoch.
        at: f64,
        /// IP source.
        src: IpAddr,
        /// Virtual router id.
        vrid: u8,
        /// Advertised priority.
        priority: u8,
    },
    /// An ARP packet.
    Arp {
        /// Seconds since the Unix epoch.
        at: f64,
        /// Sender hardware address.
        sender_mac: [u8; 6],
        /// Sender protocol address.
        sender_ip: IpAddr,
        /// Target protocol address (the sender's own in a gratuitous ARP).
        target_ip: IpAddr,
        /// 1: request, 2: reply.
        op: u16,
    },
}

/// A running tcpdump on `br0` of a switch namespace.
#[derive(Debug)]
pub struct Capture {
    child: Child,
    /// The pcap file.
    pub path: PathBuf,
}

impl Capture {
    /// Starts capturing VRRP and ARP on the bridge of `switch_ns`.
    pub fn start(switch_ns: &str, path: &Path) -> Self {
        Self::start_on(switch_ns, "br0", path)
    }

    /// Starts capturing VRRP and ARP on `iface` of namespace `ns`. On a
    /// sender's own interface the timestamps are taken as it transmits, so
    /// they time the sender, not the switch's forwarding under load.
    pub fn start_on(ns: &str, iface: &str, path: &Path) -> Self {
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                ns,
                "tcpdump",
                "-i",
                iface,
                "-U",
                "--immediate-mode",
                "-s",
                "200",
                "-w",
            ])
            .arg(path)
            .args(["ip proto 112 or ip6 proto 112 or arp"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tcpdump");
        // tcpdump needs a moment before it sees packets.
        std::thread::sleep(Duration::from_millis(700));
        Self {
            child,
            path: path.to_path_buf(),
        }
    }

    /// Stops the capture and reads it.
    pub fn finish(mut self) -> Vec<Frame> {
        std::thread::sleep(Duration::from_millis(200));
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        read(&std::fs::read(&self.path).unwrap_or_default())
    }
}

impl Frame {
    /// A gratuitous ARP: a request announcing the sender's own address
    /// (not a request for another, nor a reply — a host still holding an
    /// address answers another's announcement of it with a reply whose
    /// sender and target are both that address).
    pub fn is_gratuitous_arp(&self) -> bool {
        matches!(self, Frame::Arp { sender_ip, target_ip, op: 1, .. } if sender_ip == target_ip)
    }
}

/// Gratuitous ARPs for `vip` from the MAC `mac` (`aa:bb:..`) at or after `after`.
pub fn gratuitous_arps(frames: &[Frame], mac: &str, vip: &str, after: f64) -> usize {
    let vip: IpAddr = vip.parse().expect("an IP address");
    let mac: Vec<u8> = mac
        .split(':')
        .filter_map(|b| u8::from_str_radix(b, 16).ok())
        .collect();
    frames
        .iter()
        .filter(|f| f.is_gratuitous_arp())
        .filter(|f| matches!(f, Frame::Arp { at, sender_ip, sender_mac, .. } if *at >= after && *sender_ip == vip && sender_mac[..] == mac[..]))
        .count()
}

/// Parses a classic pcap of Ethernet frames.
pub fn read(data: &[u8]) -> Vec<Frame> {
    if data.len() < 24 {
        return Vec::new();
    }
    let u32le = |o: usize| u32::from_le_bytes([data[o], data[o + 1], data[o + 2], data[o + 3]]);
    let nanos = u32le(0) == 0xa1b2_3c4d;
    let mut out = Vec::new();
    let mut off = 24;
    while off + 16 <= data.len() {
        let at = f64::from(u32le(off)) + f64::from(u32le(off + 4)) / if nanos { 1e9 } else { 1e6 };
        let len = u32le(off + 8) as usize;
        off += 16;
        let Some(f) = data.get(off..off + len) else {
            break;
        };
        off += len;
        if f.len() < 14 {
            continue;
        }
        let ip = &f[14..];
        match u16::from_be_bytes([f[12], f[13]]) {
            0x0800 if ip.len() >= 24 && ip[9] == 112 => {
                let ihl = usize::from(ip[0] & 0x0f) * 4;
                if let (Some(&vrid), Some(&priority)) = (ip.get(ihl + 1), ip.get(ihl + 2)) {
                    out.push(Frame::Advert {
                        at,
                        src: IpAddr::from([ip[12], ip[13], ip[14], ip[15]]),
                        vrid,
                        priority,
                    });
                }
            }
            0x86dd if ip.len() >= 43 && ip[6] == 112 => {
                let src: [u8; 16] = ip[8..24].try_into().unwrap_or_default();
                out.push(Frame::Advert {
                    at,
                    src: IpAddr::from(src),
                    vrid: ip[41],
                    priority: ip[42],
                });
            }
            0x0806 if ip.len() >= 28 => {
                let mut mac = [0u8; 6];
                mac.copy_from_slice(&ip[8..14]);
                out.push(Frame::Arp {
                    at,
                    sender_mac: mac,
                    sender_ip: IpAddr::from([ip[14], ip[15], ip[16], ip[17]]),
                    target_ip: IpAddr::from([ip[24], ip[25], ip[26], ip[27]]),
                    op: u16::from_be_bytes([ip[6], ip[7]]),
                });
            }
            _ => {}
        }
    }
    out
}
