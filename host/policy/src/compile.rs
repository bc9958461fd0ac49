//! Compiling under a budget.
//!
//! Cranelift's memory grows with a module's functions, and what the
//! allocator took while compiling is not given back to the system after
//! the swap. So the daemon compiles in a short-lived process of its own
//! (its own binary, `holdfast policy compile-worker`): the child caps its
//! address space and CPU time, reads the component on stdin and writes the
//! precompiled artifact on stdout; the parent kills it at the deadline and
//! loads the artifact. Whatever the compile took is returned to the system
//! when the child exits, and a compile over budget is a typed refusal.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use wasmtime::Engine;

use crate::error::{FailureKind, PolicyError};

/// What one compile may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompileBudget {
    /// Address space the compiler may add to what it starts with.
    pub memory_mib: u32,
    /// Wall-clock time (CPU time is capped at the same).
    pub timeout: Duration,
}

impl Default for CompileBudget {
    fn default() -> Self {
        Self {
            memory_mib: 512,
            timeout: Duration::from_secs(30),
        }
    }
}

/// How to start a compile worker: a program and the arguments that make it
/// run [`worker_main`]-style compilation (stdin → stdout).
#[derive(Debug, Clone)]
pub struct CompilerProcess {
    /// The program (the daemon passes its own executable).
    pub program: PathBuf,
    /// Arguments before `--memory-mib N --timeout-ms N`.
    pub args: Vec<OsString>,
}

/// Exit code of a worker that ran out of its budget in an orderly way.
pub const WORKER_EXIT_BUDGET: i32 = 3;
/// Exit code of a worker that was handed something that does not compile.
pub const WORKER_EXIT_INVALID: i32 = 1;

/// The worker's half: compiles `component` with an engine configured like
/// the daemon's (so the artifact loads there). An error is the compiler's
/// message, and whether it ran out of memory (its budget) rather than met
/// an invalid module.
pub fn precompile(component: &[u8]) -> Result<Vec<u8>, (String, bool)> {
    let failed = |e: wasmtime::Error| {
        let out_of_memory = e.chain().any(|cause| {
            cause.downcast_ref::<std::io::Error>().is_some_and(|io| {
                io.kind() == std::io::ErrorKind::OutOfMemory || io.raw_os_error() == Some(12) // ENOMEM
            })
        });
        (format!("{e:#}"), out_of_memory)
    };
    let engine = Engine::new(&crate::engine::config(false)).map_err(failed)?;
    engine.precompile_component(component).map_err(failed)
}

/// Compiles `component` in a worker process under `budget`; returns the
/// artifact.
pub(crate) fn in_process_of(
    worker: &CompilerProcess,
    name: &str,
    component: &[u8],
    budget: CompileBudget,
) -> Result<Vec<u8>, PolicyError> {
    let fail = |kind, msg: String| PolicyError::new(kind, name, msg);
    let mut child = Command::new(&worker.program)
        .args(&worker.args)
        .arg("--memory-mib")
        .arg(budget.memory_mib.to_string())
        .arg("--timeout-ms")
        .arg(budget.timeout.as_millis().to_string())
        // One malloc arena: a thread that finds the main arena busy would
        // otherwise reserve 64 MiB of address space for one of its own,
        // and the budget (an address-space cap) would count that instead
        // of what compiling uses.
        .env("MALLOC_ARENA_MAX", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail(FailureKind::Load, format!("cannot start the compiler: {e}")))?;
    let started = Instant::now();
    // The child reads all of its input before it writes anything.
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(component);
    }
    // An artifact cannot be larger than the memory the child may use.
    let cap = u64::from(budget.memory_mib) * 1024 * 1024;
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let out = std::thread::spawn(move || read_capped(stdout, cap));
    let err = std::thread::spawn(move || read_capped(stderr, 64 * 1024));
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() >= budget.timeout => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(fail(FailureKind::Load, format!("compiler: {e}"))),
        }
    };
    let artifact = out.join().unwrap_or_default();
    // The first line says what happened (an abort adds a backtrace note).
    let stderr = err.join().unwrap_or_default();
    let message = String::from_utf8_lossy(&stderr)
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_string();
    let Some(status) = status else {
        return Err(fail(
            FailureKind::CompileBudget,
            format!("compiling took over {} ms", budget.timeout.as_millis()),
        ));
    };
    match status.code() {
        Some(0) => Ok(artifact),
        Some(WORKER_EXIT_INVALID) => Err(fail(
            FailureKind::Load,
            format!("not a valid component: {message}"),
        )),
        Some(WORKER_EXIT_BUDGET) | None => Err(fail(
            FailureKind::CompileBudget,
            format!(
                "compiling needed more than {} MiB or {} ms ({status}{}{message})",
                budget.memory_mib,
                budget.timeout.as_millis(),
                if message.is_empty() { "" } else { ": " },
            ),
        )),
        Some(_) => Err(fail(
            FailureKind::Load,
            format!("compiler failed ({status}): {message}"),
        )),
    }
}

fn read_capped(from: Option<impl Read>, cap: u64) -> Vec<u8> {
    let mut bytes = Vec::new();
    if let Some(from) = from {
        let _ = from.take(cap).read_to_end(&mut bytes);
    }
    bytes
}
