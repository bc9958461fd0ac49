//! The IPVS VM: this machine's kernel has no IPVS, so kernel tests run in a
//! throw-away QEMU VM booting Debian's cloud kernel (`tests/vm/run-in-ipvs-vm.sh`).
//!
//! A test binary runs its own `#[ignore]`d in-VM tests there: [`run_in_vm`]
//! copies the binary in, runs it with `--ignored` and the given filter, and
//! returns its output.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Set inside the VM.
pub const IN_VM: &str = "HOLDFAST_IN_IPVS_VM";

/// The harness script.
pub fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("vm/run-in-ipvs-vm.sh")
}

/// Whether VM tests can run here: root (QEMU, the image build), and the
/// script (which installs QEMU and fetches the kernel on first use).
pub fn available() -> bool {
    crate::is_root() && script().exists() && Path::new("/usr/bin/apt-get").exists()
}

/// Whether this process runs inside the VM.
pub fn inside() -> bool {
    std::env::var(IN_VM).is_ok()
}

/// The VM's answer.
#[derive(Debug)]
pub struct VmRun {
    /// The command's exit code inside the VM.
    pub code: Option<i32>,
    /// Its stdout and stderr.
    pub output: String,
}

/// Runs this test binary's ignored tests matching `filter` inside the VM,
/// with extra environment variables and extra files (`--copy` arguments).
pub fn run_in_vm(filter: &str, env: &[(&str, &str)], extra: &[&Path], timeout_s: u32) -> VmRun {
    let me = std::env::current_exe().expect("test binary path");
    let name = me.file_name().unwrap().to_string_lossy().to_string();
    let vars: String = env.iter().map(|(k, v)| format!("{k}={v} ")).collect();
    let mut copies = vec![me.as_path()];
    copies.extend_from_slice(extra);
    run_command(
        &format!(
            "{vars}{IN_VM}=1 RUST_BACKTRACE=1 ./{name} --ignored --test-threads=1 --nocapture {filter} 2>&1"
        ),
        &copies,
        timeout_s,
    )
}

/// Runs this test binary's `in_vm_` tests in the VM with `copies`, and
/// asserts that `passed` of them ran and passed.
pub fn run_in_vm_tests(copies: &[&Path], passed: usize) {
    let run = run_in_vm("in_vm_", &[], copies, 900);
    eprintln!("{}", run.output);
    assert_eq!(run.code, Some(0), "in-VM test failed");
    assert!(
        run.output
            .contains(&format!("test result: ok. {passed} passed")),
        "{}",
        run.output
    );
}

/// Runs a shell command line in the VM (in `/payload`, where `copies` land).
pub fn run_command(command: &str, copies: &[&Path], timeout_s: u32) -> VmRun {
    let mut cmd = Command::new(script());
    // The payload lives in guest RAM next to the unpacked image.
    cmd.args(["--mem", "1024", "--timeout", &timeout_s.to_string()]);
    for c in copies {
        cmd.arg("--copy").arg(c);
    }
    cmd.arg(command);
    let out = cmd.output().expect("run-in-ipvs-vm.sh runs");
    VmRun {
        code: out.status.code(),
        output: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// Runs a shell command in the VM (inside in-VM tests) and returns stdout.
pub fn sh(cmd: &str) -> String {
    let out = Command::new("sh").arg("-c").arg(cmd).output().expect("sh");
    assert!(
        out.status.success(),
        "{cmd}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A copy of `bin` without debug information (debug builds of the daemon
/// are ~150 MB, too much to unpack into the VM's RAM), in `dir`.
pub fn stripped(bin: &Path, dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).expect("temp dir");
    let out = dir.join(bin.file_name().expect("a file"));
    let status = Command::new("strip")
        .arg("--strip-debug")
        .arg("-o")
        .arg(&out)
        .arg(bin)
        .status()
        .expect("strip (binutils) runs");
    assert!(status.success(), "strip {}", bin.display());
    out
}

/// Output of a command in the VM with runs of spaces squeezed, so tests can
/// match `ipvsadm -Ln` and `/proc/net/ip_vs` lines without their padding.
pub fn squeezed(cmd: &str) -> String {
    sh(cmd)
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Waits until `ipvsadm -Ln` (squeezed) satisfies `f`; on timeout, fails
/// with the table and the daemon's log at `log`.
pub fn wait_for_table(what: &str, limit: Duration, f: impl Fn(&str) -> bool, log: &Path) {
    let start = Instant::now();
    loop {
        let t = squeezed("ipvsadm -Ln");
        if f(&t) {
            eprintln!("[{:>6} ms] {what}", start.elapsed().as_millis());
            return;
        }
        if start.elapsed() > limit {
            panic!(
                "{what}: not within {limit:?}\n{t}\n--- holdfast log ---\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
