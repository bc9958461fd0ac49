//! Configuration errors: one [`Problem`] per mistake, all of them collected
//! into a [`ConfigError`] that miette renders with file, line, column and the
//! offending token underlined.

use std::fmt;
use std::sync::Arc;

use miette::{
    Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceSpan,
};

/// The kind of a configuration problem; its name is the diagnostic code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProblemKind {
    /// The text is not valid KDL.
    Syntax,
    /// A node name that is not known where it appears.
    UnknownNode,
    /// A property name that the node does not take.
    UnknownProperty,
    /// A required node, argument or property is absent.
    Missing,
    /// A value of the wrong type (string for number, ...).
    Type,
    /// A value outside its allowed range or set.
    Value,
    /// A node given twice where only one is allowed, or a name defined twice.
    Duplicate,
    /// A reference to something that is not defined.
    Reference,
    /// Settings that contradict each other (version rules, families, ...).
    Conflict,
    /// The file could not be read.
    Io,
    /// A setting holdfast knows but does not run yet: accepting it would
    /// make a configuration look right and silently do nothing.
    Unsupported,
}

impl ProblemKind {
    /// The diagnostic code shown to users.
    pub fn code(self) -> &'static str {
        match self {
            Self::Syntax => "holdfast::config::syntax",
            Self::UnknownNode => "holdfast::config::unknown-node",
            Self::UnknownProperty => "holdfast::config::unknown-property",
            Self::Missing => "holdfast::config::missing",
            Self::Type => "holdfast::config::type",
            Self::Value => "holdfast::config::value",
            Self::Duplicate => "holdfast::config::duplicate",
            Self::Reference => "holdfast::config::reference",
            Self::Conflict => "holdfast::config::conflict",
            Self::Io => "holdfast::config::io",
            Self::Unsupported => "holdfast::config::unsupported",
        }
    }
}

/// One mistake in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// What kind of mistake.
    pub kind: ProblemKind,
    /// One-line description.
    pub message: String,
    /// The offending token.
    pub span: SourceSpan,
    /// Text under the underline.
    pub label: String,
    /// Related places (e.g. the first definition of a duplicate).
    pub secondary: Vec<(SourceSpan, String)>,
    /// How to fix it.
    pub help: Option<String>,
}

impl Problem {
    /// A problem at `span`.
    pub fn new(
        kind: ProblemKind,
        span: impl Into<SourceSpan>,
        message: impl Into<String>,
        label: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            message: message.into(),
            span: span.into(),
            label: label.into(),
            secondary: Vec::new(),
            help: None,
        }
    }

    /// Adds a help line.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Points at a second, related place.
    pub fn also(mut self, span: impl Into<SourceSpan>, label: impl Into<String>) -> Self {
        self.secondary.push((span.into(), label.into()));
        self
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Problem {}

impl Diagnostic for Problem {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.kind.code()))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let primary = LabeledSpan::new_primary_with_span(Some(self.label.clone()), self.span);
        let secondary = self
            .secondary
            .iter()
            .map(|(span, label)| LabeledSpan::new_with_span(Some(label.clone()), *span));
        Some(Box::new(std::iter::once(primary).chain(secondary)))
    }
}

/// Every problem found in one configuration file.
#[derive(Debug, Clone)]
pub struct ConfigError {
    source: NamedSource<Arc<str>>,
    /// The problems, in source order.
    pub problems: Vec<Problem>,
}

impl ConfigError {
    pub(crate) fn new(name: &str, text: Arc<str>, mut problems: Vec<Problem>) -> Self {
        problems.sort_by_key(|p| (p.span.offset(), p.span.len()));
        // Two passes (syntax, semantics) can flag the same token for the same reason.
        problems.dedup_by(|a, b| a.span == b.span && a.message == b.message);
        Self {
            source: NamedSource::new(name, text),
            problems,
        }
    }

    /// The file name the diagnostics refer to.
    pub fn file_name(&self) -> &str {
        self.source.name()
    }

    /// Every problem as one line, `file:line:col: message` (for logs).
    pub fn located(&self) -> Vec<String> {
        let text: &str = self.source.inner();
        self.problems
            .iter()
            .map(|p| {
                let offset = p.span.offset().min(text.len());
                let before = &text[..offset];
                let line = before.matches('\n').count() + 1;
                let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                format!("{}:{line}:{col}: {}", self.source.name(), p.message)
            })
            .collect()
    }

    /// Renders every problem as the CLI prints it, without colours when
    /// `color` is false (that form is what the golden tests compare).
    pub fn render(&self, color: bool) -> String {
        let theme = if color {
            GraphicalTheme::unicode()
        } else {
            GraphicalTheme::unicode_nocolor()
        };
        let handler = GraphicalReportHandler::new_themed(theme)
            .with_width(100)
            .with_links(false);
        let mut out = String::new();
        // Rendering into a String cannot fail.
        let _ = handler.render_report(&mut out, self);
        out
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        write!(
            f,
            "{} has {n} error{}",
            self.source.name(),
            if n == 1 { "" } else { "s" }
        )
    }
}

impl std::error::Error for ConfigError {}

impl Diagnostic for ConfigError {
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.source)
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        Some(Box::new(self.problems.iter().map(|p| p as &dyn Diagnostic)))
    }
}
