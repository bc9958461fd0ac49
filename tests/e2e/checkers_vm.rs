//! The checkers not yet driven through the director elsewhere, against a
//! real IPVS kernel in the VM: `https` (a rustls server made here), `udp`
//! (an echo), `dns` (Debian's dnsmasq), `smtp` (a responder) and `probe`
//! (`redis-probe` against Debian's redis-server). Each server is stopped:
//! its real server leaves the table; started again: it comes back.
//!
//! The servers this binary provides run as its own ignored `vm_server_*`
//! tests, started by the in-VM test inside the real server's namespace.

use std::io::{Read, Write};
use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use holdfast_tests::{skip_unless, vm};

/// Set for a `vm_server_*` test that should serve (it returns otherwise).
const SERVE: &str = "HF_VM_SERVE";

#[test]
fn every_checker_through_the_director_in_a_vm() {
    if vm::inside() || !skip_unless(vm::available(), "root and the IPVS VM (QEMU)") {
        return;
    }
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let bin = vm::stripped(Path::new(env!("CARGO_BIN_EXE_holdfast")), tmp);
    let redis_probe = tmp.join("redis_probe.wasm");
    let o = Command::new(env!("CARGO_BIN_EXE_holdfast"))
        .args(["policy", "build"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies/redis-probe"))
        .arg("-o")
        .arg(&redis_probe)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let servers: Vec<PathBuf> = ["/usr/sbin/dnsmasq", "/usr/bin/redis-server"]
        .iter()
        .map(PathBuf::from)
        .collect();
    for s in &servers {
        assert!(
            skip_unless(s.exists(), &s.display().to_string()),
            "{}",
            s.display()
        );
    }
    let mut copies = vec![bin.as_path(), redis_probe.as_path()];
    copies.extend(servers.iter().map(PathBuf::as_path));
    vm::run_in_vm_tests(&copies, 1);
}

const TOPOLOGY: &str = r#"
set -e
ip link add br0 type bridge
ip addr add 10.0.0.1/24 dev br0
ip link set br0 up
ip netns add rs1
ip link add r1 type veth peer name dr1
ip link set r1 netns rs1
ip link set dr1 master br0 up
ip -n rs1 addr add 10.0.0.11/24 dev r1
ip -n rs1 link set r1 up
ip -n rs1 link set lo up
ip -n rs1 route add default via 10.0.0.1
"#;

const CONFIG: &str = r#"
global {
    ipvs-reconcile-interval 1
    lvs-flush-on-stop
    policy-cache "/tmp/policy-cache"
}
// Compiles and calls run ~50x slower under QEMU's software emulation.
// `alpha`: every server starts out of the table until its check passes.
policy "redis" {
    path "/payload/redis_probe.wasm"
    timeout-ms 1000
    compile-timeout-ms 300000
}
virtual-server "192.168.10.100:443" protocol="tcp" {
    alpha
    real-server "10.0.0.11:443" {
        check "https" path="/health" interval=0.3 timeout=1 rise=1 fall=2
    }
}
virtual-server "192.168.10.100:5353" protocol="udp" {
    alpha
    real-server "10.0.0.11:5353" {
        check "udp" payload="68656c6c6f" require-reply=#true reply="68656c" interval=0.3 timeout=1 rise=1 fall=2
    }
}
virtual-server "192.168.10.100:53" protocol="udp" {
    alpha
    real-server "10.0.0.11:53" {
        check "dns" name="up.example" type="A" interval=0.3 timeout=1 rise=1 fall=2
    }
}
virtual-server "192.168.10.100:25" protocol="tcp" {
    alpha
    real-server "10.0.0.11:25" {
        check "smtp" helo-name="director.lab" interval=0.3 timeout=1 rise=1 fall=2
    }
}
virtual-server "192.168.10.100:6379" protocol="tcp" {
    alpha
    real-server "10.0.0.11:6379" {
        check "probe" policy="redis" interval=0.3 timeout=2 rise=1 fall=2
    }
}
"#;

/// A server in rs1: one of ours (a `vm_server_*` test of this binary) or a
/// copied program; killed on drop.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn in_rs1(args: &[&str], env: &[(&str, &str)]) -> Server {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", "rs1"])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    Server(cmd.spawn().expect("start a server in rs1"))
}

fn ours(name: &str) -> Server {
    let me = std::env::current_exe().unwrap();
    let me = me.to_str().unwrap().to_string();
    in_rs1(
        &[&me, "--ignored", "--exact", name, "--nocapture"],
        &[(SERVE, "1")],
    )
}

fn start(kind: &str) -> Server {
    match kind {
        "https" => ours("vm_server_https"),
        "udp" => ours("vm_server_udp_echo"),
        "smtp" => ours("vm_server_smtp"),
        "dns" => in_rs1(
            &[
                "/payload/dnsmasq",
                "--no-daemon",
                "--conf-file=/dev/null",
                "--no-resolv",
                "--no-hosts",
                "--bind-interfaces",
                "--listen-address=10.0.0.11",
                "--address=/up.example/192.0.2.7",
                "--user=root",
                "--group=root",
                "--pid-file=/tmp/dnsmasq.pid",
            ],
            &[],
        ),
        "probe" => in_rs1(
            &[
                "/payload/redis-server",
                "--bind",
                "10.0.0.11",
                "--port",
                "6379",
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "no",
            ],
            &[],
        ),
        _ => unreachable!("{kind}"),
    }
}

/// The real server each kind checks, as `ipvsadm -Ln` shows it (with the
/// forwarding method, so `:53` is not `:5353`).
fn line(kind: &str) -> &'static str {
    match kind {
        "https" => "-> 10.0.0.11:443 Masq",
        "udp" => "-> 10.0.0.11:5353 Masq",
        "dns" => "-> 10.0.0.11:53 Masq",
        "smtp" => "-> 10.0.0.11:25 Masq",
        _ => "-> 10.0.0.11:6379 Masq",
    }
}

fn wait_for(what: &str, limit: Duration, f: impl Fn(&str) -> bool, log: &Path) {
    vm::wait_for_table(what, limit, f, log);
}

const KINDS: [&str; 5] = ["https", "udp", "dns", "smtp", "probe"];

#[test]
#[ignore = "runs inside the IPVS VM"]
fn in_vm_every_checker_takes_a_server_out_and_back() {
    vm::sh(TOPOLOGY);
    let mut servers: Vec<Option<Server>> = KINDS.iter().map(|k| Some(start(k))).collect();
    std::fs::write("/tmp/checkers.kdl", CONFIG).unwrap();
    let log = Path::new("/tmp/holdfast.log");
    let out = std::fs::File::create(log).unwrap();
    let mut daemon = Server(
        Command::new("/payload/holdfast")
            .args(["run", "--config", "/tmp/checkers.kdl"])
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap(),
    );
    // The probe module compiles under emulation first (~15 s).
    wait_for(
        "every server in",
        Duration::from_secs(120),
        |t| KINDS.iter().all(|k| t.contains(line(k))),
        log,
    );
    for (i, kind) in KINDS.iter().enumerate() {
        servers[i] = None;
        wait_for(
            &format!("{kind}: out"),
            Duration::from_secs(10),
            |t| !t.contains(line(kind)),
            log,
        );
        servers[i] = Some(start(kind));
        wait_for(
            &format!("{kind}: back"),
            Duration::from_secs(10),
            |t| t.contains(line(kind)),
            log,
        );
    }
    assert!(
        daemon.0.try_wait().unwrap().is_none(),
        "holdfast still runs"
    );
    let _ = daemon.0.kill();
}

fn serving() -> bool {
    vm::inside() && std::env::var_os(SERVE).is_some()
}

#[test]
#[ignore = "a server for the in-VM test"]
fn vm_server_udp_echo() {
    if !serving() {
        return;
    }
    let s = UdpSocket::bind("0.0.0.0:5353").unwrap();
    let mut buf = [0u8; 2048];
    loop {
        if let Ok((n, from)) = s.recv_from(&mut buf) {
            let _ = s.send_to(&buf[..n], from);
        }
    }
}

#[test]
#[ignore = "a server for the in-VM test"]
fn vm_server_smtp() {
    if !serving() {
        return;
    }
    let l = TcpListener::bind("0.0.0.0:25").unwrap();
    for mut s in l.incoming().flatten() {
        std::thread::spawn(move || {
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            let _ = s.write_all(b"220 rs1.lab ESMTP\r\n");
            let mut buf = [0u8; 512];
            while let Ok(n) = s.read(&mut buf) {
                if n == 0 {
                    return;
                }
                let line = String::from_utf8_lossy(&buf[..n]).to_ascii_uppercase();
                let reply: &[u8] = if line.starts_with("HELO") || line.starts_with("EHLO") {
                    b"250 rs1.lab\r\n"
                } else if line.starts_with("QUIT") {
                    b"221 bye\r\n"
                } else {
                    b"500 unknown\r\n"
                };
                let _ = s.write_all(reply);
            }
        });
    }
}

#[test]
#[ignore = "a server for the in-VM test"]
fn vm_server_https() {
    if !serving() {
        return;
    }
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["rs1.lab".to_string()])
        .unwrap()
        .self_signed(&key)
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
    let config = Arc::new(config);
    let l = TcpListener::bind("0.0.0.0:443").unwrap();
    for s in l.incoming().flatten() {
        let config = config.clone();
        std::thread::spawn(move || {
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            let Ok(conn) = rustls::ServerConnection::new(config) else {
                return;
            };
            let mut tls = rustls::StreamOwned::new(conn, s);
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match tls.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let _ = tls.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n",
            );
            tls.conn.send_close_notify();
            let _ = tls.flush();
        });
    }
}
