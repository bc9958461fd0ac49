//! `holdfast run`: the daemon.
//!
//! For now it loads and validates the configuration, logs what it will run,
//! and waits for a signal: SIGTERM/SIGINT stop it, SIGHUP is reserved for
//! reload. The VRRP, IPVS and policy tasks are wired in here as they land.

use std::path::Path;
use std::process::ExitCode;

use tokio::signal::unix::{SignalKind, signal};
use tracing::{error, info, warn};

use crate::check::summary;

pub(crate) fn run(path: &Path) -> ExitCode {
    let config = match holdfast_config::load(path) {
        Ok(c) => c,
        Err(err) => {
            eprint!("{}", err.render(false));
            error!(config = %path.display(), problems = err.problems.len(), "configuration rejected");
            return ExitCode::FAILURE;
        }
    };
    info!(config = %path.display(), contents = %summary(&config), "configuration loaded");
    for i in &config.vrrp_instances {
        info!(
            instance = %i.name,
            interface = %i.interface,
            vrid = i.vrid,
            priority = i.priority,
            version = ?i.version,
            vips = i.vips.len(),
            "vrrp instance configured"
        );
    }
    for vs in &config.virtual_servers {
        info!(service = %vs.key, scheduler = %vs.scheduler, real_servers = vs.real_servers.len(), "virtual server configured");
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
    runtime.block_on(wait_for_stop())
}

async fn wait_for_stop() -> ExitCode {
    let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
    ) else {
        error!("cannot install signal handlers");
        return ExitCode::FAILURE;
    };
    info!("running; SIGTERM or SIGINT stops, SIGHUP reloads");
    loop {
        tokio::select! {
            _ = term.recv() => { info!(signal = "SIGTERM", "stopping"); break; }
            _ = int.recv() => { info!(signal = "SIGINT", "stopping"); break; }
            _ = hup.recv() => warn!(signal = "SIGHUP", "reload is not implemented yet; configuration unchanged"),
        }
    }
    ExitCode::SUCCESS
}
