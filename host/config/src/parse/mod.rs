//! KDL text → typed [`Config`], with every problem collected.

mod check;
mod global;
mod http_check;
mod ipvs;
mod policy;
mod settings;
mod vrrp;

pub use settings::{NOT_RUN_YET, Setting, accepted_settings};

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use kdl::{KdlDocument, KdlNode};
use miette::SourceSpan;

use crate::error::{ConfigError, Problem, ProblemKind};
use crate::model::{Config, VirtualServerKey};
use crate::reader::{Diags, name_span};
use crate::validate;

/// The top-level nodes a configuration may contain.
const TOP_LEVEL: &[&str] = &[
    "global",
    "policy",
    "vrrp-instance",
    "vrrp-sync-group",
    "virtual-server",
    "vrrp-check",
];

/// What a name in the file refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum RefKind {
    /// A `policy` block.
    Policy,
    /// A `vrrp-instance` block.
    Instance,
    /// A `vrrp-sync-group` block (never referenced, but names must be unique).
    SyncGroup,
    /// A `vrrp-check` block.
    VrrpCheck,
}

/// A use of a name that must resolve to a definition.
#[derive(Debug, Clone)]
pub(crate) struct Reference {
    pub(crate) kind: RefKind,
    pub(crate) name: String,
    pub(crate) span: SourceSpan,
}

/// Spans of tokens that cross-block validation needs, which the typed
/// config does not keep.
#[derive(Debug, Default)]
pub(crate) struct Anchors {
    pub(crate) references: Vec<Reference>,
    /// Name span of each defined block, keyed by (kind, name).
    pub(crate) definitions: Vec<(RefKind, String, SourceSpan)>,
    /// The `virtual-router-id` value of each instance, by instance name.
    pub(crate) vrid: BTreeMap<String, SourceSpan>,
    /// The identity token of each virtual server, in file order.
    pub(crate) virtual_server: Vec<(VirtualServerKey, SourceSpan)>,
}

impl Anchors {
    pub(crate) fn reference(&mut self, kind: RefKind, name: &str, span: SourceSpan) {
        self.references.push(Reference {
            kind,
            name: name.to_string(),
            span,
        });
    }
}

/// Reads and parses a configuration file.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let name = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => parse_str(&name, &text),
        Err(err) => Err(ConfigError::new(
            &name,
            Arc::from(""),
            vec![Problem::new(
                ProblemKind::Io,
                (0, 0),
                format!("cannot read {name}: {err}"),
                "",
            )],
        )),
    }
}

/// Parses configuration text; `name` is the file name used in diagnostics.
pub fn parse_str(name: &str, text: &str) -> Result<Config, ConfigError> {
    let source: Arc<str> = Arc::from(text);
    let doc = match KdlDocument::parse(text) {
        Ok(doc) => doc,
        Err(err) => return Err(ConfigError::new(name, source, syntax_problems(&err))),
    };

    let mut d = Diags::default();
    let mut anchors = Anchors::default();
    let config = read_document(&doc, &mut d, &mut anchors);
    validate::cross_check(&config, &anchors, &mut d);

    if d.problems.is_empty() {
        Ok(config)
    } else {
        Err(ConfigError::new(name, source, d.problems))
    }
}

fn syntax_problems(err: &kdl::KdlError) -> Vec<Problem> {
    err.diagnostics
        .iter()
        .map(|diag| {
            let mut p = Problem::new(
                ProblemKind::Syntax,
                diag.span,
                diag.message
                    .clone()
                    .unwrap_or_else(|| "invalid KDL".to_string()),
                diag.label.clone().unwrap_or_else(|| "here".to_string()),
            );
            if let Some(help) = &diag.help {
                p = p.help(help.clone());
            }
            p
        })
        .collect()
}

fn read_document(doc: &KdlDocument, d: &mut Diags, anchors: &mut Anchors) -> Config {
    // `global` is read first: instance defaults (e.g. `vrrp-version`) come from it,
    // wherever it appears in the file.
    let globals: Vec<&KdlNode> = doc
        .nodes()
        .iter()
        .filter(|n| n.name().value() == "global")
        .collect();
    for extra in globals.iter().skip(1) {
        d.push(
            Problem::new(
                ProblemKind::Duplicate,
                name_span(extra),
                "`global` is given more than once",
                "second block",
            )
            .also(name_span(globals[0]), "first block")
            .help("merge the settings into one `global` block"),
        );
    }
    let global = globals
        .first()
        .map(|n| global::read(n, d))
        .unwrap_or_default();

    let mut config = Config {
        global,
        policies: BTreeMap::new(),
        vrrp_instances: Vec::new(),
        sync_groups: Vec::new(),
        virtual_servers: Vec::new(),
        vrrp_checks: BTreeMap::new(),
    };

    for node in doc.nodes() {
        match node.name().value() {
            "global" => {}
            "policy" => {
                if let Some(p) = policy::read(node, d, anchors) {
                    config.policies.entry(p.name.clone()).or_insert(p);
                }
            }
            "vrrp-instance" => {
                if let Some(i) = vrrp::read_instance(node, &config.global, d, anchors) {
                    config.vrrp_instances.push(i);
                }
            }
            "vrrp-sync-group" => {
                if let Some(g) = vrrp::read_sync_group(node, d, anchors) {
                    config.sync_groups.push(g);
                }
            }
            "virtual-server" => {
                if let Some(vs) = ipvs::read_virtual_server(node, d, anchors) {
                    config.virtual_servers.push(vs);
                }
            }
            "vrrp-check" => {
                if let Some(c) = check::read_vrrp_check(node, d, anchors) {
                    config.vrrp_checks.entry(c.name.clone()).or_insert(c);
                }
            }
            _ => d.unknown_node(node, "the top level", TOP_LEVEL),
        }
    }
    config
}

/// Reads the block name of `vrrp-instance "NAME"` and friends, recording the definition.
pub(crate) fn block_name(
    node: &KdlNode,
    kind: Option<RefKind>,
    d: &mut Diags,
    anchors: &mut Anchors,
) -> Option<String> {
    d.max_args(node, 1);
    let entry = d.arg(node, 0, "a name")?;
    let name = d.nonempty(entry)?.to_string();
    if let Some(kind) = kind {
        anchors.definitions.push((kind, name.clone(), entry.span()));
    }
    Some(name)
}
