//! Reading a policy file without trusting its path.
//!
//! The path is opened without reading (`O_PATH`, which opens no device and
//! never blocks on a FIFO), its type is checked on that descriptor — not on
//! the path, which a rename can change in between — and only a regular file
//! is reopened for reading, through the descriptor, with the size cap
//! enforced while reading. The read runs on a thread of its own with a
//! deadline, so a file on a hung filesystem stalls neither reloads nor
//! shutdown.

use std::fs::{File, Metadata, OpenOptions};
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use holdfast_policy::{FailureKind, PolicyError};

/// How long reading one file may take before it is given up.
pub(crate) const READ_TIMEOUT: Duration = Duration::from_secs(2);

/// Reads `path` (at most `max_bytes`) on a reader thread, waiting at most
/// `timeout`. A reader stuck in the kernel is abandoned, not waited for.
pub(crate) fn read_bounded(
    policy: &str,
    path: &Path,
    max_bytes: u64,
    timeout: Duration,
) -> Result<Vec<u8>, PolicyError> {
    let (tx, rx) = mpsc::channel();
    let owned: PathBuf = path.to_path_buf();
    let name = policy.to_string();
    let spawned = std::thread::Builder::new()
        .name("policy-read".into())
        .spawn(move || {
            let _ = tx.send(read_module(&name, &owned, max_bytes));
        });
    if let Err(e) = spawned {
        return Err(refused(
            FailureKind::Load,
            policy,
            path,
            format!("cannot start a reader: {e}"),
        ));
    }
    rx.recv_timeout(timeout).unwrap_or_else(|_| {
        Err(refused(
            FailureKind::Load,
            policy,
            path,
            format!(
                "reading took longer than {} ms; abandoned",
                timeout.as_millis()
            ),
        ))
    })
}

fn refused(
    kind: FailureKind,
    policy: &str,
    path: &Path,
    why: impl std::fmt::Display,
) -> PolicyError {
    PolicyError::new(kind, policy, format!("{}: {why}", path.display()))
}

/// What a non-regular file is, for the refusal.
fn file_kind(meta: &Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else {
        "not a regular file"
    }
}

/// Opens, checks and reads a policy file (blocking; see [`read_bounded`]).
pub(crate) fn read_module(
    policy: &str,
    path: &Path,
    max_bytes: u64,
) -> Result<Vec<u8>, PolicyError> {
    let io = |e: std::io::Error| refused(FailureKind::Load, policy, path, e);
    // O_PATH: no read access, so opening has no effect on a device and
    // cannot block on a FIFO; symlinks are followed to what they name,
    // whose type is then checked on the descriptor.
    let handle = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_CLOEXEC)
        .open(path)
        .map_err(io)?;
    let meta = handle.metadata().map_err(io)?;
    check_regular(policy, path, &meta, max_bytes)?;
    // Reopen the same inode for reading through its descriptor (a rename
    // of the path in between changes nothing here).
    let fd_path = format!("/proc/self/fd/{}", handle.as_raw_fd());
    let mut file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC)
        .open(&fd_path)
        .map_err(io)?;
    let again = file.metadata().map_err(io)?;
    if (again.dev(), again.ino()) != (meta.dev(), meta.ino()) {
        return Err(refused(
            FailureKind::Load,
            policy,
            path,
            "changed while being opened",
        ));
    }
    check_regular(policy, path, &again, max_bytes)?;
    read_capped(&mut file, max_bytes)
        .map_err(io)?
        .ok_or_else(|| {
            refused(
                FailureKind::TooLarge,
                policy,
                path,
                format!("grew past {} while being read", mib(max_bytes)),
            )
        })
}

fn check_regular(
    policy: &str,
    path: &Path,
    meta: &Metadata,
    max_bytes: u64,
) -> Result<(), PolicyError> {
    if !meta.file_type().is_file() {
        return Err(refused(
            FailureKind::NotAFile,
            policy,
            path,
            format!("is {}; a policy must be a regular file", file_kind(meta)),
        ));
    }
    if meta.len() > max_bytes {
        return Err(refused(
            FailureKind::TooLarge,
            policy,
            path,
            format!(
                "{} bytes, over the {} cap (max-module-mib)",
                meta.len(),
                mib(max_bytes)
            ),
        ));
    }
    Ok(())
}

fn mib(bytes: u64) -> String {
    format!("{} MiB", bytes / (1024 * 1024))
}

/// Reads at most `max` bytes; `None` if there is more.
fn read_capped(file: &mut File, max: u64) -> std::io::Result<Option<Vec<u8>>> {
    let mut bytes = Vec::new();
    file.take(max + 1).read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= max).then_some(bytes))
}
