//! The boundary around the runtime, tried as an attacker would: modules
//! shaped to blow up the compiler are refused before compiling, a module
//! built against another contract version is refused by what it names,
//! and nothing a module writes can start a log line of its own.

use std::io::Write;
use std::sync::{Arc, Mutex};

use holdfast_policy::{
    FailureKind, Limits, LoadedPolicy, ModuleLimits, ModuleShape, PolicyError, PolicyInstance,
    PolicyKind, componentize,
};
use holdfast_tests::wasm::{Body, component as hostile};

mod support;
use support::{component, engine, input, load};

fn refused(bytes: &[u8]) -> PolicyError {
    let err = componentize("hostile", bytes).unwrap_err();
    // The engine refuses it too, whatever path it arrives by.
    let again = LoadedPolicy::load(
        engine(),
        "hostile",
        PolicyKind::Priority,
        bytes,
        Limits::default(),
    )
    .unwrap_err();
    assert_eq!(err.kind, again.kind);
    err
}

#[test]
fn modules_over_the_static_limits_are_refused_before_compiling() {
    let limits = ModuleLimits::default().0;
    let cases = [
        // One function of about 300 KiB.
        (hostile(Body::Chain(100_000), 1, 1), "bytes in one function"),
        (
            hostile(Body::Nested(limits.nesting as u32 + 1), 1, 1),
            "nested blocks",
        ),
        (
            hostile(Body::Chain(1), limits.functions as u32 + 1, 1),
            "functions",
        ),
        (
            hostile(Body::Locals(limits.locals as u32 + 1), 1, 1),
            "locals",
        ),
        (
            hostile(Body::Chain(1), 1, limits.memory_pages + 1),
            "initial pages",
        ),
    ];
    for (bytes, what) in cases {
        let err = refused(&bytes);
        assert_eq!(err.kind, FailureKind::OverLimits, "{what}: {err}");
        assert!(err.message.contains(what), "{what}: {err}");
        assert!(err.message.contains("refused before compiling"), "{err}");
    }
    // Just under every limit: not refused by the static check (it is not a
    // policy, so the contract check refuses it after compiling).
    let under = hostile(Body::Nested(limits.nesting as u32), 2, 1);
    let err = LoadedPolicy::load(
        engine(),
        "under",
        PolicyKind::Priority,
        &under,
        Limits::default(),
    )
    .unwrap_err();
    assert_eq!(err.kind, FailureKind::Contract, "{err}");
}

#[test]
fn the_shipped_policies_have_ten_times_the_room_they_use() {
    let limits = ModuleLimits::default();
    for name in ["keepalived-track", "http-verdict", "latency-weights"] {
        let shape = ModuleShape::of(&component(name)).unwrap();
        let tenfold = ModuleShape {
            functions: shape.functions * 10,
            function_bytes: shape.function_bytes * 10,
            locals: shape.locals * 10,
            nesting: shape.nesting * 10,
            tables: shape.tables,
            table_elements: shape.table_elements * 10,
            memories: shape.memories,
            memory_pages: shape.memory_pages * 10,
            globals: shape.globals * 10,
        };
        assert_eq!(limits.excess(&tenfold), None, "{name}: {shape:?}");
    }
}

#[test]
fn another_contract_version_is_refused_by_name() {
    let bytes = component("fixture-other-contract");
    let err = LoadedPolicy::load(
        engine(),
        "other",
        PolicyKind::Priority,
        &bytes,
        Limits::default(),
    )
    .unwrap_err();
    assert_eq!(err.kind, FailureKind::Contract);
    assert!(
        err.message.contains("built against holdfast:policy@0.9.0"),
        "{err}"
    );
    assert!(
        err.message
            .contains("accepts holdfast:policy@0.1.0, holdfast:policy@0.2.0"),
        "{err}"
    );
    let info = holdfast_policy::inspect(engine(), "other", &bytes).unwrap();
    assert_eq!(info.packages, ["holdfast:policy@0.9.0"]);
    assert!(info.worlds.is_empty());
    assert!(info.refused.is_some());
    // The shipped policies name the version they were built against.
    let info = holdfast_policy::inspect(engine(), "t", &component("keepalived-track")).unwrap();
    assert_eq!(info.packages, ["holdfast:policy@0.2.0"]);
    assert_eq!(info.refused, None);
}

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs the log-forging module through every path its text can take
/// (log, fault reason, init error, error messages) under a subscriber
/// formatted as the daemon's, and returns what was written.
fn forge(json: bool) -> String {
    let out = Captured::default();
    let writer = out.clone();
    let builder = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_target(false)
        .with_ansi(false);
    let run = || {
        let p = load("fixture-forge-log", PolicyKind::Priority, Limits::default());
        let mut i = PolicyInstance::new(p.clone(), "{}".into(), None).unwrap();
        let mut real = input(100);
        real.interfaces.push(holdfast_policy::TrackedInterface {
            name: "lo".into(),
            up: true,
            weight: 0,
        });
        let holdfast_policy::PriorityOutput::Fault(reason) = i.priority(&real).unwrap() else {
            panic!("the module faults on real input");
        };
        tracing::warn!(%reason, "priority policy reports fault");
        let init = PolicyInstance::new(p, r#"{"fail-init":true}"#.into(), None).unwrap_err();
        tracing::error!(kind = %init.kind, error = %init.message, "policy rejected");
    };
    if json {
        tracing::subscriber::with_default(builder.json().flatten_event(true).finish(), run);
    } else {
        tracing::subscriber::with_default(builder.finish(), run);
    }
    String::from_utf8(out.0.lock().unwrap().clone()).unwrap()
}

#[test]
fn module_text_cannot_start_a_log_line() {
    for json in [false, true] {
        let out = forge(json);
        let lines: Vec<&str> = out.split('\n').filter(|l| !l.is_empty()).collect();
        // The module's log line, the fault reason, the init error: three
        // lines, each one ours from its first byte.
        assert_eq!(lines.len(), 3, "{out}");
        for line in &lines {
            let ours = if json {
                serde_json::from_str::<serde_json::Value>(line).is_ok_and(|v| v.is_object())
            } else {
                line.starts_with("20") && !line.starts_with("1999")
            };
            assert!(ours, "a line not written by the host: {line:?}");
            assert!(
                !line.chars().any(|c| c.is_control() || c == '\u{2028}'),
                "a control character reached the log: {line:?}"
            );
        }
        assert!(lines[0].contains("policy log") && lines[0].contains("fixture-forge-log"));
        // What the module wrote is there on each line, made visible.
        for line in &lines {
            let text = if json {
                let v: serde_json::Value = serde_json::from_str(line).unwrap();
                ["text", "reason", "error"]
                    .iter()
                    .find_map(|k| v[k].as_str().map(str::to_string))
                    .unwrap_or_default()
            } else {
                line.to_string()
            };
            for visible in [
                r"ok\n1999-01-01",
                r"\r1999",
                r"\u{1b}[2K",
                r"\u{85}1999",
                r"\u{2028}1999",
            ] {
                assert!(text.contains(visible), "{visible} in {line}");
            }
        }
    }
}

#[test]
fn error_text_is_escaped_and_cut() {
    let e = PolicyError::new(
        FailureKind::Trap,
        "p",
        format!(
            "wasm backtrace:\n  0: \u{1b}]0;owned\u{7}{}",
            "x".repeat(5000)
        ),
    );
    assert!(!e.message.chars().any(char::is_control), "{e}");
    assert!(
        e.message
            .starts_with(r"wasm backtrace:\n  0: \u{1b}]0;owned\u{7}")
    );
    assert!(e.message.len() <= holdfast_policy::escape::ERROR_TEXT_MAX + 3);
}
