//! Turning a core module built for `wasm32-unknown-unknown` (which carries
//! the component type wit-bindgen embedded) into a component, so policy
//! authors never see the two steps.

use crate::error::{FailureKind, PolicyError};
use crate::limits::ModuleLimits;

/// Wraps a core module into a component. Components pass through unchanged.
/// Either is first checked against the default [`ModuleLimits`]: wrapping
/// parses and validates every function.
pub fn componentize(name: &str, bytes: &[u8]) -> Result<Vec<u8>, PolicyError> {
    crate::limits::check(name, bytes, &ModuleLimits::default())?;
    if wasmparser_is_component(bytes) {
        return Ok(bytes.to_vec());
    }
    wit_component::ComponentEncoder::default()
        .module(bytes)
        .and_then(|e| e.validate(true).encode())
        .map_err(|e| {
            PolicyError::new(
                FailureKind::Load,
                name,
                format!("cannot make a component: {e:#}"),
            )
        })
}

/// A component's preamble has layer 1 in bytes 6..8 (a core module has 0).
fn wasmparser_is_component(bytes: &[u8]) -> bool {
    bytes.len() >= 8 && bytes[..4] == *b"\0asm" && bytes[6..8] == [1, 0]
}
