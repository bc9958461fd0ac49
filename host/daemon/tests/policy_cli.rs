//! `holdfast policy build | inspect | eval` on the shipped policy and a
//! hostile fixture, built from source.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

fn holdfast() -> Command {
    Command::new(env!("CARGO_BIN_EXE_holdfast"))
}

fn policies() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies")
}

/// keepalived-track built once with `holdfast policy build`.
fn keepalived_track() -> &'static Path {
    static OUT: OnceLock<PathBuf> = OnceLock::new();
    OUT.get_or_init(|| {
        let out = std::env::temp_dir().join(format!("holdfast-kt-{}.wasm", std::process::id()));
        let o = holdfast()
            .args(["policy", "build"])
            .arg(policies().join("keepalived-track"))
            .arg("-o")
            .arg(&out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let line = String::from_utf8_lossy(&o.stdout);
        assert!(
            line.contains("world priority") && line.contains("sha256 "),
            "{line}"
        );
        out
    })
}

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn build_then_inspect() {
    let bytes = std::fs::read(keepalived_track()).unwrap();
    assert_eq!(&bytes[..4], b"\0asm");
    assert_eq!(bytes[6..8], [1, 0], "a component, not a core module");
    let out = holdfast()
        .args(["policy", "inspect"])
        .arg(keepalived_track())
        .output()
        .unwrap();
    assert!(out.status.success());
    let v = json(&out);
    assert_eq!(v["worlds"], serde_json::json!(["priority"]));
    assert_eq!(
        v["exports"],
        serde_json::json!(["init", "setup", "priority"])
    );
    assert_eq!(v["packages"], serde_json::json!(["holdfast:policy@0.2.0"]));
    assert_eq!(v["refused"], serde_json::Value::Null);
    assert_eq!(v["sha256"].as_str().unwrap().len(), 64);
}

#[test]
fn eval_applies_keepalived_weights() {
    let input = r#"{"instance":"VI_1","base_priority":150,"current_priority":150,"state":"master",
        "interfaces":[{"name":"eth1","up":false,"weight":-20},{"name":"eth2","up":true,"weight":5}]}"#;
    let out = holdfast()
        .args(["policy", "eval"])
        .arg(keepalived_track())
        .args(["--kind", "priority", "--input", input])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json(&out), serde_json::json!({"output": {"priority": 135}}));
}

#[test]
fn eval_reports_a_typed_failure_with_exit_1() {
    let spin = policies().join("target/wasm32-unknown-unknown/release/fixture_spin.wasm");
    if !spin.exists() {
        let ok = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args([
                "build",
                "--quiet",
                "--release",
                "--target",
                "wasm32-unknown-unknown",
                "-p",
                "fixture-spin",
            ])
            .current_dir(policies())
            .status()
            .unwrap();
        assert!(ok.success());
    }
    let input =
        r#"{"instance":"VI_1","base_priority":150,"current_priority":150,"state":"backup"}"#;
    let out = holdfast()
        .args(["policy", "eval"])
        .arg(&spin)
        .args(["--kind", "priority", "--input", input, "--fuel", "100000"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json(&out)["error"]["kind"], "out-of-fuel");
    // The wrong kind for a good policy is a typed failure too.
    let out = holdfast()
        .args(["policy", "eval"])
        .arg(keepalived_track())
        .args(["--kind", "weight", "--input", "{}"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json(&out)["error"]["kind"], "wrong-world");
}

/// Builds a shipped policy with `holdfast policy build` into a temp file.
fn build(crate_dir: &str) -> PathBuf {
    let out = std::env::temp_dir().join(format!(
        "holdfast-{}-{}.wasm",
        crate_dir.replace('/', "-"),
        std::process::id()
    ));
    let o = holdfast()
        .args(["policy", "build"])
        .arg(policies().join(crate_dir))
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    out
}

fn eval(file: &Path, kind: &str, input: &str, params: &str) -> serde_json::Value {
    let out = holdfast()
        .args(["policy", "eval"])
        .arg(file)
        .args(["--kind", kind, "--input", input, "--params", params])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    json(&out)
}

#[test]
fn eval_http_verdict() {
    let file = build("http-verdict");
    let probe = |status: u16, latency_us: u64, failures: u32| {
        format!(
            r#"{{"kind":"http","target":"http://10.0.0.1/","success":true,"status_code":{status},
            "latency_us":{latency_us},"consecutive_failures":{failures}}}"#
        )
    };
    let params = r#"{"up-status":"200-299","slow-ms":100,"down-after":2}"#;
    assert_eq!(
        eval(&file, "health", &probe(200, 5_000, 0), params),
        serde_json::json!({"output": "up"})
    );
    let slow = eval(&file, "health", &probe(200, 250_000, 0), params);
    assert!(
        slow["output"]["degraded"]
            .as_str()
            .unwrap()
            .contains("slow: 250 ms"),
        "{slow}"
    );
    let down = eval(&file, "health", &probe(500, 1_000, 2), params);
    assert!(
        down["output"]["down"]
            .as_str()
            .unwrap()
            .contains("status 500"),
        "{down}"
    );
    std::fs::remove_file(file).unwrap();
}

#[test]
fn eval_latency_weights() {
    let file = build("latency-weights");
    let input = r#"{"real_server":"10.0.0.2:80","base_weight":50,"healthy":true,
        "latency_history_us":[20000,20000]}"#;
    assert_eq!(
        eval(&file, "weight", input, r#"{"reference-ms":10}"#),
        serde_json::json!({"output": 25})
    );
    assert_eq!(
        eval(&file, "weight", input, r#"{"reference-ms":10,"max":20}"#),
        serde_json::json!({"output": 20})
    );
    // Bad params are init's typed failure, exit 1.
    let out = holdfast()
        .args(["policy", "eval"])
        .arg(&file)
        .args([
            "--kind",
            "weight",
            "--input",
            input,
            "--params",
            r#"{"alpha":7}"#,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json(&out)["error"]["kind"], "init-failed");
    std::fs::remove_file(file).unwrap();
}

#[test]
fn the_example_custom_policy_builds_and_drains() {
    let out = std::env::temp_dir().join(format!("holdfast-drain-{}.wasm", std::process::id()));
    let o = holdfast()
        .args(["policy", "build"])
        .arg(policies().join("../examples/custom-policy"))
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let input = |drain: i64| {
        format!(
            r#"{{"instance":"VI_1","base_priority":150,"current_priority":150,"state":"master",
            "interfaces":[{{"name":"eth1","up":false}}],
            "files":[{{"path":"/run/holdfast/drain","value":{drain}}}]}}"#
        )
    };
    let params = r#"{"drained-priority":10,"penalty":25}"#;
    assert_eq!(
        eval(&out, "priority", &input(1), params),
        serde_json::json!({"output": {"priority": 10}})
    );
    assert_eq!(
        eval(&out, "priority", &input(0), params),
        serde_json::json!({"output": {"priority": 125}})
    );
    std::fs::remove_file(out).unwrap();
}
