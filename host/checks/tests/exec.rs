//! The `exec` probe against real programs: exit status decides, quoting
//! follows the shell's rules without a shell, and a timeout kills the
//! program together with what it started.

use std::time::{Duration, Instant};

use holdfast_checks::{ExecCommand, Probe, ProbeKind};

fn exec(line: &str, timeout_ms: u64) -> Probe {
    Probe::new(
        ProbeKind::Exec(ExecCommand::parse(line).expect("a command")),
        "0.0.0.0:0".parse().unwrap(),
        Duration::from_millis(timeout_ms),
    )
}

#[test]
fn command_lines_split_like_a_shell() {
    let c = ExecCommand::parse(r#"/bin/check --name "my app" 'a b' c\ d"#).unwrap();
    assert_eq!(c.program, "/bin/check");
    assert_eq!(c.args, ["--name", "my app", "a b", "c d"]);
    assert_eq!(ExecCommand::parse("unbalanced 'quote"), None);
    assert_eq!(ExecCommand::parse("   "), None);
}

#[tokio::test]
async fn exit_zero_is_up_and_anything_else_is_down() {
    assert!(exec("true", 1000).run().await.success);
    let out = exec("sh -c 'echo broken >&2; exit 3'", 1000).run().await;
    assert!(!out.success);
    let error = out.error.unwrap();
    assert!(
        error.contains("exit status: 3") && error.contains("broken"),
        "{error}"
    );
    // No shell unless asked for: `$HOME` and `;` are plain arguments.
    let out = exec("test $HOME = ; true", 1000).run().await;
    assert!(!out.success, "run without a shell");
    let missing = exec("/nonexistent/check", 1000).run().await;
    assert!(!missing.success);
    assert!(missing.error.unwrap().contains("/nonexistent/check"));
}

#[tokio::test]
async fn a_timeout_kills_the_program_and_its_children() {
    let dir = std::env::temp_dir().join(format!("holdfast-exec-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let marker = dir.join("survived");
    // A grandchild that would write the marker after 1 s.
    let line = format!(
        "sh -c 'sh -c \"sleep 1; touch {}\" & sleep 30'",
        marker.display()
    );
    let started = Instant::now();
    let out = exec(&line, 200).run().await;
    assert!(!out.success);
    assert!(out.error.unwrap().contains("timed out after 200 ms"));
    assert!(started.elapsed() < Duration::from_secs(2));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!marker.exists(), "the program's group was killed");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn dynamic_exit_status_sets_the_weight() {
    let mut probe = exec("sh -c 'exit 7'", 1000);
    let ProbeKind::Exec(cmd) = &mut probe.kind else {
        unreachable!()
    };
    cmd.dynamic = true;
    let out = probe.run().await;
    assert!(out.success, "2..=255 pass with dynamic");
    assert_eq!(
        out.weight,
        Some(holdfast_checks::WeightChange::Set(5)),
        "weight = status - 2"
    );
    let mut zero = exec("true", 1000);
    let mut one = exec("false", 1000);
    for p in [&mut zero, &mut one] {
        if let ProbeKind::Exec(c) = &mut p.kind {
            c.dynamic = true;
        }
    }
    let out = zero.run().await;
    assert!(out.success);
    assert_eq!(out.weight, None, "exit 0: the configured weight");
    assert!(!one.run().await.success, "exit 1 is down");
    // Without dynamic, 7 is a failure.
    assert!(!exec("sh -c 'exit 7'", 1000).run().await.success);
}

#[tokio::test]
async fn a_command_runs_as_its_user_without_root_groups() {
    if !holdfast_tests::skip_unless(holdfast_tests::is_root(), "root (to change user)") {
        return;
    }
    let nobody = holdfast_checks::RunAs::lookup("nobody").unwrap();
    let mut probe = exec(
        &format!(
            "sh -c 'test \"$(id -u)\" = {} && test \"$(id -G)\" = {}'",
            nobody.uid, nobody.gid
        ),
        1000,
    );
    assert!(!probe.run().await.success, "as root, the ids differ");
    if let ProbeKind::Exec(c) = &mut probe.kind {
        c.run_as = Some(nobody);
    }
    let out = probe.run().await;
    assert!(out.success, "{out:?}");
    assert!(holdfast_checks::RunAs::lookup("no-such-user-holdfast").is_err());
}
