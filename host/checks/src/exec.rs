//! The `exec` probe (keepalived's MISC_CHECK, and the command of a
//! `vrrp_script`): run a program, exit 0 means up.
//!
//! The command line is split with POSIX shell quoting rules and run
//! directly, never through a shell (write `sh -c "..."` to get one). It
//! runs in a process group of its own, so a timeout kills it and whatever
//! it started; its standard input is empty and the tail of its output is
//! kept for the failure message.

use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use tokio::process::Command;

use crate::Outcome;

/// Bytes of a failing program's output kept in the message.
const OUTPUT_TAIL: usize = 200;

/// The user (and group) a program runs as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunAs {
    /// User id.
    pub uid: u32,
    /// Group id (its only group: supplementary groups are dropped).
    pub gid: u32,
}

impl RunAs {
    /// Resolves `user` or `user:group` (the user's primary group by default).
    pub fn lookup(spec: &str) -> Result<Self, String> {
        use nix::unistd::{Group, User};
        let (user, group) = match spec.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (spec, None),
        };
        let u = User::from_name(user)
            .map_err(|e| format!("user {user}: {e}"))?
            .ok_or_else(|| format!("no user {user}"))?;
        let gid = match group {
            Some(g) => {
                Group::from_name(g)
                    .map_err(|e| format!("group {g}: {e}"))?
                    .ok_or_else(|| format!("no group {g}"))?
                    .gid
            }
            None => u.gid,
        };
        Ok(Self {
            uid: u.uid.as_raw(),
            gid: gid.as_raw(),
        })
    }
}

/// A program and its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecCommand {
    /// The program (looked up in `PATH` unless it has a `/`).
    pub program: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// keepalived's `misc_dynamic`: exit 2..=255 also passes, and sets the
    /// real server's weight to the status minus 2.
    pub dynamic: bool,
    /// Who runs it (default: the daemon's user).
    pub run_as: Option<RunAs>,
}

impl ExecCommand {
    /// Splits a command line with POSIX shell quoting rules; `None` if the
    /// quoting is unbalanced or the line is empty.
    pub fn parse(line: &str) -> Option<Self> {
        let mut words = shlex::split(line)?.into_iter();
        Some(Self {
            program: words.next()?,
            args: words.collect(),
            dynamic: false,
            run_as: None,
        })
    }
}

/// Runs `command`, bounded by `timeout`.
pub(crate) async fn run(command: &ExecCommand, timeout: Duration) -> Outcome {
    let started = Instant::now();
    let mut cmd = Command::new(&command.program);
    cmd.args(&command.args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(run_as) = command.run_as {
        // std drops the supplementary groups (root's among them) when it
        // changes the user of a child started by root.
        cmd.uid(run_as.uid).gid(run_as.gid);
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return Outcome::failed(started, format!("{}: {e}", command.program)),
    };
    let group = child.id();
    let (mut out, mut err) = (child.stdout.take(), child.stderr.take());
    let finished = tokio::time::timeout(timeout, async {
        let mut output = Vec::new();
        if let Some(o) = out.as_mut() {
            let _ = o.read_to_end(&mut output).await;
        }
        if let Some(e) = err.as_mut() {
            let _ = e.read_to_end(&mut output).await;
        }
        (child.wait().await, output)
    })
    .await;
    let (status, output) = match finished {
        Ok((Ok(status), output)) => (status, output),
        Ok((Err(e), _)) => return Outcome::failed(started, format!("{}: {e}", command.program)),
        Err(_) => {
            kill_group(group);
            return Outcome::failed(
                started,
                format!(
                    "{}: timed out after {} ms",
                    command.program,
                    timeout.as_millis()
                ),
            );
        }
    };
    if status.success() {
        return Outcome::passed(started);
    }
    if command.dynamic
        && let Some(code @ 2..=255) = status.code()
    {
        let mut out = Outcome::passed(started);
        out.weight = Some(crate::WeightChange::Set(code as u32 - 2));
        return out;
    }
    let text = String::from_utf8_lossy(&output);
    let tail: String = {
        let t = text.trim();
        let skip = t.chars().count().saturating_sub(OUTPUT_TAIL);
        t.chars().skip(skip).collect()
    };
    Outcome::failed(
        started,
        format!(
            "{} {status}{}{}",
            command.program,
            if tail.is_empty() { "" } else { ": " },
            tail.replace(['\n', '\r'], " ")
        ),
    )
}

/// Kills the process group a timed-out command leads (it and what it started).
fn kill_group(group: Option<u32>) {
    if let Some(pid) = group.and_then(|p| i32::try_from(p).ok()) {
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}
