//! YAML text -> JSON documents that remember, for every node, where it was written.
//!
//! saphyr parses with positions; each document becomes a `serde_json::Value`
//! (what the JSON Schema validator and the AST builder read) plus a table from
//! JSON pointer to the span of the value and, for mapping entries, of the key.
//! saphyr's markers count characters; spans here are byte offsets.

use std::collections::BTreeMap;

use saphyr::{LoadableYamlNode, MarkedYamlOwned, Marker, ScalarOwned, YamlDataOwned};
use serde_json::Value;

use crate::{
    diagnostic::{Code, Diagnostic, Diagnostics},
    source::{FileId, Span, SpecFolder},
};

/// Where one node was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeSpans {
    pub value: Span,
    /// The key of the mapping entry holding the value; `None` for the
    /// document root and sequence items.
    pub key: Option<Span>,
}

/// One YAML document of a spec file.
#[derive(Debug, Clone)]
pub struct Document {
    pub file: FileId,
    /// The spec file's name, relative to the folder.
    pub file_name: String,
    /// Index of the document within its file (0-based).
    pub index: usize,
    pub value: Value,
    /// The whole document.
    pub span: Span,
    /// JSON pointer (`""` for the root, `/modelService/single`) -> spans.
    pub spans: BTreeMap<String, NodeSpans>,
    /// Some node could not become JSON (already reported): later stages skip
    /// the document rather than report the placeholder `null` again.
    pub has_yaml_errors: bool,
}

impl Document {
    /// `kind` as written, when it is a string.
    pub fn kind(&self) -> Option<&str> {
        self.value.get("kind").and_then(Value::as_str)
    }

    /// `name` as written, when it is a string.
    pub fn name(&self) -> Option<&str> {
        self.value.get("name").and_then(Value::as_str)
    }

    /// The span of the value at `pointer`, or of its nearest recorded ancestor.
    pub fn value_span(&self, pointer: &str) -> Span {
        self.nearest(pointer).map_or(self.span, |n| n.value)
    }

    /// The span of the key holding `pointer`, falling back to its value.
    pub fn key_span(&self, pointer: &str) -> Span {
        match self.spans.get(pointer) {
            Some(NodeSpans { key: Some(key), .. }) => *key,
            _ => self.value_span(pointer),
        }
    }

    /// From the key to the end of the value: `kind: ModelAPI`.
    pub fn entry_span(&self, pointer: &str) -> Span {
        match self.spans.get(pointer) {
            Some(NodeSpans {
                key: Some(key),
                value,
            }) if key.file == value.file && value.end >= key.start => Span {
                file: key.file,
                start: key.start,
                end: value.end,
            },
            _ => self.value_span(pointer),
        }
    }

    /// Where to point when a mapping lacks a field: the key that opens the
    /// mapping, or for the document root its `kind:` line.
    pub fn mapping_span(&self, pointer: &str) -> Span {
        if pointer.is_empty() {
            if self.spans.contains_key("/kind") {
                return self.entry_span("/kind");
            }
            return Span {
                end: self.span.start,
                ..self.span
            };
        }
        self.key_span(pointer)
    }

    fn nearest(&self, pointer: &str) -> Option<&NodeSpans> {
        let mut pointer = pointer;
        loop {
            if let Some(spans) = self.spans.get(pointer) {
                return Some(spans);
            }
            let cut = pointer.rfind('/')?;
            pointer = &pointer[..cut];
        }
    }
}

/// Escapes one JSON pointer segment (RFC 6901).
pub fn escape_segment(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// Parses every file of the folder; empty files and empty documents are skipped.
pub fn parse(folder: &SpecFolder, diagnostics: &mut Diagnostics) -> Vec<Document> {
    let mut documents = Vec::new();
    for (file, source) in folder.files.iter().enumerate() {
        parse_file(
            file,
            &source.name,
            &source.text,
            diagnostics,
            &mut documents,
        );
    }
    documents
}

fn parse_file(
    file: FileId,
    file_name: &str,
    text: &str,
    diagnostics: &mut Diagnostics,
    documents: &mut Vec<Document>,
) {
    let offsets = CharOffsets::new(text);
    let roots = match MarkedYamlOwned::load_from_str(text) {
        Ok(roots) => roots,
        Err(error) => {
            diagnostics.push(scan_error(file, text, &offsets, &error));
            return;
        }
    };
    for (index, root) in roots.iter().enumerate() {
        if matches!(
            root.data,
            YamlDataOwned::BadValue | YamlDataOwned::Value(ScalarOwned::Null)
        ) {
            continue;
        }
        let mut converter = Converter {
            file,
            text,
            offsets: &offsets,
            spans: BTreeMap::new(),
            diagnostics,
        };
        let errors_before = converter.diagnostics.items.len();
        let span = converter.span(&root.span.start, &root.span.end);
        let value = converter.convert(root, String::new(), None);
        let has_yaml_errors = converter.diagnostics.items.len() > errors_before;
        let spans = converter.spans;
        documents.push(Document {
            file,
            file_name: file_name.to_string(),
            index,
            value,
            span,
            spans,
            has_yaml_errors,
        });
    }
}

fn scan_error(
    file: FileId,
    text: &str,
    offsets: &CharOffsets,
    error: &saphyr::ScanError,
) -> Diagnostic {
    let start = offsets.byte(error.marker().index());
    let info = error.info();
    if info.contains("duplicated key") {
        let key = key_text_at(text, start);
        return Diagnostic::new(Code::DuplicateKey, format!("duplicate key `{key}`"))
            .primary(
                Span {
                    file,
                    start,
                    end: start + key.len(),
                },
                "this key appears earlier in the same mapping",
            )
            .help("each key may appear once per mapping: remove or merge one of them");
    }
    let end = next_char_end(text, start);
    Diagnostic::new(Code::YamlSyntax, format!("YAML syntax error: {info}"))
        .primary(Span { file, start, end }, "here")
        .help("fix the YAML syntax; indentation must be consistent and `key: value` needs a space after the colon")
}

/// The plain key text starting at `start` (up to the `:` on the same line).
fn key_text_at(text: &str, start: usize) -> &str {
    let rest = &text[start.min(text.len())..];
    let line = rest.split('\n').next().unwrap_or_default();
    line.split(':').next().unwrap_or_default().trim_end()
}

fn next_char_end(text: &str, start: usize) -> usize {
    text[start.min(text.len())..]
        .chars()
        .next()
        .map_or(start, |c| start + c.len_utf8())
}

/// Char index -> byte offset, for saphyr's character-counting markers.
struct CharOffsets {
    /// Byte offset of each char; `None` when the text is ASCII (identity).
    table: Option<Vec<usize>>,
    len: usize,
}

impl CharOffsets {
    fn new(text: &str) -> Self {
        let table = (!text.is_ascii()).then(|| text.char_indices().map(|(b, _)| b).collect());
        CharOffsets {
            table,
            len: text.len(),
        }
    }

    fn byte(&self, char_index: usize) -> usize {
        match &self.table {
            None => char_index.min(self.len),
            Some(table) => table.get(char_index).copied().unwrap_or(self.len),
        }
    }
}

struct Converter<'a> {
    file: FileId,
    text: &'a str,
    offsets: &'a CharOffsets,
    spans: BTreeMap<String, NodeSpans>,
    diagnostics: &'a mut Diagnostics,
}

impl Converter<'_> {
    /// A byte span with trailing blanks trimmed: containers end where the next token starts.
    fn span(&self, start: &Marker, end: &Marker) -> Span {
        let start = self.offsets.byte(start.index());
        let mut end = self.offsets.byte(end.index()).max(start);
        let bytes = self.text.as_bytes();
        while end > start && bytes[end - 1].is_ascii_whitespace() {
            end -= 1;
        }
        Span {
            file: self.file,
            start,
            end,
        }
    }

    fn convert(&mut self, node: &MarkedYamlOwned, pointer: String, key: Option<Span>) -> Value {
        let value_span = self.span(&node.span.start, &node.span.end);
        self.spans.insert(
            pointer.clone(),
            NodeSpans {
                value: value_span,
                key,
            },
        );
        match &node.data {
            YamlDataOwned::Value(scalar) => self.scalar(scalar, value_span),
            YamlDataOwned::Representation(text, _, _) => Value::String(text.clone()),
            YamlDataOwned::Sequence(items) => Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| self.convert(item, format!("{pointer}/{i}"), None))
                    .collect(),
            ),
            YamlDataOwned::Mapping(entries) => {
                let mut object = serde_json::Map::new();
                for (key_node, value_node) in entries {
                    let key_span = self.span(&key_node.span.start, &key_node.span.end);
                    let Some(key_text) = self.key_text(key_node, key_span) else {
                        continue;
                    };
                    let child = format!("{pointer}/{}", escape_segment(&key_text));
                    let value = self.convert(value_node, child, Some(key_span));
                    object.insert(key_text, value);
                }
                Value::Object(object)
            }
            YamlDataOwned::Tagged(_, inner) => self.convert(inner, pointer, key),
            YamlDataOwned::Alias(_) | YamlDataOwned::BadValue => {
                self.diagnostics.push(
                    Diagnostic::new(
                        Code::UnsupportedYaml,
                        "this value does not match its YAML tag",
                    )
                    .primary(value_span, "cannot be read as its tagged type")
                    .help("remove the tag (e.g. `!!int`) or write a value of that type"),
                );
                Value::Null
            }
        }
    }

    fn scalar(&mut self, scalar: &ScalarOwned, span: Span) -> Value {
        match scalar {
            ScalarOwned::Null => Value::Null,
            ScalarOwned::Boolean(b) => Value::Bool(*b),
            ScalarOwned::Integer(i) => Value::from(*i),
            ScalarOwned::FloatingPoint(f) => match serde_json::Number::from_f64(f.0) {
                Some(number) => Value::Number(number),
                None => {
                    self.diagnostics.push(
                        Diagnostic::new(Code::UnsupportedYaml, "NaN and infinity are not allowed")
                            .primary(span, "not a finite number")
                            .help("write a finite number"),
                    );
                    Value::Null
                }
            },
            ScalarOwned::String(s) => Value::String(s.clone()),
        }
    }

    /// Mapping keys become JSON object keys: scalars by their text, anything else is an error.
    fn key_text(&mut self, key: &MarkedYamlOwned, span: Span) -> Option<String> {
        match &key.data {
            YamlDataOwned::Value(ScalarOwned::String(s)) => Some(s.clone()),
            YamlDataOwned::Value(ScalarOwned::Integer(i)) => Some(i.to_string()),
            YamlDataOwned::Value(ScalarOwned::Boolean(b)) => Some(b.to_string()),
            YamlDataOwned::Value(ScalarOwned::FloatingPoint(_) | ScalarOwned::Null) => {
                Some(self.text[span.start..span.end].to_string())
            }
            YamlDataOwned::Tagged(_, inner) => self.key_text(inner, span),
            _ => {
                self.diagnostics.push(
                    Diagnostic::new(Code::UnsupportedYaml, "mapping keys must be plain strings")
                        .primary(span, "a list or mapping used as a key")
                        .help("use a field name such as `name:` as the key"),
                );
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::SourceFile;

    fn parse_files(files: &[(&str, &str)]) -> (Vec<Document>, Diagnostics, SpecFolder) {
        let folder = SpecFolder {
            display: "specs/t".into(),
            files: files
                .iter()
                .map(|(name, text)| SourceFile {
                    name: (*name).into(),
                    text: (*text).into(),
                })
                .collect(),
        };
        let mut diagnostics = Diagnostics::default();
        let documents = parse(&folder, &mut diagnostics);
        (documents, diagnostics, folder)
    }

    fn at(folder: &SpecFolder, span: Span) -> &str {
        &folder.files[span.file].text[span.start..span.end]
    }

    #[test]
    fn records_value_and_key_spans_per_pointer() {
        let text = "kind: ModelAPI\nmodelService:\n  single: { service: mock, model: m }\ndomains: [a.com, \"*\"]\n";
        let (documents, diagnostics, folder) = parse_files(&[("a.yaml", text)]);
        assert!(diagnostics.is_empty());
        let doc = &documents[0];
        assert_eq!(doc.value["modelService"]["single"]["service"], "mock");
        assert_eq!(
            at(&folder, doc.value_span("/modelService/single/service")),
            "mock"
        );
        assert_eq!(
            at(&folder, doc.key_span("/modelService/single/model")),
            "model"
        );
        assert_eq!(at(&folder, doc.value_span("/domains/1")), "\"*\"");
        assert_eq!(at(&folder, doc.entry_span("/kind")), "kind: ModelAPI");
        assert_eq!(at(&folder, doc.key_span("/modelService")), "modelService");
        // Unknown pointers fall back to the nearest ancestor.
        assert_eq!(at(&folder, doc.value_span("/domains/1/x")), "\"*\"");
    }

    #[test]
    fn multi_document_files_keep_absolute_positions_and_skip_empty_documents() {
        let text =
            "# comment only\n---\nkind: Gateway\nname: a\n---\n---\nkind: AIService\nname: b\n";
        let (documents, diagnostics, folder) = parse_files(&[("a.yaml", text), ("b.yaml", "")]);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        assert_eq!(documents.len(), 2);
        assert_eq!(documents[1].kind(), Some("AIService"));
        assert_eq!(at(&folder, documents[1].value_span("/name")), "b");
        let (line, _) = crate::diagnostic::line_col(text, documents[1].value_span("/name").start);
        assert_eq!(line, 8);
    }

    #[test]
    fn non_ascii_text_before_a_node_gives_byte_offsets() {
        let text = "# résumé ✓ 日本\nkind: AIService\nname: \"é\"\nprovider: mock\n";
        let (documents, _, folder) = parse_files(&[("a.yaml", text)]);
        assert_eq!(at(&folder, documents[0].value_span("/provider")), "mock");
        assert_eq!(at(&folder, documents[0].value_span("/name")), "\"é\"");
    }

    #[test]
    fn syntax_errors_are_located_even_after_non_ascii_text() {
        let text = "# ✓✓✓\nkind: ModelAPI\nname: [unclosed\n";
        let (documents, diagnostics, _) = parse_files(&[("a.yaml", text)]);
        assert!(documents.is_empty());
        let error = &diagnostics.items[0];
        assert_eq!(error.code, Code::YamlSyntax);
        let span = error.main_span().unwrap();
        assert!(text.is_char_boundary(span.start));
        let (line, _) = crate::diagnostic::line_col(text, span.start);
        assert!(line >= 3, "{line}");
    }

    #[test]
    fn duplicate_keys_are_reported_at_the_second_key() {
        let text = "kind: AIService\nname: a\nprovider: mock\nname: b\n";
        let (_, diagnostics, folder) = parse_files(&[("a.yaml", text)]);
        let error = &diagnostics.items[0];
        assert_eq!(error.code, Code::DuplicateKey);
        assert_eq!(error.message, "duplicate key `name`");
        let span = error.main_span().unwrap();
        assert_eq!(at(&folder, span), "name");
        assert_eq!(crate::diagnostic::line_col(text, span.start), (4, 1));
    }

    #[test]
    fn non_string_keys_and_non_finite_numbers_are_rejected() {
        let (_, diagnostics, _) = parse_files(&[("a.yaml", "kind: X\n[a, b]: 1\nn: .nan\n")]);
        let codes: Vec<Code> = diagnostics.items.iter().map(|d| d.code).collect();
        assert_eq!(codes, vec![Code::UnsupportedYaml, Code::UnsupportedYaml]);
    }
}
