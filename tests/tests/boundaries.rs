//! Architectural boundaries that the crate graph must keep.

use std::process::Command;

/// Normal (non-dev) dependencies of a workspace crate, by name.
fn dependencies(package: &str) -> Vec<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "tree",
            "--offline",
            "--locked",
            "-e",
            "normal,build",
            "--prefix",
            "none",
            "--format",
            "{p}",
            "-p",
            package,
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

/// The VRRP core is sans-IO: no async runtime, no sockets, no netlink.
#[test]
fn vrrp_core_has_no_io_dependencies() {
    let deps = dependencies("holdfast-vrrp");
    assert!(
        deps.iter().any(|d| d == "holdfast-vrrp"),
        "cargo tree listed {deps:?}"
    );
    for forbidden in [
        "tokio",
        "socket2",
        "rtnetlink",
        "netlink-sys",
        "mio",
        "libc",
        "nix",
    ] {
        assert!(
            !deps.iter().any(|d| d == forbidden),
            "holdfast-vrrp must not depend on {forbidden}: {deps:?}"
        );
    }
}

/// wasmtime takes minutes to build: only the policy crate (and the daemon through it) may pull it in.
#[test]
fn only_the_policy_runtime_links_wasmtime() {
    for package in [
        "holdfast-vrrp",
        "holdfast-config",
        "holdfast-net",
        "holdfast-ipvs",
        "holdfast-checks",
    ] {
        let deps = dependencies(package);
        assert!(
            !deps.iter().any(|d| d == "wasmtime"),
            "{package} must not depend on wasmtime"
        );
    }
}
