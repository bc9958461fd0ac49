//! Probes against real servers on loopback: TCP, HTTP (status, digest,
//! regex, several URLs, HTTP/1.0, a bounded body), HTTPS with a CA made at
//! test time (rcgen), UDP, SMTP and DNS responders, retries and timeouts.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use holdfast_checks::{
    BodyRegex, DnsProbe, HttpProbe, HttpUrl, Probe, ProbeKind, SmtpProbe, TlsProbe, UdpProbe,
    md5_hex,
};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, UdpSocket};

/// Answers every request with `status_line` and `body` after `delay`;
/// hands each request line to `seen`.
async fn serve_http<S>(stream: S, status_line: String, body: Vec<u8>, delay: Duration)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut reader = BufReader::new(stream);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await.unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    tokio::time::sleep(delay).await;
    let version = if head.contains("HTTP/1.0") {
        "HTTP/1.0"
    } else {
        "HTTP/1.1"
    };
    let status_line = status_line.replace("HTTP/1.1", version);
    let mut resp = format!(
        "{status_line}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    resp.extend_from_slice(&body);
    let _ = reader.get_mut().write_all(&resp).await;
}

/// An HTTP server on loopback; `route` maps a path to a status line and body.
async fn http_server(route: fn(&str) -> (&'static str, Vec<u8>), delay: Duration) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (s, _) = l.accept().await.unwrap();
            tokio::spawn(async move {
                let mut peek = [0u8; 512];
                let n = s.peek(&mut peek).await.unwrap_or(0);
                let first = String::from_utf8_lossy(&peek[..n]).to_string();
                let path = first.split_whitespace().nth(1).unwrap_or("/").to_string();
                let (status, body) = route(&path);
                serve_http(s, status.to_string(), body, delay).await;
            });
        }
    });
    addr
}

fn site(path: &str) -> (&'static str, Vec<u8>) {
    match path {
        "/health" => ("HTTP/1.1 200 OK", b"db=up".to_vec()),
        "/index.html" => ("HTTP/1.1 200 OK", b"<h1>hello</h1>".to_vec()),
        "/busy" => ("HTTP/1.1 503 Service Unavailable", Vec::new()),
        "/huge" => ("HTTP/1.1 200 OK", vec![b'x'; holdfast_checks::BODY_MAX + 1]),
        _ => ("HTTP/1.1 404 Not Found", Vec::new()),
    }
}

fn url(path: &str) -> HttpUrl {
    HttpUrl {
        path: path.into(),
        status: vec![(200, 299)],
        digest: None,
        regex: None,
    }
}

fn http_probe(target: SocketAddr, urls: Vec<HttpUrl>, tls: Option<TlsProbe>) -> Probe {
    let kind = ProbeKind::Http(HttpProbe {
        urls,
        host: Some("app.example".into()),
        http10: false,
        tls,
    });
    Probe::new(kind, target, Duration::from_millis(800))
}

#[tokio::test]
async fn tcp_connect_passes_and_a_closed_port_fails() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let probe = Probe::new(
        ProbeKind::Tcp,
        l.local_addr().unwrap(),
        Duration::from_millis(500),
    );
    assert!(probe.run().await.success);
    drop(l);
    let o = probe.run().await;
    assert!(!o.success);
    assert!(o.error.unwrap().contains("connect"), "refused");
}

#[tokio::test]
async fn http_status_digest_regex_and_every_url() {
    let addr = http_server(site, Duration::ZERO).await;
    let o = http_probe(addr, vec![url("/health")], None).run().await;
    assert!(o.success, "{o:?}");
    assert_eq!(
        (o.status, o.body_snippet.as_deref()),
        (Some(200), Some("db=up"))
    );

    let o = http_probe(addr, vec![url("/busy")], None).run().await;
    assert_eq!(
        (o.status, o.error.as_deref()),
        (Some(503), Some("/busy: status 503"))
    );
    let mut busy_ok = url("/busy");
    busy_ok.status.push((503, 503));
    assert!(http_probe(addr, vec![busy_ok], None).run().await.success);

    // keepalived's genhash digest of the page, right and wrong.
    let mut digest = url("/index.html");
    digest.digest = Some(md5_hex(b"<h1>hello</h1>"));
    assert!(
        http_probe(addr, vec![digest.clone()], None)
            .run()
            .await
            .success
    );
    digest.digest = Some("0".repeat(32));
    let o = http_probe(addr, vec![digest], None).run().await;
    assert!(
        o.error.unwrap().contains("expected 000"),
        "wrong digest fails"
    );

    let mut re = url("/health");
    re.regex = Some(BodyRegex::new("db=(up|degraded)").unwrap());
    assert!(http_probe(addr, vec![re.clone()], None).run().await.success);
    re.regex = Some(BodyRegex::new("^db=down$").unwrap());
    assert!(!http_probe(addr, vec![re], None).run().await.success);

    // Every URL must pass: one failing URL fails the check.
    let both = vec![url("/health"), url("/index.html")];
    assert!(http_probe(addr, both, None).run().await.success);
    let o = http_probe(addr, vec![url("/health"), url("/missing")], None)
        .run()
        .await;
    assert_eq!(o.error.as_deref(), Some("/missing: status 404"));

    // The body read is bounded.
    let o = http_probe(addr, vec![url("/huge")], None).run().await;
    assert!(o.error.unwrap().contains("body"), "an oversized body fails");
}

#[tokio::test]
async fn http10_requests_are_sent_as_http10() {
    let addr = http_server(site, Duration::ZERO).await;
    let mut p = http_probe(addr, vec![url("/health")], None);
    if let ProbeKind::Http(h) = &mut p.kind {
        h.http10 = true;
    }
    let o = p.run().await;
    assert!(o.success, "{o:?}");
}

#[tokio::test]
async fn a_slow_server_times_out_and_retries_count() {
    let slow = http_server(site, Duration::from_secs(3)).await;
    let o = http_probe(slow, vec![url("/health")], None).run().await;
    assert!(o.error.unwrap().contains("timed out"));
    assert!(o.latency < Duration::from_secs(1));
    // Two retries 100 ms apart: three attempts before the failure counts.
    let mut p = http_probe(slow, vec![url("/health")], None);
    p.timeout = Duration::from_millis(200);
    p.retry = 2;
    p.delay_before_retry = Duration::from_millis(100);
    let started = Instant::now();
    assert!(!p.run().await.success);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(800),
        "three attempts and two pauses: {took:?}"
    );
}

/// A TLS server on loopback with a certificate for `name`, signed by a CA
/// made here; returns its address and the CA's PEM.
async fn tls_server(name: &str) -> (SocketAddr, String) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec![name.to_string()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![cert.der().clone()],
        rustls_pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
    )
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (s, _) = l.accept().await.unwrap();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(s).await {
                    serve_http(
                        tls,
                        "HTTP/1.1 200 OK".into(),
                        b"secure".to_vec(),
                        Duration::ZERO,
                    )
                    .await;
                }
            });
        }
    });
    (addr, ca.pem())
}

#[tokio::test]
async fn https_without_and_with_verification() {
    let (addr, ca_pem) = tls_server("app.example").await;
    let dir = std::env::temp_dir().join(format!("holdfast-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, ca_pem).unwrap();

    // keepalived's SSL_GET default: no verification.
    let plain = TlsProbe::new(None, false, None).unwrap();
    let o = http_probe(addr, vec![url("/")], Some(plain)).run().await;
    assert!(o.success, "{o:?}");
    assert_eq!(o.body_snippet.as_deref(), Some("secure"));

    // Verified against the CA, with the right SNI name.
    let right = TlsProbe::new(Some("app.example".into()), true, Some(&ca)).unwrap();
    let o = http_probe(addr, vec![url("/")], Some(right)).run().await;
    assert!(o.success, "{o:?}");

    // The name does not match the certificate: refused.
    let wrong = TlsProbe::new(Some("other.example".into()), true, Some(&ca)).unwrap();
    let o = http_probe(addr, vec![url("/")], Some(wrong)).run().await;
    assert!(!o.success);
    assert!(o.error.unwrap().contains("tls"), "a TLS failure");

    // Plain HTTP to a TLS port fails.
    assert!(!http_probe(addr, vec![url("/")], None).run().await.success);
    assert!(
        TlsProbe::new(None, true, None).is_err(),
        "verify needs a CA"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn udp_reply_required_matched_or_refused() {
    let echo = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = echo.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = [0u8; 512];
        while let Ok((n, from)) = echo.recv_from(&mut buf).await {
            let mut reply = b"pong:".to_vec();
            reply.extend_from_slice(&buf[..n]);
            let _ = echo.send_to(&reply, from).await;
        }
    });
    let udp = |require_reply, reply: Option<&[u8]>| {
        let kind = ProbeKind::Udp(UdpProbe {
            payload: b"ping".to_vec(),
            require_reply,
            reply: reply.map(<[u8]>::to_vec),
        });
        Probe::new(kind, addr, Duration::from_millis(300))
    };
    assert!(udp(true, None).run().await.success);
    assert!(udp(true, Some(b"pong:ping")).run().await.success);
    assert!(!udp(true, Some(b"nope")).run().await.success);
    // A port nobody listens on answers "port unreachable".
    let closed = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let closed_addr = closed.local_addr().unwrap();
    drop(closed);
    let mut p = udp(false, None);
    p.target = closed_addr;
    let o = p.run().await;
    assert_eq!(o.error.as_deref(), Some("port unreachable"));
    // A silent listener: passes without require-reply, fails with it.
    let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut p = udp(false, None);
    p.target = silent.local_addr().unwrap();
    assert!(p.run().await.success);
    let mut p = udp(true, None);
    p.target = silent.local_addr().unwrap();
    assert!(p.run().await.error.unwrap().contains("no reply"));
}

#[tokio::test]
async fn smtp_banner_and_helo() {
    async fn responder(banner: &'static str) -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let (s, _) = l.accept().await.unwrap();
                tokio::spawn(async move {
                    let (r, mut w) = s.into_split();
                    let mut r = BufReader::new(r);
                    let _ = w.write_all(banner.as_bytes()).await;
                    let mut line = String::new();
                    while r.read_line(&mut line).await.unwrap_or(0) > 0 {
                        let reply = if line.starts_with("HELO holdfast-test") {
                            "250-mail.example\r\n250 ok\r\n"
                        } else if line.starts_with("QUIT") {
                            "221 bye\r\n"
                        } else {
                            "500 what\r\n"
                        };
                        let _ = w.write_all(reply.as_bytes()).await;
                        line.clear();
                    }
                });
            }
        });
        addr
    }
    let smtp = |addr, helo: &str| {
        let kind = ProbeKind::Smtp(SmtpProbe {
            helo_name: helo.into(),
        });
        Probe::new(kind, addr, Duration::from_millis(500))
    };
    let good = responder("220 mail.example ESMTP\r\n").await;
    assert!(smtp(good, "holdfast-test").run().await.success);
    let o = smtp(good, "someone-else").run().await;
    assert!(o.error.unwrap().contains("HELO: 500"));
    let busy = responder("421 busy\r\n").await;
    assert!(
        smtp(busy, "holdfast-test")
            .run()
            .await
            .error
            .unwrap()
            .contains("banner")
    );
}

#[tokio::test]
async fn dns_answer_required() {
    use hickory_proto::op::{Message, MessageType, ResponseCode};
    use hickory_proto::rr::{RData, Record, rdata::A};
    // A responder that answers A queries for `up.example.` and NXDOMAIN
    // for anything else.
    let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = server.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = [0u8; 1500];
        while let Ok((n, from)) = server.recv_from(&mut buf).await {
            let Ok(q) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            let mut r = Message::new(q.metadata.id, MessageType::Response, q.metadata.op_code);
            let query = q.queries[0].clone();
            if query.name().to_ascii() == "up.example." {
                r.add_answer(Record::from_rdata(
                    query.name().clone(),
                    60,
                    RData::A(A::new(192, 0, 2, 7)),
                ));
            } else {
                r.metadata.response_code = ResponseCode::NXDomain;
            }
            r.add_query(query);
            let _ = server.send_to(&r.to_vec().unwrap(), from).await;
        }
    });
    let dns = |name: &str| {
        let kind = ProbeKind::Dns(DnsProbe::new(name, "A").unwrap());
        Probe::new(kind, addr, Duration::from_millis(500))
    };
    assert!(dns("up.example.").run().await.success);
    let o = dns("down.example.").run().await;
    let error = o.error.unwrap_or_default();
    assert!(
        error.starts_with("response code"),
        "an NXDOMAIN fails: {error}"
    );
    assert!(DnsProbe::new("up.example.", "NOPE").is_err());
}

#[tokio::test]
async fn icmp_echo_to_loopback() {
    // Raw ICMP sockets need CAP_NET_RAW; CI runs as root.
    if !holdfast_tests::skip_unless(holdfast_tests::is_root(), "root (raw ICMP sockets)") {
        return;
    }
    let p = Probe::new(
        ProbeKind::Icmp,
        "127.0.0.1:0".parse().unwrap(),
        Duration::from_millis(500),
    );
    let o = p.run().await;
    assert!(o.success, "{o:?}");
    let p6 = Probe::new(
        ProbeKind::Icmp,
        "[::1]:0".parse().unwrap(),
        Duration::from_millis(500),
    );
    let o = p6.run().await;
    assert!(o.success, "{o:?}");
}
