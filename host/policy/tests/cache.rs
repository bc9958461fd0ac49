//! The precompile cache: a module compiled once loads from the cache on the
//! next engine, answers the same, and the cache refuses what it cannot trust.

use std::os::unix::fs::PermissionsExt;

use holdfast_policy::{
    Limits, LoadedPolicy, PolicyEngine, PolicyInstance, PolicyKind, PriorityInput, PriorityOutput,
    VrrpState,
};

mod support;
use support::component;

fn tempdir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("holdfast-cache-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn answer(p: std::sync::Arc<LoadedPolicy>) -> PriorityOutput {
    let mut i = PolicyInstance::new(p, "{}".into(), None).unwrap();
    i.priority(&PriorityInput {
        instance: "VI_1".into(),
        base_priority: 90,
        current_priority: 90,
        state: VrrpState::Master,
        interfaces: vec![],
        files: vec![],
        checks: vec![],
        master_priority: None,
    })
    .unwrap()
}

#[test]
fn a_second_engine_loads_from_the_cache() {
    let dir = tempdir("hit").join("nested");
    let bytes = component("fixture-lower");
    let first = PolicyEngine::new().unwrap().with_cache(&dir).unwrap();
    let a = LoadedPolicy::load(
        &first,
        "lower",
        PolicyKind::Priority,
        &bytes,
        Limits::default(),
    )
    .unwrap();
    assert!(!a.from_cache());
    let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        0,
        "nothing is cached before the policy is accepted"
    );
    a.accept();
    let entries: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
    assert_eq!(entries.len(), 1, "one entry, no temp file left");
    let name = entries[0].file_name().into_string().unwrap();
    assert!(
        name.starts_with(a.hash()) && name.ends_with(".cwasm"),
        "{name}"
    );

    let second = PolicyEngine::new().unwrap().with_cache(&dir).unwrap();
    let b = LoadedPolicy::load(
        &second,
        "lower",
        PolicyKind::Priority,
        &bytes,
        Limits::default(),
    )
    .unwrap();
    assert!(b.from_cache());
    assert_eq!(answer(a), PriorityOutput::Priority(30));
    assert_eq!(answer(b), PriorityOutput::Priority(30));
    std::fs::remove_dir_all(dir.parent().unwrap()).unwrap();
}

#[test]
fn stale_and_corrupt_entries_are_not_loaded() {
    let dir = tempdir("stale");
    std::fs::create_dir_all(&dir).unwrap();
    let stale = dir.join("00ff-0123456789abcdef.cwasm");
    std::fs::write(&stale, b"old engine").unwrap();
    let engine = PolicyEngine::new().unwrap().with_cache(&dir).unwrap();
    assert!(!stale.exists(), "another engine's entry is removed on open");

    let bytes = component("fixture-lower");
    let a = LoadedPolicy::load(
        &engine,
        "lower",
        PolicyKind::Priority,
        &bytes,
        Limits::default(),
    )
    .unwrap();
    a.accept();
    // Corrupt the entry: the next load recompiles instead of trusting it.
    let entry = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    std::fs::write(&entry, b"\x7fELF garbage").unwrap();
    let b = LoadedPolicy::load(
        &engine,
        "lower",
        PolicyKind::Priority,
        &bytes,
        Limits::default(),
    )
    .unwrap();
    assert!(!b.from_cache());
    assert_eq!(answer(a), answer(b));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_module_that_fails_init_or_its_contract_is_never_cached() {
    let dir = tempdir("refused");
    let engine = PolicyEngine::new().unwrap().with_cache(&dir).unwrap();
    // Compiles, then fails `init`: the daemon never accepts it.
    let loaded = LoadedPolicy::load(
        &engine,
        "picky",
        PolicyKind::Priority,
        &component("fixture-init-fails"),
        Limits::default(),
    )
    .unwrap();
    assert!(PolicyInstance::new(loaded, "{}".into(), None).is_err());
    // Compiles, then is refused for its contract version inside `load`.
    let err = LoadedPolicy::load(
        &engine,
        "other",
        PolicyKind::Priority,
        &component("fixture-other-contract"),
        Limits::default(),
    )
    .unwrap_err();
    assert_eq!(err.kind, holdfast_policy::FailureKind::Contract, "{err}");
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        0,
        "nothing cached"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_directory_others_can_write_is_refused() {
    let dir = tempdir("perm");
    std::fs::create_dir_all(&dir).unwrap();
    // A cache directory owned by someone else cannot be trusted; chown to
    // nobody only works as root, so the check is exercised where it can be.
    if nix_is_root() {
        std::process::Command::new("chown")
            .args(["65534", dir.to_str().unwrap()])
            .status()
            .unwrap();
        let err = PolicyEngine::new().unwrap().with_cache(&dir).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::PermissionDenied, "{err}");
        assert!(err.to_string().contains("must be owned by uid 0"), "{err}");
    } else {
        let engine = PolicyEngine::new().unwrap().with_cache(&dir);
        assert!(engine.is_ok(), "our own directory is accepted");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

fn nix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
}
