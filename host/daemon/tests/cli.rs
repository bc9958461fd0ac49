//! The `holdfast` binary as users run it.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn holdfast() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_holdfast"));
    cmd.env_remove("HOLDFAST_LOG").env("NO_COLOR", "1");
    cmd
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn cases() -> PathBuf {
    repo().join("host/config/tests/cases")
}

fn kdl_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "kdl"))
        .collect();
    v.sort();
    v
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn check_accepts_every_example_with_a_one_line_summary() {
    let examples = kdl_files(&repo().join("examples"));
    assert!(!examples.is_empty());
    for ex in examples {
        let out = holdfast()
            .arg("check")
            .arg("--config")
            .arg(&ex)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            ex.display(),
            text(&out.stderr)
        );
        let stdout = text(&out.stdout);
        assert_eq!(stdout.lines().count(), 1, "{stdout}");
        assert!(
            stdout.contains(": ok: ") && stdout.contains("vrrp instance"),
            "{stdout}"
        );
    }
}

#[test]
fn check_summary_counts_what_is_configured() {
    let out = holdfast()
        .args(["check", "--config"])
        .arg(repo().join("examples/full.kdl"))
        .output()
        .unwrap();
    assert!(
        text(&out.stdout).ends_with(
            "ok: 2 vrrp instances, 1 vrrp check, 1 sync group, 1 virtual server (1 real server), 3 policies\n"
        ),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn check_rejects_every_invalid_fixture_with_its_golden_diagnostic() {
    let dir = cases();
    let files = kdl_files(&dir.join("invalid"));
    assert!(files.len() >= 25);
    for path in files {
        let rel = format!("invalid/{}", path.file_name().unwrap().to_string_lossy());
        let out = holdfast()
            .current_dir(&dir)
            .args(["check", "--config", &rel])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{rel} should fail");
        let golden = fs::read_to_string(path.with_extension("golden")).unwrap();
        assert_eq!(text(&out.stderr), golden, "{rel}");
        assert!(out.stdout.is_empty(), "{rel}: nothing on stdout");
    }
}

#[test]
fn check_reports_a_missing_file() {
    let out = holdfast()
        .args(["check", "--config", "/nonexistent/holdfast.kdl"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("cannot read /nonexistent/holdfast.kdl"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn every_subcommand_has_help() {
    for sub in [
        &["--help"][..],
        &["run", "--help"],
        &["check", "--help"],
        &["version", "--help"],
    ] {
        let out = holdfast().args(sub).output().unwrap();
        assert!(out.status.success(), "{sub:?}");
        assert!(
            text(&out.stdout).contains("Usage: holdfast"),
            "{sub:?}: {}",
            text(&out.stdout)
        );
    }
    let out = holdfast().arg("--help").output().unwrap();
    for word in ["--log-level", "--log-format", "run", "check", "version"] {
        assert!(text(&out.stdout).contains(word), "--help lacks {word}");
    }
}

#[test]
fn version_prints_the_crate_version() {
    let out = holdfast().arg("version").output().unwrap();
    assert_eq!(
        text(&out.stdout),
        format!("holdfast {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn bad_log_level_is_rejected() {
    let out = holdfast()
        .args(["--log-level", "loud=="])
        .arg("version")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("invalid --log-level"));
}

fn wait_with_timeout(
    child: &mut std::process::Child,
    limit: Duration,
) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args(["-s", sig, &pid.to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

/// `run` loads the config, logs (as JSON when asked), stays up through SIGHUP,
/// and exits 0 on SIGTERM.
#[test]
fn run_stays_up_until_sigterm() {
    // Nothing to run but the daemon itself: runs anywhere (VRRP runs are
    // tested in tests/e2e/vrrp_netns.rs, LVS in the IPVS VM).
    let config = std::env::temp_dir().join(format!("holdfast-idle-{}.kdl", std::process::id()));
    std::fs::write(&config, "global {\n    notify-timeout 5\n}\n").unwrap();
    let mut child = holdfast()
        .args(["--log-format", "json", "run", "--config"])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Give it time to install its signal handlers; it must still be running.
    std::thread::sleep(Duration::from_millis(500));
    assert!(child.try_wait().unwrap().is_none(), "run exited early");
    signal(child.id(), "HUP");
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        child.try_wait().unwrap().is_none(),
        "SIGHUP must not stop the daemon"
    );
    signal(child.id(), "TERM");
    let status = wait_with_timeout(&mut child, Duration::from_secs(10))
        .expect("run did not stop on SIGTERM");
    assert!(status.success());
    let Output { stderr, .. } = child.wait_with_output().unwrap();
    let lines: Vec<serde_json::Value> = text(&stderr)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect();
    let messages: Vec<&str> = lines.iter().filter_map(|l| l["message"].as_str()).collect();
    assert!(messages.contains(&"configuration loaded"), "{messages:?}");
    assert!(messages.contains(&"stopping"), "{messages:?}");
    assert!(messages.contains(&"stopped"), "{messages:?}");
    std::fs::remove_file(config).unwrap();
}

#[test]
fn a_director_without_ipvs_in_the_kernel_exits_69() {
    // Only where the kernel has no IPVS: never program the host's real table.
    if std::path::Path::new("/proc/net/ip_vs").exists() {
        eprintln!("SKIPPED: this kernel has IPVS; the director is tested in the VM");
        return;
    }
    let out = holdfast()
        .args(["run", "--config"])
        .arg(repo().join("examples/lvs-director.kdl"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(69), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("holdfast: IPVS:"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn run_refuses_an_invalid_config() {
    let out = holdfast()
        .current_dir(cases())
        .args(["run", "--config", "invalid/priority-out-of-range.kdl"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("priority 256 is out of range"));
}

#[test]
fn reload_without_a_daemon_says_so_and_exits_69() {
    let dir = std::env::temp_dir().join(format!("hf-reload-cli-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let out = holdfast()
        .args(["reload", "--control-socket"])
        .arg(dir.join("none.sock"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(69), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("cannot reach the daemon"),
        "{}",
        text(&out.stderr)
    );
    let _ = fs::remove_dir_all(&dir);
}
