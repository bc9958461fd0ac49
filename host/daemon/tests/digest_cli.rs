//! `holdfast digest URL` (keepalived's genhash) against a real server on
//! loopback, checked against coreutils' `md5sum` of the same body.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::Command;

const BODY: &str = "<html><body>hello from rs1</body></html>\n";

#[test]
fn digest_prints_the_md5_of_the_page_as_md5sum_does() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            let mut first = String::new();
            reader.read_line(&mut first).unwrap();
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 2 {
                line.clear();
            }
            let (status, body) = if first.starts_with("GET /index.html ") {
                ("200 OK", BODY)
            } else {
                ("404 Not Found", "")
            };
            let _ = write!(
                reader.get_mut(),
                "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    let out = Command::new(env!("CARGO_BIN_EXE_holdfast"))
        .args(["digest", &format!("http://{addr}/index.html")])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();

    let file = std::env::temp_dir().join(format!("holdfast-digest-{}", std::process::id()));
    std::fs::write(&file, BODY).unwrap();
    let md5sum = Command::new("md5sum").arg(&file).output().unwrap();
    let expected = String::from_utf8_lossy(&md5sum.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    std::fs::remove_file(&file).unwrap();
    assert!(
        text.starts_with(&format!("MD5SUM = {expected}\n")),
        "{text}"
    );
    assert!(
        text.contains(&format!("status 200; in a check: digest=\"{expected}\"")),
        "{text}"
    );

    // A page that does not exist still has a digest, and its status is shown.
    let out = Command::new(env!("CARGO_BIN_EXE_holdfast"))
        .args(["digest", &format!("http://{addr}/missing")])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("status 404"));
    // Nothing listening: a clear error and exit 1.
    let out = Command::new(env!("CARGO_BIN_EXE_holdfast"))
        .args(["digest", "http://127.0.0.1:1/", "--timeout", "2"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("connect"));
}
