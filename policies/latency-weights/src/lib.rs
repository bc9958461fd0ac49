//! IPVS weights inversely proportional to a real server's smoothed probe
//! latency: a server answering at `reference-ms` keeps its configured
//! weight, one twice as fast gets twice the weight, one twice as slow half —
//! always within `min`..`max`. Unhealthy servers get 0.
//!
//! Params (the KDL `params` block):
//!
//! | param | default | meaning |
//! |---|---|---|
//! | `reference-ms` | `10` | the latency at which the configured weight applies |
//! | `alpha` | `0.3` | EWMA smoothing factor over the latency history (0 < alpha ≤ 1) |
//! | `min` | `1` | lowest weight for a healthy server |
//! | `max` | `1000` | highest weight |

use std::sync::Mutex;

use holdfast_policy_sdk::*;
use serde::Deserialize;

/// Parsed parameters.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Params {
    /// Latency at which the base weight applies.
    #[serde(default = "default_reference")]
    pub reference_ms: f64,
    /// Smoothing factor.
    #[serde(default = "default_alpha")]
    pub alpha: f64,
    /// Lowest weight while healthy.
    #[serde(default = "default_min")]
    pub min: u32,
    /// Highest weight.
    #[serde(default = "default_max")]
    pub max: u32,
}

fn default_reference() -> f64 {
    10.0
}
fn default_alpha() -> f64 {
    0.3
}
fn default_min() -> u32 {
    1
}
fn default_max() -> u32 {
    1000
}

impl Params {
    /// Parses and validates the `params` JSON.
    pub fn from_json(params: &str) -> Result<Self, String> {
        let p: Self = serde_json::from_str(params).map_err(|e| format!("params: {e}"))?;
        if !(p.reference_ms > 0.0 && p.reference_ms.is_finite()) {
            return Err("reference-ms must be a positive number".into());
        }
        if !(p.alpha > 0.0 && p.alpha <= 1.0) {
            return Err("alpha must be in (0, 1]".into());
        }
        if p.min == 0 || p.min > p.max || p.max > 65_535 {
            return Err(format!(
                "need 1 <= min ({}) <= max ({}) <= 65535",
                p.min, p.max
            ));
        }
        Ok(p)
    }

    /// Exponentially weighted moving average, oldest sample first.
    pub fn smoothed_us(&self, history: &[u64]) -> Option<f64> {
        let mut it = history.iter().map(|&v| v as f64);
        let first = it.next()?;
        Some(it.fold(first, |avg, v| avg + self.alpha * (v - avg)))
    }

    /// The weight for one input.
    pub fn weight(&self, input: &WeightInput) -> u32 {
        if !input.healthy {
            return 0;
        }
        let Some(avg) = self.smoothed_us(&input.latency_history_us) else {
            return input.base_weight.clamp(self.min, self.max);
        };
        // A 0 µs sample (loopback) would divide by zero: floor at 1 µs.
        let w = f64::from(input.base_weight) * self.reference_ms * 1000.0 / avg.max(1.0);
        (w.round() as u64).clamp(u64::from(self.min), u64::from(self.max)) as u32
    }
}

impl Default for Params {
    fn default() -> Self {
        Self::from_json("{}").expect("defaults are valid")
    }
}

static PARAMS: Mutex<Option<Params>> = Mutex::new(None);

/// The policy.
pub struct LatencyWeights;

impl Init for LatencyWeights {
    fn init(params: String) -> Result<(), String> {
        let p = Params::from_json(&params)?;
        *PARAMS.lock().unwrap_or_else(|e| e.into_inner()) = Some(p);
        Ok(())
    }
}

impl WeightPolicy for LatencyWeights {
    fn weight(input: WeightInput) -> u32 {
        let params = PARAMS.lock().unwrap_or_else(|e| e.into_inner());
        match params.as_ref() {
            Some(p) => p.weight(&input),
            None => Params::default().weight(&input),
        }
    }
}

export_policy!(weight: LatencyWeights);
