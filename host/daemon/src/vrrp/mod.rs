//! VRRP in the daemon: resolve the configuration against the system, open
//! sockets, start the tasks (see the diagram in `runner.rs`), and stop them
//! gracefully.

mod addresses;
mod checks;
pub(crate) mod notify;
mod policy_worker;
mod priority;
mod process;
mod reconfig;
mod reload;
mod runner;
mod setup;
mod thread;
mod timer;
mod tracking;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io;
use std::sync::Arc;

use holdfast_config::Config;
use holdfast_net::{Announcer, NetError, Netlink, VrrpReceiver, watch_links};
use holdfast_vrrp::{Instance, InstanceId, Router, State};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use crate::probe_modules::ProbeModules;
use holdfast_policy::PolicyEngine;
use runner::{Group, Packet, Runner, Slot};

/// The running VRRP part of the daemon.
#[derive(Debug)]
pub(crate) struct Vrrp {
    stop: oneshot::Sender<()>,
    reload: Option<mpsc::UnboundedSender<reload::PolicyReload>>,
    reconfig: mpsc::UnboundedSender<reconfig::Reconfig>,
    nl: Netlink,
    /// Where receiver tasks send (a reload may open more).
    packets: mpsc::Sender<Packet>,
    /// The (interface, IPv6) pairs a receiver listens on.
    receivers: BTreeSet<(u32, bool)>,
    /// The interfaces announcements go out on, with their families.
    announced: HashMap<u32, (bool, bool)>,
    addr_tx: mpsc::UnboundedSender<addresses::AddrCmd>,
    modules: Arc<ProbeModules>,
    /// The thread the VRRP task and its receivers run on (declared last:
    /// it ends after the task has been awaited).
    thread: thread::VrrpThread,
    /// The VRRP task; `None` once it has ended.
    task: Option<JoinHandle<()>>,
    notifiers: Vec<JoinHandle<()>>,
    notify_timeout: std::time::Duration,
}

impl Vrrp {
    /// Recompiles and swaps every priority policy (SIGHUP).
    pub(crate) fn reload_policies(&self) {
        if let Some(r) = &self.reload {
            let _ = r.send(reload::PolicyReload::All);
        }
    }

    /// Resolves if the VRRP task ends before it is told to stop (a panic):
    /// the daemon must not run on without VRRP. Never resolves otherwise.
    pub(crate) async fn ended(&mut self) -> String {
        let Some(task) = self.task.as_mut() else {
            return std::future::pending().await;
        };
        let result = task.await;
        self.task = None;
        match result {
            Ok(()) => "the VRRP task ended".into(),
            Err(e) => format!("the VRRP task failed: {e}"),
        }
    }

    /// Releases mastership (priority 0, VIPs removed) and waits for it;
    /// an error if the VRRP task had failed (a panic is not hidden).
    pub(crate) async fn stop(self) -> Result<(), String> {
        let Vrrp {
            stop,
            task,
            notifiers,
            notify_timeout,
            addr_tx,
            thread,
            ..
        } = self;
        // The address task ends when every sender is gone; the VRRP task
        // waits for it (its last commands are the release of mastership).
        drop(addr_tx);
        let _ = stop.send(());
        let ended = match task {
            Some(task) => task.await.map_err(|e| format!("the VRRP task failed: {e}")),
            None => Err("the VRRP task had already ended".into()),
        };
        drop(thread);
        // The runner is gone, so every queue is closed: let queued scripts
        // (notify-stop among them) finish, each bounded by its timeout.
        let limit = notify_timeout * 2;
        for n in notifiers {
            if tokio::time::timeout(limit, n).await.is_err() {
                warn!("a notify script queue did not finish before exit");
            }
        }
        ended
    }
}

/// The `vrrp-check` blocks some instance tracks and the `track-process`
/// entries: what the checks thread runs.
fn tracked_blocks(
    config: &Config,
) -> (
    Vec<holdfast_config::VrrpCheckCfg>,
    Vec<holdfast_config::TrackProcessCfg>,
) {
    let blocks = config
        .vrrp_checks
        .values()
        .filter(|c| {
            config
                .vrrp_instances
                .iter()
                .any(|i| i.track_checks.iter().any(|t| t.name == c.name))
        })
        .cloned()
        .collect();
    let mut processes: Vec<holdfast_config::TrackProcessCfg> = Vec::new();
    for p in config
        .vrrp_instances
        .iter()
        .flat_map(|i| &i.track_processes)
    {
        if !processes.iter().any(|q| q == p) {
            processes.push(p.clone());
        }
    }
    (blocks, processes)
}

async fn receive(rx: VrrpReceiver, ifindex: u32, tx: mpsc::Sender<Packet>) {
    let mut buf = vec![0u8; 4096];
    loop {
        match rx.recv(&mut buf).await {
            Ok(meta) => {
                let bytes = buf[..meta.offset + meta.len].to_vec();
                if tx
                    .send(Packet {
                        ifindex,
                        meta,
                        bytes,
                    })
                    .await
                    .is_err()
                {
                    return;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                debug!(ifindex, error = %e, "malformed IP datagram dropped")
            }
            Err(e) => {
                warn!(ifindex, error = %e, "VRRP receive failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}

/// Starts every configured VRRP instance.
pub(crate) async fn start(
    config: &Config,
    modules: &Arc<ProbeModules>,
    engine: Option<PolicyEngine>,
) -> Result<Vrrp, NetError> {
    let nl = Netlink::connect()?;
    let resolved = setup::resolve(&nl, config).await?;
    let thread = thread::VrrpThread::spawn(config.global.realtime_priority).map_err(|source| {
        NetError::Io {
            what: "the VRRP thread".into(),
            source,
        }
    })?;

    let all_vips: Vec<_> = resolved.iter().flat_map(|r| r.vips.clone()).collect();
    addresses::remove_stale(&nl, &all_vips).await;

    // One receiver per interface and family; one announcer per interface.
    let mut receivers: BTreeMap<(u32, bool), String> = BTreeMap::new();
    // Announcements go out on the device each VIP lives on, with its MAC
    // (`dev=` may put a VIP on another interface than the instance's).
    let mut families: HashMap<u32, (holdfast_net::LinkInfo, bool, bool)> = HashMap::new();
    for r in &resolved {
        receivers.insert((r.link.index, r.primary.is_ipv6()), r.link.name.clone());
        for v in &r.vips {
            let link = r.vip_links.get(&v.index).unwrap_or(&r.link);
            let e = families
                .entry(v.index)
                .or_insert((link.clone(), false, false));
            if v.addr.is_ipv4() {
                e.1 = true
            } else {
                e.2 = true
            }
        }
    }
    let mut announcers = HashMap::new();
    let mut announced = HashMap::new();
    for (index, (link, v4, v6)) in families {
        announcers.insert(index, Announcer::open(&link.name, index, link.mac, v4, v6)?);
        announced.insert(index, (v4, v6));
    }
    let (pkt_tx, pkt_rx) = mpsc::channel(1024);
    for ((index, v6), name) in &receivers {
        // Registered with the VRRP thread's reactor, and run there.
        let _on = thread.handle.enter();
        let rx = VrrpReceiver::open(name, *index, *v6)?;
        thread.handle.spawn(receive(rx, *index, pkt_tx.clone()));
    }
    let links = watch_links()?;

    let (addr_tx, addr_rx) = mpsc::unbounded_channel();
    let addr_task = tokio::spawn(addresses::run(nl.clone(), announcers, addr_rx));
    let addr_tx_main = addr_tx.clone();

    let timeout = config.global.notify_timeout;
    let mut notifiers = Vec::new();
    let mut router = Router::new();
    let mut slots: BTreeMap<InstanceId, Slot> = BTreeMap::new();
    for r in resolved {
        let (notifier, handle) = notify::Notifier::spawn(r.cfg.name.clone(), timeout);
        notifiers.push(handle);
        let id = router.insert(r.link.index, Instance::new(r.core, r.primary));
        let mut slot = Slot::from_config(&r.cfg, r.link.index, r.sender, r.vips, notifier);
        let tracked: Vec<String> = slot
            .tracking
            .interface_names()
            .map(str::to_string)
            .collect();
        for name in tracked {
            // A tracked interface that does not exist counts as down.
            let up = nl.link(&name).await.is_ok_and(|l| l.up);
            slot.tracking.set_interface(&name, up);
        }
        // Read again now that the link monitor listens: a link that went
        // down in between is not missed. Down at start means Fault.
        slot.starts_down = slot.track_primary && !nl.link(&r.link.name).await.is_ok_and(|l| l.up);
        info!(instance = %r.cfg.name, interface = %r.link.name, vrid = r.cfg.vrid, source = %r.primary, "vrrp instance starting");
        slots.insert(id, slot);
    }
    let id_of = |name: &str| {
        slots
            .iter()
            .find(|(_, s)| s.name == name)
            .map(|(id, _)| *id)
    };
    let groups = config
        .sync_groups
        .iter()
        .map(|g| {
            let members = g.members.iter().filter_map(|m| id_of(m)).collect();
            let (notifier, handle) = notify::Notifier::spawn(g.name.clone(), timeout);
            notifiers.push(handle);
            let id = router.add_group(members);
            let group = Group {
                name: g.name.clone(),
                id,
                notify: g.notify.clone(),
                notifier,
                state: State::Initialize,
            };
            (id, group)
        })
        .collect();
    // Priority policies: compiled and initialised off the VRRP task, run on their own thread.
    let mut users: BTreeMap<String, Vec<InstanceId>> = BTreeMap::new();
    for (id, s) in &slots {
        let policy = config
            .vrrp_instances
            .iter()
            .find(|c| c.name == s.name)
            .and_then(|c| c.priority_policy.clone());
        if let Some(p) = policy {
            users.entry(p).or_default().push(*id);
        }
    }
    let board: policy_worker::StateBoard = std::sync::Arc::new(std::sync::RwLock::new(
        slots
            .values()
            .map(|s| (s.name.clone(), holdfast_policy::VrrpState::Initialize))
            .collect(),
    ));
    let (reeval_tx, reeval_rx) = mpsc::unbounded_channel();
    let mut policies = None;
    let mut answers_rx = mpsc::unbounded_channel().1;
    let mut reload = None;
    // With an engine, the worker runs even without users: a reload may add some.
    if engine.is_some() {
        let cfgs: Vec<holdfast_config::PolicyCfg> = users
            .keys()
            .filter_map(|n| config.policies.get(n).cloned())
            .collect();
        let for_load = users.clone();
        let for_board = board.clone();
        let loaded = match engine.clone() {
            Some(engine) => tokio::task::spawn_blocking(move || {
                let instances = reload::load_all(&engine, &cfgs, &for_load, &for_board);
                (engine, instances)
            })
            .await
            .map_err(|e| e.to_string()),
            None => Err("no policy engine".into()),
        };
        match loaded {
            Ok((engine, instances)) => {
                // A slot whose policy failed to load keeps asking: the worker
                // answers with the load failure (static tracking applies) until
                // a fixed module is swapped in.
                let (worker, answers) = policy_worker::PolicyWorker::spawn(instances);
                reload = Some(reload::spawn(
                    engine,
                    config.policies.clone(),
                    users,
                    worker.clone(),
                    reeval_tx,
                    board.clone(),
                ));
                policies = Some(worker);
                answers_rx = answers;
            }
            Err(e) => warn!(error = %e, "priority policies not loaded; static tracking applies"),
        }
        if policies.is_none() {
            for s in slots.values_mut() {
                s.policy = None;
            }
        }
    }
    // Only the blocks some instance tracks run, on the checks thread.
    let (tracked, processes) = tracked_blocks(config);
    let (checks, checks_rx) = if tracked.is_empty() && processes.is_empty() {
        (None, mpsc::unbounded_channel().1)
    } else {
        let (c, rx) = checks::spawn(tracked, processes, modules.clone());
        (Some(c), rx)
    };
    let runner = Runner {
        router,
        slots,
        groups,
        addr_tx,
        buf: Vec::with_capacity(128),
        policies,
        board,
        checks,
        policy_reload: reload.clone(),
    };
    let (stop_tx, stop_rx) = oneshot::channel();
    let (reconfig_tx, reconfig_rx) = mpsc::unbounded_channel();
    let inputs = runner::Inputs {
        packets: pkt_rx,
        links,
        answers: answers_rx,
        reevaluate: reeval_rx,
        checks: checks_rx,
        reconfig: reconfig_rx,
        stop: stop_rx,
    };
    let task = thread.handle.spawn(async move {
        // The checks stop with the VRRP task (the runner owns them).
        runner.run(inputs).await;
        if let Err(e) = addr_task.await {
            tracing::error!(error = %e, "the address task failed");
        }
    });
    Ok(Vrrp {
        stop: stop_tx,
        reload,
        reconfig: reconfig_tx,
        nl,
        packets: pkt_tx,
        receivers: receivers.keys().copied().collect(),
        announced,
        addr_tx: addr_tx_main,
        modules: modules.clone(),
        thread,
        task: Some(task),
        notifiers,
        notify_timeout: timeout,
    })
}
