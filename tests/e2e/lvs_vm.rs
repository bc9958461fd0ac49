//! holdfast as an LVS director against a real IPVS kernel, in the VM:
//! real traffic from a client namespace through the VIP to real servers in
//! namespaces, health checks taking a server out and back, inhibit, quorum
//! loss to the sorry server and back, hand-made changes reverted, foreign
//! services untouched, and our services removed on stop.
//!
//! ```text
//!  netns client 192.168.10.2 ──veth── director (VM root ns, VIP 192.168.10.100)
//!  director br0 10.0.0.1 ──veth── netns rs1 10.0.0.11 / rs2 .12 / sorry .13 (busybox httpd)
//! ```

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use holdfast_tests::{skip_unless, vm};

#[test]
fn lvs_director_in_a_vm() {
    if vm::inside() || !skip_unless(vm::available(), "root and the IPVS VM (QEMU)") {
        return;
    }
    let bin = vm::stripped(
        Path::new(env!("CARGO_BIN_EXE_holdfast")),
        Path::new(env!("CARGO_TARGET_TMPDIR")),
    );
    // The shipped health and weight policies, built from source.
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let policies: Vec<_> = ["http-verdict", "latency-weights", "fixtures/weight-world"]
        .iter()
        .map(|name| {
            let base = name.rsplit('/').next().unwrap().replace('-', "_");
            let out = tmp.join(format!("{base}.wasm"));
            let o = Command::new(env!("CARGO_BIN_EXE_holdfast"))
                .args(["policy", "build"])
                .arg(
                    Path::new(env!("CARGO_MANIFEST_DIR"))
                        .join("../../policies")
                        .join(name),
                )
                .arg("-o")
                .arg(&out)
                .output()
                .unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            out
        })
        .collect();
    let mut copies = vec![bin.as_path()];
    copies.extend(policies.iter().map(|p| p.as_path()));
    vm::run_in_vm_tests(&copies, 2);
}

const TOPOLOGY: &str = r#"
set -e
ip netns add client
ip link add c0 type veth peer name dc0
ip link set c0 netns client
ip addr add 192.168.10.1/24 dev dc0
ip addr add 192.168.10.100/32 dev dc0
ip link set dc0 up
ip -n client addr add 192.168.10.2/24 dev c0
ip -n client link set c0 up
ip -n client link set lo up
ip link add br0 type bridge
ip addr add 10.0.0.1/24 dev br0
ip link set br0 up
for i in 1 2 3; do
  ip netns add rs$i
  ip link add r$i type veth peer name dr$i
  ip link set r$i netns rs$i
  ip link set dr$i master br0 up
  ip -n rs$i addr add 10.0.0.1$i/24 dev r$i
  ip -n rs$i link set r$i up
  ip -n rs$i link set lo up
  ip -n rs$i route add default via 10.0.0.1
  mkdir -p /tmp/www$i
  echo "hello from rs$i" > /tmp/www$i/index.html
  echo ok > /tmp/www$i/health
  ip netns exec rs$i httpd -p 80 -h /tmp/www$i
done
echo sorry > /tmp/www3/index.html
touch /tmp/rs1-ok
echo 3 > /tmp/rs1-weight
echo 7 > /tmp/rs2-code
sysctl -qw net.ipv4.ip_forward=1
"#;

const CONFIG: &str = r#"
global {
    ipvs-reconcile-interval 1
    lvs-flush-on-stop
    policy-cache "/tmp/policy-cache"
}
// Calls (and compiles) run ~50x slower under QEMU's software emulation
// than on hardware.
policy "weights" {
    path "/payload/latency_weights.wasm"
    timeout-ms 1000
    compile-timeout-ms 300000
    params { reference-ms 1000; max 77; }
}
policy "verdict" {
    path "/payload/http_verdict.wasm"
    timeout-ms 1000
    compile-timeout-ms 300000
    fallback "down"
    params { down-after 1; }
}
virtual-server "192.168.10.100:81" protocol="tcp" {
    scheduler "wrr"
    weight-policy "weights"
    real-server "10.0.0.11:80" weight=10 {
        check "http" path="/health" status="200-299" interval=0.2 timeout=0.5 rise=1 fall=2
        health-policy "verdict"
    }
    real-server "10.0.0.12:80" weight=10 {
        check "http" path="/health" status="200-299" interval=0.2 timeout=0.5 rise=1 fall=2
        health-policy "verdict"
    }
}
virtual-server "192.168.10.100:80" protocol="tcp" {
    scheduler "wrr"
    forwarding "nat"
    quorum 2
    sorry-server "10.0.0.13:80"
    real-server "10.0.0.11:80" weight=2 {
        check "http" path="/health" status="200-299" interval=0.2 timeout=0.5 rise=1 fall=2
    }
    real-server "10.0.0.12:80" weight=1 {
        check "http" path="/health" status="200-299" interval=0.2 timeout=0.5 rise=1 fall=2
        notify-down "/tmp/notify.sh rs2-down"
        notify-up "/tmp/notify.sh rs2-up"
    }
}
virtual-server "192.168.10.100:8080" protocol="tcp" {
    scheduler "lc"
    forwarding "dr"
    inhibit-on-failure
    persistence-timeout 600
    real-server "10.0.0.11:80" weight=5 {
        check "tcp" interval=0.2 timeout=0.5 rise=1 fall=2
    }
    real-server "10.0.0.12:80" weight=5 {
        check "tcp" interval=0.2 timeout=0.5 rise=1 fall=2
    }
}
virtual-server "192.168.10.100:82" protocol="tcp" {
    scheduler "rr"
    // Port 81: the other services' table lines stay their own.
    real-server "10.0.0.11:81" {
        check "exec" command="test -e /tmp/rs1-ok" interval=0.2 timeout=0.5 rise=1 fall=2
    }
    real-server "10.0.0.12:81" {
        check "icmp" interval=0.2 timeout=0.5 rise=1 fall=2
    }
}
// Weights set by checks: a file's number (FILE_CHECK), an exec's exit status (misc_dynamic).
virtual-server "192.168.10.100:83" protocol="tcp" {
    scheduler "wrr"
    real-server "10.0.0.11:83" weight=10 {
        check "file" path="/tmp/rs1-weight" weight=-1 interval=0.2 timeout=0.5 rise=1 fall=1
    }
    real-server "10.0.0.12:83" weight=10 {
        check "exec" command="sh -c 'exit $(cat /tmp/rs2-code)'" dynamic=#true interval=0.2 timeout=0.5 rise=1 fall=1
    }
}
virtual-server fwmark=7 family="ipv4" {
    scheduler "sh"
    sh-port
    forwarding "tunnel" type="gue" port=6080
    real-server "10.0.0.11" weight=3
}
"#;

/// `ipvsadm -Ln` with padding squeezed.
fn table() -> String {
    vm::squeezed("ipvsadm -Ln")
}

fn wait_for(what: &str, limit: Duration, f: impl Fn(&str) -> bool, log: &Path) {
    vm::wait_for_table(what, limit, f, log);
}

/// Which real servers answer through the VIP, over `n` requests.
fn answers(port: u16, n: usize) -> String {
    (0..n)
        .map(|_| {
            vm::sh(&format!(
                "ip netns exec client timeout 3 wget -q -O - http://192.168.10.100:{port}/ || echo failed"
            ))
        })
        .collect()
}

fn stop_httpd(i: u32) {
    vm::sh(&format!(
        "for p in $(ip netns pids rs{i}); do kill $p; done; sleep 0.2"
    ));
}

fn start_httpd(i: u32) {
    vm::sh(&format!("ip netns exec rs{i} httpd -p 80 -h /tmp/www{i}"));
}

/// Waits for the notify scripts to have logged exactly `want` (they run
/// off the director, in order).
fn notified(want: &str) {
    let start = Instant::now();
    loop {
        let got = std::fs::read_to_string("/tmp/notify.log").unwrap_or_default();
        if got == want {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "notify scripts: {got:?}, want {want:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
#[ignore = "runs inside the IPVS VM"]
fn in_vm_director_end_to_end() {
    vm::sh(TOPOLOGY);
    // Someone else's service, which holdfast must never touch.
    vm::sh(
        "ipvsadm -A -t 192.0.2.99:443 -s lc && ipvsadm -a -t 192.0.2.99:443 -r 192.0.2.100:443 -m",
    );
    std::fs::write("/tmp/lvs.kdl", CONFIG).unwrap();
    std::fs::write(
        "/tmp/notify.sh",
        "#!/bin/sh\necho \"$1\" >> /tmp/notify.log\n",
    )
    .unwrap();
    vm::sh("chmod +x /tmp/notify.sh");
    let log = Path::new("/tmp/holdfast.log");
    let out = std::fs::File::create(log).unwrap();
    let child = Command::new("/payload/holdfast")
        .args(["run", "--config", "/tmp/lvs.kdl"])
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap();
    let mut daemon = Daemon(child);

    // Converged to exactly the configuration. Policies compile under
    // software emulation for ~15 s each, off the director's path.
    wait_for(
        "converged",
        Duration::from_secs(90),
        |t| {
            t.contains("TCP 192.168.10.100:80 wrr")
                && t.contains("-> 10.0.0.11:80 Masq 2")
                && t.contains("-> 10.0.0.12:80 Masq 1")
                && t.contains("TCP 192.168.10.100:8080 lc persistent 600")
                && t.contains("-> 10.0.0.11:80 Route 5")
                && t.contains("-> 10.0.0.12:80 Route 5")
                && t.contains("FWM 7 sh (sh-port)")
                && t.contains("-> 10.0.0.11:0 Tunnel 3")
                // latency-weights: 10 × 1000 ms / a few ms, capped at max 77.
                && t.contains("TCP 192.168.10.100:81 wrr")
                && t.contains("-> 10.0.0.11:80 Masq 77")
                && t.contains("-> 10.0.0.12:80 Masq 77")
        },
        log,
    );
    let t = table();
    assert!(
        !t.contains("10.0.0.13"),
        "no sorry server while quorum holds\n{t}"
    );
    // The kernel's other view: /proc/net/ip_vs (addresses and ports in hex),
    // with ipvsadm's column padding squeezed.
    let proc_table = vm::squeezed("cat /proc/net/ip_vs");
    for want in [
        "TCP C0A80A64:0050 wrr",
        // (/proc shows the persistence timeout in jiffies)
        "TCP C0A80A64:1F90 lc persistent",
        "FWM 00000007 sh",
        "-> 0A00000B:0050 Masq 2",
        "-> 0A00000C:0050 Route 5",
    ] {
        assert!(proc_table.contains(want), "{want:?} in\n{proc_table}");
    }
    // The exec and icmp checkers through the director: each server out
    // when its check fails, and back.
    let exec_icmp = |t: &str| {
        let svc = t
            .split("TCP 192.168.10.100:82 rr")
            .nth(1)
            .unwrap_or_default();
        svc.split("TCP ").next().unwrap_or_default().to_string()
    };
    wait_for(
        "exec and icmp servers in",
        Duration::from_secs(10),
        |t| {
            let s = exec_icmp(t);
            s.contains("-> 10.0.0.11:81") && s.contains("-> 10.0.0.12:81")
        },
        log,
    );
    vm::sh(
        "rm /tmp/rs1-ok; ip netns exec rs2 sh -c 'echo 1 > /proc/sys/net/ipv4/icmp_echo_ignore_all'",
    );
    wait_for(
        "exec and icmp servers out",
        Duration::from_secs(10),
        |t| {
            let s = exec_icmp(t);
            !s.contains("10.0.0.11:81") && !s.contains("10.0.0.12:81")
        },
        log,
    );
    vm::sh(
        "touch /tmp/rs1-ok; ip netns exec rs2 sh -c 'echo 0 > /proc/sys/net/ipv4/icmp_echo_ignore_all'",
    );
    wait_for(
        "exec and icmp servers back",
        Duration::from_secs(10),
        |t| {
            let s = exec_icmp(t);
            s.contains("-> 10.0.0.11:81") && s.contains("-> 10.0.0.12:81")
        },
        log,
    );

    // Weights from checks: 10 - 3 (file) and 7 - 2 (exec, dynamic); then
    // 0 in the file and exit 0: both back to their configured 10.
    wait_for(
        "weights set by file and exec checks",
        Duration::from_secs(10),
        |t| t.contains("-> 10.0.0.11:83 Masq 7") && t.contains("-> 10.0.0.12:83 Masq 5"),
        log,
    );
    vm::sh("echo 0 > /tmp/rs1-weight; echo 0 > /tmp/rs2-code");
    wait_for(
        "configured weights restored",
        Duration::from_secs(10),
        |t| t.contains("-> 10.0.0.11:83 Masq 10") && t.contains("-> 10.0.0.12:83 Masq 10"),
        log,
    );

    let tun = vm::sh("ipvsadm -Ln --tun-info");
    assert!(tun.contains("gue") && tun.contains("6080"), "{tun}");

    // Real traffic through the VIP reaches both real servers.
    let seen = answers(80, 6);
    assert!(
        seen.contains("hello from rs1") && seen.contains("hello from rs2"),
        "{seen}"
    );

    // rs2 stops answering: out of the NAT service, weight 0 in the
    // inhibit-on-failure service; traffic keeps flowing to rs1.
    stop_httpd(2);
    wait_for(
        "rs2 out",
        Duration::from_secs(5),
        |t| !t.contains("-> 10.0.0.12:80 Masq") && t.contains("-> 10.0.0.12:80 Route 0"),
        log,
    );
    let seen = answers(80, 4);
    assert!(!seen.contains("rs2") && !seen.contains("failed"), "{seen}");
    notified("rs2-down\n");

    // rs1 fails too: the live weight (0) is below quorum 2: the sorry server alone.
    stop_httpd(1);
    wait_for(
        "sorry server",
        Duration::from_secs(5),
        |t| t.contains("-> 10.0.0.13:80 Masq 1") && !t.contains("-> 10.0.0.11:80 Masq"),
        log,
    );
    assert!(answers(80, 2).contains("sorry"));

    // Both back: quorum regained, the sorry server leaves.
    start_httpd(1);
    start_httpd(2);
    wait_for(
        "back",
        Duration::from_secs(5),
        |t| {
            t.contains("-> 10.0.0.11:80 Masq 2")
                && t.contains("-> 10.0.0.12:80 Masq 1")
                && t.contains("-> 10.0.0.12:80 Route 5")
                && t.contains("-> 10.0.0.12:80 Masq 77")
                && !t.contains("10.0.0.13")
        },
        log,
    );
    let seen = answers(80, 6);
    assert!(
        seen.contains("hello from rs1") && seen.contains("hello from rs2"),
        "{seen}"
    );
    notified("rs2-down\nrs2-up\n");

    // Hand-made changes are reverted within the reconcile interval (1 s here).
    vm::sh(
        "ipvsadm -e -t 192.168.10.100:80 -r 10.0.0.11:80 -m -w 50 && ipvsadm -d -t 192.168.10.100:8080 -r 10.0.0.12:80 && ipvsadm -E -t 192.168.10.100:80 -s rr",
    );
    wait_for(
        "hand edits reverted",
        Duration::from_secs(5),
        |t| {
            t.contains("TCP 192.168.10.100:80 wrr")
                && t.contains("-> 10.0.0.11:80 Masq 2")
                && t.contains("-> 10.0.0.12:80 Route 5")
        },
        log,
    );
    let t = table();
    assert!(
        t.contains("TCP 192.0.2.99:443 lc") && t.contains("192.0.2.100:443"),
        "foreign service intact\n{t}"
    );

    // Hot swap of the weight policy, no restart: a module answering half the
    // configured weight (10 / 2) is written over the file in place.
    vm::sh("cp /payload/weight_world.wasm /payload/latency_weights.wasm");
    wait_for(
        "weight policy swapped",
        Duration::from_secs(90),
        |t| t.contains("-> 10.0.0.11:80 Masq 5") && t.contains("-> 10.0.0.12:80 Masq 5"),
        log,
    );
    assert!(daemon.0.try_wait().unwrap().is_none(), "no restart");

    // SIGTERM: a clean exit that removes our services and only ours.
    let pid = daemon.0.id();
    vm::sh(&format!("kill -TERM {pid}"));
    let status = daemon.0.wait().unwrap();
    assert!(
        status.success(),
        "{status:?}\n{}",
        std::fs::read_to_string(log).unwrap()
    );
    let t = table();
    assert!(
        !t.contains("192.168.10.100") && !t.contains("FWM 7"),
        "ours removed\n{t}"
    );
    assert!(
        t.contains("TCP 192.0.2.99:443 lc"),
        "foreign service intact\n{t}"
    );
    let log_text = std::fs::read_to_string(log).unwrap();
    assert!(
        log_text.contains("quorum lost") && log_text.contains("quorum regained"),
        "{log_text}"
    );
    // The same http check of 10.0.0.11 and .12 in two services runs once:
    // ten configured checks, eight probes.
    assert!(
        log_text.contains("health checks started checks=10 probes=8"),
        "{log_text}"
    );
}

const RELOAD_TOPOLOGY: &str = r#"
set -e
ip link add br1 type bridge
ip addr add 10.0.1.1/24 dev br1
ip link set br1 up
for i in 1 2 3 4; do
  ip netns add rl$i
  ip link add l$i type veth peer name dl$i
  ip link set l$i netns rl$i
  ip link set dl$i master br1 up
  ip -n rl$i addr add 10.0.1.1$i/24 dev l$i
  ip -n rl$i link set l$i up
  ip -n rl$i link set lo up
  mkdir -p /tmp/rl$i
  echo ok > /tmp/rl$i/index.html
  ip netns exec rl$i httpd -p 80 -h /tmp/rl$i
done
"#;

fn reload_config(servers: &[(u8, u32)], with_90: bool) -> String {
    let rs: String = servers
        .iter()
        .map(|(i, w)| {
            format!(
                "    real-server \"10.0.1.1{i}:80\" weight={w} {{\n        check \"tcp\" interval=0.2 timeout=0.5 rise=1 fall=1\n    }}\n"
            )
        })
        .collect();
    let other = if with_90 {
        "virtual-server \"192.168.20.100:90\" protocol=\"tcp\" {\n    scheduler \"rr\"\n    real-server \"10.0.1.11:80\" {\n        check \"tcp\" interval=0.2 timeout=0.5 rise=1 fall=1\n    }\n}\n"
    } else {
        ""
    };
    format!(
        "global {{\n    ipvs-reconcile-interval 60\n}}\nvirtual-server \"192.168.20.100:80\" protocol=\"tcp\" {{\n    scheduler \"wrr\"\n{rs}}}\n{other}"
    )
}

/// The IPVS operations the director logged after byte `from` of its log.
fn ops_since(log: &Path, from: usize) -> Vec<String> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.get(from..)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(" ipvs") && l.contains("op="))
        .map(|l| l.split("op=").nth(1).unwrap_or_default().to_string())
        .collect()
}

#[test]
#[ignore = "runs inside the IPVS VM"]
fn in_vm_reload_changes_only_what_changed_and_keeps_health() {
    vm::sh(RELOAD_TOPOLOGY);
    vm::sh(
        "ipvsadm -A -t 192.0.2.98:443 -s lc && ipvsadm -a -t 192.0.2.98:443 -r 192.0.2.100:443 -m",
    );
    let conf = Path::new("/tmp/reload.kdl");
    std::fs::write(conf, reload_config(&[(1, 10), (2, 10), (3, 10)], true)).unwrap();
    let log = Path::new("/tmp/holdfast-reload.log");
    let out = std::fs::File::create(log).unwrap();
    let child = Command::new("/payload/holdfast")
        .args([
            "run",
            "--config",
            "/tmp/reload.kdl",
            "--control-socket",
            "/tmp/ctl.sock",
        ])
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap();
    let _daemon = Daemon(child);
    wait_for(
        "converged",
        Duration::from_secs(30),
        |t| {
            t.contains("-> 10.0.1.11:80 Masq 10")
                && t.contains("-> 10.0.1.12:80 Masq 10")
                && t.contains("-> 10.0.1.13:80 Masq 10")
                && t.contains("TCP 192.168.20.100:90 rr")
        },
        log,
    );
    // rs3 fails its check: out of the table.
    vm::sh("for p in $(ip netns pids rl3); do kill $p; done");
    wait_for(
        "rs3 out",
        Duration::from_secs(10),
        |t| !t.contains("10.0.1.13"),
        log,
    );
    std::thread::sleep(Duration::from_millis(500));
    let mark = std::fs::metadata(log).unwrap().len() as usize;
    // rs1 re-weighted, rs2 removed, rs4 added, :90 removed; rs3 unchanged (and down).
    std::fs::write(conf, reload_config(&[(1, 20), (3, 10), (4, 10)], false)).unwrap();
    let o = Command::new("/payload/holdfast")
        .args(["reload", "--control-socket", "/tmp/ctl.sock"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    wait_for(
        "reloaded",
        Duration::from_secs(10),
        |t| {
            t.contains("-> 10.0.1.11:80 Masq 20")
                && t.contains("-> 10.0.1.14:80 Masq 10")
                && !t.contains("10.0.1.12")
                && !t.contains("192.168.20.100:90")
        },
        log,
    );
    std::thread::sleep(Duration::from_secs(1));
    let t = table();
    assert!(
        !t.contains("10.0.1.13"),
        "a server that was down came back as alive on reload:\n{t}"
    );
    assert!(
        t.contains("TCP 192.0.2.98:443 lc"),
        "the foreign service was touched:\n{t}"
    );
    let ops = ops_since(log, mark);
    eprintln!("reload: {} IPVS operations: {ops:#?}", ops.len());
    assert_eq!(
        ops.len(),
        4,
        "exactly the four changes, nothing else: {ops:#?}"
    );
    // rs3's check kept running through the reload: it comes back when it answers.
    vm::sh("ip netns exec rl3 httpd -p 80 -h /tmp/rl3");
    wait_for(
        "rs3 back",
        Duration::from_secs(10),
        |t| t.contains("-> 10.0.1.13:80 Masq 10"),
        log,
    );
    // A broken file changes nothing and says where.
    std::fs::write(
        conf,
        "virtual-server \"192.168.20.100:80\" protocol=\"tcp\" {\n    schedulr \"rr\"\n}\n",
    )
    .unwrap();
    let o = Command::new("/payload/holdfast")
        .args(["reload", "--control-socket", "/tmp/ctl.sock"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("reload.kdl:"), "{err}");
    std::thread::sleep(Duration::from_millis(500));
    let t = table();
    assert!(
        t.contains("-> 10.0.1.11:80 Masq 20") && t.contains("-> 10.0.1.13:80 Masq 10"),
        "{t}"
    );
}
