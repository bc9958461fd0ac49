//! `vrrp-check` blocks (keepalived's `vrrp_script`), run on a thread and
//! runtime of their own — never on the VRRP task's SCHED_RR thread, so a
//! probe that hangs or a program that takes its time cannot delay an
//! advert. Each check probes on its interval through its rise/fall; a
//! block passes while every one of its checks is up. The VRRP task hears
//! of a block when its status or its error changes, and otherwise at most
//! once a second (the latency a priority policy sees).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use holdfast_checks::{CheckEvent, Checker, RiseFall};
use holdfast_config::{TrackProcessCfg, VrrpCheckCfg};
use tokio::sync::{mpsc, oneshot};
use tracing::{error, info, warn};

use crate::probe_modules::ProbeModules;

/// A block's status changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CheckStatus {
    /// The `vrrp-check` block.
    pub(crate) name: String,
    /// Every check of the block is up.
    pub(crate) up: bool,
    /// Why it is down (the failing check's last error).
    pub(crate) error: Option<String>,
    /// The last probe's latency.
    pub(crate) latency_us: Option<u64>,
}

/// News of a block that has not changed goes out at most this often.
const REFRESH_EVERY: Duration = Duration::from_secs(1);

/// The checks thread; dropping it stops every check.
#[derive(Debug)]
pub(crate) struct VrrpChecks {
    stop: Option<oneshot::Sender<()>>,
}

impl Drop for VrrpChecks {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Starts the checks of `blocks` on their own thread.
pub(crate) fn spawn(
    blocks: Vec<VrrpCheckCfg>,
    processes: Vec<TrackProcessCfg>,
    modules: Arc<ProbeModules>,
) -> (VrrpChecks, mpsc::UnboundedReceiver<CheckStatus>) {
    let (status_tx, status_rx) = mpsc::unbounded_channel();
    let (stop_tx, stop_rx) = oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("vrrp-checks".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    error!(error = %e, "cannot start the checks runtime; tracked checks stay as they are");
                    return;
                }
            };
            runtime.block_on(async move {
                let watches: Vec<_> = processes
                    .into_iter()
                    .map(|p| tokio::spawn(watch_process(p, status_tx.clone())))
                    .collect();
                run(blocks, &modules, status_tx, stop_rx).await;
                for w in watches {
                    w.abort();
                }
            });
        });
    if let Err(e) = spawned {
        error!(error = %e, "cannot start the checks thread; tracked checks stay as they are");
    }
    (
        VrrpChecks {
            stop: Some(stop_tx),
        },
        status_rx,
    )
}

/// Reads the process table every [`super::process::SCAN_EVERY`] and
/// reports when the tracked process's quorum is met or lost. A process
/// starts counted as running (as keepalived's checks start passing) until
/// the first scan says otherwise.
async fn watch_process(cfg: TrackProcessCfg, status: mpsc::UnboundedSender<CheckStatus>) {
    let name = super::process::check_name(&cfg.name);
    let mut up = true;
    let mut tick = tokio::time::interval(super::process::SCAN_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let pattern = cfg.name.clone();
        let running = tokio::task::spawn_blocking(move || super::process::count(&pattern))
            .await
            .unwrap_or(0);
        let now = super::process::quorate(&cfg, running);
        if now == up {
            continue;
        }
        up = now;
        let error = (!up).then(|| format!("{running} running, quorum {}", cfg.quorum));
        info!(check = %name, up, running, "tracked process changed");
        if status
            .send(CheckStatus {
                name: name.clone(),
                up,
                error,
                latency_us: None,
            })
            .is_err()
        {
            return;
        }
    }
}

async fn run(
    blocks: Vec<VrrpCheckCfg>,
    modules: &ProbeModules,
    status: mpsc::UnboundedSender<CheckStatus>,
    mut stop: oneshot::Receiver<()>,
) {
    let (tx, mut events) = mpsc::unbounded_channel::<CheckEvent>();
    // Check id → (block index, up, last error); ids index `owner`.
    let mut owner: Vec<(usize, bool, Option<String>)> = Vec::new();
    let mut checkers = Vec::new();
    for (b, block) in blocks.iter().enumerate() {
        for check in &block.checks {
            // `holdfast check` requires `connect-ip=` (and `port=`) for network kinds here.
            let anywhere = SocketAddr::from(([0, 0, 0, 0], 0));
            let p = match crate::probes::probe(check, anywhere, modules) {
                Ok((p, _)) => p,
                Err(e) => {
                    warn!(check = %block.name, error = %e, "check cannot run; it counts as down");
                    owner.push((b, false, Some(e)));
                    continue;
                }
            };
            let id = owner.len();
            // keepalived's vrrp_script starts passing until told otherwise.
            owner.push((b, true, None));
            let hysteresis = RiseFall::new(check.rise, check.fall, false);
            checkers.push(Checker::spawn(
                id,
                p,
                check.interval,
                check.warmup,
                hysteresis,
                tx.clone(),
            ));
        }
    }
    // Per block: what was last sent, and when.
    let mut last: BTreeMap<usize, (bool, Option<String>, Instant)> = BTreeMap::new();
    // A block with a check that cannot run is down from the start.
    for (b, block) in blocks.iter().enumerate() {
        let Some((_, _, error)) = owner.iter().find(|(o, up, _)| *o == b && !up) else {
            continue;
        };
        last.insert(b, (false, error.clone(), Instant::now()));
        let down = CheckStatus {
            name: block.name.clone(),
            up: false,
            error: error.clone(),
            latency_us: None,
        };
        if status.send(down).is_err() {
            return;
        }
    }
    loop {
        let ev = tokio::select! {
            _ = &mut stop => return,
            ev = events.recv() => match ev { Some(ev) => ev, None => return },
        };
        let Some(slot) = owner.get_mut(ev.id) else {
            continue;
        };
        slot.1 = ev.up;
        slot.2 = ev.outcome.error.clone();
        let b = slot.0;
        let mut block = owner.iter().filter(|(o, _, _)| *o == b);
        let up = block.clone().all(|(_, u, _)| *u);
        // The block's error: its first failing check's.
        let error = block.find(|(_, u, _)| !u).and_then(|(_, _, e)| e.clone());
        let now = Instant::now();
        let changed = match last.get(&b) {
            None => !up,
            Some((was, _, _)) => *was != up,
        };
        let news = match last.get(&b) {
            None => true,
            Some((_, said, at)) => *said != error || now.duration_since(*at) >= REFRESH_EVERY,
        };
        if !changed && !news {
            continue;
        }
        last.insert(b, (up, error.clone(), now));
        let name = blocks[b].name.clone();
        if changed {
            let why = error.as_deref().unwrap_or("");
            info!(check = %name, up, error = why, "vrrp-check changed");
        }
        let latency_us = Some(ev.outcome.latency.as_micros().min(u128::from(u64::MAX)) as u64);
        let sent = CheckStatus {
            name,
            up,
            error,
            latency_us,
        };
        if status.send(sent).is_err() {
            return;
        }
    }
}
