//! `holdfast run`: the daemon.
//!
//! Loads and validates the configuration, starts VRRP, and runs until
//! SIGTERM/SIGINT, which release mastership gracefully (priority 0, VIPs
//! removed). SIGHUP, `holdfast reload` (on the control socket) and, with
//! `--watch-config`, a change of the file reload the configuration (see
//! `reload.rs`); SIGHUP also reloads every policy module.
//!
//! Exit codes: 0 after a clean stop; 1 for an invalid configuration;
//! 69 (EX_UNAVAILABLE) when an interface or its address is missing;
//! 77 (EX_NOPERM) without CAP_NET_RAW / CAP_NET_ADMIN.

use std::process::ExitCode;

use holdfast_net::NetError;
use tokio::signal::unix::{SignalKind, signal};
use tracing::{error, info, warn};

use crate::check::summary;
use crate::vrrp;

const EX_UNAVAILABLE: u8 = 69;
const EX_NOPERM: u8 = 77;

/// How the daemon is run.
#[derive(Debug, Clone)]
pub(crate) struct RunOptions {
    pub(crate) config: std::path::PathBuf,
    /// The control socket (`holdfast reload`); `None`: none.
    pub(crate) control_socket: Option<std::path::PathBuf>,
    /// Reload when the configuration file changes.
    pub(crate) watch_config: bool,
}

pub(crate) fn run(opts: &RunOptions) -> ExitCode {
    let path = opts.config.as_path();
    let config = match holdfast_config::load(path) {
        Ok(c) => c,
        Err(err) => {
            eprint!("{}", err.render(false));
            error!(config = %path.display(), problems = err.problems.len(), "configuration rejected");
            return ExitCode::FAILURE;
        }
    };
    info!(config = %path.display(), contents = %summary(&config), "configuration loaded");

    if config.global.lock_memory
        && let Err(e) = crate::sys::lock_memory()
    {
        warn!(error = %e, "cannot lock memory");
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            error!(error = %e, "cannot start the runtime");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(serve(config, opts));
    // VRRP and LVS have stopped cleanly by now. A policy load may still be
    // running on a blocking thread (a compile worker, a read of a file on a
    // hung filesystem): never wait for it; its worker dies with us.
    runtime.shutdown_background();
    code
}

async fn serve(config: holdfast_config::Config, opts: &RunOptions) -> ExitCode {
    let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
    ) else {
        error!("cannot install signal handlers");
        return ExitCode::FAILURE;
    };
    // One policy engine (and one epoch thread) for the whole daemon.
    let engine = if config.policies.is_empty() {
        None
    } else {
        match crate::policies::engine(&config.global.policy_cache) {
            Ok(e) => Some(e),
            Err(e) => {
                error!(error = %e, "no policy engine: static tracking, checks and configured weights apply");
                None
            }
        }
    };
    // Probe modules load on their own thread; checks that use them wait
    // until they have (and fail if they cannot).
    let modules = crate::probe_modules::ProbeModules::start(&config, engine.clone());
    let vrrp = if config.vrrp_instances.is_empty() {
        None
    } else {
        match vrrp::start(&config, &modules, engine.clone()).await {
            Ok(v) => Some(v),
            Err(e) => {
                error!(error = %e, "cannot start VRRP");
                eprintln!("holdfast: {e}");
                return ExitCode::from(match e {
                    NetError::PermissionDenied { .. } => EX_NOPERM,
                    NetError::NoSuchInterface { .. } | NetError::NoAddress { .. } => EX_UNAVAILABLE,
                    _ => 1,
                });
            }
        }
    };
    let lvs = if config.virtual_servers.is_empty() {
        None
    } else {
        match crate::lvs::start(&config, &modules, engine.clone()).await {
            Ok(l) => Some(l),
            Err(e) => {
                error!(error = %e, "cannot start IPVS (is the ip_vs module available?)");
                eprintln!("holdfast: IPVS: {e}");
                if let Some(v) = vrrp
                    && let Err(e) = v.stop().await
                {
                    error!(error = %e, "VRRP stopped badly");
                }
                return ExitCode::from(match e.errno() {
                    Some(libc::EPERM) | Some(libc::EACCES) => EX_NOPERM,
                    _ => EX_UNAVAILABLE,
                });
            }
        }
    };
    let (requests_tx, mut requests) = tokio::sync::mpsc::unbounded_channel();
    let _control = opts.control_socket.as_ref().and_then(|p| {
        match crate::control::listen(p, requests_tx) {
            Ok(l) => {
                info!(socket = %p.display(), "control socket listening (holdfast reload)");
                Some(l)
            }
            Err(e) => {
                warn!(socket = %p.display(), error = %e, "no control socket: holdfast reload cannot reach this daemon (SIGHUP still reloads)");
                None
            }
        }
    });
    let (file_tx, mut file_changes) = tokio::sync::mpsc::unbounded_channel();
    let _watcher = if opts.watch_config {
        crate::policies::watch([opts.config.clone()], file_tx)
    } else {
        None
    };
    let mut daemon = crate::reload::Daemon {
        path: opts.config.clone(),
        config,
        vrrp,
        lvs,
        modules,
        engine,
    };
    info!("running; SIGTERM or SIGINT stops, SIGHUP reloads");
    let mut failed = false;
    loop {
        let vrrp_ended = async {
            match daemon.vrrp.as_mut() {
                Some(v) => v.ended().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = term.recv() => { info!(signal = "SIGTERM", "stopping"); break; }
            _ = int.recv() => { info!(signal = "SIGINT", "stopping"); break; }
            why = vrrp_ended => {
                error!(error = %why, "stopping: VRRP is not running");
                failed = true;
                break;
            }
            _ = hup.recv() => {
                info!(signal = "SIGHUP", "reloading the configuration and every policy");
                daemon.reload().await;
                if let Some(v) = &daemon.vrrp {
                    v.reload_policies();
                }
                if let Some(l) = &daemon.lvs {
                    l.reload_policies();
                }
                daemon.modules.reload();
            }
            Some(reply) = requests.recv() => {
                let outcome = daemon.reload().await;
                let _ = reply.send(outcome);
            }
            Some(path) = file_changes.recv() => {
                // The watch is on the file's directory: only the file counts.
                let mut ours = path.file_name() == opts.config.file_name();
                while let Ok(p) = file_changes.try_recv() {
                    ours |= p.file_name() == opts.config.file_name();
                }
                if ours {
                    info!("the configuration file changed");
                    daemon.reload().await;
                }
            }
        }
    }
    if let Some(v) = daemon.vrrp
        && let Err(e) = v.stop().await
    {
        error!(error = %e, "VRRP stopped badly");
        failed = true;
    }
    if let Some(l) = daemon.lvs {
        l.stop().await;
    }
    info!("stopped");
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
