//! The typed spec: what the user wrote, with spans on everything a later error may point at.
//!
//! Built from documents that passed the schema (so shapes and types are
//! known); documents that failed it are remembered by kind and name only, so
//! references to them do not cause a second, spurious error. The one custom
//! format checked here is `baseUrl`.

use serde_json::Value;

use crate::{
    catalog::{Protocol, UseCase},
    diagnostic::{Code, Diagnostic, Diagnostics},
    ir::{MockFault, Objective, Provider, WhenAllCooling},
    schema,
    source::Span,
    syntax::Document,
};

/// A value and where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

#[derive(Debug, Default)]
pub struct Spec {
    pub gateways: Vec<Gateway>,
    pub services: Vec<AiService>,
    pub model_apis: Vec<ModelApi>,
    /// Documents an earlier stage rejected, known only by kind and name.
    pub rejected: Vec<Rejected>,
}

#[derive(Debug, Clone)]
pub struct Rejected {
    pub kind: Option<String>,
    pub name: Option<String>,
}

impl Spec {
    /// Whether a rejected document of this kind carried this name.
    pub fn rejected_has(&self, kind: &str, name: &str) -> bool {
        self.rejected
            .iter()
            .any(|r| r.kind.as_deref() == Some(kind) && r.name.as_deref() == Some(name))
    }
}

#[derive(Debug, Clone)]
pub struct Gateway {
    pub name: Spanned<String>,
    /// The `kind: Gateway` line.
    pub kind_span: Span,
    pub listen: Option<Spanned<String>>,
    pub max_request_bytes: Option<u64>,
    pub header_read_timeout_ms: Option<u64>,
    pub drain_grace_ms: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct AiService {
    pub name: Spanned<String>,
    pub file: String,
    pub provider: Spanned<Provider>,
    /// Without trailing `/` (checked: http/https, host, no query/fragment/user info).
    pub base_url: Option<Spanned<String>>,
    pub api_key_env: Option<Spanned<String>>,
    pub timeouts: TimeoutsSpec,
    /// The span is the `mock` key.
    pub mock: Option<Spanned<MockSpec>>,
    /// `azure:` (only for `azure-openai`); the span is the `azure` key.
    pub azure: Option<Spanned<AzureSpec>>,
    /// `dashscope:` (only for `dashscope`); the span is the `dashscope` key.
    pub dashscope: Option<Spanned<DashScopeSpec>>,
    pub default_max_tokens: Option<u32>,
}

/// `AIService.azure`.
#[derive(Debug, Clone, Default)]
pub struct AzureSpec {
    pub api_version: Option<String>,
}

/// `AIService.dashscope`.
#[derive(Debug, Clone, Default)]
pub struct DashScopeSpec {
    /// `api: native` (`Some(true)`) or `api: compatible` (`Some(false)`).
    pub native: Option<bool>,
}

/// `AIService.timeouts`, each in milliseconds (0 disables a timer).
#[derive(Debug, Clone, Default)]
pub struct TimeoutsSpec {
    pub connect_ms: Option<u64>,
    pub first_packet_ms: Option<u64>,
    pub idle_ms: Option<u64>,
    pub total_ms: Option<u64>,
}

#[derive(Debug, Clone, Default)]
pub struct MockSpec {
    pub latency_ms: Option<u64>,
    pub stream_chunks: Option<u32>,
    pub chunk_delay_ms: Option<u64>,
    pub completion_tokens: Option<u32>,
    pub fault: Option<MockFault>,
}

#[derive(Debug, Clone)]
pub struct ModelApi {
    pub name: Spanned<String>,
    pub file: String,
    pub use_case: Spanned<UseCase>,
    pub protocol: Spanned<Protocol>,
    pub domains: Vec<Spanned<String>>,
    /// As written; `validate` normalizes it in place (`""` for `/`).
    pub base_path: Option<Spanned<String>>,
    pub strip_base_path: Option<bool>,
    pub resource_group: Option<String>,
    pub monitoring: MonitoringSpec,
    pub model_service: ModelServiceSpec,
    pub fallback: Vec<TargetSpec>,
    pub failover: FailoverSpec,
    pub first_packet_timeout_ms: Option<u64>,
    pub idle_timeout_ms: Option<u64>,
    pub total_timeout_ms: Option<u64>,
}

#[derive(Debug, Clone, Default)]
pub struct MonitoringSpec {
    pub metrics: Option<bool>,
    pub logs: Option<bool>,
    pub traces: Option<bool>,
    pub record_request: Option<bool>,
    pub record_response: Option<bool>,
}

/// A service and an optional model rewrite, as written.
#[derive(Debug, Clone)]
pub struct TargetSpec {
    pub service: Spanned<String>,
    pub model: Option<String>,
    /// The whole item (`{ service: a, model: m }`).
    pub span: Span,
}

impl TargetSpec {
    /// `a` or `a model m`, as diagnostics name a target.
    pub fn describe(&self) -> String {
        match &self.model {
            Some(model) => format!("`{}` with model `{model}`", self.service.value),
            None => format!("`{}` (model passed through)", self.service.value),
        }
    }

    /// The same `(service, model)` pair: a request never tries it twice.
    pub fn same_target(&self, other: &TargetSpec) -> bool {
        self.service.value == other.service.value && self.model == other.model
    }
}

/// One `byModelName` rule.
#[derive(Debug, Clone)]
pub struct RuleSpec {
    /// The `match` glob.
    pub pattern: Spanned<String>,
    pub target: TargetSpec,
}

/// One `byProportion` entry.
#[derive(Debug, Clone)]
pub struct WeightedSpec {
    pub target: TargetSpec,
    pub weight: Spanned<f64>,
}

#[derive(Debug, Clone)]
pub enum ModelServiceSpec {
    Single(TargetSpec),
    /// Rules in declaration order.
    ByModelName(Vec<RuleSpec>),
    /// `span` is the `byProportion` key.
    ByProportion {
        entries: Vec<WeightedSpec>,
        span: Span,
    },
    /// `span` is the `byMetrics` key.
    ByMetrics {
        targets: Vec<TargetSpec>,
        objective: Objective,
        decay_ms: Option<u64>,
        span: Span,
    },
}

impl ModelServiceSpec {
    /// Every primary target, in the order written.
    pub fn targets(&self) -> Vec<&TargetSpec> {
        match self {
            ModelServiceSpec::Single(target) => vec![target],
            ModelServiceSpec::ByModelName(rules) => rules.iter().map(|r| &r.target).collect(),
            ModelServiceSpec::ByProportion { entries, .. } => {
                entries.iter().map(|e| &e.target).collect()
            }
            ModelServiceSpec::ByMetrics { targets, .. } => targets.iter().collect(),
        }
    }
}

/// `failover:` as written; lowering applies the defaults.
#[derive(Debug, Clone, Default)]
pub struct FailoverSpec {
    pub on_client_errors: Option<bool>,
    pub on_context_length: Option<bool>,
    pub budget_ms: Option<u64>,
    pub when_all_cooling: Option<WhenAllCooling>,
}

impl ModelApi {
    /// Every service reference (primary targets, then fallback), for
    /// resolution and usage checks.
    pub fn service_references(&self) -> Vec<&Spanned<String>> {
        self.model_service
            .targets()
            .into_iter()
            .chain(&self.fallback)
            .map(|t| &t.service)
            .collect()
    }
}

/// Builds the typed spec from documents that passed the schema.
pub fn build(documents: &[Document], diagnostics: &mut Diagnostics) -> Spec {
    let mut spec = Spec::default();
    for document in documents {
        let built = if schema::conforms(document) {
            build_document(document, &mut spec, diagnostics)
        } else {
            None
        };
        if built.is_none() {
            spec.rejected.push(Rejected {
                kind: document.kind().map(str::to_string),
                name: document.name().map(str::to_string),
            });
        }
    }
    spec
}

fn build_document(
    document: &Document,
    spec: &mut Spec,
    diagnostics: &mut Diagnostics,
) -> Option<()> {
    let read = Reader { document };
    match document.kind()? {
        "Gateway" => spec.gateways.push(Gateway {
            name: read.string("/name")?,
            kind_span: document.entry_span("/kind"),
            listen: read.string("/listen"),
            max_request_bytes: read.u64("/limits/maxRequestBytes"),
            header_read_timeout_ms: read.u64("/limits/headerReadTimeoutMs"),
            drain_grace_ms: read.u64("/limits/drainGraceMs"),
        }),
        "AIService" => {
            let provider = read.string("/provider")?;
            let provider = Spanned {
                value: Provider::from_spec_name(&provider.value)?,
                span: provider.span,
            };
            let base_url = read
                .string("/baseUrl")
                .map(|url| check_base_url(url, diagnostics));
            let mock = document.value.get("mock").map(|_| Spanned {
                value: MockSpec {
                    latency_ms: read.u64("/mock/latencyMs"),
                    stream_chunks: read.u32("/mock/streamChunks"),
                    chunk_delay_ms: read.u64("/mock/chunkDelayMs"),
                    completion_tokens: read.u32("/mock/completionTokens"),
                    fault: read.fault("/mock/fault"),
                },
                span: document.key_span("/mock"),
            });
            let azure = document.value.get("azure").map(|_| Spanned {
                value: AzureSpec {
                    api_version: read.string("/azure/apiVersion").map(|v| v.value),
                },
                span: document.key_span("/azure"),
            });
            let dashscope = document.value.get("dashscope").map(|_| Spanned {
                value: DashScopeSpec {
                    native: read
                        .string("/dashscope/api")
                        .map(|api| api.value == "native"),
                },
                span: document.key_span("/dashscope"),
            });
            spec.services.push(AiService {
                name: read.string("/name")?,
                file: document.file_name.clone(),
                provider,
                base_url,
                api_key_env: read.string("/apiKey/env"),
                timeouts: TimeoutsSpec {
                    connect_ms: read.u64("/timeouts/connectMs"),
                    first_packet_ms: read.u64("/timeouts/firstPacketMs"),
                    idle_ms: read.u64("/timeouts/idleMs"),
                    total_ms: read.u64("/timeouts/totalMs"),
                },
                mock,
                azure,
                dashscope,
                default_max_tokens: read.u32("/defaultMaxTokens"),
            });
        }
        "ModelAPI" => {
            let use_case = read.string("/useCase")?;
            let protocol = read.string("/protocol")?;
            let domains = (0..document.value.get("domains")?.as_array()?.len())
                .map(|i| read.string(&format!("/domains/{i}")))
                .collect::<Option<Vec<_>>>()?;
            spec.model_apis.push(ModelApi {
                name: read.string("/name")?,
                file: document.file_name.clone(),
                use_case: Spanned {
                    value: UseCase::from_spec_name(&use_case.value)?,
                    span: use_case.span,
                },
                protocol: Spanned {
                    value: Protocol::from_spec_name(&protocol.value)?,
                    span: protocol.span,
                },
                domains,
                base_path: read.string("/basePath"),
                strip_base_path: read.bool("/stripBasePath"),
                resource_group: read.string("/resourceGroup").map(|s| s.value),
                monitoring: MonitoringSpec {
                    metrics: read.bool("/monitoring/metrics"),
                    logs: read.bool("/monitoring/logs"),
                    traces: read.bool("/monitoring/traces"),
                    record_request: read.bool("/monitoring/recordRequest"),
                    record_response: read.bool("/monitoring/recordResponse"),
                },
                model_service: read.model_service()?,
                fallback: read.targets("/fallback")?,
                failover: FailoverSpec {
                    on_client_errors: read.bool("/failover/onClientErrors"),
                    on_context_length: read.bool("/failover/onContextLength"),
                    budget_ms: read.u64("/failover/budgetMs"),
                    when_all_cooling: read.when_all_cooling("/failover/whenAllCooling"),
                },
                first_packet_timeout_ms: read.u64("/firstPacketTimeoutMs"),
                idle_timeout_ms: read.u64("/idleTimeoutMs"),
                total_timeout_ms: read.u64("/totalTimeoutMs"),
            });
        }
        _ => return None,
    }
    Some(())
}

/// Typed reads by JSON pointer; `None` when absent or of another type.
struct Reader<'d> {
    document: &'d Document,
}

impl Reader<'_> {
    fn value(&self, pointer: &str) -> Option<&Value> {
        self.document.value.pointer(pointer)
    }

    fn string(&self, pointer: &str) -> Option<Spanned<String>> {
        Some(Spanned {
            value: self.value(pointer)?.as_str()?.to_string(),
            span: self.document.value_span(pointer),
        })
    }

    fn len(&self, pointer: &str) -> usize {
        self.value(pointer)
            .and_then(Value::as_array)
            .map_or(0, Vec::len)
    }

    fn target(&self, pointer: &str) -> Option<TargetSpec> {
        Some(TargetSpec {
            service: self.string(&format!("{pointer}/service"))?,
            model: self.string(&format!("{pointer}/model")).map(|m| m.value),
            span: self.document.value_span(pointer),
        })
    }

    /// The list at `pointer` (absent = empty); `None` when an item is unreadable.
    fn targets(&self, pointer: &str) -> Option<Vec<TargetSpec>> {
        (0..self.len(pointer))
            .map(|i| self.target(&format!("{pointer}/{i}")))
            .collect()
    }

    /// The one mode the schema allows under `modelService`.
    fn model_service(&self) -> Option<ModelServiceSpec> {
        let modes = self.value("/modelService")?.as_object()?;
        let mode = modes.keys().next()?.as_str();
        let pointer = format!("/modelService/{mode}");
        Some(match mode {
            "single" => ModelServiceSpec::Single(self.target(&pointer)?),
            "byModelName" => ModelServiceSpec::ByModelName(
                (0..self.len(&pointer))
                    .map(|i| {
                        let item = format!("{pointer}/{i}");
                        Some(RuleSpec {
                            pattern: self.string(&format!("{item}/match"))?,
                            target: self.target(&item)?,
                        })
                    })
                    .collect::<Option<_>>()?,
            ),
            "byProportion" => ModelServiceSpec::ByProportion {
                entries: (0..self.len(&pointer))
                    .map(|i| {
                        let item = format!("{pointer}/{i}");
                        let weight = format!("{item}/weight");
                        Some(WeightedSpec {
                            target: self.target(&item)?,
                            weight: Spanned {
                                value: self.value(&weight)?.as_f64()?,
                                span: self.document.value_span(&weight),
                            },
                        })
                    })
                    .collect::<Option<_>>()?,
                span: self.document.key_span(&pointer),
            },
            "byMetrics" => ModelServiceSpec::ByMetrics {
                targets: self.targets(&format!("{pointer}/targets"))?,
                objective: match self
                    .value(&format!("{pointer}/objective"))
                    .and_then(Value::as_str)
                {
                    None | Some("latency") => Objective::Latency,
                    Some("firstTokenLatency") => Objective::FirstTokenLatency,
                    Some("leastBusy") => Objective::LeastBusy,
                    Some(_) => return None,
                },
                decay_ms: self.u64(&format!("{pointer}/decayMs")),
                span: self.document.key_span(&pointer),
            },
            _ => return None,
        })
    }

    fn when_all_cooling(&self, pointer: &str) -> Option<WhenAllCooling> {
        match self.value(pointer)? {
            Value::String(s) if s == "reject" => Some(WhenAllCooling::Reject),
            Value::Object(_) => Some(WhenAllCooling::WaitUpTo {
                ms: self.u64(&format!("{pointer}/waitUpToMs"))?,
            }),
            _ => None,
        }
    }

    fn bool(&self, pointer: &str) -> Option<bool> {
        self.value(pointer)?.as_bool()
    }

    /// Whole numbers, including YAML floats such as `1e3` that JSON Schema counts as integers.
    fn u64(&self, pointer: &str) -> Option<u64> {
        let number = self.value(pointer)?;
        number.as_u64().or_else(|| {
            let f = number.as_f64()?;
            (f >= 0.0 && f.fract() == 0.0 && f <= u64::MAX as f64).then_some(f as u64)
        })
    }

    fn u32(&self, pointer: &str) -> Option<u32> {
        self.u64(pointer)
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
    }

    fn fault(&self, pointer: &str) -> Option<MockFault> {
        let field = |name: &str| format!("{pointer}/{name}");
        let ms = || self.u64(&field("ms")).unwrap_or(0);
        let chunks = || self.u32(&field("chunks")).unwrap_or(0);
        Some(match self.value(&field("type"))?.as_str()? {
            "status" => MockFault::Status(
                self.u64(&field("status"))
                    .and_then(|s| u16::try_from(s).ok())
                    .unwrap_or(500),
            ),
            "stall-before-head" => MockFault::StallBeforeHead { ms: ms() },
            "stall-before-first-chunk" => MockFault::StallBeforeFirstChunk { ms: ms() },
            "stall-after-chunks" => MockFault::StallAfterChunks {
                chunks: chunks(),
                ms: ms(),
            },
            "cut-after-chunks" => MockFault::CutAfterChunks { chunks: chunks() },
            "malformed-after-chunks" => MockFault::MalformedAfterChunks { chunks: chunks() },
            _ => return None,
        })
    }
}

/// Checks `baseUrl` and removes its trailing `/`; reports E0209 when it is not usable.
fn check_base_url(url: Spanned<String>, diagnostics: &mut Diagnostics) -> Spanned<String> {
    match normalize_base_url(&url.value) {
        Ok(normalized) => Spanned {
            value: normalized,
            span: url.span,
        },
        Err((problem, help)) => {
            diagnostics.push(
                Diagnostic::new(
                    Code::InvalidBaseUrl,
                    format!("invalid baseUrl `{}`: {problem}", url.value),
                )
                .primary(url.span, problem)
                .help(help),
            );
            url
        }
    }
}

/// `http(s)://host[:port][/prefix]` without query, fragment or user info; trailing `/` removed.
pub fn normalize_base_url(url: &str) -> Result<String, (&'static str, &'static str)> {
    const EXAMPLE: &str = "write an origin and optional prefix, e.g. `https://api.openai.com`";
    let Some(rest) = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
    else {
        return Err(("the scheme must be http:// or https://", EXAMPLE));
    };
    if url.contains(['?', '#']) {
        return Err((
            "query strings and fragments are not allowed",
            "remove everything from `?` or `#`: the client's query is forwarded as is",
        ));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(("it contains spaces or control characters", EXAMPLE));
    }
    let (authority, _path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    if authority.contains('@') {
        return Err((
            "user info (`user:password@`) is not allowed",
            "remove the credentials and use `apiKey: { env: NAME }` for the key",
        ));
    }
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    if host.is_empty() {
        return Err(("it has no host", EXAMPLE));
    }
    let port = authority.rsplit_once(']').map_or(authority, |(_, p)| p);
    if let Some((_, port)) = port.rsplit_once(':')
        && port.parse::<u16>().is_err()
    {
        return Err(("the port is not a number from 0 to 65535", EXAMPLE));
    }
    Ok(url.trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        source::{SourceFile, SpecFolder},
        syntax,
    };

    fn build_text(text: &str) -> (Spec, Diagnostics) {
        let folder = SpecFolder {
            display: "specs/t".into(),
            files: vec![SourceFile {
                name: "a.yaml".into(),
                text: text.into(),
            }],
        };
        let mut diagnostics = Diagnostics::default();
        let documents = syntax::parse(&folder, &mut diagnostics);
        schema::check(&documents, &mut diagnostics);
        let spec = build(&documents, &mut diagnostics);
        (spec, diagnostics)
    }

    #[test]
    fn builds_every_kind_with_spans() {
        let text = "kind: Gateway\nname: prod\nlimits: { maxRequestBytes: 1e3 }\n---\nkind: AIService\nname: up\nprovider: openai\nbaseUrl: https://api.example.com/\napiKey: { env: KEY }\n---\nkind: ModelAPI\nname: chat\nuseCase: text-generation\nprotocol: anthropic\ndomains: [a.com]\nmodelService: { single: { service: up, model: m } }\n";
        let (spec, diagnostics) = build_text(text);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        assert_eq!(spec.gateways[0].max_request_bytes, Some(1000));
        let service = &spec.services[0];
        assert_eq!(
            service.base_url.as_ref().unwrap().value,
            "https://api.example.com"
        );
        assert_eq!(service.api_key_env.as_ref().unwrap().value, "KEY");
        let api = &spec.model_apis[0];
        assert_eq!(api.protocol.value, Protocol::Anthropic);
        assert_eq!(
            &text[api.domains[0].span.start..api.domains[0].span.end],
            "a.com"
        );
        let ModelServiceSpec::Single(target) = &api.model_service else {
            panic!("single expected");
        };
        let service = &target.service;
        assert_eq!(&text[service.span.start..service.span.end], "up");
        assert_eq!(target.model.as_deref(), Some("m"));
    }

    #[test]
    fn documents_failing_the_schema_are_remembered_not_built() {
        let (spec, diagnostics) = build_text("kind: AIService\nname: up\nprovider: opnai\n");
        assert!(diagnostics.has_errors());
        assert!(spec.services.is_empty());
        assert!(spec.rejected_has("AIService", "up"));
    }

    #[test]
    fn base_urls_are_checked() {
        assert_eq!(
            normalize_base_url("http://h:8080/p/").unwrap(),
            "http://h:8080/p"
        );
        assert_eq!(
            normalize_base_url("https://[::1]:9/").unwrap(),
            "https://[::1]:9"
        );
        for bad in [
            "ftp://h",
            "https://",
            "https://h?x=1",
            "https://h/#f",
            "https://u:p@h",
            "https://h:99999",
            "api.openai.com",
        ] {
            assert!(normalize_base_url(bad).is_err(), "{bad}");
        }
        let (_, diagnostics) =
            build_text("kind: AIService\nname: up\nprovider: openai\nbaseUrl: https://u:p@h\n");
        assert_eq!(diagnostics.codes(), vec![Code::InvalidBaseUrl]);
    }
}
