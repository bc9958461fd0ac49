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
