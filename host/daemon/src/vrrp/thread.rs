//! The VRRP thread: a runtime of its own on which only the VRRP task and
//! its receivers run, with SCHED_RR (`realtime-priority`). Everything that
//! can wait — netlink, notify scripts, policy loading, reloads, checks,
//! the director — runs on other threads and talks to it over channels, so
//! no other work shares the thread that sends adverts.

use std::io;

use tokio::runtime::Handle;
use tokio::sync::oneshot;
use tracing::{info, warn};

/// The running VRRP thread; it ends when this is dropped.
#[derive(Debug)]
pub(crate) struct VrrpThread {
    pub(crate) handle: Handle,
    exit: Option<oneshot::Sender<()>>,
}

impl Drop for VrrpThread {
    fn drop(&mut self) {
        if let Some(exit) = self.exit.take() {
            let _ = exit.send(());
        }
    }
}

impl VrrpThread {
    /// Starts the thread (with SCHED_RR at `priority`, unless 0).
    pub(crate) fn spawn(priority: u8) -> io::Result<Self> {
        let (handle_tx, handle_rx) = std::sync::mpsc::channel();
        let (exit, exit_rx) = oneshot::channel::<()>();
        std::thread::Builder::new().name("vrrp".into()).spawn(move || {
            if priority > 0 {
                match crate::sys::set_realtime(priority) {
                    Ok(()) => info!(priority, "VRRP thread runs with SCHED_RR"),
                    Err(e) => {
                        warn!(error = %e, "cannot use real-time scheduling; adverts may be late on a busy machine")
                    }
                }
            }
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = handle_tx.send(Err(e));
                    return;
                }
            };
            let _ = handle_tx.send(Ok(runtime.handle().clone()));
            // Spawned tasks run while this thread waits here.
            let _ = runtime.block_on(exit_rx);
            runtime.shutdown_background();
        })?;
        let handle = handle_rx
            .recv()
            .map_err(|_| io::Error::other("the VRRP thread ended at start"))??;
        Ok(Self {
            handle,
            exit: Some(exit),
        })
    }
}
