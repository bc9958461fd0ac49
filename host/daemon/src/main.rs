//! The `holdfast` binary: CLI, logging, and the daemon's wiring.

mod check;
mod cli;
mod control;
mod digest_cmd;
mod logging;
mod lvs;
mod policies;
mod policy_cmd;
mod probe_modules;
mod probe_net;
mod probes;
mod reload;
mod run;
mod sys;
mod vrrp;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Held to the end of `main`: dropping it flushes the queued log lines.
    let _log = match logging::init(&cli.log_level, cli.log_format) {
        Ok(guard) => guard,
        Err(e) => {
            eprintln!("holdfast: {e}");
            return ExitCode::from(2);
        }
    };
    match cli.command {
        Command::Run(args) => run::run(&run::RunOptions {
            config: args.config.config,
            control_socket: (!args.no_control_socket).then_some(args.control.control_socket),
            watch_config: args.watch_config,
        }),
        Command::Reload(args) => control::reload_command(&args.control_socket),
        Command::Check(args) => check::run(&args.config),
        Command::Policy(cmd) => policy_cmd::run(cmd),
        Command::Digest(args) => digest_cmd::run(&args),
        Command::Version => {
            println!("holdfast {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
    }
}
