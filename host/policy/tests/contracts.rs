//! Contract versions and the probe world: modules built against 0.1.0
//! keep loading and answering next to 0.2.0 ones; 0.2.0 priority policies
//! see their checks' latency and last error; a probe module's exchanges
//! reach its own target and nothing else, within its deadline.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use holdfast_policy::{
    Exchange, FailureKind, HttpRequest, HttpResponse, Limits, PolicyInstance, PolicyKind,
    PriorityOutput, ProbeInput, ProbeNetwork, TrackedCheck, Transport, VrrpState,
};
use support::{component, engine, input, load};

fn check(name: &str, up: bool, latency_us: Option<u64>, error: Option<&str>) -> TrackedCheck {
    TrackedCheck {
        name: name.into(),
        up,
        weight: -10,
        latency_us,
        last_error: error.map(str::to_string),
    }
}

#[test]
fn a_module_built_against_0_1_0_loads_and_answers() {
    let bytes = component("fixture-contract-0-1-0");
    let info = holdfast_policy::inspect(engine(), "old", &bytes).unwrap();
    assert_eq!(info.packages, ["holdfast:policy@0.1.0"]);
    assert_eq!(info.worlds, [PolicyKind::Priority]);
    assert_eq!(info.refused, None);

    let policy = load(
        "fixture-contract-0-1-0",
        PolicyKind::Priority,
        Limits::default(),
    );
    // Its `state` import answers through the 0.1.0 interface too.
    let state: holdfast_policy::StateQuery =
        Arc::new(|name: &str| (name == "VI_FAULTY").then_some(VrrpState::Fault));
    let mut old = PolicyInstance::new(policy.clone(), "{}".into(), None).unwrap();
    let mut i = input(100);
    // The fields 0.1.0 does not know are left out, not refused.
    i.checks = vec![
        check("a", false, Some(1500), Some("exit status 1")),
        check("b", true, Some(300), None),
        check("c", false, None, None),
    ];
    assert_eq!(old.priority(&i).unwrap(), PriorityOutput::Priority(80));
    let mut faulty = PolicyInstance::new(policy, "{}".into(), Some(state)).unwrap();
    assert_eq!(
        faulty.priority(&i).unwrap(),
        PriorityOutput::Fault("VI_FAULTY is in fault".into())
    );
    // A 0.1.0 module is no probe: that world is new in 0.2.0.
    let err = holdfast_policy::LoadedPolicy::load(
        engine(),
        "old",
        PolicyKind::Probe,
        &bytes,
        Limits::default(),
    )
    .unwrap_err();
    assert_eq!(err.kind, FailureKind::WrongWorld);
}

#[test]
fn a_priority_policy_sees_latency_and_last_error() {
    let policy = load(
        "fixture-check-echo",
        PolicyKind::Priority,
        Limits::default(),
    );
    let mut echo = PolicyInstance::new(policy, "{}".into(), None).unwrap();
    let mut i = input(100);
    i.checks = vec![check("nginx", true, Some(12_400), None)];
    assert_eq!(echo.priority(&i).unwrap(), PriorityOutput::Priority(88));
    i.checks = vec![
        check("nginx", true, Some(400), None),
        check(
            "db",
            false,
            Some(2_000_000),
            Some("timed out after 2000 ms"),
        ),
    ];
    let fault = PriorityOutput::Fault("db down: timed out after 2000 ms after 2000000 us".into());
    assert_eq!(echo.priority(&i).unwrap(), fault);
    // The error crosses once; the module keeps it while it stays the same...
    assert_eq!(echo.priority(&i).unwrap(), fault);
    // ...replaces it when it changes, and drops it when it is gone.
    i.checks[1].last_error = Some("connect: refused".into());
    assert_eq!(
        echo.priority(&i).unwrap(),
        PriorityOutput::Fault("db down: connect: refused after 2000000 us".into())
    );
    i.checks[1].last_error = None;
    assert_eq!(
        echo.priority(&i).unwrap(),
        PriorityOutput::Fault("db down: no error after 2000000 us".into())
    );
    // A new setup (another check list) starts the errors afresh.
    i.checks
        .insert(0, check("cache", false, Some(10), Some("exit status 1")));
    assert_eq!(
        echo.priority(&i).unwrap(),
        PriorityOutput::Fault("cache down: exit status 1 after 10 us".into())
    );
}

/// What the policy runtime handed the daemon's network: every exchange it
/// let through, which must all be for the probe's own target (the network
/// itself takes no address: it is bound to the target).
#[derive(Clone, Default)]
struct Recorder {
    exchanges: Arc<Mutex<Vec<(Transport, Exchange, Duration)>>>,
    reply: Vec<u8>,
    stall: Duration,
}

impl ProbeNetwork for Recorder {
    fn exchange(
        &mut self,
        transport: &Transport,
        x: &Exchange,
        timeout: Duration,
    ) -> Result<Vec<u8>, String> {
        self.exchanges
            .lock()
            .unwrap()
            .push((transport.clone(), x.clone(), timeout));
        std::thread::sleep(self.stall.min(timeout));
        Ok(self.reply.clone())
    }

    fn http(&mut self, _r: &HttpRequest, _timeout: Duration) -> Result<HttpResponse, String> {
        Err("not here".into())
    }
}

fn target_input(timeout_ms: u32) -> ProbeInput {
    ProbeInput {
        target: "192.0.2.10:6379".parse().unwrap(),
        timeout_ms,
    }
}

#[test]
fn a_probe_reaches_its_target_and_nothing_else() {
    let policy = load(
        "fixture-probe-elsewhere",
        PolicyKind::Probe,
        Limits::default(),
    );
    let params = r#"{"elsewhere":"192.0.2.99:6379"}"#;
    let mut probe = PolicyInstance::new(policy, params.into(), None).unwrap();
    let net = Recorder {
        reply: b"+PONG\r\n".to_vec(),
        ..Recorder::default()
    };
    let out = probe
        .probe(&target_input(1000), Box::new(net.clone()))
        .unwrap();
    // All four ways out (tcp, tls, udp, http) were refused by the host...
    assert_eq!(out.message.matches("refused").count(), 4, "{out:?}");
    assert!(
        out.message
            .contains("`192.0.2.99:6379` is not this probe's target 192.0.2.10:6379"),
        "{out:?}"
    );
    // ...before the network saw them: the one exchange it saw is the
    // module's own PING of its target, cut to the call's deadline.
    assert!(out.up, "{out:?}");
    let seen = net.exchanges.lock().unwrap();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].0, Transport::Tcp);
    assert_eq!(seen[0].1.send, b"PING\r\n");
    assert!(seen[0].2 <= Duration::from_millis(1000));
}

#[test]
fn redis_probe_judges_replies_and_stays_within_its_deadline() {
    let policy = load("redis-probe", PolicyKind::Probe, Limits::default());
    let mut redis =
        PolicyInstance::new(policy.clone(), r#"{"role":"master"}"#.into(), None).unwrap();
    let master = Recorder {
        reply: b"+PONG\r\n*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n".to_vec(),
        ..Recorder::default()
    };
    let out = redis
        .probe(&target_input(500), Box::new(master.clone()))
        .unwrap();
    assert!(out.up && out.message == "PONG, role master", "{out:?}");
    let sent = &master.exchanges.lock().unwrap()[0].1;
    assert_eq!(sent.send, b"*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nROLE\r\n");
    assert!(sent.max_reply <= holdfast_policy::REPLY_MAX as usize);

    let replica = Recorder {
        reply: b"+PONG\r\n*5\r\n$5\r\nslave\r\n".to_vec(),
        ..Recorder::default()
    };
    let out = redis.probe(&target_input(500), Box::new(replica)).unwrap();
    assert!(
        !out.up && out.message.contains("role is replica"),
        "{out:?}"
    );

    // A network that never answers in time: the exchange is cut to the
    // call's deadline, and the call returns within it.
    let stalled = Recorder {
        reply: Vec::new(),
        stall: Duration::from_secs(10),
        ..Recorder::default()
    };
    let started = Instant::now();
    let out = redis.probe(&target_input(200), Box::new(stalled.clone()));
    let took = started.elapsed();
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert!(stalled.exchanges.lock().unwrap()[0].2 <= Duration::from_millis(200));
    // Either the module saw an empty reply and said down, or the deadline
    // trapped it: never up.
    assert!(!out.is_ok_and(|o| o.up));
}
