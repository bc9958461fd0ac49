//! One custom check, two ways: an `exec` check running `redis-cli ping`
//! (keepalived's MISC_CHECK way) against the `redis-probe` module doing the
//! same PING through the host's exchange, both against Debian's
//! redis-server, in the same run.
//!
//! `cargo bench -p holdfast-policy --bench probe_vs_exec` (as root: it
//! makes a network namespace for the server and itself, and removes it)
//! prints wall time per check (p50 / p99) and CPU per check (this process
//! and its children, from /proc), and the ratios. `HF_BENCH_EXECS`
//! (default 1000) and `HF_BENCH_PROBES` (default 5000) set the sample sizes.

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use holdfast_checks::{ExecCommand, Probe, ProbeKind, Source};
use holdfast_policy::{
    Exchange, HttpRequest, HttpResponse, Limits, PolicyInstance, PolicyKind, ProbeInput,
    ProbeNetwork, Transport,
};

#[path = "../tests/support/mod.rs"]
mod support;

const INSIDE: &str = "HF_BENCH_IN_NETNS";
const PORT: u16 = 6390;

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// CPU time of this process and its waited-for children, in microseconds.
fn cpu_us() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rfind(')').map_or("", |i| &stat[i + 2..]);
    let ticks: u64 = rest
        .split_whitespace()
        .skip(11)
        .take(4)
        .filter_map(|f| f.parse::<u64>().ok())
        .sum();
    ticks * 10_000
}

/// The daemon's way of lending a probe the network (a runtime per exchange
/// over holdfast-checks' stream code), for TCP only.
struct Net(SocketAddr);

impl ProbeNetwork for Net {
    fn exchange(
        &mut self,
        transport: &Transport,
        x: &Exchange,
        timeout: Duration,
    ) -> Result<Vec<u8>, String> {
        if *transport != Transport::Tcp {
            return Err("tcp only here".into());
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime.block_on(async {
            tokio::time::timeout(
                timeout,
                holdfast_checks::stream(
                    &Source::default(),
                    self.0,
                    None,
                    &x.send,
                    x.until.as_deref(),
                    x.max_reply,
                ),
            )
            .await
            .unwrap_or_else(|_| Err("timed out".into()))
        })
    }

    fn http(&mut self, _r: &HttpRequest, _timeout: Duration) -> Result<HttpResponse, String> {
        Err("not here".into())
    }
}

struct Row {
    p50: Duration,
    p99: Duration,
    cpu_us: f64,
}

fn run(n: usize, mut call: impl FnMut()) -> Row {
    for _ in 0..n / 10 {
        call();
    }
    let cpu0 = cpu_us();
    let mut samples: Vec<Duration> = (0..n)
        .map(|_| {
            let t = Instant::now();
            call();
            t.elapsed()
        })
        .collect();
    let cpu = (cpu_us() - cpu0) as f64 / n as f64;
    samples.sort();
    let at = |p: f64| samples[((samples.len() as f64 - 1.0) * p).round() as usize];
    Row {
        p50: at(0.5),
        p99: at(0.99),
        cpu_us: cpu,
    }
}

fn inside() {
    let mut server = Command::new("redis-server")
        .args(["--port", &PORT.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server (Debian's redis-server package)");
    let target: SocketAddr = ([127, 0, 0, 1], PORT).into();
    let started = Instant::now();
    while std::net::TcpStream::connect(target).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "redis-server did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let command = format!("redis-cli -h 127.0.0.1 -p {PORT} ping");
    let exec = Probe::new(
        ProbeKind::Exec(ExecCommand::parse(&command).unwrap()),
        target,
        Duration::from_secs(2),
    );
    assert!(rt.block_on(exec.run()).success, "{command}");
    let execs = run(env_num("HF_BENCH_EXECS", 1000), || {
        assert!(rt.block_on(exec.run()).success);
    });

    let limits = Limits {
        timeout: Duration::from_secs(1),
        ..Limits::default()
    };
    let policy = support::load("redis-probe", PolicyKind::Probe, limits);
    let mut probe = PolicyInstance::new(policy, "{}".into(), None).unwrap();
    let input = ProbeInput {
        target,
        timeout_ms: 1000,
    };
    let probes = run(env_num("HF_BENCH_PROBES", 5000), || {
        let out = probe.probe(&input, Box::new(Net(target))).unwrap();
        assert!(out.up, "{}", out.message);
    });
    let _ = server.kill();
    let _ = server.wait();

    println!(
        "# one custom check against redis-server: exec (redis-cli ping) vs WASM probe (redis-probe)"
    );
    for (name, r) in [("exec redis-cli", &execs), ("redis-probe", &probes)] {
        println!(
            "{name:<15}: p50 {:>8.1} µs  p99 {:>8.1} µs  CPU {:>8.1} µs per check",
            r.p50.as_secs_f64() * 1e6,
            r.p99.as_secs_f64() * 1e6,
            r.cpu_us
        );
    }
    println!(
        "exec / probe: p50 {:.1}×  p99 {:.1}×  CPU {:.1}×",
        execs.p50.as_secs_f64() / probes.p50.as_secs_f64(),
        execs.p99.as_secs_f64() / probes.p99.as_secs_f64(),
        execs.cpu_us / probes.cpu_us.max(0.001)
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` lists benches: nothing to list.
    }
    if std::env::var_os(INSIDE).is_some() {
        inside();
        return;
    }
    if !holdfast_tests::is_root() {
        eprintln!("probe_vs_exec makes a network namespace: run it as root; skipped");
        return;
    }
    // The server and the checks run in a namespace of their own.
    let ns = format!("hf-bench-{}", std::process::id());
    let ip = |args: &[&str]| Command::new("ip").args(args).status().map(|s| s.success());
    assert_eq!(ip(&["netns", "add", &ns]).ok(), Some(true), "ip netns add");
    let _ = ip(&["-n", &ns, "link", "set", "lo", "up"]);
    let me = std::env::current_exe().unwrap();
    let status = Command::new("ip")
        .args(["netns", "exec", &ns])
        .arg(&me)
        .arg("--bench")
        .env(INSIDE, "1")
        .status();
    let _ = ip(&["netns", "del", &ns]);
    assert!(status.is_ok_and(|s| s.success()), "the benchmark failed");
}
