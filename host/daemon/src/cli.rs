//! Command-line interface.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// holdfast: VRRP failover and IPVS load balancing with sandboxed WebAssembly policies.
#[derive(Debug, Parser)]
#[command(name = "holdfast", version, propagate_version = true)]
pub(crate) struct Cli {
    /// Log level or tracing filter (e.g. `info`, `debug`, `holdfast=trace`).
    #[arg(long, global = true, default_value = "info", env = "HOLDFAST_LOG")]
    pub(crate) log_level: String,

    /// Log output format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub(crate) log_format: LogFormat,

    #[command(subcommand)]
    pub(crate) command: Command,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the daemon with a configuration file.
    Run(RunArgs),
    /// Reload the running daemon's configuration and wait for the outcome
    /// (exit 1 with every problem when it was refused: nothing changed).
    Reload(ControlArg),
    /// Validate a configuration file and report every problem in it.
    Check(ConfigArg),
    /// Print the MD5 digest of a page for a check's `digest=` (keepalived's genhash).
    Digest(crate::digest_cmd::DigestArgs),
    /// Print the version.
    Version,
    /// Tools for policy authors: build, inspect, evaluate.
    #[command(subcommand)]
    Policy(crate::policy_cmd::PolicyCmd),
}

#[derive(Debug, Args)]
pub(crate) struct ConfigArg {
    /// The KDL configuration file.
    #[arg(
        short,
        long,
        value_name = "FILE",
        default_value = "/etc/holdfast/holdfast.kdl"
    )]
    pub(crate) config: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    #[command(flatten)]
    pub(crate) control: ControlArg,
    /// Do not open the control socket (`holdfast reload` then cannot reach
    /// this daemon; SIGHUP still reloads).
    #[arg(long)]
    pub(crate) no_control_socket: bool,
    /// Reload when the configuration file changes.
    #[arg(long)]
    pub(crate) watch_config: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ControlArg {
    /// The daemon's control socket.
    #[arg(long, value_name = "PATH", default_value = crate::control::DEFAULT_SOCKET)]
    pub(crate) control_socket: PathBuf,
}
