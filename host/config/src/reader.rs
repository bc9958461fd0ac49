//! Helpers for walking a KDL document by hand while collecting every problem.
//!
//! We do not use `kdl`'s serde mapping: walking nodes ourselves keeps every
//! span, so each semantic error can point at the exact token.

use std::collections::HashMap;
use std::time::Duration;

use kdl::{KdlEntry, KdlNode, KdlValue};
use miette::SourceSpan;

use crate::error::{Problem, ProblemKind};

/// Collects problems while a document is read.
#[derive(Debug, Default)]
pub(crate) struct Diags {
    pub(crate) problems: Vec<Problem>,
}

/// The span of a node's name, which is what most node-level errors point at.
pub(crate) fn name_span(node: &KdlNode) -> SourceSpan {
    node.name().span()
}

/// The positional arguments of a node.
pub(crate) fn args(node: &KdlNode) -> impl Iterator<Item = &KdlEntry> {
    node.entries().iter().filter(|e| e.name().is_none())
}

/// A property of a node (the last one wins in KDL, so do we).
pub(crate) fn prop<'a>(node: &'a KdlNode, key: &str) -> Option<&'a KdlEntry> {
    node.entries()
        .iter()
        .rev()
        .find(|e| e.name().is_some_and(|n| n.value() == key))
}

/// The children of a node (empty when it has no block).
pub(crate) fn children(node: &KdlNode) -> &[KdlNode] {
    node.children().map(|d| d.nodes()).unwrap_or_default()
}

fn describe(value: &KdlValue) -> &'static str {
    match value {
        KdlValue::String(_) => "a string",
        KdlValue::Integer(_) => "an integer",
        KdlValue::Float(_) => "a number with a fraction",
        KdlValue::Bool(_) => "a boolean",
        KdlValue::Null => "#null",
    }
}

/// The closest candidate to `name`, if one is close enough to be a typo.
pub(crate) fn suggest<'a>(name: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(name, c), *c))
        .filter(|(d, c)| *d <= (c.len().max(name.len()) / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

impl Diags {
    pub(crate) fn push(&mut self, problem: Problem) {
        self.problems.push(problem);
    }

    /// Reports `node` as unknown in `context`, with a suggestion among `known`.
    pub(crate) fn unknown_node(&mut self, node: &KdlNode, context: &str, known: &[&str]) {
        let name = node.name().value();
        let mut p = Problem::new(
            ProblemKind::UnknownNode,
            name_span(node),
            format!("unknown node `{name}` in {context}"),
            "not a known setting here",
        );
        p = match suggest(name, known) {
            Some(s) => p.help(format!("did you mean `{s}`?")),
            None => p.help(format!("known here: {}", known.join(", "))),
        };
        self.push(p);
    }

    /// Reports a setting that holdfast knows but does not run yet (at
    /// `span`): it is an error, never a silent pass.
    pub(crate) fn unsupported(&mut self, span: impl Into<SourceSpan>, what: &str, instead: &str) {
        self.push(
            Problem::new(
                ProblemKind::Unsupported,
                span,
                format!("{what} is not supported yet"),
                "not run by this version",
            )
            .help(instead.to_string()),
        );
    }

    /// Reports properties of `node` that are not in `allowed`.
    pub(crate) fn check_props(&mut self, node: &KdlNode, allowed: &[&str]) {
        for entry in node.entries() {
            let Some(key) = entry.name() else { continue };
            if allowed.contains(&key.value()) {
                continue;
            }
            let what = node.name().value();
            let mut p = Problem::new(
                ProblemKind::UnknownProperty,
                key.span(),
                format!("`{what}` has no property `{}`", key.value()),
                "unknown property",
            );
            p = match (suggest(key.value(), allowed), allowed.is_empty()) {
                (Some(s), _) => p.help(format!("did you mean `{s}`?")),
                (None, true) => p.help(format!("`{what}` takes no properties")),
                (None, false) => p.help(format!("`{what}` takes: {}", allowed.join(", "))),
            };
            self.push(p);
        }
    }

    /// Reports a block on a node that takes none.
    pub(crate) fn no_children(&mut self, node: &KdlNode) {
        if let Some(doc) = node.children() {
            self.push(
                Problem::new(
                    ProblemKind::UnknownNode,
                    doc.span(),
                    format!("`{}` takes no block", node.name().value()),
                    "unexpected block",
                )
                .help("remove the braces and what is between them"),
            );
        }
    }

    /// Checks that a node has at most `max` positional arguments.
    pub(crate) fn max_args(&mut self, node: &KdlNode, max: usize) {
        for extra in args(node).skip(max) {
            let name = node.name().value();
            let expected = match max {
                0 => format!("`{name}` takes no arguments"),
                1 => format!("`{name}` takes one argument"),
                n => format!("`{name}` takes at most {n} arguments"),
            };
            self.push(
                Problem::new(
                    ProblemKind::Value,
                    extra.span(),
                    format!("unexpected argument to `{name}`"),
                    "extra argument",
                )
                .help(expected),
            );
        }
    }

    /// A flag node: no arguments, no properties, no block.
    pub(crate) fn flag(&mut self, node: &KdlNode) {
        self.max_args(node, 0);
        self.check_props(node, &[]);
        self.no_children(node);
    }

    /// The `index`th positional argument, reporting it as missing if absent.
    pub(crate) fn arg<'a>(
        &mut self,
        node: &'a KdlNode,
        index: usize,
        what: &str,
    ) -> Option<&'a KdlEntry> {
        let found = args(node).nth(index);
        if found.is_none() {
            let name = node.name().value();
            self.push(
                Problem::new(
                    ProblemKind::Missing,
                    name_span(node),
                    format!("`{name}` needs {what}"),
                    "value missing",
                )
                .help(format!("write it after the name, e.g. `{name} <{what}>`")),
            );
        }
        found
    }

    /// The single argument of a setting node like `priority 150`.
    pub(crate) fn single<'a>(&mut self, node: &'a KdlNode, what: &str) -> Option<&'a KdlEntry> {
        self.max_args(node, 1);
        self.check_props(node, &[]);
        self.no_children(node);
        self.arg(node, 0, what)
    }

    fn type_error(&mut self, entry: &KdlEntry, expected: &str) {
        self.push(
            Problem::new(
                ProblemKind::Type,
                entry.span(),
                format!("expected {expected}, found {}", describe(entry.value())),
                format!("not {expected}"),
            )
            .help(match entry.value() {
                KdlValue::String(s) if s.parse::<f64>().is_ok() => {
                    "remove the quotes: numbers are written bare".to_string()
                }
                _ if expected == "a string" => "put the value in double quotes".to_string(),
                _ => format!("write {expected} here"),
            }),
        );
    }

    /// A string value.
    pub(crate) fn string<'a>(&mut self, entry: &'a KdlEntry) -> Option<&'a str> {
        match entry.value() {
            KdlValue::String(s) => Some(s),
            _ => {
                self.type_error(entry, "a string");
                None
            }
        }
    }

    /// A non-empty string value.
    pub(crate) fn nonempty<'a>(&mut self, entry: &'a KdlEntry) -> Option<&'a str> {
        let s = self.string(entry)?;
        if s.trim().is_empty() {
            self.push(Problem::new(
                ProblemKind::Value,
                entry.span(),
                "empty string",
                "must not be empty",
            ));
            return None;
        }
        Some(s)
    }

    /// A boolean value.
    pub(crate) fn boolean(&mut self, entry: &KdlEntry) -> Option<bool> {
        match entry.value() {
            KdlValue::Bool(b) => Some(*b),
            _ => {
                self.type_error(entry, "#true or #false");
                None
            }
        }
    }

    /// An integer in `lo..=hi`, converted to `T`.
    pub(crate) fn int<T>(&mut self, entry: &KdlEntry, lo: i128, hi: i128, what: &str) -> Option<T>
    where
        T: TryFrom<i128>,
    {
        let KdlValue::Integer(v) = entry.value() else {
            self.type_error(entry, "an integer");
            return None;
        };
        if !(lo..=hi).contains(v) {
            self.push(
                Problem::new(
                    ProblemKind::Value,
                    entry.span(),
                    format!("{what} {v} is out of range"),
                    format!("must be {lo}..={hi}"),
                )
                .help(format!("{what} must be between {lo} and {hi}")),
            );
            return None;
        }
        T::try_from(*v).ok()
    }

    /// A number (integer or fraction).
    pub(crate) fn number(&mut self, entry: &KdlEntry) -> Option<f64> {
        match entry.value() {
            KdlValue::Integer(i) => Some(*i as f64),
            KdlValue::Float(f) => Some(*f),
            _ => {
                self.type_error(entry, "a number");
                None
            }
        }
    }

    /// A duration in seconds (fractions allowed) within `lo..=hi` seconds.
    pub(crate) fn seconds(
        &mut self,
        entry: &KdlEntry,
        lo: f64,
        hi: f64,
        what: &str,
    ) -> Option<Duration> {
        let v = self.number(entry)?;
        if !(lo..=hi).contains(&v) || !v.is_finite() {
            self.push(
                Problem::new(
                    ProblemKind::Value,
                    entry.span(),
                    format!("{what} {v} s is out of range"),
                    format!("must be {lo}..={hi} seconds"),
                )
                .help(format!("{what} is in seconds, between {lo} and {hi}")),
            );
            return None;
        }
        Some(Duration::from_secs_f64(v))
    }

    /// Records the first occurrence of a singleton node; reports later ones.
    pub(crate) fn once<'a>(&mut self, seen: &mut HashMap<&'a str, SourceSpan>, node: &'a KdlNode) {
        let name = node.name().value();
        match seen.get(name) {
            Some(first) => self.push(
                Problem::new(
                    ProblemKind::Duplicate,
                    name_span(node),
                    format!("`{name}` is given more than once"),
                    "second occurrence",
                )
                .also(*first, "first given here")
                .help(format!("keep one `{name}`")),
            ),
            None => {
                seen.insert(name, name_span(node));
            }
        }
    }
}
