//! An example custom priority policy: **maintenance drain**.
//!
//! Operators drain a node by writing a non-zero number into a tracked
//! file (`track-file "/run/holdfast/drain"`): the node then advertises a
//! low priority, so a peer takes the VIP over gracefully — no Fault, no
//! notify-fault pager storm — and takes it back when the file holds 0.
//! Meanwhile each tracked interface that is down costs `penalty` points.
//!
//! ```kdl
//! policy "drain" {
//!     path "/etc/holdfast/policies/maintenance_drain.wasm"
//!     params { drain-file "/run/holdfast/drain"; drained-priority 10; penalty 25; }
//! }
//! vrrp-instance "VI_1" {
//!     // ...
//!     priority-policy "drain"
//!     track-file "/run/holdfast/drain"
//!     track-interface "eth1"
//! }
//! ```
//!
//! Build: `holdfast policy build examples/custom-policy -o drain.wasm`.
//! Try: `holdfast policy eval drain.wasm --kind priority --input '{...}' --params '{...}'`.

use std::sync::Mutex;

use holdfast_policy_sdk::*;
use serde::Deserialize;

/// The `params` block.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Params {
    /// The tracked file that drains the node when non-zero.
    #[serde(default = "default_file")]
    pub drain_file: String,
    /// The priority advertised while drained.
    #[serde(default = "default_drained")]
    pub drained_priority: u8,
    /// Points lost per tracked interface that is down.
    #[serde(default = "default_penalty")]
    pub penalty: u8,
}

fn default_file() -> String {
    "/run/holdfast/drain".into()
}
fn default_drained() -> u8 {
    1
}
fn default_penalty() -> u8 {
    20
}

impl Params {
    /// Parses and checks the params JSON.
    pub fn parse(json: &str) -> Result<Self, String> {
        let p: Self = serde_json::from_str(json).map_err(|e| format!("params: {e}"))?;
        if p.drained_priority == 0 || p.drained_priority == 255 {
            return Err("drained-priority must be 1..254".into());
        }
        Ok(p)
    }

    /// The priority for one input.
    pub fn priority(&self, input: &PriorityInput) -> PriorityOutput {
        let drained = input
            .files
            .iter()
            .any(|f| f.path == self.drain_file && f.value != 0);
        if drained {
            return PriorityOutput::Priority(self.drained_priority);
        }
        let down = input.interfaces.iter().filter(|i| !i.up).count() as u32;
        let lost = down * u32::from(self.penalty);
        let p = u32::from(input.base_priority).saturating_sub(lost).max(1);
        PriorityOutput::Priority(p as u8)
    }
}

static PARAMS: Mutex<Option<Params>> = Mutex::new(None);

/// The policy.
pub struct MaintenanceDrain;

impl Init for MaintenanceDrain {
    fn init(params: String) -> Result<(), String> {
        let p = Params::parse(&params)?;
        *PARAMS.lock().unwrap_or_else(|e| e.into_inner()) = Some(p);
        Ok(())
    }
}

impl PriorityPolicy for MaintenanceDrain {
    fn priority(input: &PriorityInput) -> PriorityOutput {
        let params = PARAMS.lock().unwrap_or_else(|e| e.into_inner());
        let out = params
            .clone()
            .unwrap_or_else(|| Params::parse("{}").expect("defaults"))
            .priority(&input);
        if matches!(out, PriorityOutput::Priority(p) if p < input.current_priority) {
            info!("{}: lowering priority to {:?}", input.instance, out);
        }
        out
    }
}

export_policy!(priority: MaintenanceDrain);

#[cfg(test)]
mod tests {
    use super::*;

    fn input(files: Vec<TrackedFile>, down: usize) -> PriorityInput {
        PriorityInput {
            instance: "VI_1".into(),
            base_priority: 150,
            current_priority: 150,
            state: VrrpState::Master,
            interfaces: (0..down)
                .map(|i| TrackedInterface {
                    name: format!("eth{i}"),
                    up: false,
                    weight: 0,
                })
                .collect(),
            files,
            checks: vec![],
            master_priority: None,
        }
    }

    #[test]
    fn drains_on_a_non_zero_file_and_penalises_down_interfaces() {
        let p = Params::parse(r#"{"drained-priority":10,"penalty":25}"#).unwrap();
        let drain = |value| TrackedFile {
            path: "/run/holdfast/drain".into(),
            value,
            weight: 1,
        };
        assert!(matches!(
            p.priority(&input(vec![drain(1)], 0)),
            PriorityOutput::Priority(10)
        ));
        assert!(matches!(
            p.priority(&input(vec![drain(0)], 2)),
            PriorityOutput::Priority(100)
        ));
        assert!(matches!(
            p.priority(&input(vec![], 9)),
            PriorityOutput::Priority(1)
        ));
        assert!(Params::parse(r#"{"drained-priority":0}"#).is_err());
    }
}
