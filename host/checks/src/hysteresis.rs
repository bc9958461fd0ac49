//! Rise/fall hysteresis: a server goes down after `fall` failures in a
//! row and comes back after `rise` successes in a row, so one lost probe
//! does not flap it.

/// The hysteresis state of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RiseFall {
    rise: u32,
    fall: u32,
    up: bool,
    successes: u32,
    failures: u32,
}

impl RiseFall {
    /// Starts up, or down with `alpha` (keepalived's `alpha`: down until
    /// the checks pass).
    pub fn new(rise: u32, fall: u32, alpha: bool) -> Self {
        Self {
            rise: rise.max(1),
            fall: fall.max(1),
            up: !alpha,
            successes: 0,
            failures: 0,
        }
    }

    /// Records one probe; returns the new state if it changed.
    pub fn record(&mut self, success: bool) -> Option<bool> {
        if success {
            self.successes = self.successes.saturating_add(1);
            self.failures = 0;
            if !self.up && self.successes >= self.rise {
                self.up = true;
                return Some(true);
            }
        } else {
            self.failures = self.failures.saturating_add(1);
            self.successes = 0;
            if self.up && self.failures >= self.fall {
                self.up = false;
                return Some(false);
            }
        }
        None
    }

    /// Currently up.
    pub fn is_up(&self) -> bool {
        self.up
    }

    /// Successes in a row.
    pub fn successes(&self) -> u32 {
        self.successes
    }

    /// Failures in a row.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn falls_after_fall_failures_and_rises_after_rise_successes() {
        let mut h = RiseFall::new(2, 3, false);
        assert!(h.is_up());
        assert_eq!(h.record(false), None);
        assert_eq!(h.record(true), None, "a success resets the failures");
        assert_eq!(h.record(false), None);
        assert_eq!(h.record(false), None);
        assert_eq!(h.record(false), Some(false));
        assert_eq!(h.record(false), None, "already down");
        assert_eq!(h.record(true), None);
        assert_eq!(h.record(true), Some(true));
        assert_eq!((h.successes(), h.failures()), (2, 0));
    }

    #[test]
    fn alpha_starts_down_until_rise_successes() {
        let mut h = RiseFall::new(1, 3, true);
        assert!(!h.is_up());
        assert_eq!(h.record(false), None);
        assert_eq!(h.record(true), Some(true));
    }
}
