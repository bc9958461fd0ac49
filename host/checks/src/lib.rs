//! Health probes and the rise/fall hysteresis that turns probe results
//! into up/down transitions, as keepalived's checkers do: `tcp`, `http` and
//! `https` (HTTP_GET / SSL_GET), `udp`, `icmp` (PING_CHECK), `dns`,
//! `smtp` and `exec` (MISC_CHECK), and custom probes ([`CustomProbe`]: the
//! daemon's WebAssembly probe modules). A [`Checker`] runs one probe on its
//! interval and reports every [`Outcome`] with the hysteresis verdict.

mod dns;
mod exchange;
mod exec;
mod file;
mod http;
mod hysteresis;
mod icmp;
mod net;
mod probe;
mod runner;
mod smtp;
mod tls;
mod udp;

pub use dns::DnsProbe;
pub use exchange::{HttpAnswer, HttpCall, datagram, http as http_exchange, stream};
pub use exec::{ExecCommand, RunAs};
pub use file::FileProbe;
pub use http::{BODY_MAX, BodyRegex, HttpProbe, HttpUrl, md5_hex};
pub use hysteresis::RiseFall;
pub use net::Source;
pub use probe::{CustomProbe, CustomRef, Outcome, Probe, ProbeKind, WeightChange};
pub use runner::{CheckEvent, Checker};
pub use smtp::SmtpProbe;
pub use tls::TlsProbe;
pub use udp::UdpProbe;
