//! Diagnostics with stable codes, collected by every checking stage and rendered with miette.
//!
//! Every diagnostic carries a stable code, a message, labelled spans (the
//! primary one says where to look, secondary ones say "first defined here")
//! and a help line saying how to fix it. Each code has a fixture under
//! `specs/invalid/<CODE>-<slug>/`.
//!
//! | code  | meaning |
//! |-------|---------|
//! | E0001 | YAML syntax error |
//! | E0002 | the same key appears twice in one mapping |
//! | E0003 | YAML that has no JSON equivalent (non-scalar key, bad tagged value, NaN/infinity) |
//! | E0101 | document without a `kind`, or with a kind this version does not know |
//! | E0102 | unknown field (closest field name suggested) |
//! | E0103 | missing required field |
//! | E0104 | value is not one of the allowed values (closest value suggested) |
//! | E0105 | value has the wrong type (e.g. a string where a number belongs) |
//! | E0106 | value breaks a limit: name syntax, length, range, item count |
//! | E0201 | two documents of the same kind share a name |
//! | E0202 | more than one `Gateway` document in a spec folder |
//! | E0203 | two Model APIs claim the same domain + base path pair |
//! | E0204 | `modelService` or `fallback` names an AIService that does not exist |
//! | E0205 | protocol not allowed for the Model API's use case |
//! | E0206 | use case + protocol pair allowed, but not served by this version yet |
//! | E0207 | invalid base path (no leading `/`, `..`, `//`, `?`, `#`, `{`, `}`, `*`) |
//! | E0208 | invalid domain (uppercase, port, misplaced `*`, bad label) |
//! | E0209 | invalid `baseUrl` (not http/https, no host, query, fragment, user info) |
//! | E0210 | no `baseUrl` for a provider without a default (`vllm`, `azure-openai`, `comfyui`, `openai-compatible`) |
//! | E0211 | `baseUrl` on a `provider: mock` service |
//! | E0212 | `mock:` settings on a service whose provider is not `mock` |
//! | E0213 | `apiKey.env` is not an environment variable name |
//! | E0214 | `listen` is not an `ip:port` socket address |
//! | E0215 | two `byModelName` rules of one Model API have exactly equal patterns |
//! | E0216 | invalid `byModelName` glob (empty, or characters model names do not use) |
//! | E0217 | `byProportion` weights that sum to 0 (nothing could be served) |
//! | E0218 | provider settings (`azure:`, `dashscope:`) on a service of another provider |
//! | E0219 | a service a Model API names that can serve none of its routes, natively or by conversion |
//! | W0201 | an AIService that no Model API uses |
//! | W0202 | a `baseUrl` ending in `/v1` (request paths already start with `/v1`) |
//! | W0203 | a spec folder without any Model API (the gateway would answer 404 to everything) |
//! | W0204 | a `byModelName` rule no model can reach (a higher-precedence rule matches all it matches) |
//! | W0205 | a fallback target that is never tried (a request never tries the same target twice) |
//! | W0206 | `byMetrics` with fewer than 2 targets (nothing to choose between) |
//! | W0207 | a service serves some of a Model API's routes but not all (e.g. legacy `completions` on `anthropic`) |

use std::fmt;

use crate::source::{FileId, Span, SpecFolder};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Error,
    Warning,
}

/// Stable diagnostic codes (E00 syntax, E01 schema, E02 semantic, W02 warnings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Code {
    YamlSyntax,
    DuplicateKey,
    UnsupportedYaml,
    UnknownKind,
    UnknownField,
    MissingField,
    NotOneOf,
    WrongType,
    OutOfLimits,
    DuplicateName,
    MultipleGateways,
    DuplicateDomainBase,
    UnknownService,
    ProtocolNotAllowed,
    ProtocolNotSupportedYet,
    InvalidBasePath,
    InvalidDomain,
    InvalidBaseUrl,
    MissingBaseUrl,
    BaseUrlForbidden,
    MockSettingsForbidden,
    InvalidEnvVarName,
    InvalidListen,
    DuplicatePattern,
    InvalidGlob,
    ZeroWeightSum,
    ProviderSettingsForbidden,
    ProviderCannotServe,
    UnusedService,
    BaseUrlEndsWithV1,
    NoModelApis,
    UnreachableRule,
    FallbackNeverTried,
    MetricsFewTargets,
    RouteNotServed,
}

impl Code {
    pub const ALL: [Code; 35] = [
        Code::YamlSyntax,
        Code::DuplicateKey,
        Code::UnsupportedYaml,
        Code::UnknownKind,
        Code::UnknownField,
        Code::MissingField,
        Code::NotOneOf,
        Code::WrongType,
        Code::OutOfLimits,
        Code::DuplicateName,
        Code::MultipleGateways,
        Code::DuplicateDomainBase,
        Code::UnknownService,
        Code::ProtocolNotAllowed,
        Code::ProtocolNotSupportedYet,
        Code::InvalidBasePath,
        Code::InvalidDomain,
        Code::InvalidBaseUrl,
        Code::MissingBaseUrl,
        Code::BaseUrlForbidden,
        Code::MockSettingsForbidden,
        Code::InvalidEnvVarName,
        Code::InvalidListen,
        Code::DuplicatePattern,
        Code::InvalidGlob,
        Code::ZeroWeightSum,
        Code::ProviderSettingsForbidden,
        Code::ProviderCannotServe,
        Code::UnusedService,
        Code::BaseUrlEndsWithV1,
        Code::NoModelApis,
        Code::UnreachableRule,
        Code::FallbackNeverTried,
        Code::MetricsFewTargets,
        Code::RouteNotServed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Code::YamlSyntax => "E0001",
            Code::DuplicateKey => "E0002",
            Code::UnsupportedYaml => "E0003",
            Code::UnknownKind => "E0101",
            Code::UnknownField => "E0102",
            Code::MissingField => "E0103",
            Code::NotOneOf => "E0104",
            Code::WrongType => "E0105",
            Code::OutOfLimits => "E0106",
            Code::DuplicateName => "E0201",
            Code::MultipleGateways => "E0202",
            Code::DuplicateDomainBase => "E0203",
            Code::UnknownService => "E0204",
            Code::ProtocolNotAllowed => "E0205",
            Code::ProtocolNotSupportedYet => "E0206",
            Code::InvalidBasePath => "E0207",
            Code::InvalidDomain => "E0208",
            Code::InvalidBaseUrl => "E0209",
            Code::MissingBaseUrl => "E0210",
            Code::BaseUrlForbidden => "E0211",
            Code::MockSettingsForbidden => "E0212",
            Code::InvalidEnvVarName => "E0213",
            Code::InvalidListen => "E0214",
            Code::DuplicatePattern => "E0215",
            Code::InvalidGlob => "E0216",
            Code::ZeroWeightSum => "E0217",
            Code::ProviderSettingsForbidden => "E0218",
            Code::ProviderCannotServe => "E0219",
            Code::UnusedService => "W0201",
            Code::BaseUrlEndsWithV1 => "W0202",
            Code::NoModelApis => "W0203",
            Code::UnreachableRule => "W0204",
            Code::FallbackNeverTried => "W0205",
            Code::MetricsFewTargets => "W0206",
            Code::RouteNotServed => "W0207",
        }
    }

    /// The severity a code always has: `E` codes are errors, `W` codes warnings.
    pub fn severity(self) -> Severity {
        if self.as_str().starts_with('W') {
            Severity::Warning
        } else {
            Severity::Error
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub span: Span,
    pub message: String,
    pub primary: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    pub message: String,
    pub labels: Vec<Label>,
    pub help: Option<String>,
}

impl Diagnostic {
    /// A diagnostic whose severity follows from its code.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            severity: code.severity(),
            message: message.into(),
            labels: Vec::new(),
            help: None,
        }
    }

    /// Adds the span the user must look at.
    pub fn primary(mut self, span: Span, message: impl Into<String>) -> Self {
        self.labels.push(Label {
            span,
            message: message.into(),
            primary: true,
        });
        self
    }

    /// Adds a related span, e.g. "first defined here".
    pub fn secondary(mut self, span: Span, message: impl Into<String>) -> Self {
        self.labels.push(Label {
            span,
            message: message.into(),
            primary: false,
        });
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// The span the diagnostic is about: its primary label, else its first one.
    pub fn main_span(&self) -> Option<Span> {
        self.labels
            .iter()
            .find(|l| l.primary)
            .or_else(|| self.labels.first())
            .map(|l| l.span)
    }
}

#[derive(Debug, Clone, Default)]
pub struct Diagnostics {
    pub items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        self.items.push(d)
    }
    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Error)
    }
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
    /// Number of diagnostics with this severity (for the CLI's summary line).
    pub fn count(&self, severity: Severity) -> usize {
        self.items.iter().filter(|d| d.severity == severity).count()
    }
    /// The codes present, sorted and de-duplicated.
    pub fn codes(&self) -> Vec<Code> {
        let mut codes: Vec<Code> = self.items.iter().map(|d| d.code).collect();
        codes.sort_unstable();
        codes.dedup();
        codes
    }
    /// Diagnostics in render order: file, then position, then code; folder-wide ones last.
    pub fn sorted(&self) -> Vec<&Diagnostic> {
        let mut items: Vec<&Diagnostic> = self.items.iter().collect();
        items.sort_by_key(|d| {
            let position = d.main_span().map(|s| (s.file, s.start, s.end));
            (position.is_none(), position, d.code, d.message.clone())
        });
        items
    }
}

/// The candidate closest to `input`, if one is close enough to be a plausible typo.
///
/// Case, `-` and `_` are ignored first (`strip_base_path` -> `stripBasePath`);
/// otherwise the edit distance must be at most a third of the length (min 1).
pub fn closest_match<'c>(
    input: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<&'c str> {
    let fold = |s: &str| -> Vec<char> {
        s.chars()
            .filter(|c| *c != '-' && *c != '_')
            .flat_map(char::to_lowercase)
            .collect()
    };
    let wanted = fold(input);
    let limit = (wanted.len() / 3).max(1);
    candidates
        .into_iter()
        .filter(|c| *c != input)
        .map(|c| (edit_distance(&wanted, &fold(c)), c))
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, c)| (*distance, *c))
        .map(|(_, c)| c)
}

/// Edit distance counting a swap of two neighbours as one edit (typos like `mokc`).
fn edit_distance(a: &[char], b: &[char]) -> usize {
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = floor_char_boundary(text, offset.min(text.len()));
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while offset > 0 && !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// Renders diagnostics as text: `file:line:col`, code, message, labels, help. No colour when `colour` is false.
///
/// Fixed width (100 columns) and a stable order (file, position, code), so
/// the output is usable as a snapshot.
pub fn render(diagnostics: &Diagnostics, folder: &SpecFolder, colour: bool) -> String {
    let theme = if colour {
        miette::GraphicalTheme::unicode()
    } else {
        miette::GraphicalTheme::unicode_nocolor()
    };
    let mut handler = miette::GraphicalReportHandler::new_themed(theme)
        .with_width(100)
        .with_links(false)
        // The location goes into the source name (see `Report::new`): miette
        // counts columns in bytes, users count characters.
        .without_primary_span_start();
    if !colour {
        handler = handler.without_syntax_highlighting();
    }
    let mut out = String::new();
    for diagnostic in diagnostics.sorted() {
        let report = Report::new(diagnostic, folder);
        if handler.render_report(&mut out, &report).is_err() {
            // Spans always come from the folder's own text; still, never lose a diagnostic.
            out.push_str(&format!("{}: {}\n", diagnostic.code, diagnostic.message));
        }
        out.push('\n');
    }
    out
}

/// One diagnostic (or the part of it that lives in one file) adapted to miette.
#[derive(Debug)]
struct Report {
    code: Option<Code>,
    severity: miette::Severity,
    message: String,
    help: Option<String>,
    source: Option<miette::NamedSource<String>>,
    labels: Vec<miette::LabeledSpan>,
    related: Vec<Report>,
}

impl Report {
    fn new(diagnostic: &Diagnostic, folder: &SpecFolder) -> Report {
        let severity = match diagnostic.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        };
        let main_file = diagnostic.main_span().map(|s| s.file);
        let mut report = Report {
            code: Some(diagnostic.code),
            severity,
            message: diagnostic.message.clone(),
            help: diagnostic.help.clone(),
            source: None,
            labels: Vec::new(),
            related: Vec::new(),
        };
        if let Some(file) = main_file {
            report.attach(folder, file, &diagnostic.labels);
        }
        // miette shows one source per report: labels in other files become notes.
        let mut other_files: Vec<FileId> = diagnostic
            .labels
            .iter()
            .map(|l| l.span.file)
            .filter(|f| Some(*f) != main_file)
            .collect();
        other_files.sort_unstable();
        other_files.dedup();
        for file in other_files {
            let labels: Vec<Label> = diagnostic
                .labels
                .iter()
                .filter(|l| l.span.file == file)
                .cloned()
                .collect();
            let message = labels
                .first()
                .map(|l| l.message.clone())
                .unwrap_or_default();
            let mut note = Report {
                code: None,
                severity: miette::Severity::Advice,
                message,
                help: None,
                source: None,
                labels: Vec::new(),
                related: Vec::new(),
            };
            note.attach(folder, file, &labels);
            report.related.push(note);
        }
        report
    }

    fn attach(&mut self, folder: &SpecFolder, file: FileId, labels: &[Label]) {
        let Some(source) = folder.files.get(file) else {
            return;
        };
        let in_file: Vec<&Label> = labels.iter().filter(|l| l.span.file == file).collect();
        let anchor = in_file
            .iter()
            .find(|l| l.primary)
            .or_else(|| in_file.first())
            .map_or(0, |l| l.span.start);
        let (line, column) = line_col(&source.text, anchor);
        let name = format!("{}/{}:{line}:{column}", folder.display, source.name);
        self.source = Some(miette::NamedSource::new(name, source.text.clone()));
        for label in in_file {
            let start = floor_char_boundary(&source.text, label.span.start.min(source.text.len()));
            let end = floor_char_boundary(&source.text, label.span.end.min(source.text.len()));
            let text = (!label.message.is_empty()).then(|| label.message.clone());
            let span = miette::SourceSpan::from((start, end.saturating_sub(start)));
            self.labels.push(if label.primary {
                miette::LabeledSpan::new_primary_with_span(text, span)
            } else {
                miette::LabeledSpan::new_with_span(text, span)
            });
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Report {}

impl miette::Diagnostic for Report {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.code.map(|c| Box::new(c) as Box<dyn fmt::Display>)
    }
    fn severity(&self) -> Option<miette::Severity> {
        Some(self.severity)
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h.as_str()) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        if self.labels.is_empty() {
            None
        } else {
            Some(Box::new(self.labels.iter().cloned()))
        }
    }
    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        if self.related.is_empty() {
            None
        } else {
            Some(Box::new(
                self.related.iter().map(|r| r as &dyn miette::Diagnostic),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::SourceFile;

    fn folder(files: &[(&str, &str)]) -> SpecFolder {
        SpecFolder {
            display: "specs/test".into(),
            files: files
                .iter()
                .map(|(name, text)| SourceFile {
                    name: (*name).into(),
                    text: (*text).into(),
                })
                .collect(),
        }
    }

    #[test]
    fn codes_are_unique_and_grouped_by_stage() {
        let mut seen = std::collections::BTreeSet::new();
        for code in Code::ALL {
            assert!(seen.insert(code.as_str()), "{code:?} reused");
            assert_eq!(code.as_str().len(), 5);
        }
        assert_eq!(Code::UnusedService.severity(), Severity::Warning);
        assert_eq!(Code::DuplicateDomainBase.severity(), Severity::Error);
    }

    #[test]
    fn closest_match_finds_typos_and_case_variants() {
        let fields = ["stripBasePath", "basePath", "protocol"];
        assert_eq!(
            closest_match("strip_base_path", fields),
            Some("stripBasePath")
        );
        assert_eq!(closest_match("protocl", fields), Some("protocol"));
        assert_eq!(closest_match("zzz", fields), None);
        assert_eq!(closest_match("mokc", ["mock", "openai"]), Some("mock"));
    }

    #[test]
    fn line_col_counts_characters() {
        let text = "a: é\nbé: x";
        let offset = text.find(": x").unwrap();
        assert_eq!(line_col(text, offset), (2, 3));
        assert_eq!(line_col(text, 0), (1, 1));
    }

    #[test]
    fn render_shows_location_code_message_labels_and_help() {
        let folder = folder(&[("a.yaml", "kind: ModelAPI\nnamee: chat\n")]);
        let mut diagnostics = Diagnostics::default();
        diagnostics.push(
            Diagnostic::new(Code::UnknownField, "unknown field `namee`")
                .primary(
                    Span {
                        file: 0,
                        start: 15,
                        end: 20,
                    },
                    "not a ModelAPI field",
                )
                .help("did you mean `name`?"),
        );
        let text = render(&diagnostics, &folder, false);
        assert!(text.contains("specs/test/a.yaml:2:1"), "{text}");
        assert!(text.contains("E0102"), "{text}");
        assert!(text.contains("unknown field `namee`"), "{text}");
        assert!(text.contains("not a ModelAPI field"), "{text}");
        assert!(text.contains("did you mean `name`?"), "{text}");
        assert!(!text.contains('\u{1b}'), "no colour codes: {text}");
    }

    #[test]
    fn render_orders_by_file_then_position_and_shows_other_files_as_notes() {
        let folder = folder(&[("a.yaml", "name: x\nname2: y\n"), ("b.yaml", "name: x\n")]);
        let span = |file, start, end| Span { file, start, end };
        let mut diagnostics = Diagnostics::default();
        diagnostics
            .push(Diagnostic::new(Code::DuplicateName, "second").primary(span(1, 6, 7), "again"));
        diagnostics.push(
            Diagnostic::new(Code::UnknownField, "first")
                .primary(span(0, 8, 13), "here")
                .secondary(span(1, 0, 4), "other file"),
        );
        let text = render(&diagnostics, &folder, false);
        let first = text.find("first").unwrap();
        let second = text.find("second").unwrap();
        assert!(first < second, "{text}");
        assert!(text.contains("specs/test/b.yaml:1:1"), "{text}");
        assert!(text.contains("specs/test/b.yaml:1:7"), "{text}");
    }
}
