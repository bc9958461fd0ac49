//! The `network` interface of probe modules: exchanges with the probe's
//! own target and nothing else.
//!
//! The module names the address it wants; the host refuses every address
//! but the target before anything is sent, and the daemon's
//! [`ProbeNetwork`] is bound to the target anyway (it takes no address).
//! Every exchange is bounded in bytes and in time, and its time is taken
//! from the call's deadline, so a probe can never outlive its check's
//! timeout.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::bindings::probe::holdfast::policy::network as wit;
use crate::host::HostState;

/// Bytes an exchange may read at most, whatever the module asks.
pub const REPLY_MAX: u32 = 65_536;
/// Exchanges one call may make.
pub const EXCHANGES_PER_CALL: u32 = 16;

/// How an exchange reaches the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// TCP.
    Tcp,
    /// TLS over TCP, not verified; SNI when named.
    Tls {
        /// SNI.
        server_name: Option<String>,
    },
    /// One UDP datagram each way.
    Udp,
}

/// One request and its reply, as the module asked (limits applied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// Sent first.
    pub send: Vec<u8>,
    /// Reading stops once the reply ends with these.
    pub until: Option<Vec<u8>>,
    /// Read at most this many bytes.
    pub max_reply: usize,
}

/// An HTTP/1.1 request to the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// Over TLS (not verified).
    pub tls: bool,
    /// GET, POST, ...
    pub method: String,
    /// Starting with `/`.
    pub path: String,
    /// The Host header.
    pub host: Option<String>,
    /// Further headers.
    pub headers: Vec<(String, String)>,
    /// Request body.
    pub body: Vec<u8>,
    /// Body bytes read at most.
    pub max_body: usize,
}

/// An HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// The body's first `max_body` bytes.
    pub body: Vec<u8>,
}

/// What the daemon lends a probe call: exchanges with one target. Called
/// on the thread running the call, which may block for up to `timeout`.
pub trait ProbeNetwork: Send {
    /// One exchange over `transport`.
    fn exchange(
        &mut self,
        transport: &Transport,
        x: &Exchange,
        timeout: Duration,
    ) -> Result<Vec<u8>, String>;
    /// One HTTP request.
    fn http(&mut self, r: &HttpRequest, timeout: Duration) -> Result<HttpResponse, String>;
}

/// A probe call in progress: its target, deadline and network.
pub(crate) struct ProbeCall {
    pub(crate) target: SocketAddr,
    pub(crate) deadline: Instant,
    pub(crate) exchanges: u32,
    /// Addresses refused in this call (the first is logged).
    pub(crate) refused: u32,
    pub(crate) net: Box<dyn ProbeNetwork>,
}

impl ProbeCall {
    /// Checks the address and the call's budget; the time the exchange may take.
    fn admit(&mut self, policy: &str, to: &str, timeout_ms: u32) -> Result<Duration, String> {
        if to.parse::<SocketAddr>() != Ok(self.target) {
            let to = crate::escape::module_text(to, 100);
            self.refused += 1;
            // Once per call: a module that keeps trying cannot flood the log.
            if self.refused == 1 {
                tracing::warn!(%policy, %to, target = %self.target, "probe refused: an address outside its target");
            }
            return Err(format!(
                "refused: `{to}` is not this probe's target {}",
                self.target
            ));
        }
        self.exchanges += 1;
        if self.exchanges > EXCHANGES_PER_CALL {
            return Err(format!(
                "refused: more than {EXCHANGES_PER_CALL} exchanges in one call"
            ));
        }
        let left = self.deadline.saturating_duration_since(Instant::now());
        let asked = Duration::from_millis(u64::from(timeout_ms));
        let timeout = asked.min(left);
        if timeout.is_zero() {
            return Err("refused: the call's deadline has passed".into());
        }
        Ok(timeout)
    }
}

fn capped(n: u32) -> usize {
    n.min(REPLY_MAX) as usize
}

impl HostState {
    fn exchange(&mut self, transport: Transport, x: wit::Exchange) -> Result<Vec<u8>, String> {
        let policy = self.policy.clone();
        let Some(call) = self.probe.as_mut() else {
            return Err("no probe call in progress".into());
        };
        let timeout = call.admit(&policy, &x.to, x.timeout_ms)?;
        let exchange = Exchange {
            send: x.send,
            until: x.until.filter(|u| !u.is_empty()),
            max_reply: capped(x.max_reply),
        };
        call.net.exchange(&transport, &exchange, timeout)
    }
}

impl wit::Host for HostState {
    fn tcp_exchange(&mut self, x: wit::Exchange) -> Result<Vec<u8>, String> {
        self.exchange(Transport::Tcp, x)
    }

    fn tls_exchange(
        &mut self,
        x: wit::Exchange,
        server_name: Option<String>,
    ) -> Result<Vec<u8>, String> {
        self.exchange(Transport::Tls { server_name }, x)
    }

    fn udp_exchange(&mut self, x: wit::Exchange) -> Result<Vec<u8>, String> {
        self.exchange(Transport::Udp, x)
    }

    fn http(&mut self, r: wit::HttpRequest) -> Result<wit::HttpResponse, String> {
        let policy = self.policy.clone();
        let Some(call) = self.probe.as_mut() else {
            return Err("no probe call in progress".into());
        };
        let timeout = call.admit(&policy, &r.to, r.timeout_ms)?;
        if !r.path.starts_with('/') {
            return Err(format!("path `{}` does not start with /", r.path));
        }
        let request = HttpRequest {
            tls: r.tls,
            method: r.method,
            path: r.path,
            host: r.host,
            headers: r.headers,
            body: r.body,
            max_body: capped(r.max_body),
        };
        call.net.http(&request, timeout).map(|h| wit::HttpResponse {
            status: h.status,
            headers: h.headers,
            body: h.body,
        })
    }
}
