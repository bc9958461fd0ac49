//! The policy runtime against hostile modules built from `policies/`:
//! fixtures that loop, allocate,
//! recurse, panic, return huge values, flood the log, fail `init`, or
//! implement the wrong world. Every one must be stopped by its limit, be
//! classified, and leave the host able to run a good policy right after.

use std::time::{Duration, Instant};

use holdfast_policy::{
    FailureKind, Limits, LoadedPolicy, PolicyInstance, PolicyKind, PriorityOutput, VrrpState,
    WeightInput,
};

mod support;
use support::{component, engine, input, load};

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
        ..Limits::default()
    };
    contained("fixture-spin", FailureKind::Deadline, limits);
}

#[test]
fn unbounded_allocation_hits_the_memory_cap() {
    let limits = Limits {
        fuel: 10_000_000_000,
        timeout: Duration::from_secs(1),
        memory_mib: 16,
        ..Limits::default()
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
        ..Limits::default()
    };
    contained("fixture-huge-output", FailureKind::MemoryLimit, limits);
}

#[test]
fn a_log_flood_is_cut_and_the_answer_still_counts() {
    let limits = Limits {
        fuel: 10_000_000_000,
        timeout: Duration::from_secs(1),
        memory_mib: 16,
        ..Limits::default()
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

#[test]
fn repeated_failures_back_off_without_running_the_module() {
    let p = load("fixture-panic", PolicyKind::Priority, Limits::default());
    let mut i = PolicyInstance::new(p, "{}".into(), None).unwrap();
    for _ in 0..holdfast_policy::BACKOFF_AFTER {
        assert_eq!(i.priority(&input(100)).unwrap_err().kind, FailureKind::Trap);
    }
    let until = i.backing_off_until().expect("backing off");
    let skipped = i.priority(&input(100)).unwrap_err();
    assert_eq!(skipped.kind, FailureKind::BackingOff, "{skipped}");
    assert_eq!(i.failures, 3, "a skipped call is not a new failure");
    std::thread::sleep(until.saturating_duration_since(Instant::now()) + Duration::from_millis(5));
    assert_eq!(
        i.priority(&input(100)).unwrap_err().kind,
        FailureKind::Trap,
        "tried again"
    );
    let next = i.backing_off_until().expect("backing off again");
    let pause = next.saturating_duration_since(Instant::now());
    assert!(
        pause > Duration::from_millis(150),
        "the pause doubled: {pause:?}"
    );
}

#[test]
fn a_success_ends_the_backoff() {
    // spin-on-track loops only when interfaces are tracked.
    let p = load(
        "fixture-spin-on-track",
        PolicyKind::Priority,
        Limits::default(),
    );
    let mut i = PolicyInstance::new(p, "{}".into(), None).unwrap();
    let mut bad = input(100);
    bad.interfaces = vec![holdfast_policy::TrackedInterface {
        name: "eth0".into(),
        up: true,
        weight: 0,
    }];
    for _ in 0..3 {
        assert_eq!(i.priority(&bad).unwrap_err().kind, FailureKind::OutOfFuel);
    }
    let until = i.backing_off_until().expect("backing off");
    std::thread::sleep(until.saturating_duration_since(Instant::now()) + Duration::from_millis(5));
    assert_eq!(
        i.priority(&input(90)).unwrap(),
        PriorityOutput::Priority(90)
    );
    assert_eq!(i.consecutive_failures, 0);
    assert!(i.backing_off_until().is_none());
}

#[test]
fn a_policy_reads_daemon_state_read_only() {
    use std::sync::{Arc, RwLock};
    let states = Arc::new(RwLock::new(std::collections::HashMap::from([(
        "VI_1-peer".to_string(),
        VrrpState::Backup,
    )])));
    let board = states.clone();
    let query: holdfast_policy::StateQuery =
        Arc::new(move |name: &str| board.read().unwrap().get(name).copied());
    let p = load(
        "fixture-follow-peer",
        PolicyKind::Priority,
        Limits::default(),
    );
    let mut i = PolicyInstance::new(p.clone(), "{}".into(), Some(query)).unwrap();
    assert_eq!(
        i.priority(&input(100)).unwrap(),
        PriorityOutput::Priority(100)
    );
    states
        .write()
        .unwrap()
        .insert("VI_1-peer".into(), VrrpState::Master);
    assert_eq!(
        i.priority(&input(100)).unwrap(),
        PriorityOutput::Priority(50)
    );
    // Without a state source every instance is unknown.
    let mut blind = PolicyInstance::new(p, "{}".into(), None).unwrap();
    assert!(matches!(blind.priority(&input(100)).unwrap(),
        PriorityOutput::Fault(r) if r.contains("no instance VI_1-peer")));
}
