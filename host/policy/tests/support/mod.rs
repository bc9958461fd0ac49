//! Shared by the policy tests: builds `policies/` for wasm32 once and loads
//! its modules into one engine.
#![allow(dead_code, reason = "each test file uses a subset")]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};

use holdfast_policy::{
    Limits, LoadedPolicy, PolicyEngine, PolicyKind, PriorityInput, VrrpState, componentize,
};

/// Builds the policies workspace for wasm32 once per test run.
pub(crate) fn wasm_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args([
                "build",
                "--quiet",
                "--release",
                "--target",
                "wasm32-unknown-unknown",
                "--workspace",
            ])
            .current_dir(&root)
            .status()
            .expect("cargo runs");
        assert!(
            status.success(),
            "building policies/ for wasm32 failed (rustup target add wasm32-unknown-unknown?)"
        );
        root.join("target/wasm32-unknown-unknown/release")
    })
}

pub(crate) fn engine() -> &'static PolicyEngine {
    static ENGINE: OnceLock<PolicyEngine> = OnceLock::new();
    ENGINE.get_or_init(|| PolicyEngine::new().expect("engine"))
}

pub(crate) fn component(crate_name: &str) -> Vec<u8> {
    let file = wasm_dir().join(format!("{}.wasm", crate_name.replace('-', "_")));
    let core = std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    componentize(crate_name, &core).expect("componentize")
}

pub(crate) fn load(crate_name: &str, kind: PolicyKind, limits: Limits) -> Arc<LoadedPolicy> {
    LoadedPolicy::load(engine(), crate_name, kind, &component(crate_name), limits).expect("load")
}

/// A priority input for instance `VI_1` at `base`, in Backup, tracking nothing.
pub(crate) fn input(base: u8) -> PriorityInput {
    PriorityInput {
        instance: "VI_1".into(),
        base_priority: base,
        current_priority: base,
        state: VrrpState::Backup,
        interfaces: vec![],
        files: vec![],
        checks: vec![],
        master_priority: None,
    }
}
