//! The policy runtime against real modules built from `policies/`: the
//! shipped `keepalived-track`, and hostile fixtures that loop, allocate,
//! recurse, panic, return huge values, flood the log, fail `init`, or
//! implement the wrong world. Every one must be stopped by its limit, be
//! classified, and leave the host able to run a good policy right after.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use holdfast_policy::{
    FailureKind, Limits, LoadedPolicy, PolicyEngine, PolicyInstance, PolicyKind, PriorityInput,
    PriorityOutput, TrackedFile, TrackedInterface, VrrpState, WeightInput, componentize,
};

/// Builds the policies workspace for wasm32 once per test run.
fn wasm_dir() -> &'static Path {
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

fn engine() -> &'static PolicyEngine {
    static ENGINE: OnceLock<PolicyEngine> = OnceLock::new();
    ENGINE.get_or_init(|| PolicyEngine::new().expect("engine"))
}

fn component(crate_name: &str) -> Vec<u8> {
    let file = wasm_dir().join(format!("{}.wasm", crate_name.replace('-', "_")));
    let core = std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    componentize(crate_name, &core).expect("componentize")
}

fn load(crate_name: &str, kind: PolicyKind, limits: Limits) -> Arc<LoadedPolicy> {
    LoadedPolicy::load(engine(), crate_name, kind, &component(crate_name), limits).expect("load")
}

fn input(base: u8) -> PriorityInput {
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

fn iface(name: &str, up: bool, weight: i32) -> TrackedInterface {
    TrackedInterface {
        name: name.into(),
        up,
        weight,
    }
}

#[test]
fn keepalived_track_matches_keepalived_weights() {
    let p = load("keepalived-track", PolicyKind::Priority, Limits::default());
    let mut i = PolicyInstance::new(p, "{}".into(), None).expect("instance");
    let mut x = input(100);
    assert_eq!(i.priority(&x).unwrap(), PriorityOutput::Priority(100));
    x.interfaces = vec![iface("a", false, -20), iface("b", true, 10)];
    assert_eq!(i.priority(&x).unwrap(), PriorityOutput::Priority(90));
    x.files = vec![TrackedFile {
        path: "/run/prio".into(),
        value: 3,
        weight: -5,
    }];
    assert_eq!(i.priority(&x).unwrap(), PriorityOutput::Priority(75));
    x.interfaces.push(iface("c", false, 0));
    assert!(matches!(i.priority(&x).unwrap(), PriorityOutput::Fault(r) if r.contains("c is down")));
    let mut owner = input(255);
    owner.interfaces = vec![iface("a", false, -100)];
    assert_eq!(i.priority(&owner).unwrap(), PriorityOutput::Priority(255));
    let mut low = input(10);
    low.interfaces = vec![iface("a", false, -100)];
    assert_eq!(
        i.priority(&low).unwrap(),
        PriorityOutput::Priority(1),
        "clamped to 1"
    );
    assert_eq!(i.failures, 0);
}

/// Checks a hostile policy fails with `kind`, within a bound, and that the
/// same engine then runs a good policy.
fn contained(crate_name: &str, kind: FailureKind, limits: Limits) -> Duration {
    let p = load(crate_name, PolicyKind::Priority, limits);
    let mut i = PolicyInstance::new(p, "{}".into(), None).expect("instance");
    for round in 0..2 {
        let t = Instant::now();
        let err = i.priority(&input(100)).expect_err("must fail");
        let took = t.elapsed();
        assert_eq!(err.kind, kind, "{crate_name} round {round}: {err}");
        assert!(took < Duration::from_secs(2), "{crate_name}: took {took:?}");
    }
    assert_eq!(i.failures, 2);
    assert_eq!(i.consecutive_failures, 2);
    let good = load("keepalived-track", PolicyKind::Priority, Limits::default());
    let mut g = PolicyInstance::new(good, "{}".into(), None).unwrap();
    assert_eq!(
        g.priority(&input(120)).unwrap(),
        PriorityOutput::Priority(120)
    );
    Duration::ZERO
}

#[test]
fn an_infinite_loop_runs_out_of_fuel() {
    contained("fixture-spin", FailureKind::OutOfFuel, Limits::default());
}

#[test]
fn an_infinite_loop_with_ample_fuel_hits_the_deadline() {
    let limits = Limits {
        fuel: 10_000_000_000,
        timeout: Duration::from_millis(20),
        memory_mib: 16,
    };
    contained("fixture-spin", FailureKind::Deadline, limits);
}

#[test]
fn unbounded_allocation_hits_the_memory_cap() {
    let limits = Limits {
        fuel: 10_000_000_000,
        timeout: Duration::from_secs(1),
        memory_mib: 16,
    };
    contained("fixture-memory-bomb", FailureKind::MemoryLimit, limits);
}

#[test]
fn deep_recursion_traps() {
    contained(
        "fixture-recursion",
        FailureKind::Trap,
        Limits {
            fuel: 10_000_000_000,
            ..Limits::default()
        },
    );
}

#[test]
fn a_panic_traps() {
    contained("fixture-panic", FailureKind::Trap, Limits::default());
}

#[test]
fn a_huge_output_hits_the_memory_cap() {
    let limits = Limits {
        fuel: 10_000_000_000,
        timeout: Duration::from_secs(1),
        memory_mib: 16,
    };
    contained("fixture-huge-output", FailureKind::MemoryLimit, limits);
}

#[test]
fn a_log_flood_is_cut_and_the_answer_still_counts() {
    let limits = Limits {
        fuel: 10_000_000_000,
        timeout: Duration::from_secs(1),
        memory_mib: 16,
    };
    let p = load("fixture-log-flood", PolicyKind::Priority, limits);
    let mut i = PolicyInstance::new(p, "{}".into(), None).unwrap();
    assert_eq!(
        i.priority(&input(100)).unwrap(),
        PriorityOutput::Priority(100)
    );
    assert!(i.logs_dropped >= 99_000, "dropped {}", i.logs_dropped);
}

#[test]
fn init_failure_is_reported_with_the_policys_message() {
    let p = load(
        "fixture-init-fails",
        PolicyKind::Priority,
        Limits::default(),
    );
    let err = PolicyInstance::new(p, r#"{"mode":"strict"}"#.into(), None).unwrap_err();
    assert_eq!(err.kind, FailureKind::InitFailed);
    assert!(
        err.message
            .contains("unsupported parameters: {\"mode\":\"strict\"}"),
        "{err}"
    );
}

#[test]
fn the_wrong_world_is_rejected_at_load() {
    let err = LoadedPolicy::load(
        engine(),
        "w",
        PolicyKind::Priority,
        &component("fixture-weight-world"),
        Limits::default(),
    )
    .unwrap_err();
    assert_eq!(err.kind, FailureKind::WrongWorld, "{err}");
    let w = load(
        "fixture-weight-world",
        PolicyKind::Weight,
        Limits::default(),
    );
    let mut i = PolicyInstance::new(w, "{}".into(), None).unwrap();
    let input = WeightInput {
        real_server: "10.0.0.1:80".into(),
        base_weight: 10,
        healthy: true,
        latency_history_us: vec![],
        active_connections: 0,
        inactive_connections: 0,
    };
    assert_eq!(i.weight(&input).unwrap(), 5);
    assert_eq!(
        holdfast_policy::worlds(engine(), "w", &component("fixture-weight-world")).unwrap(),
        [PolicyKind::Weight]
    );
}

#[test]
fn garbage_is_a_load_error() {
    let err = LoadedPolicy::load(
        engine(),
        "junk",
        PolicyKind::Priority,
        b"\0asm\x01\0\0\0garbage",
        Limits::default(),
    )
    .unwrap_err();
    assert_eq!(err.kind, FailureKind::Load);
}
