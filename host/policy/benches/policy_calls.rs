//! What a policy costs, against what keepalived's `vrrp_script` costs.
//!
//! `cargo bench -p holdfast-policy --bench policy_calls` prints:
//! - per-call latency (p50 / p99) of each shipped policy with every limit on
//!   (fuel, epoch deadline, memory cap), next to a fork+exec of a trivial
//!   shell script measured in the same run, and the ratio;
//! - hot-swap latency from a file renamed into place (seen through inotify)
//!   to the first answer of the new version: from the precompile cache, and
//!   compiling;
//! - resident memory added per loaded policy instance.
//!
//! `HF_BENCH_CALLS` (default 200000) and `HF_BENCH_EXECS` (default 2000)
//! set the sample sizes.

use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use holdfast_policy::{
    HealthVerdict, Limits, LoadedPolicy, PolicyEngine, PolicyInstance, PolicyKind, PriorityInput,
    ProbeKind, ProbeResult, TrackedCheck, TrackedInterface, VrrpState, WeightInput,
};
use notify::Watcher;

#[path = "../tests/support/mod.rs"]
mod support;

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

struct Summary {
    p50: Duration,
    p99: Duration,
}

fn summarize(mut samples: Vec<Duration>) -> Summary {
    samples.sort();
    Summary {
        p50: percentile(&samples, 0.50),
        p99: percentile(&samples, 0.99),
    }
}

fn time_calls(n: usize, mut call: impl FnMut()) -> Summary {
    for _ in 0..n / 10 {
        call(); // warm up
    }
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        call();
        samples.push(t.elapsed());
    }
    summarize(samples)
}

fn priority_input() -> PriorityInput {
    PriorityInput {
        instance: "VI_1".into(),
        base_priority: 150,
        current_priority: 150,
        state: VrrpState::Master,
        interfaces: vec![
            TrackedInterface {
                name: "eth1".into(),
                up: true,
                weight: -20,
            },
            TrackedInterface {
                name: "eth2".into(),
                up: false,
                weight: -30,
            },
        ],
        files: vec![],
        checks: vec![],
        master_priority: None,
    }
}

/// The same input with ten tracked checks (`track-check`, `track-process`).
fn priority_input_with_checks() -> PriorityInput {
    let mut input = priority_input();
    input.checks = (0..10)
        .map(|i| TrackedCheck {
            name: format!("check-{i}"),
            up: i % 3 != 0,
            weight: -5,
            latency_us: Some(1_200 + i),
            last_error: (i % 3 == 0).then(|| "exit status 1".to_string()),
        })
        .collect();
    input
}

fn probe() -> ProbeResult {
    ProbeResult {
        kind: ProbeKind::Http,
        target: "http://10.0.0.1/health".into(),
        success: true,
        latency_us: Some(2_300),
        status_code: Some(200),
        body_snippet: Some("ok".into()),
        body_digest: None,
        error: None,
        consecutive_successes: 12,
        consecutive_failures: 0,
    }
}

fn weight_input() -> WeightInput {
    WeightInput {
        real_server: "10.0.0.2:80".into(),
        base_weight: 100,
        healthy: true,
        latency_history_us: vec![9_000, 11_000, 10_500, 9_800, 12_000, 10_100, 9_900, 10_000],
        active_connections: 40,
        inactive_connections: 3,
    }
}

fn instance(name: &str, kind: PolicyKind, params: &str) -> PolicyInstance {
    let p = support::load(name, kind, Limits::default());
    PolicyInstance::new(p, params.into(), None).expect("instance")
}

fn exec_script(dir: &Path, n: usize) -> Summary {
    let script = dir.join("check.sh");
    std::fs::write(&script, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    time_calls(n, || {
        let status = std::process::Command::new(&script).status().unwrap();
        assert!(status.success());
    })
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Renames `src` over `live` and waits for inotify, load, init, self-test and
/// the first answer of the new version, as the daemon's reload path does.
fn swap_once(engine: &PolicyEngine, src: &Path, live: &Path, rx: &mpsc::Receiver<()>) -> Duration {
    while rx.try_recv().is_ok() {}
    let staged = live.with_extension("staged");
    std::fs::copy(src, &staged).unwrap();
    let t = Instant::now();
    std::fs::rename(&staged, live).unwrap();
    rx.recv_timeout(Duration::from_secs(5)).expect("inotify");
    let bytes = std::fs::read(live).unwrap();
    let loaded = LoadedPolicy::load(
        engine,
        "swap",
        PolicyKind::Priority,
        &bytes,
        Limits::default(),
    )
    .expect("load");
    let mut i = PolicyInstance::new(loaded, "{}".into(), None).expect("init");
    i.priority(&priority_input()).expect("self-test");
    i.priority(&priority_input()).expect("first answer");
    t.elapsed()
}

fn main() {
    let calls = env_num("HF_BENCH_CALLS", 200_000);
    let execs = env_num("HF_BENCH_EXECS", 2_000);
    let dir = std::env::temp_dir().join(format!("holdfast-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    println!("# policy calls, every limit on ({calls} calls each; fork+exec {execs} runs)");
    let exec = exec_script(&dir, execs);
    println!(
        "fork+exec of a trivial /bin/sh script: p50 {:>9.1} µs  p99 {:>9.1} µs",
        exec.p50.as_secs_f64() * 1e6,
        exec.p99.as_secs_f64() * 1e6
    );
    let mut track = instance("keepalived-track", PolicyKind::Priority, "{}");
    let input = priority_input();
    let input10 = priority_input_with_checks();
    let mut http = instance("http-verdict", PolicyKind::Health, r#"{"slow-ms":50}"#);
    let p = probe();
    let mut lat = instance("latency-weights", PolicyKind::Weight, "{}");
    let w = weight_input();
    assert_eq!(http.verdict(&p).unwrap(), HealthVerdict::Up);
    assert_eq!(lat.weight(&w).unwrap(), 98);
    let rows = [
        (
            "keepalived-track",
            time_calls(calls, || {
                std::hint::black_box(track.priority(&input).unwrap());
            }),
        ),
        (
            "k-track+10 checks",
            time_calls(calls, || {
                std::hint::black_box(track.priority(&input10).unwrap());
            }),
        ),
        (
            "http-verdict",
            time_calls(calls, || {
                std::hint::black_box(http.verdict(&p).unwrap());
            }),
        ),
        (
            "latency-weights",
            time_calls(calls, || {
                std::hint::black_box(lat.weight(&w).unwrap());
            }),
        ),
    ];
    for (name, s) in &rows {
        println!(
            "{name:<17}: p50 {:>6.2} µs  p99 {:>6.2} µs   fork+exec/policy: p50 {:>6.0}×  p99 {:>6.0}×",
            s.p50.as_secs_f64() * 1e6,
            s.p99.as_secs_f64() * 1e6,
            exec.p50.as_secs_f64() / s.p50.as_secs_f64(),
            exec.p99.as_secs_f64() / s.p99.as_secs_f64(),
        );
    }

    println!("\n# hot swap: rename into place → inotify → load → init → self-test → first answer");
    let a = support::component("keepalived-track");
    let b = support::component("fixture-lower");
    let src_a = dir.join("a.wasm");
    let src_b = dir.join("b.wasm");
    std::fs::write(&src_a, &a).unwrap();
    std::fs::write(&src_b, &b).unwrap();
    let live = dir.join("live.wasm");
    std::fs::copy(&src_a, &live).unwrap();
    let (tx, rx) = mpsc::channel();
    let watched = live.clone();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if let Ok(ev) = res
            && matches!(
                ev.kind,
                notify::EventKind::Modify(notify::event::ModifyKind::Name(_))
            )
            && ev.paths.iter().any(|p| p == &watched)
        {
            let _ = tx.send(());
        }
    })
    .unwrap();
    watcher
        .watch(&dir, notify::RecursiveMode::NonRecursive)
        .unwrap();
    let rounds = 20;
    // Compiling: a fresh cache directory every round, so nothing is cached.
    let mut compiling = Vec::new();
    for r in 0..rounds {
        let engine = PolicyEngine::new().unwrap();
        let engine = engine.with_cache(&dir.join(format!("cold-{r}"))).unwrap();
        let src = if r % 2 == 0 { &src_b } else { &src_a };
        compiling.push(swap_once(&engine, src, &live, &rx));
    }
    // Precompiled: both versions were compiled into this cache before.
    let engine = PolicyEngine::new()
        .unwrap()
        .with_cache(&dir.join("warm"))
        .unwrap();
    for bytes in [&a, &b] {
        LoadedPolicy::load(&engine, "w", PolicyKind::Priority, bytes, Limits::default())
            .unwrap()
            .accept();
    }
    let mut cached = Vec::new();
    for r in 0..rounds {
        let src = if r % 2 == 0 { &src_b } else { &src_a };
        cached.push(swap_once(&engine, src, &live, &rx));
    }
    for (name, samples) in [
        ("compiling", compiling),
        ("from the precompile cache", cached),
    ] {
        let s = summarize(samples);
        println!(
            "{name:<26}: p50 {:>8.3} ms  p99 {:>8.3} ms  ({rounds} swaps)",
            s.p50.as_secs_f64() * 1e3,
            s.p99.as_secs_f64() * 1e3
        );
    }

    println!("\n# resident memory per loaded policy instance");
    let n = 50;
    let before = rss_kib();
    let mut keep = Vec::new();
    for _ in 0..n {
        let mut i = instance("http-verdict", PolicyKind::Health, "{}");
        i.verdict(&p).unwrap();
        keep.push(i);
    }
    let after = rss_kib();
    println!(
        "{n} http-verdict instances: +{} KiB RSS, {:.0} KiB each",
        after - before,
        (after - before) as f64 / n as f64
    );
    drop(keep);
    std::fs::remove_dir_all(&dir).ok();
}
