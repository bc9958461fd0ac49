#![allow(
    dead_code,
    reason = "each test binary uses a different part of the reader"
)]

//! A minimal pcap reader: classic pcap files with Ethernet link type, which
//! is what the captures in `fixtures/pcaps/` are (taken with tcpdump on a bridge).

use std::net::{IpAddr, Ipv6Addr};

/// One VRRP message found in a capture, with its IP header fields.
#[derive(Debug, Clone)]
pub(crate) struct VrrpFrame {
    pub(crate) src: IpAddr,
    pub(crate) dst: IpAddr,
    pub(crate) ttl: u8,
    pub(crate) payload: Vec<u8>,
    /// Microseconds since the first frame of the capture.
    pub(crate) at_us: u64,
}

fn u32_at(d: &[u8], o: usize, le: bool) -> u32 {
    let b = [d[o], d[o + 1], d[o + 2], d[o + 3]];
    if le {
        u32::from_le_bytes(b)
    } else {
        u32::from_be_bytes(b)
    }
}

/// Every Ethernet frame in a pcap file, with its timestamp in microseconds.
pub(crate) fn frames(data: &[u8]) -> Vec<(u64, Vec<u8>)> {
    let magic = u32_at(data, 0, true);
    let (le, nanos) = match magic {
        0xa1b2_c3d4 => (true, false),
        0xa1b2_3c4d => (true, true),
        0xd4c3_b2a1 => (false, false),
        0x4d3c_b2a1 => (false, true),
        _ => panic!("not a pcap file (magic {magic:#x})"),
    };
    assert_eq!(
        u32_at(data, 20, le),
        1,
        "only Ethernet captures are supported"
    );
    let mut out = Vec::new();
    let mut off = 24;
    while off + 16 <= data.len() {
        let secs = u64::from(u32_at(data, off, le));
        let frac = u64::from(u32_at(data, off + 4, le));
        let len = u32_at(data, off + 8, le) as usize;
        off += 16;
        let us = secs * 1_000_000 + if nanos { frac / 1000 } else { frac };
        out.push((us, data[off..off + len].to_vec()));
        off += len;
    }
    out
}

/// The VRRP messages (IP protocol 112) in a capture, in order.
pub(crate) fn vrrp_frames(data: &[u8]) -> Vec<VrrpFrame> {
    let all = frames(data);
    let t0 = all.first().map_or(0, |(t, _)| *t);
    let mut out = Vec::new();
    for (t, f) in all {
        let ethertype = u16::from_be_bytes([f[12], f[13]]);
        let ip = &f[14..];
        match ethertype {
            0x0800 if ip[9] == 112 => {
                let ihl = usize::from(ip[0] & 0x0f) * 4;
                let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
                out.push(VrrpFrame {
                    src: IpAddr::from([ip[12], ip[13], ip[14], ip[15]]),
                    dst: IpAddr::from([ip[16], ip[17], ip[18], ip[19]]),
                    ttl: ip[8],
                    payload: ip[ihl..total].to_vec(),
                    at_us: t - t0,
                });
            }
            0x86dd if ip[6] == 112 => {
                let len = usize::from(u16::from_be_bytes([ip[4], ip[5]]));
                let addr = |o: usize| {
                    IpAddr::V6(Ipv6Addr::from(
                        <[u8; 16]>::try_from(&ip[o..o + 16]).unwrap(),
                    ))
                };
                out.push(VrrpFrame {
                    src: addr(8),
                    dst: addr(24),
                    ttl: ip[7],
                    payload: ip[40..40 + len].to_vec(),
                    at_us: t - t0,
                });
            }
            _ => {}
        }
    }
    out
}

/// Reads a capture from `tests/fixtures/pcaps/`.
pub(crate) fn load(name: &str) -> Vec<VrrpFrame> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/pcaps")
        .join(name);
    vrrp_frames(&std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}
