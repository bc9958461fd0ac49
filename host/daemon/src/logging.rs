//! tracing-subscriber set-up for `--log-level` and `--log-format`.

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

use crate::cli::LogFormat;

/// Installs the global subscriber; logs go to stderr so stdout stays for
/// command output. They are written by a thread of their own, so a slow
/// disk or pipe never stalls the thread that logs (the VRRP thread above
/// all); keep the returned guard until exit, which flushes what is queued.
pub(crate) fn init(level: &str, format: LogFormat) -> Result<WorkerGuard, String> {
    let filter =
        EnvFilter::try_new(level).map_err(|e| format!("invalid --log-level `{level}`: {e}"))?;
    let (writer, guard) = tracing_appender::non_blocking(std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_target(false)
        .with_ansi(
            std::io::IsTerminal::is_terminal(&std::io::stderr())
                && std::env::var_os("NO_COLOR").is_none(),
        );
    let result = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    result.map_err(|e| format!("cannot install the logger: {e}"))?;
    Ok(guard)
}
