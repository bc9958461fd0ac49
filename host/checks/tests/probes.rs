//! Probes against real listeners on loopback.

use std::net::SocketAddr;
use std::time::Duration;

use holdfast_checks::{Probe, ProbeKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Serves one canned HTTP response to every connection.
async fn http_server(status_line: &'static str, body: &'static str, delay: Duration) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut s, _) = l.accept().await.unwrap();
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                let n = s.read(&mut buf).await.unwrap_or(0);
                let req = String::from_utf8_lossy(&buf[..n]).to_string();
                assert!(req.starts_with("GET /health HTTP/1.1\r\n"), "{req}");
                tokio::time::sleep(delay).await;
                let resp = format!(
                    "{status_line}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(resp.as_bytes()).await;
            });
        }
    });
    addr
}

fn http(target: SocketAddr, ranges: &[(u16, u16)]) -> Probe {
    Probe {
        kind: ProbeKind::Http {
            path: "/health".into(),
            host: Some("app.example".into()),
            status: ranges.to_vec(),
        },
        target,
        timeout: Duration::from_millis(500),
    }
}

#[tokio::test]
async fn tcp_connect_passes_and_a_closed_port_fails() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let probe = Probe {
        kind: ProbeKind::Tcp,
        target: addr,
        timeout: Duration::from_millis(500),
    };
    assert!(probe.run().await.success);
    drop(l);
    let o = probe.run().await;
    assert!(!o.success);
    assert!(o.error.unwrap().contains("connect"), "refused");
}

#[tokio::test]
async fn http_status_ranges_decide() {
    let ok = http_server("HTTP/1.1 200 OK", "db=up", Duration::ZERO).await;
    let o = http(ok, &[(200, 299)]).run().await;
    assert!(o.success, "{o:?}");
    assert_eq!(o.status, Some(200));
    assert_eq!(o.body_snippet.as_deref(), Some("db=up"));
    let busy = http_server("HTTP/1.1 503 Service Unavailable", "", Duration::ZERO).await;
    let o = http(busy, &[(200, 299)]).run().await;
    assert!(!o.success);
    assert_eq!(
        (o.status, o.error.as_deref()),
        (Some(503), Some("status 503"))
    );
    assert!(http(busy, &[(200, 299), (503, 503)]).run().await.success);
}

#[tokio::test]
async fn a_slow_server_times_out() {
    let slow = http_server("HTTP/1.1 200 OK", "", Duration::from_secs(3)).await;
    let o = http(slow, &[(200, 299)]).run().await;
    assert!(!o.success);
    assert!(o.error.unwrap().contains("timed out"));
    assert!(o.latency < Duration::from_secs(1));
}
