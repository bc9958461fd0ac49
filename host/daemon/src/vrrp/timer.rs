//! A deadline timer with microsecond precision.
//!
//! tokio's timer wheel has millisecond slots, so a 6.1 ms Skew_Time would
//! fire up to a millisecond late, and 10 ms adverts would drift within each
//! slot. A timerfd (CLOCK_MONOTONIC, the clock `Instant` uses) fires when
//! asked and is still driven by the same epoll loop.

use std::io;
use std::time::{Duration, Instant};

use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use tokio::io::unix::AsyncFd;

use crate::sys::{TimerHandle, async_timer};

#[derive(Debug)]
pub(crate) struct PreciseTimer {
    fd: AsyncFd<TimerHandle>,
    armed: Option<Instant>,
}

impl PreciseTimer {
    pub(crate) fn new() -> io::Result<Self> {
        let fd = TimerFd::new(
            ClockId::CLOCK_MONOTONIC,
            TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
        )
        .map_err(io::Error::from)?;
        Ok(Self {
            fd: async_timer(TimerHandle(fd))?,
            armed: None,
        })
    }

    /// Arms the timer for `deadline` (disarms it for `None`); re-arms only on change.
    pub(crate) fn arm(&mut self, deadline: Option<Instant>) -> io::Result<()> {
        if deadline == self.armed {
            return Ok(());
        }
        self.armed = deadline;
        let timer = &self.fd.get_ref().0;
        match deadline {
            None => timer.unset().map_err(io::Error::from),
            Some(at) => {
                // A zero expiry would disarm the timer: a due deadline fires in 1 µs.
                let wait = at
                    .saturating_duration_since(Instant::now())
                    .max(Duration::from_micros(1));
                timer
                    .set(
                        Expiration::OneShot(TimeSpec::from_duration(wait)),
                        TimerSetTimeFlags::empty(),
                    )
                    .map_err(io::Error::from)
            }
        }
    }

    /// Waits until the armed deadline passes (forever when disarmed).
    pub(crate) async fn expired(&mut self) -> io::Result<()> {
        loop {
            let mut guard = self.fd.readable().await?;
            match guard.try_io(|fd| fd.get_ref().0.wait().map_err(io::Error::from)) {
                Ok(result) => {
                    self.armed = None;
                    return result;
                }
                Err(_would_block) => continue,
            }
        }
    }
}
