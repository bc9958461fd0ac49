//! Notify scripts, keepalived-compatible: `notify-master/backup/fault/stop`
//! run with no arguments, `notify` with `INSTANCE|GROUP NAME STATE PRIORITY`.
//!
//! Each instance (or group) has its own queue and worker, so its scripts run
//! one at a time in event order, never concurrently with each other and
//! never on the VRRP task. A script that outlives the timeout is killed.

use std::time::Duration;

use holdfast_config::NotifyCfg;
use holdfast_vrrp::State;
use tokio::process::Command;
use tokio::sync::mpsc;
use tracing::{info, warn};

/// keepalived's state names as notify scripts receive them.
pub(crate) fn state_name(state: State) -> &'static str {
    match state {
        State::Master => "MASTER",
        State::Backup => "BACKUP",
        State::Fault => "FAULT",
        State::Initialize => "STOP",
    }
}

/// The command lines to run for a transition to `state`.
pub(crate) fn commands(
    notify: &NotifyCfg,
    kind: &str,
    name: &str,
    state: State,
    priority: u8,
) -> Vec<Vec<String>> {
    let specific = match state {
        State::Master => &notify.master,
        State::Backup => &notify.backup,
        State::Fault => &notify.fault,
        State::Initialize => &notify.stop,
    };
    let mut out = Vec::new();
    if let Some(cmd) = specific {
        out.push(cmd.split_whitespace().map(str::to_string).collect());
    }
    if let Some(cmd) = &notify.any {
        let mut argv: Vec<String> = cmd.split_whitespace().map(str::to_string).collect();
        argv.extend([
            kind.to_string(),
            name.to_string(),
            state_name(state).to_string(),
            priority.to_string(),
        ]);
        out.push(argv);
    }
    out
}

/// A per-instance script queue.
#[derive(Debug, Clone)]
pub(crate) struct Notifier {
    tx: mpsc::UnboundedSender<Vec<Vec<String>>>,
}

impl Notifier {
    /// Starts the worker for `name`.
    pub(crate) fn spawn(name: String, timeout: Duration) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, mut rx) = mpsc::unbounded_channel::<Vec<Vec<String>>>();
        let handle = tokio::spawn(async move {
            while let Some(batch) = rx.recv().await {
                for argv in batch {
                    run_one(&name, &argv, timeout).await;
                }
            }
        });
        (Self { tx }, handle)
    }

    /// Queues the scripts of one transition.
    pub(crate) fn queue(&self, commands: Vec<Vec<String>>) {
        if !commands.is_empty() {
            let _ = self.tx.send(commands);
        }
    }
}

async fn run_one(name: &str, argv: &[String], timeout: Duration) {
    let Some((program, args)) = argv.split_first() else {
        return;
    };
    let mut child = match Command::new(program).args(args).kill_on_drop(true).spawn() {
        Ok(c) => c,
        Err(e) => {
            warn!(instance = %name, script = %program, error = %e, "notify script did not start");
            return;
        }
    };
    match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(status)) if status.success() => {
            info!(instance = %name, script = %program, "notify script done")
        }
        Ok(Ok(status)) => {
            warn!(instance = %name, script = %program, %status, "notify script failed")
        }
        Ok(Err(e)) => {
            warn!(instance = %name, script = %program, error = %e, "notify script wait failed")
        }
        Err(_) => {
            let _ = child.kill().await;
            warn!(instance = %name, script = %program, timeout_ms = timeout.as_millis() as u64, "notify script killed after timeout");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keepalived_arguments() {
        let notify = NotifyCfg {
            master: Some("/bin/to-master.sh --fast".into()),
            any: Some("/bin/notify.sh".into()),
            ..NotifyCfg::default()
        };
        assert_eq!(
            commands(&notify, "INSTANCE", "VI_1", State::Master, 150),
            [
                vec!["/bin/to-master.sh", "--fast"],
                vec!["/bin/notify.sh", "INSTANCE", "VI_1", "MASTER", "150"]
            ]
        );
        assert_eq!(
            commands(&notify, "INSTANCE", "VI_1", State::Initialize, 150)[0][3],
            "STOP"
        );
        assert!(commands(&NotifyCfg::default(), "INSTANCE", "x", State::Fault, 1).is_empty());
    }

    #[tokio::test]
    async fn scripts_run_in_order_and_a_slow_one_is_killed() {
        let dir = std::env::temp_dir().join(format!("holdfast-notify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("log");
        let sh = |s: &str| vec!["/bin/sh".to_string(), "-c".to_string(), s.to_string()];
        let (n, handle) = Notifier::spawn("t".into(), Duration::from_millis(300));
        n.queue(vec![sh(&format!(
            "sleep 0.1; echo one >> {}",
            log.display()
        ))]);
        n.queue(vec![
            sh("sleep 5"),
            sh(&format!("echo two >> {}", log.display())),
        ]);
        drop(n);
        let started = std::time::Instant::now();
        handle.await.unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "the slow script was not killed"
        );
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "one\ntwo\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
