//! `policy "name" { .. }` blocks.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use kdl::{KdlNode, KdlValue};

use super::{Anchors, RefKind, block_name};
use crate::error::{Problem, ProblemKind};
use crate::model::{HealthFallback, MAX_MODULE_MIB_LIMIT, ParamValue, PolicyCfg};
use crate::reader::{Diags, args, children, name_span};

pub(super) const POLICY_NODES: &[&str] = &[
    "path",
    "fuel",
    "timeout-ms",
    "memory-mib",
    "max-module-mib",
    "compile-memory-mib",
    "compile-timeout-ms",
    "fallback",
    "params",
];

/// Default fuel per call: enough for tens of thousands of simple operations.
const DEFAULT_FUEL: u64 = 5_000_000;

pub(super) fn read(node: &KdlNode, d: &mut Diags, anchors: &mut Anchors) -> Option<PolicyCfg> {
    let name = block_name(node, Some(RefKind::Policy), d, anchors);
    d.check_props(node, &[]);
    let mut path = None;
    let mut cfg = PolicyCfg {
        name: String::new(),
        path: PathBuf::new(),
        fuel: DEFAULT_FUEL,
        timeout: Duration::from_millis(20),
        memory_mib: 16,
        max_module_mib: 4,
        compile_memory_mib: 512,
        compile_timeout: Duration::from_secs(30),
        fallback: HealthFallback::Previous,
        params: BTreeMap::new(),
        span: node.span().into(),
    };
    let mut seen = HashMap::new();
    for child in children(node) {
        let key = child.name().value();
        if POLICY_NODES.contains(&key) {
            d.once(&mut seen, child);
        }
        match key {
            "path" => {
                path = d
                    .single(child, "a file path")
                    .and_then(|e| d.nonempty(e))
                    .map(PathBuf::from)
            }
            "fuel" => {
                if let Some(v) = d
                    .single(child, "a number")
                    .and_then(|e| d.int(e, 1000, 10_000_000_000, "fuel"))
                {
                    cfg.fuel = v;
                }
            }
            "timeout-ms" => {
                if let Some(v) = d
                    .single(child, "milliseconds")
                    .and_then(|e| d.int(e, 1, 10_000, "timeout-ms"))
                {
                    cfg.timeout = Duration::from_millis(v);
                }
            }
            "memory-mib" => {
                if let Some(v) = d
                    .single(child, "mebibytes")
                    .and_then(|e| d.int(e, 1, 256, "memory-mib"))
                {
                    cfg.memory_mib = v;
                }
            }
            "max-module-mib" => {
                if let Some(v) = d
                    .single(child, "mebibytes")
                    .and_then(|e| d.int(e, 1, i128::from(MAX_MODULE_MIB_LIMIT), "max-module-mib"))
                {
                    cfg.max_module_mib = v;
                }
            }
            "compile-memory-mib" => {
                if let Some(v) = d
                    .single(child, "mebibytes")
                    .and_then(|e| d.int(e, 32, 16_384, "compile-memory-mib"))
                {
                    cfg.compile_memory_mib = v;
                }
            }
            "compile-timeout-ms" => {
                if let Some(v) = d
                    .single(child, "milliseconds")
                    .and_then(|e| d.int(e, 100, 600_000, "compile-timeout-ms"))
                {
                    cfg.compile_timeout = Duration::from_millis(v);
                }
            }
            "fallback" => {
                if let Some(e) = d.single(child, "\"previous\" or \"down\"") {
                    match d.string(e) {
                        Some("previous") => cfg.fallback = HealthFallback::Previous,
                        Some("down") => cfg.fallback = HealthFallback::Down,
                        Some(other) => d.push(
                            Problem::new(
                                ProblemKind::Value,
                                e.span(),
                                format!("unknown fallback `{other}`"),
                                "not a fallback",
                            )
                            .help("use \"previous\" (keep the last verdict) or \"down\""),
                        ),
                        None => {}
                    }
                }
            }
            "params" => {
                d.max_args(child, 0);
                d.check_props(child, &[]);
                cfg.params = read_params(child, d);
            }
            _ => d.unknown_node(child, "`policy`", POLICY_NODES),
        }
    }
    let name = name?;
    let Some(path) = path else {
        d.push(
            Problem::new(
                ProblemKind::Missing,
                name_span(node),
                format!("policy `{name}` has no `path`"),
                "no `path` in this block",
            )
            .help("add `path \"/usr/lib/holdfast/policies/NAME.wasm\"`"),
        );
        return None;
    };
    cfg.name = name;
    cfg.path = path;
    Some(cfg)
}

fn scalar(value: &KdlValue) -> ParamValue {
    match value {
        KdlValue::String(s) => ParamValue::String(s.clone()),
        KdlValue::Integer(i) => {
            i64::try_from(*i).map_or(ParamValue::Float(*i as f64), ParamValue::Int)
        }
        KdlValue::Float(f) => ParamValue::Float(*f),
        KdlValue::Bool(b) => ParamValue::Bool(*b),
        KdlValue::Null => ParamValue::Null,
    }
}

/// `params { penalty 20; mode "strict"; ports 80 443; limits { max 10 } }`
fn read_params(node: &KdlNode, d: &mut Diags) -> BTreeMap<String, ParamValue> {
    let mut out = BTreeMap::new();
    let mut seen = HashMap::new();
    for child in children(node) {
        d.once(&mut seen, child);
        d.check_props(child, &[]);
        let values: Vec<ParamValue> = args(child).map(|e| scalar(e.value())).collect();
        let value = match (values.len(), child.children()) {
            (0, Some(_)) => ParamValue::Map(read_params(child, d)),
            (_, Some(block)) => {
                d.push(
                    Problem::new(
                        ProblemKind::Value,
                        block.span(),
                        "a parameter has either values or a block, not both",
                        "block after values",
                    )
                    .help("move the values into the block, or drop the block"),
                );
                continue;
            }
            (0, None) => ParamValue::Bool(true),
            (1, None) => values.into_iter().next().unwrap_or(ParamValue::Null),
            (_, None) => ParamValue::List(values),
        };
        out.insert(child.name().value().to_string(), value);
    }
    out
}
