//! TODO(owner: front-end helper): diagnostics with stable codes, rendered with miette.
use crate::source::{SpecFolder, Span};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity { Error, Warning }

/// Stable diagnostic codes (E00 syntax, E01 schema, E02 semantic, W.. warnings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Code { YamlSyntax }
impl Code { pub fn as_str(self) -> &'static str { "E0001" } }

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label { pub span: Span, pub message: String, pub primary: bool }

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic { pub code: Code, pub severity: Severity, pub message: String, pub labels: Vec<Label>, pub help: Option<String> }

#[derive(Debug, Clone, Default)]
pub struct Diagnostics { pub items: Vec<Diagnostic> }
impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) { self.items.push(d) }
    pub fn has_errors(&self) -> bool { self.items.iter().any(|d| d.severity == Severity::Error) }
    pub fn is_empty(&self) -> bool { self.items.is_empty() }
}

/// Renders diagnostics as text: `file:line:col`, code, message, labels, help. No colour when `colour` is false.
pub fn render(diagnostics: &Diagnostics, folder: &SpecFolder, colour: bool) -> String { let _ = (diagnostics, folder, colour); String::new() }
