//! The shipped policies (`policies/keepalived-track`, `http-verdict`,
//! `latency-weights`), built from source and run in the real runtime under
//! the daemon's limits.

use holdfast_policy::{
    FailureKind, HealthVerdict, Limits, PolicyInstance, PolicyKind, PriorityOutput, ProbeKind,
    ProbeResult, TrackedFile, TrackedInterface, WeightInput,
};

mod support;
use support::{input, load};

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

fn http(params: &str) -> PolicyInstance {
    let p = load("http-verdict", PolicyKind::Health, Limits::default());
    PolicyInstance::new(p, params.into(), None).expect("instance")
}

fn probe(status: Option<u16>, latency_ms: u64, failures: u32) -> ProbeResult {
    ProbeResult {
        kind: ProbeKind::Http,
        target: "http://10.0.0.1/health".into(),
        success: status.is_some(),
        latency_us: Some(latency_ms * 1000),
        status_code: status,
        body_snippet: Some("ok: db=up".into()),
        body_digest: None,
        error: status.is_none().then(|| "connection refused".into()),
        consecutive_successes: u32::from(failures == 0),
        consecutive_failures: failures,
    }
}

#[test]
fn http_verdict_status_ranges_and_latency() {
    let mut h = http(r#"{"up-status":"200-299,301","slow-ms":50,"down-ms":500}"#);
    assert_eq!(
        h.verdict(&probe(Some(200), 3, 0)).unwrap(),
        HealthVerdict::Up
    );
    assert_eq!(
        h.verdict(&probe(Some(301), 3, 0)).unwrap(),
        HealthVerdict::Up
    );
    assert!(
        matches!(h.verdict(&probe(Some(120), 80, 0)).unwrap(),
            HealthVerdict::Degraded(r) if r.contains("status 120") || r.contains("slow")),
        "outside the ranges or slow"
    );
    assert!(matches!(h.verdict(&probe(Some(200), 80, 0)).unwrap(),
        HealthVerdict::Degraded(r) if r.contains("slow: 80 ms over 50 ms")));
    // Over down-ms is a failure: degraded first, down at the third in a row.
    assert!(matches!(h.verdict(&probe(Some(200), 900, 1)).unwrap(),
        HealthVerdict::Degraded(r) if r.contains("latency 900 ms") && r.contains("1 of 3")));
    assert!(matches!(h.verdict(&probe(Some(200), 900, 3)).unwrap(),
        HealthVerdict::Down(r) if r.contains("3 in a row")));
    assert_eq!(h.failures, 0, "every call answered");
}

#[test]
fn http_verdict_degrades_instead_of_flapping() {
    let mut h = http(r#"{"down-after":2,"body-contains":"db=up"}"#);
    assert!(matches!(h.verdict(&probe(Some(503), 1, 1)).unwrap(),
        HealthVerdict::Degraded(r) if r.contains("status 503")));
    assert!(matches!(h.verdict(&probe(Some(503), 1, 2)).unwrap(),
        HealthVerdict::Down(r) if r.contains("status 503")));
    assert!(matches!(h.verdict(&probe(None, 1, 5)).unwrap(),
        HealthVerdict::Down(r) if r.contains("connection refused")));
    let mut no_db = probe(Some(200), 1, 1);
    no_db.body_snippet = Some("ok: db=down".into());
    assert!(matches!(h.verdict(&no_db).unwrap(),
        HealthVerdict::Degraded(r) if r.contains("body lacks")));
    assert_eq!(
        h.verdict(&probe(Some(204), 1, 0)).unwrap(),
        HealthVerdict::Up
    );
}

#[test]
fn http_verdict_rejects_bad_params_in_init() {
    let p = load("http-verdict", PolicyKind::Health, Limits::default());
    for (params, needle) in [
        (r#"{"up-status":"200-1000"}"#, "not an HTTP status"),
        (r#"{"up-status":"299-200"}"#, "backwards"),
        (r#"{"slow-ms":500,"down-ms":100}"#, "must be below"),
        (r#"{"down-after":0}"#, "at least 1"),
        (r#"{"up-stauts":"200"}"#, "unknown field"),
    ] {
        let err = PolicyInstance::new(p.clone(), params.into(), None).unwrap_err();
        assert_eq!(err.kind, FailureKind::InitFailed, "{params}");
        assert!(err.message.contains(needle), "{params}: {err}");
    }
}

fn weights(params: &str) -> PolicyInstance {
    let p = load("latency-weights", PolicyKind::Weight, Limits::default());
    PolicyInstance::new(p, params.into(), None).expect("instance")
}

fn rs(history_ms: &[u64], healthy: bool) -> WeightInput {
    WeightInput {
        real_server: "10.0.0.1:80".into(),
        base_weight: 100,
        healthy,
        latency_history_us: history_ms.iter().map(|ms| ms * 1000).collect(),
        active_connections: 3,
        inactive_connections: 1,
    }
}

#[test]
fn latency_weights_are_inversely_proportional_and_bounded() {
    let mut w = weights(r#"{"reference-ms":10,"alpha":1.0,"min":5,"max":400}"#);
    assert_eq!(w.weight(&rs(&[10], true)).unwrap(), 100, "at the reference");
    assert_eq!(w.weight(&rs(&[20], true)).unwrap(), 50, "twice as slow");
    assert_eq!(w.weight(&rs(&[5], true)).unwrap(), 200, "twice as fast");
    assert_eq!(w.weight(&rs(&[1], true)).unwrap(), 400, "capped at max");
    assert_eq!(w.weight(&rs(&[10_000], true)).unwrap(), 5, "floored at min");
    assert_eq!(
        w.weight(&rs(&[0], true)).unwrap(),
        400,
        "0 µs does not divide by zero"
    );
    assert_eq!(w.weight(&rs(&[10], false)).unwrap(), 0, "unhealthy");
    assert_eq!(
        w.weight(&rs(&[], true)).unwrap(),
        100,
        "no history: configured"
    );
}

#[test]
fn latency_weights_smooth_a_spike() {
    let mut w = weights(r#"{"alpha":0.25}"#);
    // EWMA: 10, then a 40 ms spike moves the average to 17.5 ms, not 40.
    assert_eq!(w.weight(&rs(&[10, 40], true)).unwrap(), 57);
    // ...and it decays back: 17.5 → 15.625 → 14.22
    assert_eq!(w.weight(&rs(&[10, 40, 10, 10], true)).unwrap(), 70);
    let p = load("latency-weights", PolicyKind::Weight, Limits::default());
    for bad in [
        r#"{"alpha":0}"#,
        r#"{"min":10,"max":5}"#,
        r#"{"reference-ms":-1}"#,
    ] {
        let err = PolicyInstance::new(p.clone(), bad.into(), None).unwrap_err();
        assert_eq!(err.kind, FailureKind::InitFailed, "{bad}");
    }
}
