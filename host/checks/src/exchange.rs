//! Exchanges with one target, for probe modules (`check "probe"`): a
//! request and its reply over TCP, TLS or UDP, or one HTTP/1.1 request.
//! The reply is bounded by the caller's byte limit; the caller bounds the
//! time. What a module may reach is decided before these run: only its
//! own target.

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::net::{Source, connect_from, udp_from};
use crate::tls::TlsProbe;

/// Sends `send` and reads until the reply ends with `until`, the peer
/// closes, or `max` bytes arrived; over TLS when `tls` is given.
pub async fn stream(
    source: &Source,
    target: SocketAddr,
    tls: Option<&TlsProbe>,
    send: &[u8],
    until: Option<&[u8]>,
    max: usize,
) -> Result<Vec<u8>, String> {
    let tcp = connect_from(source, target).await?;
    let _ = tcp.set_nodelay(true);
    match tls {
        Some(tls) => {
            let stream = tls.handshake(tcp, target.ip()).await?;
            converse(stream, send, until, max).await
        }
        None => converse(tcp, send, until, max).await,
    }
}

async fn converse<S>(
    mut stream: S,
    send: &[u8],
    until: Option<&[u8]>,
    max: usize,
) -> Result<Vec<u8>, String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    if !send.is_empty() {
        stream
            .write_all(send)
            .await
            .map_err(|e| format!("send: {e}"))?;
        stream.flush().await.map_err(|e| format!("send: {e}"))?;
    }
    let mut reply = Vec::new();
    let mut buf = [0u8; 4096];
    while reply.len() < max {
        let want = buf.len().min(max - reply.len());
        let n = stream
            .read(&mut buf[..want])
            .await
            .map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            break;
        }
        reply.extend_from_slice(&buf[..n]);
        if until.is_some_and(|u| reply.ends_with(u)) {
            break;
        }
    }
    Ok(reply)
}

/// Sends one datagram and returns the first one back (at most `max` bytes).
pub async fn datagram(
    source: &Source,
    target: SocketAddr,
    send: &[u8],
    max: usize,
) -> Result<Vec<u8>, String> {
    let socket = udp_from(source, target).await?;
    socket.send(send).await.map_err(|e| format!("send: {e}"))?;
    let mut buf = vec![0u8; max.max(1)];
    let n = socket
        .recv(&mut buf)
        .await
        .map_err(|e| format!("receive: {e}"))?;
    buf.truncate(n.min(max));
    Ok(buf)
}

/// An HTTP/1.1 request a probe module makes.
#[derive(Debug, Clone, Default)]
pub struct HttpCall {
    /// Method.
    pub method: String,
    /// Path, starting with `/`.
    pub path: String,
    /// Host header (default: the target).
    pub host: Option<String>,
    /// Further headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
    /// Body bytes read at most.
    pub max_body: usize,
}

/// Status, headers and the body's first `max_body` bytes.
pub type HttpAnswer = (u16, Vec<(String, String)>, Vec<u8>);

/// One request to `target`, over TLS when `tls` is given.
pub async fn http(
    source: &Source,
    target: SocketAddr,
    tls: Option<&TlsProbe>,
    call: &HttpCall,
) -> Result<HttpAnswer, String> {
    let tcp = connect_from(source, target).await?;
    let _ = tcp.set_nodelay(true);
    match tls {
        Some(tls) => {
            let stream = tls.handshake(tcp, target.ip()).await?;
            request(stream, target, call).await
        }
        None => request(tcp, target, call).await,
    }
}

async fn request<S>(stream: S, target: SocketAddr, call: &HttpCall) -> Result<HttpAnswer, String>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("http: {e}"))?;
    let driver = tokio::spawn(conn);
    let method = hyper::Method::from_bytes(call.method.as_bytes())
        .map_err(|_| format!("method `{}` is not a method", call.method))?;
    let mut builder = hyper::Request::builder()
        .method(method)
        .uri(&call.path)
        .header(
            hyper::header::HOST,
            call.host.clone().unwrap_or_else(|| target.to_string()),
        )
        .header(hyper::header::USER_AGENT, "holdfast-probe")
        .header(hyper::header::CONNECTION, "close");
    for (k, v) in &call.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    let request = builder
        .body(Full::new(Bytes::from(call.body.clone())))
        .map_err(|e| format!("request: {e}"))?;
    let result = async {
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("http: {e}"))?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let mut body = response.into_body();
        let mut out = Vec::new();
        // Read frames until the limit; the rest is never read.
        while out.len() < call.max_body {
            match body.frame().await {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        let room = call.max_body - out.len();
                        out.extend_from_slice(&data[..data.len().min(room)]);
                    }
                }
                Some(Err(e)) => return Err(format!("body: {e}")),
                None => break,
            }
        }
        Ok((status, headers, out))
    }
    .await;
    driver.abort();
    result
}
