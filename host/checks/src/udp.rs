//! The `udp` probe (keepalived's UDP_CHECK): a datagram to the target.
//! Without `require-reply` it passes unless the target answers "port
//! unreachable" within the timeout; with it, a reply must come and, when
//! `reply` is set, begin with those bytes.

use std::net::SocketAddr;
use std::time::Instant;

use crate::Outcome;
use crate::net::{Source, udp_from};

/// Largest reply read.
const REPLY_MAX: usize = 65_535;

/// A UDP check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpProbe {
    /// The datagram sent.
    pub payload: Vec<u8>,
    /// A reply is required.
    pub require_reply: bool,
    /// What the reply must begin with.
    pub reply: Option<Vec<u8>>,
}

impl UdpProbe {
    pub(crate) async fn run(
        &self,
        source: &Source,
        target: SocketAddr,
        timeout: std::time::Duration,
        started: Instant,
    ) -> Outcome {
        let socket = match udp_from(source, target).await {
            Ok(s) => s,
            Err(e) => return Outcome::failed(started, e),
        };
        if let Err(e) = socket.send(&self.payload).await {
            return Outcome::failed(started, format!("send: {e}"));
        }
        let mut buf = vec![0u8; REPLY_MAX];
        let left = timeout.saturating_sub(started.elapsed());
        match tokio::time::timeout(left, socket.recv(&mut buf)).await {
            Ok(Ok(n)) => match &self.reply {
                Some(want) if !buf[..n].starts_with(want) => Outcome::failed(
                    started,
                    format!("reply of {n} bytes does not begin with the expected bytes"),
                ),
                _ => Outcome::passed(started),
            },
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                Outcome::failed(started, "port unreachable".into())
            }
            Ok(Err(e)) => Outcome::failed(started, format!("receive: {e}")),
            Err(_) if self.require_reply => Outcome::failed(
                started,
                format!("no reply within {} ms", timeout.as_millis()),
            ),
            // No reply and no error: the datagram was taken.
            Err(_) => Outcome::passed(started),
        }
    }
}
