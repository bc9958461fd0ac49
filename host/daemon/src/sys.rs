//! Process-level settings that need a raw syscall.
#![allow(unsafe_code, reason = "sched_setscheduler has no safe wrapper in nix")]

use std::io;

/// Linux `SCHED_RESET_ON_FORK`: children (notify scripts) start with normal scheduling.
const SCHED_RESET_ON_FORK: libc::c_int = 0x4000_0000;

/// Puts the calling thread under SCHED_RR at `priority` (1..=99), like
/// keepalived's `vrrp_rt_priority`, so adverts go out on time even when the
/// CPUs are busy. The kernel's RT throttling (sched_rt_runtime_us) still
/// bounds what a runaway loop could take.
pub(crate) fn set_realtime(priority: u8) -> io::Result<()> {
    let param = libc::sched_param {
        sched_priority: libc::c_int::from(priority),
    };
    // SAFETY: pid 0 is the calling thread; `param` is a valid, fully
    // initialised sched_param that outlives the call.
    let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_RR | SCHED_RESET_ON_FORK, &param) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Locks current and future memory so page faults never delay an advert.
pub(crate) fn lock_memory() -> io::Result<()> {
    use nix::sys::mman::{MlockAllFlags, mlockall};
    mlockall(MlockAllFlags::MCL_CURRENT | MlockAllFlags::MCL_FUTURE).map_err(io::Error::from)
}

/// A timerfd as tokio can poll it.
#[derive(Debug)]
pub(crate) struct TimerHandle(pub(crate) nix::sys::timerfd::TimerFd);

impl std::os::fd::AsRawFd for TimerHandle {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsFd;
        self.0.as_fd().as_raw_fd()
    }
}

/// Registers a timerfd with the tokio reactor.
pub(crate) fn async_timer(timer: TimerHandle) -> io::Result<tokio::io::unix::AsyncFd<TimerHandle>> {
    // SAFETY: `TimerFd` owns its descriptor, which stays open and is what
    // `as_raw_fd` returns until the `AsyncFd` owning it is dropped.
    unsafe { tokio::io::unix::AsyncFd::register(timer) }.map_err(io::Error::from)
}

/// Confines a compile worker: it dies with its parent (the daemon never
/// leaves a compiler behind), its address space may grow by at most
/// `memory_mib` over what it has now, and its CPU time is capped.
pub(crate) fn confine_compiler(memory_mib: u32, cpu: std::time::Duration) -> io::Result<()> {
    use nix::sys::resource::{Resource, setrlimit};
    nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL).map_err(io::Error::from)?;
    // The parent may already be gone (it then cannot read our answer).
    if nix::unistd::getppid() == nix::unistd::Pid::from_raw(1) {
        return Err(io::Error::other("the parent is gone"));
    }
    let now = address_space()?;
    let limit = now + u64::from(memory_mib) * 1024 * 1024;
    setrlimit(Resource::RLIMIT_AS, limit, limit).map_err(io::Error::from)?;
    let secs = cpu.as_secs() + 1;
    setrlimit(Resource::RLIMIT_CPU, secs, secs + 1).map_err(io::Error::from)
}

/// This process's address space in bytes (`VmSize`).
fn address_space() -> io::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmSize:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kib| kib * 1024)
        .ok_or_else(|| io::Error::other("no VmSize in /proc/self/status"))
}
