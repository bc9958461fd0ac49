//! keepalived's static tracking as a priority policy, so users migrating
//! from `track_interface` / `track_file` / `track_script` get identical
//! priorities.
//!
//! keepalived.conf(5): a tracked object with weight 0 puts the instance in
//! FAULT while failed. A positive weight is added while the object is up, a
//! negative one while it is down. A tracked file's number is multiplied by
//! its weight and added; with weight 0 a non-zero number is a fault, and a
//! weighted value of -254 or less is a fault. An address owner (255) is
//! never changed. The result is clamped to 1..254.

use holdfast_policy_sdk::*;

/// The policy.
pub struct KeepalivedTrack;

impl Init for KeepalivedTrack {}

/// The computation, callable from native tests too.
pub fn track(input: &PriorityInput) -> PriorityOutput {
    let mut delta: i64 = 0;
    let objects = input
        .interfaces
        .iter()
        .map(|i| (i.name.as_str(), i.up, i.weight))
        .chain(
            input
                .checks
                .iter()
                .map(|c| (c.name.as_str(), c.up, c.weight)),
        );
    for (name, up, weight) in objects {
        match (weight, up) {
            (0, false) => return PriorityOutput::Fault(format!("{name} is down")),
            (w, true) if w > 0 => delta += i64::from(w),
            (w, false) if w < 0 => delta += i64::from(w),
            _ => {}
        }
    }
    for f in &input.files {
        if f.weight == 0 {
            if f.value != 0 {
                return PriorityOutput::Fault(format!("{} holds {}", f.path, f.value));
            }
            continue;
        }
        let contribution = f.value.saturating_mul(i64::from(f.weight));
        if contribution <= -254 {
            return PriorityOutput::Fault(format!("{} weighs {contribution}", f.path));
        }
        delta = delta.saturating_add(contribution);
    }
    if input.base_priority == 255 {
        return PriorityOutput::Priority(255);
    }
    PriorityOutput::Priority((i64::from(input.base_priority) + delta).clamp(1, 254) as u8)
}

impl PriorityPolicy for KeepalivedTrack {
    fn priority(input: &PriorityInput) -> PriorityOutput {
        track(input)
    }
}

export_policy!(priority: KeepalivedTrack);
