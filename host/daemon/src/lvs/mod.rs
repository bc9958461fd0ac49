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
mod state;

use std::sync::Arc;

use holdfast_config::Config;
use holdfast_ipvs::{IpvsError, IpvsHandle};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::info;

use crate::probe_modules::ProbeModules;
use holdfast_policy::PolicyEngine;
use loading::LoaderMsg;

/// The running director, on a thread and runtime of its own: its checks,
/// probes and netlink traffic never run on the VRRP task's SCHED_RR thread.
#[derive(Debug)]
pub(crate) struct Lvs {
    stop: oneshot::Sender<()>,
    stopped: oneshot::Receiver<()>,
    reload: mpsc::UnboundedSender<LoaderMsg>,
    reconfig: mpsc::UnboundedSender<Reconfig>,
}

/// A new configuration for the director, and who waits for it to be applied.
type Reconfig = (Box<Config>, oneshot::Sender<()>);

impl Lvs {
    /// Reloads the health and weight policies (SIGHUP).
    pub(crate) fn reload_policies(&self) {
        let _ = self.reload.send(LoaderMsg::Reload);
    }

    /// Applies a reloaded configuration: only the IPVS operations that
    /// change what changed; the health of unchanged real servers is kept.
    /// `policies` names the policies whose settings changed.
    pub(crate) async fn reconfigure(&self, config: &Config, policies: Vec<String>) {
        let _ = self
            .reload
            .send(LoaderMsg::Config(Box::new(config.clone()), policies));
        let (done, applied) = oneshot::channel();
        if self.reconfig.send((Box::new(config.clone()), done)).is_ok() {
            let _ = applied.await;
        }
    }

    /// Stops checking; removes our services if `lvs-flush-on-stop` is set.
    pub(crate) async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.stopped.await;
    }
}

/// Starts the director's thread and waits until it has connected to IPVS
/// (or failed to).
pub(crate) async fn start(
    config: &Config,
    modules: &Arc<ProbeModules>,
    engine: Option<PolicyEngine>,
) -> Result<Lvs, IpvsError> {
    let (ready_tx, ready_rx) = oneshot::channel();
    let (stop, stop_rx) = oneshot::channel();
    let (stopped_tx, stopped) = oneshot::channel();
    let (config, modules) = (config.clone(), modules.clone());
    let spawned = std::thread::Builder::new()
        .name("lvs".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = ready_tx.send(Err(thread_failed(format!("runtime: {e}"))));
                    return;
                }
            };
            runtime.block_on(async move {
                match run_here(&config, &modules, engine).await {
                    Ok(running) => {
                        let _ =
                            ready_tx.send(Ok((running.reload.clone(), running.reconfig.clone())));
                        let _ = stop_rx.await;
                        running.stop().await;
                        let _ = stopped_tx.send(());
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                }
            });
            // A policy still compiling on this runtime's blocking pool is not
            // waited for.
            runtime.shutdown_background();
        });
    if let Err(e) = spawned {
        return Err(thread_failed(format!("thread: {e}")));
    }
    match ready_rx.await {
        Ok(Ok((reload, reconfig))) => Ok(Lvs {
            stop,
            stopped,
            reload,
            reconfig,
        }),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(thread_failed("the LVS thread ended".into())),
    }
}

fn thread_failed(message: String) -> IpvsError {
    IpvsError::Transport {
        op: holdfast_ipvs::Op::Info,
        message,
    }
}

/// The director on the current runtime.
struct Running {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
    reload: mpsc::UnboundedSender<LoaderMsg>,
    reconfig: mpsc::UnboundedSender<Reconfig>,
}

impl Running {
    async fn stop(self) {
        let _ = self.stop.send(());
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "the LVS director failed");
        }
    }
}

/// Connects to IPVS, starts the checks, and converges the table.
async fn run_here(
    config: &Config,
    modules: &Arc<ProbeModules>,
    engine: Option<PolicyEngine>,
) -> Result<Running, IpvsError> {
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
    let reload = loading::spawn(config.clone(), worker.clone(), engine);
    let (notifier, notifier_task) =
        crate::vrrp::notify::Notifier::spawn("lvs".into(), config.global.notify_timeout);
    let (mut director, events) = director::Director::new(config, modules, ipvs, worker, notifier);
    let (reconfig, reconfig_rx) = mpsc::unbounded_channel();
    let modules = modules.clone();
    let (stop, stop_rx) = oneshot::channel();
    let flush = config.global.lvs_flush_on_stop;
    let interval = config.global.ipvs_reconcile_interval;
    let task = tokio::spawn(async move {
        let inputs = director::Inputs {
            events,
            answers,
            reconfig: reconfig_rx,
            stop: stop_rx,
        };
        director.run(inputs, &modules, interval).await;
        if flush {
            director.remove_ours().await;
        }
        // Scripts already queued finish (each bounded by notify-timeout).
        drop(director);
        let _ = notifier_task.await;
    });
    Ok(Running {
        stop,
        task,
        reload,
        reconfig,
    })
}
