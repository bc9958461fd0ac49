//! Health checking at scale: holdfast's director against keepalived's
//! checker process, in the same IPVS VM run, on the same real servers.
//!
//! `cargo bench -p holdfast --bench checks_vs_keepalived` boots the VM (this
//! machine's kernel has no IPVS, and keepalived's checker will not run
//! without it) and runs this binary inside it. There, a backend namespace
//! answers on every address of 10.2.0.0/16 (an AnyIP route) with one
//! server that counts connections; `HF_BENCH_RS` real servers (default
//! 500: what software emulation sustains), half `tcp` and half `http`
//! checks, every second, in virtual servers of 100. Each daemon runs
//! alone, warms up until it checks at the configured rate (or 60 s have
//! passed), and is then measured over a window: checks per second (as the backend counts them), CPU
//! time per check (user + system of every process of the daemon, from
//! /proc) and resident memory at the end. It prints both and the ratios
//! (holdfast / keepalived: below 1 means holdfast is cheaper). Absolute
//! figures are QEMU software emulation: compare ratios.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use holdfast_tests::vm;

const PER_VS: u32 = 100;
const WARMUP_MAX: Duration = Duration::from_secs(60);
const WINDOW: Duration = Duration::from_secs(15);
const COUNT_FILE: &str = "/tmp/backend.count";

fn real_servers() -> u32 {
    std::env::var("HF_BENCH_RS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500)
}

fn rip(k: u32) -> String {
    format!("10.2.{}.{}", k / 250, k % 250 + 1)
}

fn vip(v: u32) -> String {
    format!("10.1.{}.{}", v / 250, v % 250 + 1)
}

fn is_http(k: u32) -> bool {
    k % 2 == 1
}

fn holdfast_config(n: u32) -> String {
    let mut out = String::new();
    for v in 0..n.div_ceil(PER_VS) {
        let _ = writeln!(
            out,
            "virtual-server \"{}:80\" protocol=\"tcp\" {{\n    scheduler \"rr\"\n    forwarding \"dr\"",
            vip(v)
        );
        for k in v * PER_VS..((v + 1) * PER_VS).min(n) {
            let check = if is_http(k) {
                "check \"http\" path=\"/health\" interval=1 timeout=2 warmup=1"
            } else {
                "check \"tcp\" interval=1 timeout=2 warmup=1"
            };
            let _ = writeln!(
                out,
                "    real-server \"{}:80\" {{\n        {check}\n    }}",
                rip(k)
            );
        }
        out.push_str("}\n");
    }
    out
}

fn keepalived_config(n: u32) -> String {
    let mut out = String::from("global_defs {\n    router_id bench\n}\n");
    for v in 0..n.div_ceil(PER_VS) {
        let _ = writeln!(
            out,
            "virtual_server {} 80 {{\n    delay_loop 1\n    lb_algo rr\n    lb_kind DR\n    protocol TCP",
            vip(v)
        );
        for k in v * PER_VS..((v + 1) * PER_VS).min(n) {
            let check = if is_http(k) {
                "HTTP_GET {\n            url {\n                path /health\n                status_code 200\n            }\n            connect_timeout 2\n            warmup 1\n        }"
            } else {
                "TCP_CHECK {\n            connect_timeout 2\n            warmup 1\n        }"
            };
            let _ = writeln!(
                out,
                "    real_server {} 80 {{\n        {check}\n    }}",
                rip(k)
            );
        }
        out.push_str("}\n");
    }
    out
}

/// The backend: one listener for every address of 10.2.0.0/16, answering
/// HTTP requests with 200 and counting connections into [`COUNT_FILE`].
fn serve() {
    let listener = std::net::TcpListener::bind("0.0.0.0:80").expect("bind :80");
    let count = Arc::new(AtomicU64::new(0));
    let writer = count.clone();
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(Duration::from_millis(100));
            let n = writer.load(Ordering::Relaxed);
            let _ = std::fs::write(COUNT_FILE, n.to_string());
        }
    });
    // A few workers share the accept queue; each connection is short.
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (listener, count) = (listener.try_clone().expect("clone"), count.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming().flatten() {
                    count.fetch_add(1, Ordering::Relaxed);
                    answer(stream);
                }
            })
        })
        .collect();
    for w in workers {
        let _ = w.join();
    }
}

fn answer(mut stream: std::net::TcpStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut buf = [0u8; 1024];
    // A TCP check closes at once (0 bytes); an HTTP check sends its GET.
    if let Ok(n) = stream.read(&mut buf)
        && n > 0
    {
        let _ = stream
            .write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n");
    }
}

fn backend_count() -> u64 {
    std::fs::read_to_string(COUNT_FILE)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// The process and its descendants.
fn family(root: u32) -> Vec<u32> {
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        let parent = out[i];
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            if stat_field(pid, 1) == Some(u64::from(parent)) && !out.contains(&pid) {
                out.push(pid);
            }
        }
        i += 1;
    }
    out
}

/// Field `i` after the command name in /proc/PID/stat (0 = state, 1 = ppid,
/// 11 = utime, 12 = stime, all in clock ticks).
fn stat_field(pid: u32, i: usize) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(i)?.parse().ok()
}

/// User and system CPU of a process tree, in microseconds (USER_HZ is 100).
fn cpu_us(root: u32) -> (u64, u64) {
    family(root).iter().fold((0, 0), |(u, s), &p| {
        (
            u + stat_field(p, 11).unwrap_or(0) * 10_000,
            s + stat_field(p, 12).unwrap_or(0) * 10_000,
        )
    })
}

fn rss_kib(root: u32) -> u64 {
    family(root)
        .iter()
        .filter_map(|p| {
            let status = std::fs::read_to_string(format!("/proc/{p}/status")).ok()?;
            let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .sum()
}

#[derive(Debug, Clone, Copy)]
struct Figures {
    checks_per_s: f64,
    cpu_us_per_check: f64,
    user_share: f64,
    cpu_percent: f64,
    rss_mib: f64,
}

/// Waits until the backend sees `n` checks a second (90 %), or the
/// warm-up limit; returns how long that took.
fn warm_up(n: u32) -> Duration {
    let started = std::time::Instant::now();
    let mut last = backend_count();
    while started.elapsed() < WARMUP_MAX {
        std::thread::sleep(Duration::from_secs(1));
        let now = backend_count();
        if (now - last) as f64 >= 0.9 * f64::from(n) {
            break;
        }
        last = now;
    }
    started.elapsed()
}

/// Runs `child` through the warm-up, then measures it over the window.
fn measure(name: &str, mut child: Child, n: u32) -> Figures {
    let warm = warm_up(n);
    println!("{name}: warm after {:.0} s", warm.as_secs_f64());
    let pid = child.id();
    assert!(
        child.try_wait().ok().flatten().is_none(),
        "{name} exited during the warm-up"
    );
    let (c0, t0) = (backend_count(), cpu_us(pid));
    std::thread::sleep(WINDOW);
    let (c1, t1) = (backend_count(), cpu_us(pid));
    let rss = rss_kib(pid);
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = child.wait();
    let checks = (c1 - c0).max(1) as f64;
    let secs = WINDOW.as_secs_f64();
    let (user, system) = ((t1.0 - t0.0) as f64, (t1.1 - t0.1) as f64);
    Figures {
        checks_per_s: checks / secs,
        cpu_us_per_check: (user + system) / checks,
        user_share: user / (user + system).max(1.0),
        cpu_percent: (user + system) / 1e6 / secs * 100.0,
        rss_mib: rss as f64 / 1024.0,
    }
}

const TOPOLOGY: &str = r#"
set -e
ip netns add be
ip link add b0 type veth peer name d0
ip link set b0 netns be
ip addr add 10.3.0.1/24 dev d0
ip link set d0 up
ip -n be addr add 10.3.0.2/24 dev b0
ip -n be link set b0 up
ip -n be link set lo up
ip -n be route add local 10.2.0.0/16 dev lo
ip -n be route add default via 10.3.0.1
ip route add 10.2.0.0/16 via 10.3.0.2
"#;

fn in_vm(me: &Path) {
    let n = real_servers();
    vm::sh(TOPOLOGY);
    let mut backend = Command::new("ip")
        .args(["netns", "exec", "be"])
        .arg(me)
        .arg("--serve")
        .stdout(Stdio::null())
        .spawn()
        .expect("backend");
    std::thread::sleep(Duration::from_millis(500));
    std::fs::write("/tmp/bench.kdl", holdfast_config(n)).unwrap();
    std::fs::write("/tmp/keepalived.conf", keepalived_config(n)).unwrap();

    let log = |name: &str| std::fs::File::create(format!("/tmp/{name}.log")).unwrap();
    let holdfast = Command::new("/payload/holdfast")
        .args(["run", "--config", "/tmp/bench.kdl"])
        .stdout(log("holdfast"))
        .stderr(log("holdfast-err"))
        .spawn()
        .expect("holdfast");
    let hf = measure("holdfast", holdfast, n);
    let _ = Command::new("ipvsadm").arg("-C").status();
    let keepalived = Command::new("/payload/keepalived")
        .args(["-n", "-l", "-D", "-C", "-f", "/tmp/keepalived.conf"])
        .args(["-p", "/tmp/keepalived.pid", "-c", "/tmp/checkers.pid"])
        .stdout(log("keepalived"))
        .stderr(log("keepalived-err"))
        .spawn()
        .expect("keepalived");
    let ka = measure("keepalived", keepalived, n);
    let _ = backend.kill();
    let _ = backend.wait();

    println!(
        "{n} real servers (half tcp, half http), every second, measured over {} s",
        WINDOW.as_secs()
    );
    println!("              checks/s   CPU µs/check   user %   CPU %    RSS MiB");
    for (name, f) in [("holdfast", hf), ("keepalived", ka)] {
        println!(
            "{name:<12} {:>9.0} {:>14.1} {:>8.0} {:>7.1} {:>10.1}",
            f.checks_per_s,
            f.cpu_us_per_check,
            f.user_share * 100.0,
            f.cpu_percent,
            f.rss_mib
        );
    }
    println!(
        "ratio (holdfast / keepalived): checks/s {:.2}, CPU per check {:.2}, RSS {:.2}",
        hf.checks_per_s / ka.checks_per_s,
        hf.cpu_us_per_check / ka.cpu_us_per_check,
        hf.rss_mib / ka.rss_mib
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` lists benches: nothing to list.
    }
    if std::env::args().any(|a| a == "--serve") {
        serve();
        return;
    }
    let me = std::env::current_exe().expect("own path");
    if vm::inside() {
        in_vm(&me);
        return;
    }
    if !vm::available() {
        eprintln!("the IPVS VM needs root; skipped");
        return;
    }
    let tmp = std::env::temp_dir().join(format!("hf-bench-{}", std::process::id()));
    let holdfast = vm::stripped(Path::new(env!("CARGO_BIN_EXE_holdfast")), &tmp);
    let bench = vm::stripped(&me, &tmp);
    let keepalived = Path::new("/usr/sbin/keepalived");
    let name = bench.file_name().unwrap().to_string_lossy().to_string();
    let rs = real_servers();
    let run = vm::run_command(
        &format!(
            "{}=1 HF_BENCH_RS={rs} ./{name} --bench 2>&1; tail -5 /tmp/keepalived.log /tmp/keepalived-err.log /tmp/holdfast-err.log",
            vm::IN_VM
        ),
        &[bench.as_path(), holdfast.as_path(), keepalived],
        1800,
    );
    let _ = std::fs::remove_dir_all(&tmp);
    println!("{}", run.output);
    assert_eq!(run.code, Some(0), "the benchmark failed in the VM");
}
