//! WebAssembly probe modules (`check "probe"`) against a real server:
//! `redis-probe` checks Debian's redis-server in a namespace and moves
//! mastership when Redis stops and comes back; a probe that reaches for
//! another address is refused by the host, and the other address never
//! sees a packet. `holdfast policy eval --kind probe --target` does the
//! same by hand. Needs root and redis-server.

use std::time::Duration;

use holdfast_tests::capture::Capture;
use holdfast_tests::lab::{Daemon, Lab, wait_until};

mod common;
use common::{VIP, build_policy, cache, instance, lab_or_skip, only_holder, start};

fn redis_available() -> bool {
    holdfast_tests::skip_unless(
        std::process::Command::new("redis-server")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success()),
        "redis-server (Debian's redis-server package)",
    )
}

/// Debian's redis-server on r2's address, in the foreground, keeping nothing.
fn redis(lab: &Lab, ip: &str) -> Daemon {
    lab.spawn(
        "r2",
        "redis",
        &[
            "redis-server",
            "--port",
            "6379",
            "--bind",
            ip,
            "--save",
            "",
            "--appendonly",
            "no",
            "--protected-mode",
            "no",
            "--daemonize",
            "no",
        ],
    )
}

/// Counts every TCP connection and UDP datagram to port 6380 into a file.
const TRAP: &str = r#"
import socket, sys, threading
out = open(sys.argv[2], "a", buffering=1)
t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind((sys.argv[1], 6380)); t.listen(16)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind((sys.argv[1], 6380))
def udp():
    while True:
        d, a = u.recvfrom(2048); out.write("udp %s\n" % (a,))
threading.Thread(target=udp, daemon=True).start()
out.write("listening\n")
while True:
    c, a = t.accept(); out.write("tcp %s\n" % (a,)); c.close()
"#;

fn pong(lab: &Lab, ip: &str) -> bool {
    lab.try_exec("r2", &["redis-cli", "-h", ip, "ping"])
}

#[test]
fn a_redis_probe_moves_mastership_with_redis() {
    let Some(lab) = lab_or_skip(&["r1", "r2"]) else {
        return;
    };
    assert!(redis_available(), "redis-server");
    let r2 = lab.host("r2").ipv4.clone();
    let mut server = redis(&lab, &r2);
    assert!(
        wait_until(Duration::from_secs(5), || pong(&lab, &r2)),
        "redis did not start"
    );
    let module = build_policy(&lab, "redis-probe", "redis.wasm");
    let config = format!(
        "{}policy \"redis\" {{\n    path \"{}\"\n    params {{\n        role \"master\"\n    }}\n}}\n\
         vrrp-check \"redis\" {{\n    check \"probe\" policy=\"redis\" connect-ip=\"{r2}\" port=6379 interval=0.2 timeout=0.5 rise=2 fall=2\n}}\n{}",
        cache(&lab),
        module.display(),
        instance(150, "0.1", "    track-check \"redis\" weight=-60\n")
    );
    let r1 = start(&lab, "r1", &config);
    let _r2 = start(&lab, "r2", &instance(120, "0.1", ""));
    assert!(
        wait_until(Duration::from_secs(8), || lab.holders(VIP) == ["r1"]),
        "{}",
        r1.log_text()
    );
    assert!(
        wait_until(Duration::from_secs(10), || r1
            .log_text()
            .contains("policy loaded policy=redis kind=probe")),
        "{}",
        r1.log_text()
    );
    only_holder(&lab, VIP, "r1", Duration::from_millis(500));
    let capture = Capture::start(&lab.switch_ns(), &lab.dir.join("probe.pcap"));

    // Redis stops: the probe fails, r1 drops to 90 and r2 takes over.
    server.signal("KILL");
    let _ = server.wait(Duration::from_secs(5));
    assert!(
        wait_until(Duration::from_secs(5), || lab.holders(VIP) == ["r2"]),
        "redis stopped: r2 must take over (redis-cli ping: {})\n{}",
        pong(&lab, &r2),
        r1.log_text()
    );
    only_holder(&lab, VIP, "r2", Duration::from_millis(500));
    let log = r1.log_text();
    assert!(
        log.contains("vrrp-check changed check=redis up=false"),
        "{log}"
    );
    assert!(
        log.contains("Connection refused"),
        "the probe's error is named: {log}"
    );

    // Redis is back: the probe passes, r1 preempts at 150.
    let _server = redis(&lab, &r2);
    assert!(wait_until(Duration::from_secs(5), || pong(&lab, &r2)));
    assert!(
        wait_until(Duration::from_secs(5), || lab.holders(VIP) == ["r1"]),
        "redis is back: r1 must preempt\n{}",
        r1.log_text()
    );
    only_holder(&lab, VIP, "r1", Duration::from_millis(500));
    let seen = common::distinct_priorities(&common::adverts_of(&lab, "r1", capture));
    assert_eq!(seen, [150, 90, 150], "r1's advertised priorities");
}

#[test]
fn a_probe_cannot_reach_another_address() {
    let Some(lab) = lab_or_skip(&["r1", "r2"]) else {
        return;
    };
    assert!(redis_available(), "redis-server");
    let r2 = lab.host("r2").ipv4.clone();
    let _server = redis(&lab, &r2);
    let trap_log = lab.dir.join("trap.log");
    let trap_script = lab.write("trap.py", TRAP);
    let _trap = lab.spawn(
        "r2",
        "trap-process",
        &[
            "python3",
            &trap_script.display().to_string(),
            &r2,
            &trap_log.display().to_string(),
        ],
    );
    assert!(wait_until(Duration::from_secs(5), || pong(&lab, &r2)));
    assert!(wait_until(Duration::from_secs(5), || {
        std::fs::read_to_string(&trap_log).is_ok_and(|t| t.contains("listening"))
    }));
    // The trap counts what reaches it: a plain connection does.
    let plain = format!("echo hi > /dev/tcp/{r2}/6380 && sleep 0.5 && echo connected");
    assert!(
        lab.exec("r1", &["bash", "-c", &plain])
            .contains("connected")
    );
    assert!(
        wait_until(Duration::from_secs(3), || std::fs::read_to_string(
            &trap_log
        )
        .is_ok_and(|t| t.contains("tcp "))),
        "the trap must see a connection that is allowed to happen: {:?}",
        std::fs::read_to_string(&trap_log)
    );
    std::fs::write(&trap_log, "").unwrap();

    let elsewhere = build_policy(&lab, "fixtures/probe-elsewhere", "elsewhere.wasm");
    let config = format!(
        "{}policy \"elsewhere\" {{\n    path \"{}\"\n    params {{\n        elsewhere \"{r2}:6380\"\n    }}\n}}\n\
         vrrp-check \"redis\" {{\n    check \"probe\" policy=\"elsewhere\" connect-ip=\"{r2}\" port=6379 interval=0.2 timeout=1 rise=1 fall=1\n}}\n{}",
        cache(&lab),
        elsewhere.display(),
        instance(150, "0.1", "    track-check \"redis\" weight=-60\n")
    );
    let r1 = start(&lab, "r1", &config);
    // Several calls, each trying tcp, tls, udp and http to the trap.
    assert!(
        wait_until(Duration::from_secs(10), || r1
            .log_text()
            .matches("probe refused: an address outside its target")
            .count()
            >= 5),
        "{}",
        r1.log_text()
    );
    std::thread::sleep(Duration::from_millis(500));
    let trapped = std::fs::read_to_string(&trap_log).unwrap();
    assert_eq!(trapped, "", "the probe reached another address");
    // Every attempt was refused and its own target answered: the check
    // never went down.
    assert!(
        !r1.log_text().contains("vrrp-check changed"),
        "{}",
        r1.log_text()
    );

    // By hand: the same module, and redis-probe, from r1's namespace.
    let bin = env!("CARGO_BIN_EXE_holdfast");
    let eval = |module: &std::path::Path, params: &str| {
        lab.exec(
            "r1",
            &[
                bin,
                "policy",
                "eval",
                &module.display().to_string(),
                "--kind",
                "probe",
                "--target",
                &format!("{r2}:6379"),
                "--params",
                params,
            ],
        )
    };
    let out = eval(&elsewhere, &format!("{{\"elsewhere\":\"{r2}:6380\"}}"));
    assert!(
        out.contains("\"up\":true") && out.contains("is not this probe's target"),
        "{out}"
    );
    let redis_probe = build_policy(&lab, "redis-probe", "redis.wasm");
    let out = eval(&redis_probe, "{}");
    assert!(out.contains("\"up\":true") && out.contains("PONG"), "{out}");
    assert_eq!(std::fs::read_to_string(&trap_log).unwrap(), "");
}
