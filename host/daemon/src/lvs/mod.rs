//! The LVS director: health checks decide which real servers serve, weight
//! policies set their weights, and a reconciler converges the kernel's IPVS
//! table to that — on every change, and on a periodic dump that reverts
//! hand-made changes.
//!
//! ```text
//!  checkers (one task per check) ──events──▶ ┌──────────┐ ──ops──▶ kernel IPVS
//!  policy thread (health, weight) ◀──asks──▶ │ director │ ◀─dump── (every ipvs-reconcile-interval)
//!                                            └──────────┘
//! ```

mod desired;
mod director;
mod loading;
mod policy;

use holdfast_config::Config;
use holdfast_ipvs::{IpvsError, IpvsHandle};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tracing::info;

/// The running director.
#[derive(Debug)]
pub(crate) struct Lvs {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
    reload: tokio::sync::mpsc::UnboundedSender<()>,
}

impl Lvs {
    /// Reloads the health and weight policies (SIGHUP).
    pub(crate) fn reload_policies(&self) {
        let _ = self.reload.send(());
    }

    /// Stops checking; removes our services if `lvs-flush-on-stop` is set.
    pub(crate) async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// Connects to IPVS, starts the checks, and converges the table.
pub(crate) async fn start(config: &Config) -> Result<Lvs, IpvsError> {
    let ipvs = IpvsHandle::connect()?;
    let info = ipvs.info().await?;
    info!(
        version = %format!("{}.{}.{}", info.version.0, info.version.1, info.version.2),
        conn_tab_size = info.conn_tab_size,
        virtual_servers = config.virtual_servers.len(),
        "IPVS ready"
    );
    // Policies compile in the background: the table converges at once with
    // the checks and configured weights, and policies take over when ready.
    let (worker, answers) = policy::Worker::spawn();
    let reload = loading::spawn(config.clone(), worker.clone());
    let (notifier, notifier_task) =
        crate::vrrp::notify::Notifier::spawn("lvs".into(), config.global.notify_timeout);
    let mut director = director::Director::new(config, ipvs, worker, notifier);
    let events = director.start_checks(config);
    let (stop, stop_rx) = oneshot::channel();
    let flush = config.global.lvs_flush_on_stop;
    let interval = config.global.ipvs_reconcile_interval;
    let task = tokio::spawn(async move {
        director.run(events, answers, stop_rx, interval).await;
        if flush {
            director.remove_ours().await;
        }
        // Scripts already queued finish (each bounded by notify-timeout).
        drop(director);
        let _ = notifier_task.await;
    });
    Ok(Lvs { stop, task, reload })
}
