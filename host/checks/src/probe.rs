//! One probe of a target: what it does ([`ProbeKind`]), where from
//! ([`Source`]), and how long it may take. Every kind is bounded by the
//! probe's timeout; `retry` failed attempts are repeated (after
//! `delay_before_retry`) before the result counts, as keepalived's
//! `retry` / `delay_before_retry`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use crate::dns::DnsProbe;
use crate::http::HttpProbe;
use crate::net::{Source, connect_from};
use crate::smtp::SmtpProbe;
use crate::udp::UdpProbe;

/// What a probe does.
#[derive(Debug, Clone, PartialEq)]
pub enum ProbeKind {
    /// Connect succeeds.
    Tcp,
    /// GETs over HTTP or HTTPS.
    Http(HttpProbe),
    /// A program; exit 0 means up. The target is not used.
    Exec(crate::ExecCommand),
    /// A datagram, and maybe its reply.
    Udp(UdpProbe),
    /// An ICMP echo (the target's port is not used).
    Icmp,
    /// A DNS query.
    Dns(DnsProbe),
    /// An SMTP greeting and HELO.
    Smtp(SmtpProbe),
    /// A number in a file (the target is not used).
    File(crate::FileProbe),
    /// A probe the daemon supplies (a WebAssembly probe module).
    Custom(CustomRef),
}

/// A probe run by someone else: blocking, on a thread of its own.
pub trait CustomProbe: Send + Sync + std::fmt::Debug {
    /// One attempt against `target` from `source`, within `timeout`.
    fn run(&self, target: SocketAddr, source: &Source, timeout: Duration) -> Outcome;

    /// Not ready to run yet (its module is still loading): attempts wait,
    /// and nothing is reported meanwhile, as for a check that has not run.
    fn pending(&self) -> bool {
        false
    }
}

/// A shared [`CustomProbe`]; equal only to itself.
#[derive(Debug, Clone)]
pub struct CustomRef(pub std::sync::Arc<dyn CustomProbe>);

impl PartialEq for CustomRef {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

/// A probe against one target.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    /// What it does.
    pub kind: ProbeKind,
    /// Where.
    pub target: SocketAddr,
    /// How long one attempt may take.
    pub timeout: Duration,
    /// Where its traffic comes from.
    pub source: Source,
    /// Attempts repeated after a failure before it counts.
    pub retry: u32,
    /// The pause before each repeated attempt.
    pub delay_before_retry: Duration,
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
    /// How the probe changes the real server's weight, if it does.
    pub weight: Option<WeightChange>,
}

/// A weight a probe sets: an `exec` check's dynamic exit status sets it,
/// a `file` check's number adds to the configured weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightChange {
    /// This weight.
    Set(u32),
    /// The configured weight plus this (at least 0).
    Add(i64),
}

impl WeightChange {
    /// The weight it gives a server configured with `configured`.
    pub fn apply(self, configured: u32) -> u32 {
        match self {
            Self::Set(w) => w,
            Self::Add(d) => (i64::from(configured) + d).clamp(0, 65_535) as u32,
        }
    }
}

impl Outcome {
    /// A success, timed from `started`.
    pub fn passed(started: Instant) -> Self {
        Self {
            success: true,
            latency: started.elapsed(),
            status: None,
            body_snippet: None,
            error: None,
            weight: None,
        }
    }

    /// A failure, timed from `started`.
    pub fn failed(started: Instant, error: String) -> Self {
        Self {
            success: false,
            latency: started.elapsed(),
            status: None,
            body_snippet: None,
            error: Some(error),
            weight: None,
        }
    }
}

/// ICMP sequence numbers, so a late reply to an earlier echo never counts.
static ICMP_SEQ: AtomicU16 = AtomicU16::new(1);

impl Probe {
    /// A probe of `kind` against `target` with no retries, from anywhere.
    pub fn new(kind: ProbeKind, target: SocketAddr, timeout: Duration) -> Self {
        Self {
            kind,
            target,
            timeout,
            source: Source::default(),
            retry: 0,
            delay_before_retry: Duration::from_secs(1),
        }
    }

    /// Runs the probe, repeating a failed attempt up to `retry` times.
    pub async fn run(&self) -> Outcome {
        let mut outcome = self.attempt().await;
        for _ in 0..self.retry {
            if outcome.success {
                break;
            }
            tokio::time::sleep(self.delay_before_retry).await;
            outcome = self.attempt().await;
        }
        outcome
    }

    /// One attempt, bounded by the timeout.
    async fn attempt(&self) -> Outcome {
        if let ProbeKind::Exec(command) = &self.kind {
            // Bounded by its own timeout, which kills its process group.
            return crate::exec::run(command, self.timeout).await;
        }
        if let ProbeKind::Custom(custom) = &self.kind {
            while custom.0.pending() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            // Blocking and bounded by its own deadline; the grace only
            // covers a thread pool slow to start it.
            let (custom, target, source, timeout) = (
                custom.0.clone(),
                self.target,
                self.source.clone(),
                self.timeout,
            );
            let started = Instant::now();
            let run = tokio::task::spawn_blocking(move || custom.run(target, &source, timeout));
            return match tokio::time::timeout(timeout + Duration::from_secs(1), run).await {
                Ok(Ok(outcome)) => outcome,
                Ok(Err(e)) => Outcome::failed(started, format!("probe: {e}")),
                Err(_) => Outcome::failed(
                    started,
                    format!("timed out after {} ms", self.timeout.as_millis()),
                ),
            };
        }
        let started = Instant::now();
        match tokio::time::timeout(self.timeout, self.attempt_unbounded(started)).await {
            Ok(outcome) => outcome,
            Err(_) => Outcome::failed(
                started,
                format!("timed out after {} ms", self.timeout.as_millis()),
            ),
        }
    }

    async fn attempt_unbounded(&self, started: Instant) -> Outcome {
        let (source, target) = (&self.source, self.target);
        match &self.kind {
            ProbeKind::Tcp => match connect_from(source, target).await {
                Ok(_) => Outcome::passed(started),
                Err(e) => Outcome::failed(started, e),
            },
            ProbeKind::Http(http) => http.run(source, target, started).await,
            ProbeKind::Udp(udp) => udp.run(source, target, self.timeout, started).await,
            ProbeKind::Dns(dns) => dns.run(source, target, self.timeout, started).await,
            ProbeKind::Smtp(smtp) => smtp.run(source, target, started).await,
            ProbeKind::Icmp => {
                let seq = ICMP_SEQ.fetch_add(1, Ordering::Relaxed);
                crate::icmp::run(source, target.ip(), seq, started).await
            }
            ProbeKind::File(file) => file.run(started).await,
            ProbeKind::Exec(_) | ProbeKind::Custom(_) => {
                Outcome::failed(started, "not a network probe".into())
            }
        }
    }
}
