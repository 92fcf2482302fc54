//! JSON Schema check of every document, with each error mapped back to the exact key or value.
//!
//! The schema (`schema/gatesmith.schema.json`) is the contract editors use
//! too; it is embedded and compiled once. Validator messages are rewritten
//! for people: unknown fields point at the key and suggest the closest field,
//! missing fields point at the mapping that lacks them, bad values list the
//! allowed ones.

use std::sync::OnceLock;

use jsonschema::{Validator, error::ValidationErrorKind};
use serde_json::Value;

use crate::{
    diagnostic::{Code, Diagnostic, Diagnostics, closest_match},
    syntax::{Document, escape_segment},
};

/// The schema text, as published.
pub const SCHEMA_TEXT: &str = include_str!("../../schema/gatesmith.schema.json");

/// The kinds the schema knows, in the order help messages list them.
pub const KINDS: [&str; 3] = ["Gateway", "AIService", "ModelAPI"];

fn schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        serde_json::from_str(SCHEMA_TEXT).expect("the embedded schema is valid JSON (tested)")
    })
}

fn validator() -> &'static Validator {
    static VALIDATOR: OnceLock<Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        jsonschema::draft202012::options()
            .build(schema())
            .expect("the embedded schema compiles (tested)")
    })
}

/// Whether a document satisfies the schema (later stages skip those that do not).
pub fn conforms(document: &Document) -> bool {
    !document.has_yaml_errors && validator().is_valid(&document.value)
}

/// Reports every schema error of every document.
pub fn check(documents: &[Document], diagnostics: &mut Diagnostics) {
    for document in documents.iter().filter(|d| !d.has_yaml_errors) {
        let mut found: Vec<Diagnostic> = Vec::new();
        for error in validator().iter_errors(&document.value) {
            let pointer = error.instance_path().as_str().to_string();
            for diagnostic in describe(document, &pointer, error.kind(), error.instance()) {
                if !found.contains(&diagnostic) {
                    found.push(diagnostic);
                }
            }
        }
        for diagnostic in found {
            diagnostics.push(diagnostic);
        }
    }
}

fn describe(
    document: &Document,
    pointer: &str,
    kind: &ValidationErrorKind,
    instance: &Value,
) -> Vec<Diagnostic> {
    let place = place_of(document, pointer);
    let field = last_segment(pointer);
    match kind {
        ValidationErrorKind::AdditionalProperties { unexpected } => unexpected
            .iter()
            .map(|key| unknown_field(document, pointer, key, &place))
            .collect(),
        ValidationErrorKind::FalseSchema => {
            let parent = parent_pointer(pointer);
            let context = fault_context(document, parent);
            vec![
                Diagnostic::new(
                    Code::UnknownField,
                    format!(
                        "field `{field}` is not allowed in {}{context}",
                        place_of(document, parent)
                    ),
                )
                .primary(document.key_span(pointer), "not used here")
                .help(format!("remove `{field}`")),
            ]
        }
        ValidationErrorKind::Required { property } => {
            let missing = property.as_str().unwrap_or_default();
            if pointer.is_empty() && missing == "kind" {
                return vec![
                    Diagnostic::new(Code::UnknownKind, "document has no `kind`")
                        .primary(document.mapping_span(""), "this document")
                        .help(format!(
                            "start the document with `kind:` and one of: {}",
                            KINDS.join(", ")
                        )),
                ];
            }
            let description =
                schema_at(document, &format!("{pointer}/{}", escape_segment(missing)))
                    .and_then(|s| s.get("description"))
                    .and_then(Value::as_str)
                    .map(first_sentence)
                    .unwrap_or_default();
            vec![
                Diagnostic::new(
                    Code::MissingField,
                    format!("missing required field `{missing}` in {place}"),
                )
                .primary(
                    document.mapping_span(pointer),
                    format!("`{missing}` is missing here"),
                )
                .help(format!("add `{missing}:` here{description}")),
            ]
        }
        ValidationErrorKind::Enum { options }
        | ValidationErrorKind::Constant {
            expected_value: options,
        } => {
            let allowed: Vec<String> = match options.as_ref() {
                Value::Array(items) => items.iter().map(show).collect(),
                other => vec![show(other)],
            };
            let got = show(instance);
            let suggestion = closest_match(&got, allowed.iter().map(String::as_str));
            let help = match suggestion {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("write one of: {}", allowed.join(", ")),
            };
            let code = if pointer == "/kind" {
                Code::UnknownKind
            } else {
                Code::NotOneOf
            };
            let message = if pointer == "/kind" {
                format!(
                    "unknown kind `{got}`; expected one of: {}",
                    allowed.join(", ")
                )
            } else {
                format!(
                    "`{field}` must be one of: {} (got `{got}`)",
                    allowed.join(", ")
                )
            };
            vec![
                Diagnostic::new(code, message)
                    .primary(document.value_span(pointer), "not an allowed value")
                    .help(help),
            ]
        }
        ValidationErrorKind::Type { .. } => {
            let expected = schema_at(document, pointer)
                .and_then(|s| s.get("type"))
                .and_then(Value::as_str)
                .unwrap_or("object");
            let what = if pointer.is_empty() {
                "a spec document".to_string()
            } else {
                format!("`{field}`")
            };
            vec![
                Diagnostic::new(
                    Code::WrongType,
                    format!(
                        "{what} must be {}, got {}",
                        type_phrase(expected),
                        value_phrase(instance)
                    ),
                )
                .primary(
                    document.value_span(pointer),
                    format!("expected {}", type_phrase(expected)),
                )
                .help(type_help(expected)),
            ]
        }
        ValidationErrorKind::Pattern { .. } if field == "name" => vec![
            Diagnostic::new(
                Code::OutOfLimits,
                format!("invalid name `{}`", show(instance)),
            )
            .primary(document.value_span(pointer), "not a valid name")
            .help("names are 1 to 64 characters of letters, digits, `-` and `_`"),
        ],
        other => vec![limit(document, pointer, field, other, instance)],
    }
}

fn limit(
    document: &Document,
    pointer: &str,
    field: &str,
    kind: &ValidationErrorKind,
    instance: &Value,
) -> Diagnostic {
    let (message, help) = match kind {
        ValidationErrorKind::Minimum { limit } => (
            format!(
                "`{field}` must be at least {limit} (got {})",
                show(instance)
            ),
            format!("use a value of {limit} or more"),
        ),
        ValidationErrorKind::Maximum { limit } => (
            format!("`{field}` must be at most {limit} (got {})", show(instance)),
            format!("use a value of {limit} or less"),
        ),
        ValidationErrorKind::MinItems { limit } => (
            format!("`{field}` needs at least {limit} item(s)"),
            "add an item, e.g. `[\"*\"]` for any host".to_string(),
        ),
        ValidationErrorKind::MinLength { .. } => (
            format!("`{field}` must not be empty"),
            "write a value or remove the field to use its default".to_string(),
        ),
        // Only `modelService` limits its keys: exactly one mode.
        ValidationErrorKind::MinProperties { .. } | ValidationErrorKind::MaxProperties { .. } => (
            format!(
                "`{field}` takes exactly one of: {}",
                fields_at(document, pointer).join(", ")
            ),
            "keep exactly one of them".to_string(),
        ),
        ValidationErrorKind::MaxLength { limit } => (
            format!("`{field}` is longer than {limit} characters"),
            "shorten it".to_string(),
        ),
        other => (
            format!("invalid value for `{field}`: {}", describe_kind(other)),
            "see the field's description in schema/gatesmith.schema.json".to_string(),
        ),
    };
    Diagnostic::new(Code::OutOfLimits, message)
        .primary(document.value_span(pointer), "out of bounds")
        .help(help)
}

fn describe_kind(kind: &ValidationErrorKind) -> String {
    format!("{kind:?}")
        .split([' ', '{', '('])
        .next()
        .unwrap_or("constraint")
        .to_string()
}

fn unknown_field(document: &Document, pointer: &str, key: &str, place: &str) -> Diagnostic {
    let key_pointer = format!("{pointer}/{}", escape_segment(key));
    let fields = fields_at(document, pointer);
    let mut diagnostic = Diagnostic::new(
        Code::UnknownField,
        format!("unknown field `{key}` in {place}"),
    )
    .primary(document.key_span(&key_pointer), "unknown field");
    diagnostic = match closest_match(key, fields.iter().map(String::as_str)) {
        Some(suggestion) => diagnostic.help(format!("did you mean `{suggestion}`?")),
        None if fields.is_empty() => diagnostic.help(format!("remove `{key}`")),
        None => diagnostic.help(format!(
            "remove `{key}`; the fields here are: {}",
            fields.join(", ")
        )),
    };
    diagnostic
}

/// ``ModelAPI `chat` `` for the root, `` `modelService.single` of ModelAPI `chat` `` below it.
fn place_of(document: &Document, pointer: &str) -> String {
    let owner = match (document.kind(), document.name()) {
        (Some(kind), Some(name)) => format!("{kind} `{name}`"),
        (Some(kind), None) => kind.to_string(),
        _ => "this document".to_string(),
    };
    if pointer.is_empty() {
        owner
    } else {
        let path: Vec<String> = pointer.split('/').skip(1).map(unescape).collect();
        format!("`{}` of {owner}", path.join("."))
    }
}

fn fault_context(document: &Document, parent: &str) -> String {
    if parent.ends_with("/fault") {
        let fault_type = document
            .value
            .pointer(&format!("{parent}/type"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        format!(" with `type: {fault_type}`")
    } else {
        String::new()
    }
}

/// ` (the protocol clients speak)` from a schema description.
fn first_sentence(description: &str) -> String {
    let sentence = description.split(". ").next().unwrap_or(description);
    let sentence = sentence.trim_end_matches('.');
    let mut chars = sentence.chars();
    match chars.next() {
        Some(first) => format!(" ({}{})", first.to_lowercase(), chars.as_str()),
        None => String::new(),
    }
}

fn parent_pointer(pointer: &str) -> &str {
    pointer.rfind('/').map_or("", |cut| &pointer[..cut])
}

fn last_segment(pointer: &str) -> &str {
    pointer.rsplit('/').next().unwrap_or_default()
}

fn unescape(segment: &str) -> String {
    segment.replace("~1", "/").replace("~0", "~")
}

/// The schema node describing the value at `pointer` of this document's kind.
fn schema_at<'s>(document: &Document, pointer: &str) -> Option<&'s Value> {
    let root = schema();
    let mut node = match document.kind() {
        Some(kind) if KINDS.contains(&kind) => root.get("$defs")?.get(kind)?,
        _ => root,
    };
    for segment in pointer.split('/').skip(1) {
        node = resolve(node);
        let segment = unescape(segment);
        node = match node.get("properties").and_then(|p| p.get(&segment)) {
            Some(child) => child,
            None => node.get("items")?,
        };
    }
    Some(resolve(node))
}

fn resolve(node: &Value) -> &Value {
    node.get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/$defs/"))
        .and_then(|name| schema().get("$defs")?.get(name))
        .unwrap_or(node)
}

/// The field names a mapping at `pointer` accepts.
fn fields_at(document: &Document, pointer: &str) -> Vec<String> {
    schema_at(document, pointer)
        .and_then(|s| s.get("properties"))
        .and_then(Value::as_object)
        .map(|p| {
            p.iter()
                .filter(|(_, s)| !matches!(s, Value::Bool(false)))
                .map(|(k, _)| k.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// A value as the user wrote it: strings without quotes.
fn show(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn type_phrase(expected: &str) -> &'static str {
    match expected {
        "boolean" => "`true` or `false`",
        "integer" => "a whole number",
        "number" => "a number",
        "string" => "a string",
        "array" => "a list",
        _ => "a mapping (`key: value` lines)",
    }
}

fn value_phrase(value: &Value) -> String {
    match value {
        Value::Null => "nothing (null)".to_string(),
        Value::Bool(b) => format!("`{b}`"),
        Value::Number(n) => format!("the number `{n}`"),
        Value::String(s) => format!("the string `{s}`"),
        Value::Array(_) => "a list".to_string(),
        Value::Object(_) => "a mapping".to_string(),
    }
}

fn type_help(expected: &str) -> &'static str {
    match expected {
        "boolean" => "write `true` or `false` without quotes",
        "integer" => "write a whole number without quotes or units, e.g. `3000`",
        "string" => "quote the value so YAML reads it as text, e.g. `\"1.0\"`",
        "array" => "write a list, e.g. `[\"api.example.com\"]`",
        _ => "write the settings as `key: value` lines indented under this key",
    }
}

/// Used by tests: a span is inside the document.
#[cfg(test)]
fn text_at(text: &str, span: crate::source::Span) -> &str {
    &text[span.start..span.end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        diagnostic::Diagnostics,
        source::{SourceFile, SpecFolder},
        syntax,
    };

    fn check_text(text: &str) -> (Vec<Diagnostic>, String) {
        let folder = SpecFolder {
            display: "specs/t".into(),
            files: vec![SourceFile {
                name: "a.yaml".into(),
                text: text.into(),
            }],
        };
        let mut diagnostics = Diagnostics::default();
        let documents = syntax::parse(&folder, &mut diagnostics);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        check(&documents, &mut diagnostics);
        (diagnostics.items, text.to_string())
    }

    fn primary(d: &Diagnostic) -> crate::source::Span {
        d.main_span().expect("a located diagnostic")
    }

    const API: &str = "kind: ModelAPI\nname: chat\nuseCase: text-generation\nprotocol: openai\ndomains: [\"*\"]\nmodelService:\n  single: { service: mock }\n";

    #[test]
    fn schema_compiles_and_accepts_the_reference_shapes() {
        let (items, _) = check_text(API);
        assert!(items.is_empty(), "{items:?}");
        let (items, _) = check_text(
            "kind: AIService\nname: m\nprovider: mock\nmock:\n  fault: { type: stall-after-chunks, chunks: 2, ms: 10 }\n",
        );
        assert!(items.is_empty(), "{items:?}");
    }

    #[test]
    fn unknown_field_points_at_the_key_and_suggests_the_closest() {
        let text = format!("{API}strip_base_path: true\n");
        let (items, text) = check_text(&text);
        assert_eq!(items.len(), 1, "{items:?}");
        assert_eq!(items[0].code, Code::UnknownField);
        assert_eq!(text_at(&text, primary(&items[0])), "strip_base_path");
        assert_eq!(
            items[0].message,
            "unknown field `strip_base_path` in ModelAPI `chat`"
        );
        assert_eq!(
            items[0].help.as_deref(),
            Some("did you mean `stripBasePath`?")
        );
    }

    #[test]
    fn missing_field_points_at_the_parent_mapping() {
        let text = API.replace("protocol: openai\n", "");
        let (items, text) = check_text(&text);
        assert_eq!(items.len(), 1, "{items:?}");
        assert_eq!(items[0].code, Code::MissingField);
        assert_eq!(text_at(&text, primary(&items[0])), "kind: ModelAPI");
        assert!(items[0].message.contains("`protocol`"));

        let text = API.replace("{ service: mock }", "{ model: m }");
        let (items, text) = check_text(&text);
        assert_eq!(items.len(), 1, "{items:?}");
        assert_eq!(text_at(&text, primary(&items[0])), "single");
    }

    #[test]
    fn enum_lists_allowed_values_and_suggests() {
        let text = API.replace("protocol: openai", "protocol: opnai");
        let (items, text) = check_text(&text);
        assert_eq!(items.len(), 1, "{items:?}");
        assert_eq!(items[0].code, Code::NotOneOf);
        assert_eq!(text_at(&text, primary(&items[0])), "opnai");
        assert!(
            items[0].message.contains("openai, anthropic"),
            "{}",
            items[0].message
        );
        assert!(items[0].message.contains("(got `opnai`)"));
        assert_eq!(items[0].help.as_deref(), Some("did you mean `openai`?"));
    }

    #[test]
    fn unknown_kind_gives_one_error_not_a_cascade() {
        let (items, _) = check_text("kind: ModelApi\nname: x\nfoo: 1\n");
        assert_eq!(items.len(), 1, "{items:?}");
        assert_eq!(items[0].code, Code::UnknownKind);
        assert_eq!(items[0].help.as_deref(), Some("did you mean `ModelAPI`?"));
        let (items, _) = check_text("name: x\n");
        assert_eq!(items[0].code, Code::UnknownKind);
    }

    #[test]
    fn wrong_type_and_limits_point_at_the_value() {
        let text = format!("{API}stripBasePath: \"yes\"\nfirstPacketTimeoutMs: -1\nname2: x\n");
        let (items, text) = check_text(&text);
        let codes: Vec<Code> = items.iter().map(|d| d.code).collect();
        assert!(codes.contains(&Code::WrongType), "{items:?}");
        assert!(codes.contains(&Code::OutOfLimits), "{items:?}");
        assert!(codes.contains(&Code::UnknownField), "{items:?}");
        let wrong = items.iter().find(|d| d.code == Code::WrongType).unwrap();
        assert_eq!(text_at(&text, primary(wrong)), "\"yes\"");
        let out = items.iter().find(|d| d.code == Code::OutOfLimits).unwrap();
        assert_eq!(text_at(&text, primary(out)), "-1");
    }

    #[test]
    fn fault_fields_that_do_not_fit_the_type_are_rejected() {
        let (items, text) = check_text(
            "kind: AIService\nname: m\nprovider: mock\nmock:\n  fault: { type: status, status: 503, ms: 5 }\n",
        );
        assert_eq!(items.len(), 1, "{items:?}");
        assert_eq!(items[0].code, Code::UnknownField);
        assert_eq!(text_at(&text, primary(&items[0])), "ms");
        let (items, _) = check_text(
            "kind: AIService\nname: m\nprovider: mock\nmock:\n  fault: { type: status }\n",
        );
        assert_eq!(items[0].code, Code::MissingField, "{items:?}");
    }

    #[test]
    fn bad_names_are_explained() {
        let (items, _) = check_text(&API.replace("name: chat", "name: chat api"));
        assert_eq!(items.len(), 1, "{items:?}");
        assert_eq!(items[0].code, Code::OutOfLimits);
        assert!(
            items[0]
                .help
                .as_deref()
                .unwrap()
                .contains("letters, digits")
        );
    }

    #[test]
    fn every_property_has_a_description() {
        fn walk(node: &Value, path: &str) {
            if let Some(props) = node.get("properties").and_then(Value::as_object) {
                for (key, child) in props {
                    if child.is_object()
                        && node.get("additionalProperties") == Some(&Value::Bool(false))
                    {
                        assert!(
                            child.get("description").is_some(),
                            "{path}/{key} has no description"
                        );
                    }
                    walk(child, &format!("{path}/{key}"));
                }
            }
            if let Some(map) = node.as_object() {
                for (key, child) in map {
                    if key != "properties" {
                        walk(child, &format!("{path}/{key}"));
                    }
                }
            }
            if let Some(items) = node.as_array() {
                for child in items {
                    walk(child, path);
                }
            }
        }
        walk(schema(), "");
    }
}
