//! HTTP health verdicts for holdfast: which status codes mean "up", how slow
//! is "degraded" and how slow is "down", and **degrade instead of flap** —
//! a failure keeps the server in service as `degraded` until it has failed
//! `down-after` times in a row.
//!
//! Params (the KDL `params` block):
//!
//! | param | default | meaning |
//! |---|---|---|
//! | `up-status` | `"200-399"` | comma-separated codes and ranges that count as success |
//! | `slow-ms` | none | latency above this is `degraded` |
//! | `down-ms` | none | latency above this counts as a failure |
//! | `body-contains` | none | the body snippet must contain this text |
//! | `down-after` | `3` | consecutive failures before `down` (earlier ones are `degraded`) |

use std::sync::Mutex;

use holdfast_policy_sdk::*;
use serde::Deserialize;

/// Parsed parameters.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Params {
    /// Success status codes, e.g. `"200-299,301"`.
    #[serde(default = "default_up")]
    pub up_status: String,
    /// Degraded above this latency.
    #[serde(default)]
    pub slow_ms: Option<u64>,
    /// A failure above this latency.
    #[serde(default)]
    pub down_ms: Option<u64>,
    /// Required body text.
    #[serde(default)]
    pub body_contains: Option<String>,
    /// Failures in a row before `down`.
    #[serde(default = "default_down_after")]
    pub down_after: u32,
}

fn default_up() -> String {
    "200-399".into()
}

fn default_down_after() -> u32 {
    3
}

/// A validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    up: Vec<(u16, u16)>,
    slow_us: Option<u64>,
    down_us: Option<u64>,
    body_contains: Option<String>,
    down_after: u32,
}

impl Default for Rules {
    fn default() -> Self {
        Self::from_json("{}").expect("defaults are valid")
    }
}

fn parse_ranges(spec: &str) -> Result<Vec<(u16, u16)>, String> {
    let mut out = Vec::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (lo, hi) = part.split_once('-').unwrap_or((part, part));
        let code = |s: &str| -> Result<u16, String> {
            match s.trim().parse::<u16>() {
                Ok(c) if (100..=599).contains(&c) => Ok(c),
                _ => Err(format!("up-status: {s:?} is not an HTTP status (100-599)")),
            }
        };
        let (lo, hi) = (code(lo)?, code(hi)?);
        if lo > hi {
            return Err(format!("up-status: range {part:?} is backwards"));
        }
        out.push((lo, hi));
    }
    if out.is_empty() {
        return Err("up-status: no status codes".into());
    }
    Ok(out)
}

impl Rules {
    /// Parses and validates the `params` JSON.
    pub fn from_json(params: &str) -> Result<Self, String> {
        let p: Params = serde_json::from_str(params).map_err(|e| format!("params: {e}"))?;
        if p.down_after == 0 {
            return Err("down-after must be at least 1".into());
        }
        if let (Some(slow), Some(down)) = (p.slow_ms, p.down_ms)
            && slow >= down
        {
            return Err(format!("slow-ms ({slow}) must be below down-ms ({down})"));
        }
        Ok(Self {
            up: parse_ranges(&p.up_status)?,
            slow_us: p.slow_ms.map(|ms| ms * 1000),
            down_us: p.down_ms.map(|ms| ms * 1000),
            body_contains: p.body_contains,
            down_after: p.down_after,
        })
    }

    /// Why this probe counts as a failure, if it does.
    fn failure(&self, r: &ProbeResult) -> Option<String> {
        if !r.success {
            return Some(r.error.clone().unwrap_or_else(|| "probe failed".into()));
        }
        if let Some(code) = r.status_code
            && !self.up.iter().any(|&(lo, hi)| (lo..=hi).contains(&code))
        {
            return Some(format!("status {code}"));
        }
        if let (Some(limit), Some(lat)) = (self.down_us, r.latency_us)
            && lat > limit
        {
            return Some(format!(
                "latency {} ms over {} ms",
                lat / 1000,
                limit / 1000
            ));
        }
        if let Some(needle) = &self.body_contains
            && !r
                .body_snippet
                .as_deref()
                .unwrap_or("")
                .contains(needle.as_str())
        {
            return Some(format!("body lacks {needle:?}"));
        }
        None
    }

    /// The verdict for one probe result.
    pub fn verdict(&self, r: &ProbeResult) -> HealthVerdict {
        if let Some(why) = self.failure(r) {
            // A success resets the host's failure count, so `consecutive-failures`
            // is at least 1 here; trust our own reading if the host says 0.
            let failures = r.consecutive_failures.max(1);
            return if failures >= self.down_after {
                HealthVerdict::Down(format!("{why} ({failures} in a row)"))
            } else {
                HealthVerdict::Degraded(format!(
                    "{why} ({failures} of {} before down)",
                    self.down_after
                ))
            };
        }
        match (self.slow_us, r.latency_us) {
            (Some(limit), Some(lat)) if lat > limit => {
                HealthVerdict::Degraded(format!("slow: {} ms over {} ms", lat / 1000, limit / 1000))
            }
            _ => HealthVerdict::Up,
        }
    }
}

static RULES: Mutex<Option<Rules>> = Mutex::new(None);

/// The policy.
pub struct HttpVerdict;

impl Init for HttpVerdict {
    fn init(params: String) -> Result<(), String> {
        let rules = Rules::from_json(&params)?;
        *RULES.lock().unwrap_or_else(|e| e.into_inner()) = Some(rules);
        Ok(())
    }
}

impl HealthPolicy for HttpVerdict {
    fn verdict(input: ProbeResult) -> HealthVerdict {
        let rules = RULES.lock().unwrap_or_else(|e| e.into_inner());
        match rules.as_ref() {
            Some(r) => r.verdict(&input),
            None => Rules::default().verdict(&input),
        }
    }
}

export_policy!(health: HttpVerdict);
