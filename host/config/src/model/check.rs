//! Checks: what they probe and how (`check` nodes of real servers and
//! `vrrp-check` blocks), and what VRRP instances track of them.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

/// A `track-check` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrackCheckCfg {
    /// The `vrrp-check` block tracked.
    pub name: String,
    /// `weight=`: added while the check passes if positive, while it fails
    /// if negative; 0 means Fault while it fails.
    pub weight: i32,
}

/// A `track-process` entry (keepalived's `vrrp_track_process`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrackProcessCfg {
    /// A process name, or (with a `/` or a space) a whole command line.
    pub name: String,
    /// `weight=`: as a tracked check's.
    pub weight: i32,
    /// `quorum=`: at least this many must run (default 1).
    pub quorum: u32,
    /// `quorum-max=`: at most this many may run.
    pub quorum_max: Option<u32>,
}

/// A `vrrp-check "NAME" { check ... }` block: checks that drive VRRP
/// priority through `track-check` (keepalived's `vrrp_script`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VrrpCheckCfg {
    /// Its name, referenced by `track-check`.
    pub name: String,
    /// Its checks: the block passes while every one of them is up.
    pub checks: Vec<CheckCfg>,
}

/// What a health check does.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub enum CheckKind {
    /// Connect succeeds (keepalived's TCP_CHECK).
    Tcp,
    /// GETs whose status (and digest, regex) pass (HTTP_GET / SSL_GET).
    Http {
        /// `https`: TLS settings.
        tls: Option<TlsCfg>,
        /// The URLs; every one must pass.
        urls: Vec<UrlCfg>,
        /// `host=`: the Host header (keepalived's `virtualhost`).
        host: Option<String>,
        /// `http-protocol="1.0"`: HTTP/1.0 requests.
        http10: bool,
    },
    /// A datagram, and maybe a reply (UDP_CHECK).
    Udp {
        /// `payload=`: bytes sent (from hex).
        payload: Vec<u8>,
        /// `require-reply=`: a reply must come.
        require_reply: bool,
        /// `reply=`: what the reply must begin with (from hex).
        reply: Option<Vec<u8>>,
    },
    /// A DNS query that must be answered (DNS_CHECK).
    Dns {
        /// `name=`: the name queried.
        name: String,
        /// `type=`: the record type.
        record: String,
    },
    /// ICMP echo (PING_CHECK).
    Icmp,
    /// SMTP greeting and HELO (SMTP_CHECK).
    Smtp {
        /// `helo-name=`: the name sent with HELO.
        helo_name: String,
    },
    /// A number in a file adjusts the weight, or takes the server down
    /// (keepalived's FILE_CHECK).
    File {
        /// `path=`: the file.
        path: PathBuf,
        /// `weight=`: what the number is multiplied by (0: any number
        /// but 0 is down).
        weight: i32,
        /// `reverse=`: multiply by −weight.
        reverse: bool,
    },
    /// A WebAssembly probe module checks the target itself, through
    /// exchanges with that target only.
    Probe {
        /// `policy=`: the `policy` block whose module exports the probe world.
        policy: String,
    },
    /// Run a program; exit 0 means up (keepalived's MISC_CHECK).
    Exec {
        /// `command=`: the command line.
        command: String,
        /// `user=`: `user` or `user:group` to run it as.
        user: Option<String>,
        /// `dynamic=`: exit 2..=255 passes and sets the weight to status − 2.
        dynamic: bool,
    },
}

/// One URL of an `http`/`https` check.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct UrlCfg {
    /// `path=`: the request path.
    pub path: String,
    /// `status=`: accepted status ranges, inclusive.
    pub status: Vec<(u16, u16)>,
    /// `digest=`: MD5 of the body, lowercase hex (`holdfast digest` prints it).
    pub digest: Option<String>,
    /// `regex=`: a pattern the body must match.
    pub regex: Option<String>,
}

/// TLS settings of an `https` check.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct TlsCfg {
    /// `sni=`: the server name sent (default: `host=`, else none).
    pub sni: Option<String>,
    /// `verify=`: check the certificate against `ca` (default off, as
    /// keepalived's SSL_GET).
    pub verify: bool,
    /// `ca=`: the CA certificates (PEM) `verify` trusts.
    pub ca: Option<PathBuf>,
}

/// A `check` on a real server.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct CheckCfg {
    /// What is probed.
    pub kind: CheckKind,
    /// `interval=`: time between probes.
    pub interval: Duration,
    /// `timeout=`: probe timeout.
    pub timeout: Duration,
    /// `rise=`: consecutive successes to go up.
    pub rise: u32,
    /// `fall=`: consecutive failures to go down.
    pub fall: u32,
    /// `port=`: probe this port instead of the real server's.
    pub port: Option<u16>,
    /// `connect-ip=`: probe this address instead of the real server's
    /// (required for network kinds in a `vrrp-check`).
    pub connect_ip: Option<std::net::IpAddr>,
    /// `bind-to=`: the source address of the probe's traffic.
    pub bind_to: Option<std::net::IpAddr>,
    /// `bind-interface=`: the interface the probe's traffic leaves by.
    pub bind_interface: Option<String>,
    /// `retry=`: failed attempts repeated before the failure counts.
    pub retry: u32,
    /// `delay-before-retry=`: the pause before each repeated attempt.
    pub delay_before_retry: Duration,
    /// `warmup=`: the first probe waits a random time up to this.
    pub warmup: Duration,
}
