//! The network a probe module's call is lent: exchanges with its check's
//! target, from the check's source, over the checks' own TCP, TLS, UDP and
//! HTTP code. Bound to the target at construction (it takes no address);
//! the policy runtime has already refused any other address the module
//! named, and bounded the bytes and the time.

use std::net::SocketAddr;
use std::time::Duration;

use holdfast_checks::{HttpCall, Source, TlsProbe};
use holdfast_policy::{Exchange, HttpRequest, HttpResponse, ProbeNetwork, Transport};

/// Exchanges with one target.
pub(crate) struct CheckNetwork {
    target: SocketAddr,
    source: Source,
}

impl CheckNetwork {
    pub(crate) fn new(target: SocketAddr, source: Source) -> Self {
        Self { target, source }
    }

    /// Runs `fut` to completion within `timeout`, on a runtime of its own:
    /// the call runs on a blocking thread, outside any runtime.
    fn within<T>(
        timeout: Duration,
        fut: impl std::future::Future<Output = Result<T, String>>,
    ) -> Result<T, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("runtime: {e}"))?;
        runtime.block_on(async {
            tokio::time::timeout(timeout, fut)
                .await
                .unwrap_or_else(|_| Err(format!("timed out after {} ms", timeout.as_millis())))
        })
    }
}

/// TLS as `https` checks do it by default: not verified, SNI when named.
fn tls(server_name: Option<&str>) -> Result<TlsProbe, String> {
    TlsProbe::new(server_name.map(str::to_string), false, None)
}

impl ProbeNetwork for CheckNetwork {
    fn exchange(
        &mut self,
        transport: &Transport,
        x: &Exchange,
        timeout: Duration,
    ) -> Result<Vec<u8>, String> {
        let (source, target) = (&self.source, self.target);
        let until = x.until.as_deref();
        match transport {
            Transport::Tcp => Self::within(timeout, async {
                holdfast_checks::stream(source, target, None, &x.send, until, x.max_reply).await
            }),
            Transport::Tls { server_name } => {
                let tls = tls(server_name.as_deref())?;
                Self::within(timeout, async {
                    holdfast_checks::stream(source, target, Some(&tls), &x.send, until, x.max_reply)
                        .await
                })
            }
            Transport::Udp => Self::within(timeout, async {
                holdfast_checks::datagram(source, target, &x.send, x.max_reply).await
            }),
        }
    }

    fn http(&mut self, r: &HttpRequest, timeout: Duration) -> Result<HttpResponse, String> {
        let tls = if r.tls { Some(tls(None)?) } else { None };
        let call = HttpCall {
            method: r.method.clone(),
            path: r.path.clone(),
            host: r.host.clone(),
            headers: r.headers.clone(),
            body: r.body.clone(),
            max_body: r.max_body,
        };
        let (source, target) = (&self.source, self.target);
        let (status, headers, body) = Self::within(timeout, async {
            holdfast_checks::http_exchange(source, target, tls.as_ref(), &call).await
        })?;
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }
}
