//! The `http` and `https` probes (keepalived's HTTP_GET and SSL_GET): one
//! GET per URL, each on its own connection; the check passes when every
//! URL answers with an accepted status and, where asked, a body whose MD5
//! digest (keepalived's `genhash` format) or regex matches. The body read
//! is bounded.

use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::rt::TokioIo;
use md5::{Digest, Md5};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::Outcome;
use crate::net::Source;
use crate::tls::TlsProbe;

/// The most of a body read (for digests and regexes); a longer body fails.
pub const BODY_MAX: usize = 4 * 1024 * 1024;
/// Bytes of the body kept for health policies.
const SNIPPET: usize = 256;

/// A body pattern (compiled once; compared by its source).
#[derive(Debug, Clone)]
pub struct BodyRegex(regex::bytes::Regex);

impl BodyRegex {
    /// Compiles `pattern`.
    pub fn new(pattern: &str) -> Result<Self, String> {
        regex::bytes::Regex::new(pattern)
            .map(Self)
            .map_err(|e| e.to_string())
    }
}

impl PartialEq for BodyRegex {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

impl Eq for BodyRegex {}

/// One URL of an HTTP check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl {
    /// Request path.
    pub path: String,
    /// Accepted status ranges, inclusive.
    pub status: Vec<(u16, u16)>,
    /// MD5 of the body, lowercase hex (keepalived's `digest`).
    pub digest: Option<String>,
    /// A pattern the body must match.
    pub regex: Option<BodyRegex>,
}

/// An HTTP or HTTPS check.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpProbe {
    /// The URLs, all of which must pass.
    pub urls: Vec<HttpUrl>,
    /// `Host` header (keepalived's `virtualhost`; default: the target).
    pub host: Option<String>,
    /// Send HTTP/1.0 requests instead of HTTP/1.1.
    pub http10: bool,
    /// TLS (`https`).
    pub tls: Option<TlsProbe>,
}

/// What one GET saw.
struct Answer {
    status: u16,
    body: Bytes,
}

impl HttpProbe {
    /// Runs every URL against `target` (the caller bounds the time).
    pub(crate) async fn run(
        &self,
        source: &Source,
        target: SocketAddr,
        started: Instant,
    ) -> Outcome {
        let mut last = None;
        for url in &self.urls {
            let answer = match self.get(source, target, &url.path).await {
                Ok(a) => a,
                Err(e) => return Outcome::failed(started, format!("{}: {e}", url.path)),
            };
            if let Some(why) = url.judge(&answer) {
                let mut out = Outcome::failed(started, format!("{}: {why}", url.path));
                out.status = Some(answer.status);
                out.body_snippet = Some(snippet(&answer.body));
                return out;
            }
            last = Some(answer);
        }
        let mut out = Outcome::passed(started);
        if let Some(a) = last {
            out.status = Some(a.status);
            out.body_snippet = Some(snippet(&a.body));
        }
        out
    }

    /// One GET of `path` (for `holdfast digest`): the status and body.
    pub async fn fetch(&self, target: SocketAddr, path: &str) -> Result<(u16, Bytes), String> {
        self.get(&Source::default(), target, path)
            .await
            .map(|a| (a.status, a.body))
    }

    async fn get(&self, source: &Source, target: SocketAddr, path: &str) -> Result<Answer, String> {
        let tcp = crate::net::connect_from(source, target).await?;
        let _ = tcp.set_nodelay(true);
        match &self.tls {
            Some(tls) => {
                let stream = tls.handshake(tcp, target.ip()).await?;
                self.request(stream, target, path).await
            }
            None => self.request(tcp, target, path).await,
        }
    }

    async fn request<S>(&self, stream: S, target: SocketAddr, path: &str) -> Result<Answer, String>
    where
        S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("http: {e}"))?;
        let driver = tokio::spawn(conn);
        let host = self.host.clone().unwrap_or_else(|| target.to_string());
        let version = if self.http10 {
            hyper::Version::HTTP_10
        } else {
            hyper::Version::HTTP_11
        };
        let request = hyper::Request::get(path)
            .version(version)
            .header(hyper::header::HOST, host)
            .header(hyper::header::USER_AGENT, "holdfast-check")
            .header(hyper::header::CONNECTION, "close")
            .body(Empty::<Bytes>::new())
            .map_err(|e| format!("request: {e}"))?;
        let result = async {
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| format!("http: {e}"))?;
            let status = response.status().as_u16();
            let body = Limited::new(response.into_body(), BODY_MAX)
                .collect()
                .await
                .map_err(|e| format!("body: {e}"))?
                .to_bytes();
            Ok(Answer { status, body })
        }
        .await;
        driver.abort();
        result
    }
}

impl HttpUrl {
    /// Why `answer` fails this URL, if it does.
    fn judge(&self, answer: &Answer) -> Option<String> {
        if !self
            .status
            .iter()
            .any(|&(lo, hi)| (lo..=hi).contains(&answer.status))
        {
            return Some(format!("status {}", answer.status));
        }
        if let Some(want) = &self.digest {
            let got = md5_hex(&answer.body);
            if &got != want {
                return Some(format!("digest {got}, expected {want}"));
            }
        }
        if let Some(re) = &self.regex
            && !re.0.is_match(&answer.body)
        {
            return Some(format!("body does not match /{}/", re.0.as_str()));
        }
        None
    }
}

/// MD5 of `body` as lowercase hex: keepalived's `digest` and `genhash`.
pub fn md5_hex(body: &[u8]) -> String {
    Md5::digest(body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn snippet(body: &[u8]) -> String {
    String::from_utf8_lossy(&body[..body.len().min(SNIPPET)]).into_owned()
}
