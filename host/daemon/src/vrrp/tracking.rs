//! keepalived's static tracking, computed natively: `track-interface`,
//! `track-check` and `track-file` weights turn into an effective priority
//! or a fault.
//!
//! Semantics (keepalived.conf(5)): a tracked interface or check (a
//! `vrrp_script`) with weight 0 puts the instance in Fault while down; a
//! positive weight is added while it is up, a negative one while it is
//! down. A tracked file's number is
//! multiplied by its weight and added; with weight 0 any non-zero number is
//! a fault, and so is a weighted value of -254 or less. An address owner (255) is never lowered by tracking. The result
//! is clamped to 1..=254.

use std::path::Path;

use holdfast_config::{TrackCheckCfg, TrackFileCfg, TrackInterfaceCfg};

/// The tracked objects of one instance and their last known status.
#[derive(Debug, Clone)]
pub(crate) struct Tracking {
    base: u8,
    interfaces: Vec<(TrackInterfaceCfg, bool)>,
    checks: Vec<(TrackCheckCfg, CheckSeen)>,
    files: Vec<(TrackFileCfg, i64)>,
}

/// What a tracked check last reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CheckSeen {
    pub(crate) up: bool,
    /// The last probe's time to its answer (or failure).
    pub(crate) latency_us: Option<u64>,
    /// The last failure's error.
    pub(crate) error: Option<String>,
}

/// What tracking makes of the instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Run with this priority.
    Priority(u8),
    /// A weight-0 object failed.
    Fault,
}

impl Tracking {
    pub(crate) fn new(
        base: u8,
        interfaces: &[TrackInterfaceCfg],
        checks: &[TrackCheckCfg],
        files: &[TrackFileCfg],
    ) -> Self {
        Self {
            base,
            // Until the link monitor says otherwise, assume up (the instance
            // starts only after its own interface was found).
            interfaces: interfaces.iter().map(|t| (t.clone(), true)).collect(),
            // keepalived's scripts pass until they fail `fall` times.
            checks: checks
                .iter()
                .map(|t| {
                    let seen = CheckSeen {
                        up: true,
                        latency_us: None,
                        error: None,
                    };
                    (t.clone(), seen)
                })
                .collect(),
            files: files.iter().map(|t| (t.clone(), 0)).collect(),
        }
    }

    /// Takes what `old` last saw of the objects both track (a reload):
    /// a check that was down stays down until it reports again.
    pub(crate) fn carry_from(&mut self, old: &Tracking) {
        for (t, seen) in &mut self.checks {
            if let Some((_, was)) = old.checks.iter().find(|(o, _)| o.name == t.name) {
                *seen = was.clone();
            }
        }
        for (t, up) in &mut self.interfaces {
            if let Some((_, was)) = old.interfaces.iter().find(|(o, _)| o.name == t.name) {
                *up = *was;
            }
        }
    }

    /// Records a `vrrp-check` block's status; true if it is tracked and changed.
    pub(crate) fn set_check(&mut self, name: &str, up: bool) -> bool {
        let mut changed = false;
        for (t, seen) in &mut self.checks {
            if t.name == name && seen.up != up {
                seen.up = up;
                changed = true;
            }
        }
        changed
    }

    /// Records what a `vrrp-check` block's last probe saw (for a priority
    /// policy's input); true if it is tracked.
    pub(crate) fn note_check(
        &mut self,
        name: &str,
        latency_us: Option<u64>,
        error: Option<&str>,
    ) -> bool {
        let mut tracked = false;
        for (t, seen) in &mut self.checks {
            if t.name == name {
                seen.latency_us = latency_us;
                seen.error = error.map(str::to_string);
                tracked = true;
            }
        }
        tracked
    }

    /// Tracked checks with what they last reported, for a priority policy's input.
    pub(crate) fn checks(&self) -> impl Iterator<Item = (&TrackCheckCfg, &CheckSeen)> {
        self.checks.iter().map(|(t, seen)| (t, seen))
    }

    /// Records an interface's state; true if it is tracked and changed.
    pub(crate) fn set_interface(&mut self, name: &str, up: bool) -> bool {
        let mut changed = false;
        for (t, state) in &mut self.interfaces {
            if t.name == name && *state != up {
                *state = up;
                changed = true;
            }
        }
        changed
    }

    /// Re-reads tracked files; true if a value changed.
    pub(crate) fn refresh_files(&mut self) -> bool {
        let mut changed = false;
        for (t, value) in &mut self.files {
            let v = read_number(&t.path);
            if v != *value {
                *value = v;
                changed = true;
            }
        }
        changed
    }

    /// Whether any file is tracked (the caller polls only then).
    pub(crate) fn has_files(&self) -> bool {
        !self.files.is_empty()
    }

    /// Tracked interfaces with their state, for a priority policy's input.
    pub(crate) fn interfaces(&self) -> impl Iterator<Item = (&TrackInterfaceCfg, bool)> {
        self.interfaces.iter().map(|(t, up)| (t, *up))
    }

    /// Tracked files with their values, for a priority policy's input.
    pub(crate) fn files(&self) -> impl Iterator<Item = (&TrackFileCfg, i64)> {
        self.files.iter().map(|(t, v)| (t, *v))
    }

    /// The names of tracked interfaces.
    pub(crate) fn interface_names(&self) -> impl Iterator<Item = &str> {
        self.interfaces.iter().map(|(t, _)| t.name.as_str())
    }

    pub(crate) fn verdict(&self) -> Verdict {
        let mut delta: i64 = 0;
        let weighted = self
            .interfaces
            .iter()
            .map(|(t, up)| (t.weight, *up))
            .chain(self.checks.iter().map(|(t, seen)| (t.weight, seen.up)));
        for (weight, up) in weighted {
            match (weight, up) {
                (0, false) => return Verdict::Fault,
                (w, true) if w > 0 => delta += i64::from(w),
                (w, false) if w < 0 => delta += i64::from(w),
                _ => {}
            }
        }
        for (t, value) in &self.files {
            if t.weight == 0 {
                if *value != 0 {
                    return Verdict::Fault;
                }
                continue;
            }
            let contribution = value.saturating_mul(i64::from(t.weight));
            // keepalived: a tracked value whose weighted result is -254 or
            // less puts the instance in Fault.
            if contribution <= -254 {
                return Verdict::Fault;
            }
            delta = delta.saturating_add(contribution);
        }
        if self.base == 255 {
            return Verdict::Priority(255);
        }
        let p = i64::from(self.base).saturating_add(delta);
        Verdict::Priority(p.clamp(1, 254) as u8)
    }
}

/// A file's number as keepalived reads it: the leading integer, 0 when the
/// file is missing or holds no number.
fn read_number(path: &Path) -> i64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|w| w.parse().ok()))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iface(name: &str, weight: i32) -> TrackInterfaceCfg {
        TrackInterfaceCfg {
            name: name.into(),
            weight,
        }
    }

    #[test]
    fn interface_weights_follow_keepalived() {
        let mut t = Tracking::new(
            100,
            &[iface("a", -20), iface("b", 10), iface("c", 0)],
            &[],
            &[],
        );
        assert_eq!(
            t.verdict(),
            Verdict::Priority(110),
            "positive weight counts while up"
        );
        assert!(t.set_interface("a", false));
        assert_eq!(
            t.verdict(),
            Verdict::Priority(90),
            "negative weight counts while down"
        );
        assert!(t.set_interface("b", false));
        assert_eq!(t.verdict(), Verdict::Priority(80));
        assert!(!t.set_interface("b", false), "no change, no recompute");
        t.set_interface("c", false);
        assert_eq!(t.verdict(), Verdict::Fault, "weight 0 down is a fault");
    }

    #[test]
    fn check_weights_follow_keepalived_track_script() {
        let check = |name: &str, weight| TrackCheckCfg {
            name: name.into(),
            weight,
        };
        let mut t = Tracking::new(
            100,
            &[iface("eth1", -5)],
            &[check("nginx", -30), check("bonus", 20), check("db", 0)],
            &[],
        );
        assert_eq!(
            t.verdict(),
            Verdict::Priority(120),
            "a passing check adds its positive weight"
        );
        assert!(t.set_check("nginx", false));
        assert_eq!(
            t.verdict(),
            Verdict::Priority(90),
            "a failing check subtracts"
        );
        t.set_interface("eth1", false);
        assert_eq!(
            t.verdict(),
            Verdict::Priority(85),
            "checks and interfaces add up"
        );
        assert!(t.set_check("bonus", false));
        assert_eq!(t.verdict(), Verdict::Priority(65));
        assert!(!t.set_check("other", false), "not tracked");
        t.set_check("db", false);
        assert_eq!(t.verdict(), Verdict::Fault, "weight 0 failing is a fault");
        t.set_check("db", true);
        let low = Tracking::new(10, &[], &[check("x", -253)], &[]);
        let mut low = low;
        low.set_check("x", false);
        assert_eq!(low.verdict(), Verdict::Priority(1), "clamped to 1");
    }

    #[test]
    fn files_multiply_and_clamp_and_owners_stay() {
        let dir = std::env::temp_dir().join(format!("holdfast-track-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("prio");
        let files = [TrackFileCfg {
            path: f.clone(),
            weight: -10,
        }];
        let mut t = Tracking::new(100, &[], &[], &files);
        assert!(!t.refresh_files(), "a missing file reads as 0");
        std::fs::write(&f, "3\n").unwrap();
        assert!(t.refresh_files());
        assert_eq!(t.verdict(), Verdict::Priority(70));
        std::fs::write(&f, "20").unwrap();
        t.refresh_files();
        assert_eq!(t.verdict(), Verdict::Priority(1), "clamped to 1");
        std::fs::write(&f, "26").unwrap();
        t.refresh_files();
        assert_eq!(t.verdict(), Verdict::Fault, "-260 is a fault");
        let mut owner = Tracking::new(255, &[], &[], &files);
        owner.refresh_files();
        assert_eq!(
            owner.verdict(),
            Verdict::Fault,
            "a fault applies to owners too"
        );
        std::fs::write(&f, "3").unwrap();
        owner.refresh_files();
        assert_eq!(
            owner.verdict(),
            Verdict::Priority(255),
            "an owner is not lowered by weights"
        );
        let zero = [TrackFileCfg {
            path: f.clone(),
            weight: 0,
        }];
        let mut z = Tracking::new(100, &[], &[], &zero);
        z.refresh_files();
        assert_eq!(z.verdict(), Verdict::Fault);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
