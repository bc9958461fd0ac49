//! One probe of a real server: TCP connect, or an HTTP GET whose status
//! must fall in the accepted ranges.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Bytes of the body kept for health policies.
const SNIPPET: usize = 256;

/// What a probe does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeKind {
    /// Connect succeeds.
    Tcp,
    /// An HTTP/1.1 GET.
    Http {
        /// Request path.
        path: String,
        /// `Host` header (default: the target address).
        host: Option<String>,
        /// Accepted status ranges, inclusive.
        status: Vec<(u16, u16)>,
    },
    /// A program; exit 0 means up. The target is not used.
    Exec(crate::ExecCommand),
}

/// A probe against one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// What it does.
    pub kind: ProbeKind,
    /// Where.
    pub target: SocketAddr,
    /// How long one probe may take.
    pub timeout: Duration,
}

/// What one probe saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// It passed.
    pub success: bool,
    /// Time to the answer (or to the failure).
    pub latency: Duration,
    /// HTTP status.
    pub status: Option<u16>,
    /// Start of the body.
    pub body_snippet: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
}

impl Outcome {
    pub(crate) fn passed(started: Instant) -> Self {
        Self {
            success: true,
            latency: started.elapsed(),
            status: None,
            body_snippet: None,
            error: None,
        }
    }

    pub(crate) fn failed(started: Instant, error: String) -> Self {
        Self {
            success: false,
            latency: started.elapsed(),
            status: None,
            body_snippet: None,
            error: Some(error),
        }
    }
}

impl Probe {
    /// Runs the probe once, bounded by its timeout.
    pub async fn run(&self) -> Outcome {
        if let ProbeKind::Exec(command) = &self.kind {
            // Bounded by its own timeout, which kills its process group.
            return crate::exec::run(command, self.timeout).await;
        }
        let started = Instant::now();
        match tokio::time::timeout(self.timeout, self.attempt(started)).await {
            Ok(outcome) => outcome,
            Err(_) => Outcome::failed(
                started,
                format!("timed out after {} ms", self.timeout.as_millis()),
            ),
        }
    }

    async fn attempt(&self, started: Instant) -> Outcome {
        let stream = match TcpStream::connect(self.target).await {
            Ok(s) => s,
            Err(e) => return Outcome::failed(started, format!("connect: {e}")),
        };
        let ProbeKind::Http { path, host, status } = &self.kind else {
            return Outcome::passed(started);
        };
        let _ = stream.set_nodelay(true);
        let (mut sender, conn) =
            match hyper::client::conn::http1::handshake(TokioIo::new(stream)).await {
                Ok(pair) => pair,
                Err(e) => return Outcome::failed(started, format!("http: {e}")),
            };
        let driver = tokio::spawn(conn);
        let host = host.clone().unwrap_or_else(|| self.target.to_string());
        let request = hyper::Request::get(path.as_str())
            .header(hyper::header::HOST, host)
            .header(hyper::header::USER_AGENT, "holdfast-check")
            .header(hyper::header::CONNECTION, "close")
            .body(Empty::<Bytes>::new());
        let request = match request {
            Ok(r) => r,
            Err(e) => return Outcome::failed(started, format!("request: {e}")),
        };
        let response = match sender.send_request(request).await {
            Ok(r) => r,
            Err(e) => {
                driver.abort();
                return Outcome::failed(started, format!("http: {e}"));
            }
        };
        let code = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        driver.abort();
        let latency = started.elapsed();
        let snippet = String::from_utf8_lossy(&body[..body.len().min(SNIPPET)]).into_owned();
        let ok = status.iter().any(|&(lo, hi)| (lo..=hi).contains(&code));
        Outcome {
            success: ok,
            latency,
            status: Some(code),
            body_snippet: Some(snippet),
            error: (!ok).then(|| format!("status {code}")),
        }
    }
}
