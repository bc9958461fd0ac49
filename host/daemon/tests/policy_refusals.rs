//! `holdfast policy eval | inspect` refuse what the daemon refuses, with
//! the same typed kinds: files that are not regular files or are too
//! large, modules that would blow up the compiler, and modules built
//! against another contract version. Each refusal is prompt.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use holdfast_tests::wasm::{Body, component};

const INPUT: &str =
    r#"{"instance":"VI_1","base_priority":150,"current_priority":150,"state":"backup"}"#;

fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("holdfast-refusals-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `holdfast policy eval FILE ...extra`, which must fail within `within`
/// with a typed error; returns its kind and message.
fn refused(file: &Path, extra: &[&str], within: Duration) -> (String, String) {
    let started = Instant::now();
    let out: Output = Command::new(env!("CARGO_BIN_EXE_holdfast"))
        .args(["policy", "eval"])
        .arg(file)
        .args(["--kind", "priority", "--input", INPUT])
        .args(extra)
        .output()
        .unwrap();
    let took = started.elapsed();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(took < within, "took {took:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    (
        v["error"]["kind"].as_str().unwrap_or_default().to_string(),
        v["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

#[test]
fn files_that_are_not_regular_are_refused_without_reading() {
    let dir = scratch("files");
    let fifo = dir.join("policy.fifo");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let zero = dir.join("zero.wasm");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    for (file, what) in [
        (fifo.as_path(), "a FIFO"),
        (zero.as_path(), "a character device"),
        (dir.as_path(), "a directory"),
    ] {
        let (kind, message) = refused(file, &[], Duration::from_secs(5));
        assert_eq!(kind, "not-a-file", "{message}");
        assert!(message.contains(what), "{message}");
    }
    // A sparse file of 1 GiB: refused by its size, never read.
    let sparse = dir.join("sparse.wasm");
    std::fs::File::create(&sparse)
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    let (kind, message) = refused(&sparse, &[], Duration::from_secs(5));
    assert_eq!(kind, "too-large", "{message}");
    assert!(message.contains("4 MiB"), "{message}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn compiler_bombs_are_refused_or_stopped_by_their_budget() {
    let dir = scratch("bombs");
    // One function of about 300 KiB: over the static limit, never compiled.
    let huge = dir.join("huge.wasm");
    std::fs::write(&huge, component(Body::Chain(100_000), 1, 1)).unwrap();
    let (kind, message) = refused(&huge, &[], Duration::from_secs(10));
    assert_eq!(kind, "over-limits", "{message}");
    // Under the static limits, but its compile needs more memory than a
    // budget of 32 MiB (about 140 MiB), then more time than 50 ms.
    let heavy = dir.join("heavy.wasm");
    std::fs::write(&heavy, component(Body::Chain(40_000), 1, 1)).unwrap();
    let (kind, message) = refused(
        &heavy,
        &["--compile-memory-mib", "32"],
        Duration::from_secs(30),
    );
    assert_eq!(kind, "compile-budget", "{message}");
    assert!(message.contains("32 MiB"), "{message}");
    let (kind, message) = refused(
        &heavy,
        &[
            "--compile-timeout-ms",
            "100",
            "--compile-memory-mib",
            "4096",
        ],
        Duration::from_secs(10),
    );
    assert_eq!(kind, "compile-budget", "{message}");
    assert!(message.contains("100 ms"), "{message}");
    // With its budget it compiles (and is then refused as no policy).
    let (kind, message) = refused(
        &heavy,
        &[
            "--compile-memory-mib",
            "2048",
            "--compile-timeout-ms",
            "120000",
        ],
        Duration::from_secs(120),
    );
    assert_eq!(kind, "contract", "{message}");
    std::fs::remove_dir_all(&dir).unwrap();
}
