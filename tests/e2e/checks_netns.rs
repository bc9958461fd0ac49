//! Every network checker through the daemon, against real servers in a
//! network namespace: Python's HTTP server, Debian's dnsmasq, a UDP echo,
//! an SMTP responder, and the kernel's ICMP echo. Each check passes, then
//! fails when its server is stopped or misbehaves, and (where the server
//! comes back) passes again. Needs root and dnsmasq.

use std::time::Duration;

use holdfast_tests::lab::{Daemon, Lab, wait_until};

mod common;
use common::{instance, lab_or_skip, start};

const UDP_ECHO: &str = "import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind(('0.0.0.0',5353))\nwhile True:\n    d,a=s.recvfrom(2048)\n    s.sendto(d,a)\n";

const SMTP: &str = r#"
import socketserver
class H(socketserver.StreamRequestHandler):
    def handle(self):
        self.wfile.write(b"220 mail.lab ESMTP\r\n")
        for line in self.rfile:
            if line.upper().startswith(b"HELO") or line.upper().startswith(b"EHLO"):
                self.wfile.write(b"250 mail.lab\r\n")
            elif line.upper().startswith(b"QUIT"):
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"500 unknown\r\n")
socketserver.ThreadingTCPServer.allow_reuse_address = True
socketserver.ThreadingTCPServer(("0.0.0.0", 2525), H).serve_forever()
"#;

fn dnsmasq(lab: &Lab, ip: &str) -> Daemon {
    lab.spawn(
        "r2",
        "dnsmasq",
        &[
            "dnsmasq",
            "--no-daemon",
            "--conf-file=/dev/null",
            "--no-resolv",
            "--no-hosts",
            "--bind-interfaces",
            &format!("--listen-address={ip}"),
            "--address=/up.example/192.0.2.7",
            "--user=root",
            &format!("--pid-file={}", lab.dir.join("dnsmasq.pid").display()),
        ],
    )
}

fn changed(log: &str, check: &str, up: bool) -> bool {
    log.contains(&format!("vrrp-check changed check={check} up={up}"))
}

#[test]
fn every_network_checker_passes_then_fails_with_its_server() {
    let Some(lab) = lab_or_skip(&["r1", "r2"]) else {
        return;
    };
    assert!(
        holdfast_tests::skip_unless(
            std::process::Command::new("dnsmasq")
                .arg("--version")
                .output()
                .is_ok(),
            "dnsmasq"
        ),
        "dnsmasq"
    );
    let r2 = lab.host("r2").ipv4.clone();
    let www = lab.dir.join("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("health"), "ok\n").unwrap();
    let www_arg = www.display().to_string();
    let _http = lab.spawn(
        "r2",
        "http",
        &[
            "python3",
            "-m",
            "http.server",
            "8080",
            "--bind",
            "0.0.0.0",
            "--directory",
            &www_arg,
        ],
    );
    let dns = dnsmasq(&lab, &r2);
    let udp = lab.spawn("r2", "udp", &["python3", "-c", UDP_ECHO]);
    let smtp = lab.spawn("r2", "smtp", &["python3", "-c", SMTP]);
    let timing = "interval=0.2 timeout=0.5 rise=1 fall=1";
    let checks = [
        (
            "http",
            format!(
                "check \"http\" connect-ip=\"{r2}\" port=8080 path=\"/health\" regex=\"^ok\" {timing}"
            ),
        ),
        (
            "dns",
            format!("check \"dns\" connect-ip=\"{r2}\" name=\"up.example.\" type=\"A\" {timing}"),
        ),
        (
            "udp",
            format!(
                "check \"udp\" connect-ip=\"{r2}\" port=5353 payload=\"70696e67\" require-reply=#true reply=\"70696e67\" {timing}"
            ),
        ),
        (
            "smtp",
            format!("check \"smtp\" connect-ip=\"{r2}\" port=2525 helo-name=\"r1.lab\" {timing}"),
        ),
        (
            "icmp",
            format!("check \"icmp\" connect-ip=\"{r2}\" {timing}"),
        ),
    ];
    let mut config = String::new();
    let mut tracks = String::new();
    for (name, check) in &checks {
        config.push_str(&format!("vrrp-check \"{name}\" {{\n    {check}\n}}\n"));
        tracks.push_str(&format!("    track-check \"{name}\" weight=-1\n"));
    }
    config.push_str(&instance(150, "0.1", &tracks));
    // Servers a moment to listen.
    std::thread::sleep(Duration::from_millis(800));
    let r1 = start(&lab, "r1", &config);
    assert!(wait_until(Duration::from_secs(8), || lab.has_addr("r1", common::VIP)));
    std::thread::sleep(Duration::from_secs(1));
    let log = r1.log_text();
    for (name, _) in &checks {
        assert!(
            !changed(&log, name, false),
            "{name} must pass first:\n{log}"
        );
    }

    // Failure injection, one per server.
    std::fs::remove_file(www.join("health")).unwrap();
    dns.signal("KILL");
    udp.signal("KILL");
    smtp.signal("KILL");
    lab.exec("r2", &["sysctl", "-qw", "net.ipv4.icmp_echo_ignore_all=1"]);
    for (name, _) in &checks {
        assert!(
            wait_until(Duration::from_secs(5), || changed(
                &r1.log_text(),
                name,
                false
            )),
            "{name} must fail:\n{}",
            r1.log_text()
        );
    }
    let log = r1.log_text();
    for (name, why) in [
        ("http", "status 404"),
        ("udp", "port unreachable"),
        ("icmp", "timed out"),
    ] {
        assert!(
            log.lines()
                .any(|l| changed(l, name, false) && l.contains(why)),
            "{name} fails with {why}:\n{log}"
        );
    }

    // Recovery: the page, the echo replies, dnsmasq.
    std::fs::write(www.join("health"), "ok\n").unwrap();
    lab.exec("r2", &["sysctl", "-qw", "net.ipv4.icmp_echo_ignore_all=0"]);
    let _dns = dnsmasq(&lab, &r2);
    for name in ["http", "icmp", "dns"] {
        assert!(
            wait_until(Duration::from_secs(5), || changed(
                &r1.log_text(),
                name,
                true
            )),
            "{name} must pass again:\n{}",
            r1.log_text()
        );
    }
    // A wrong answer fails too: the page no longer matches the regex.
    std::fs::write(www.join("health"), "degraded\n").unwrap();
    assert!(
        wait_until(Duration::from_secs(5), || r1
            .log_text()
            .lines()
            .any(|l| changed(l, "http", false) && l.contains("does not match"))),
        "{}",
        r1.log_text()
    );
}
