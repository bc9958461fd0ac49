//! `holdfast check`: validate a configuration and report every problem.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

use holdfast_config::Config;

/// One line that says what a valid configuration contains.
pub(crate) fn summary(config: &Config) -> String {
    let real_servers: usize = config
        .virtual_servers
        .iter()
        .map(|v| v.real_servers.len())
        .sum();
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    format!(
        "{}, {}, {}, {} ({}), {}",
        plural(config.vrrp_instances.len(), "vrrp instance"),
        plural(config.vrrp_checks.len(), "vrrp check"),
        plural(config.sync_groups.len(), "sync group"),
        plural(config.virtual_servers.len(), "virtual server"),
        plural(real_servers, "real server"),
        plural(config.policies.len(), "policy").replace("policys", "policies"),
    )
}

pub(crate) fn run(path: &Path) -> ExitCode {
    match holdfast_config::load(path) {
        Ok(config) => {
            println!("{}: ok: {}", path.display(), summary(&config));
            ExitCode::SUCCESS
        }
        Err(err) => {
            let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            eprint!("{}", err.render(color));
            ExitCode::FAILURE
        }
    }
}
