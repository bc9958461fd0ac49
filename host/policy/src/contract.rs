//! The contract a component was built against, checked by name and type
//! before anything is instantiated.
//!
//! A component names the WIT package it was built against in its imports
//! (`holdfast:policy/types@0.1.0`: even a module that calls no host
//! function imports the types its exports use). Every import must be an
//! interface of a package version this host supports, and every export a
//! function of its worlds; wasmtime then checks their types against the
//! world (`PolicyEngine::prepare`). Whether a host function happens to be
//! called plays no part.

use wasmtime::component::Component;

use crate::engine::PolicyEngine;
use crate::error::{FailureKind, PolicyError};

/// The WIT package policies are built against.
pub const PACKAGE: &str = "holdfast:policy";
/// The versions of [`PACKAGE`] this host loads.
pub const SUPPORTED_VERSIONS: &[&str] = &["0.1.0", "0.2.0"];
/// The package's interfaces a component may import.
const INTERFACES: &[&str] = &["types", "log", "clock", "state", "network"];
/// The functions a component may export (the worlds' exports).
const EXPORTS: &[&str] = &["init", "setup", "priority", "verdict", "weight", "probe"];

/// The contract version a component was built against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Version {
    /// 0.1.0: three worlds, no `network`.
    V0_1,
    /// 0.2.0: the current contract.
    V0_2,
}

impl Version {
    fn of(version: &str) -> Option<Self> {
        match version {
            "0.1.0" => Some(Self::V0_1),
            "0.2.0" => Some(Self::V0_2),
            _ => None,
        }
    }
}

/// `holdfast:policy@0.1.0, ...`: what this host accepts, for messages.
pub fn supported() -> String {
    SUPPORTED_VERSIONS
        .iter()
        .map(|v| format!("{PACKAGE}@{v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `(package, interface, version)` of an import name such as
/// `holdfast:policy/log@0.1.0`.
fn split(import: &str) -> Option<(&str, &str, Option<&str>)> {
    let (path, version) = match import.split_once('@') {
        Some((p, v)) => (p, Some(v)),
        None => (import, None),
    };
    let (package, interface) = path.split_once('/')?;
    Some((package, interface, version))
}

/// The packages (`name@version`) a component's imports name.
pub(crate) fn packages(engine: &PolicyEngine, component: &Component) -> Vec<String> {
    let mut out: Vec<String> = component
        .component_type()
        .imports(&engine.engine)
        .filter_map(|(name, _)| {
            let (package, _, version) = split(name)?;
            Some(match version {
                Some(v) => format!("{package}@{v}"),
                None => package.to_string(),
            })
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Refuses a component whose imports or exports are not those of one
/// supported version of the contract; the version it was built against.
pub(crate) fn check(
    engine: &PolicyEngine,
    name: &str,
    component: &Component,
) -> Result<Version, PolicyError> {
    let refuse = |what: String| {
        Err(PolicyError::new(
            FailureKind::Contract,
            name,
            format!("{what}; this host accepts {}", supported()),
        ))
    };
    let ty = component.component_type();
    let mut imports_types = false;
    let mut built_against: Option<Version> = None;
    for (import, _) in ty.imports(&engine.engine) {
        match split(import) {
            Some((PACKAGE, interface, Some(version)))
                if SUPPORTED_VERSIONS.contains(&version) && INTERFACES.contains(&interface) =>
            {
                let version = Version::of(version);
                if built_against.is_some_and(|v| Some(v) != version) {
                    return refuse(format!("mixes contract versions (`{import}`)"));
                }
                if version == Some(Version::V0_1) && interface == "network" {
                    return refuse(format!("imports `{import}`, which 0.1.0 does not have"));
                }
                built_against = version;
                imports_types |= interface == "types";
            }
            Some((PACKAGE, _, Some(version))) if !SUPPORTED_VERSIONS.contains(&version) => {
                return refuse(format!("built against {PACKAGE}@{version}"));
            }
            _ => {
                return refuse(format!(
                    "imports `{import}`, which is not part of the contract"
                ));
            }
        }
    }
    for (export, _) in ty.exports(&engine.engine) {
        if !EXPORTS.contains(&export) {
            return refuse(format!(
                "exports `{export}`, which is not part of the contract"
            ));
        }
    }
    // Every world's exports use the package's types: a component that does
    // not import them does not say which version it was built against.
    match built_against {
        Some(version) if imports_types => Ok(version),
        _ => refuse(format!(
            "does not import {PACKAGE}/types, so names no contract version"
        )),
    }
}
