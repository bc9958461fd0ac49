//! The control socket: a Unix socket on which `holdfast reload` asks the
//! running daemon to reload and waits for the outcome.
//!
//! One request per connection, one line each way: the client writes
//! `reload`, the daemon answers with one JSON object ([`ReloadOutcome`])
//! once the reload was applied or refused. Only root (the socket is mode
//! 0600) can ask.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio::net::UnixListener;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};

/// Where the daemon listens unless told otherwise.
pub(crate) const DEFAULT_SOCKET: &str = "/run/holdfast/control.sock";

/// How long `holdfast reload` waits for the daemon's answer (a reload
/// that resolves new interfaces may wait for their addresses).
const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);

/// What a reload did.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct ReloadOutcome {
    /// Applied (possibly with nothing to change).
    pub(crate) applied: bool,
    /// What changed, one line per change, in the order applied.
    pub(crate) changes: Vec<String>,
    /// Why it was refused: every problem, rendered (file:line:col).
    pub(crate) errors: String,
}

/// A reload asked for on the socket, and where its outcome goes.
pub(crate) type ReloadRequest = oneshot::Sender<ReloadOutcome>;

/// Removes the socket file when the daemon stops.
#[derive(Debug)]
pub(crate) struct Listening {
    path: PathBuf,
}

impl Drop for Listening {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Listens on `path`; each `reload` request is sent on `requests`. A
/// socket file left by a daemon that died is replaced; one that answers
/// belongs to a running daemon, and is an error.
pub(crate) fn listen(
    path: &Path,
    requests: mpsc::UnboundedSender<ReloadRequest>,
) -> std::io::Result<Listening> {
    if UnixStream::connect(path).is_ok() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AddrInUse,
            format!("{} belongs to a running daemon", path.display()),
        ));
    }
    let _ = std::fs::remove_file(path);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    tokio::spawn(serve(stream, requests.clone()));
                }
                Err(e) => {
                    warn!(error = %e, "control socket: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    });
    Ok(Listening {
        path: path.to_path_buf(),
    })
}

async fn serve(stream: tokio::net::UnixStream, requests: mpsc::UnboundedSender<ReloadRequest>) {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    let mut reader = tokio::io::BufReader::new(read);
    if reader.read_line(&mut line).await.is_err() {
        return;
    }
    let outcome = match line.trim() {
        "reload" => {
            let (tx, rx) = oneshot::channel();
            if requests.send(tx).is_err() {
                return;
            }
            match rx.await {
                Ok(o) => o,
                Err(_) => return,
            }
        }
        other => ReloadOutcome {
            applied: false,
            changes: Vec::new(),
            errors: format!("unknown request `{other}`"),
        },
    };
    let Ok(mut text) = serde_json::to_string(&outcome) else {
        return;
    };
    text.push('\n');
    if let Err(e) = write.write_all(text.as_bytes()).await {
        debug!(error = %e, "control socket: the client left");
    }
}

/// `holdfast reload`: asks the daemon and prints what it did. Exit 0 when
/// applied, 1 when refused (the problems on stderr), 69 when no daemon answers.
pub(crate) fn reload_command(socket: &Path) -> ExitCode {
    match ask(socket) {
        Ok(o) if o.applied => {
            if o.changes.is_empty() {
                println!("reloaded: nothing changed");
            } else {
                println!("reloaded: {} change(s)", o.changes.len());
                for c in &o.changes {
                    println!("  {c}");
                }
            }
            ExitCode::SUCCESS
        }
        Ok(o) => {
            eprintln!("reload refused; the running configuration is unchanged");
            eprint!("{}", o.errors);
            if !o.errors.ends_with('\n') {
                eprintln!();
            }
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!(
                "holdfast: cannot reach the daemon at {}: {e}",
                socket.display()
            );
            ExitCode::from(69)
        }
    }
}

fn ask(socket: &Path) -> std::io::Result<ReloadOutcome> {
    let mut stream = UnixStream::connect(socket)?;
    stream.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    stream.write_all(b"reload\n")?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line)?;
    serde_json::from_str(&line).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}
