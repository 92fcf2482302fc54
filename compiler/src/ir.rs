//! The lowered plan: resolved, deployment-ready tables with dense ids and no spans.
//!
//! `lower` produces it from a validated spec and cannot fail; `emit` and the
//! route table dump read it and cannot fail either. Every collection is a
//! `Vec` in a deterministic order (documented per field), so the generated
//! code is byte-for-byte reproducible.

pub use crate::catalog::{Method, Protocol, RouteKind, UseCase};

/// Dense index into [`Plan::services`].
pub type ServiceId = u16;
/// Dense index into [`Plan::model_apis`].
pub type ModelApiId = u16;
/// Dense index into [`Plan::routes`].
pub type RouteId = u16;

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// `Gateway.name`, or the spec folder's name when there is no Gateway.
    pub environment: String,
    /// How the spec folder is named in headers and snapshots: the path the
    /// user passed, made relative and `/`-separated (never absolute).
    pub source: String,
    pub gateway: GatewaySettings,
    /// Sorted by name; `ServiceId` is the index.
    pub services: Vec<Service>,
    /// Sorted by name; `ModelApiId` is the index.
    pub model_apis: Vec<ModelApi>,
    /// Grouped by Model API (in `model_apis` order), then catalog order.
    pub routes: Vec<Route>,
    /// The host matcher, in match precedence order: every `Exact` host sorted
    /// by name, then `Suffix` hosts longest suffix first (ties by name), then
    /// at most one `Any`.
    pub hosts: Vec<HostEntry>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GatewaySettings {
    pub listen: String,
    pub max_request_bytes: u64,
    pub header_read_timeout_ms: u64,
    pub drain_grace_ms: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    pub name: String,
    /// The spec file that defines it, relative to the spec folder.
    pub file: String,
    pub provider: Provider,
    /// Effective (the provider's default when the spec gives none); no
    /// trailing `/`; empty for the mock.
    pub base_url: String,
    pub api_key_env: Option<String>,
    pub timeouts: ServiceTimeouts,
    pub mock: Option<MockSettings>,
    pub options: ProviderOptions,
}

/// A service's timers in milliseconds; 0 disables a timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceTimeouts {
    pub connect_ms: u64,
    /// Streaming: request sent to the first content delta.
    pub first_packet_ms: u64,
    /// Streaming: longest gap between two chunks after the first.
    pub idle_ms: u64,
    /// Whole attempt, request sent to last byte.
    pub total_ms: u64,
}

/// `AIService.provider`; the facts about each live in [`crate::providers`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    OpenAi,
    AzureOpenAi,
    Anthropic,
    DashScope,
    Vllm,
    Moonshot,
    Zhipu,
    DeepSeek,
    Ollama,
    ComfyUi,
    OpenAiCompatible,
    Mock,
}

impl Provider {
    /// Every provider, in the order the spec documentation lists them.
    pub const ALL: [Provider; 12] = [
        Provider::OpenAi,
        Provider::AzureOpenAi,
        Provider::Anthropic,
        Provider::DashScope,
        Provider::Vllm,
        Provider::Moonshot,
        Provider::Zhipu,
        Provider::DeepSeek,
        Provider::Ollama,
        Provider::ComfyUi,
        Provider::OpenAiCompatible,
        Provider::Mock,
    ];

    /// The name a spec writes in `AIService.provider`.
    pub fn spec_name(self) -> &'static str {
        match self {
            Provider::OpenAi => "openai",
            Provider::AzureOpenAi => "azure-openai",
            Provider::Anthropic => "anthropic",
            Provider::DashScope => "dashscope",
            Provider::Vllm => "vllm",
            Provider::Moonshot => "moonshot",
            Provider::Zhipu => "zhipu",
            Provider::DeepSeek => "deepseek",
            Provider::Ollama => "ollama",
            Provider::ComfyUi => "comfyui",
            Provider::OpenAiCompatible => "openai-compatible",
            Provider::Mock => "mock",
        }
    }

    /// The provider a spec name denotes (exact match).
    pub fn from_spec_name(name: &str) -> Option<Provider> {
        Provider::ALL.into_iter().find(|p| p.spec_name() == name)
    }

    /// The variant name in `gatesmith_runtime::codegen::Provider`.
    pub fn runtime_variant(self) -> &'static str {
        match self {
            Provider::OpenAi => "OpenAi",
            Provider::AzureOpenAi => "AzureOpenAi",
            Provider::Anthropic => "Anthropic",
            Provider::DashScope => "DashScope",
            Provider::Vllm => "Vllm",
            Provider::Moonshot => "Moonshot",
            Provider::Zhipu => "Zhipu",
            Provider::DeepSeek => "DeepSeek",
            Provider::Ollama => "Ollama",
            Provider::ComfyUi => "ComfyUi",
            Provider::OpenAiCompatible => "OpenAiCompatible",
            Provider::Mock => "Mock",
        }
    }
}

/// Provider-specific settings with the spec's defaults applied; each is
/// ignored by the providers it does not concern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderOptions {
    /// Azure OpenAI `api-version` query value.
    pub azure_api_version: String,
    /// DashScope: OpenAI chat clients go to the native text-generation API
    /// (converted) instead of the OpenAI-compatible mode.
    pub dashscope_native: bool,
    /// `max_tokens` sent to an Anthropic-protocol upstream when the client
    /// gave none (Anthropic requires one).
    pub default_max_tokens: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MockSettings {
    pub latency_ms: u64,
    pub stream_chunks: u32,
    pub chunk_delay_ms: u64,
    pub completion_tokens: u32,
    pub fault: Option<MockFault>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MockFault {
    Status(u16),
    StallBeforeHead { ms: u64 },
    StallBeforeFirstChunk { ms: u64 },
    StallAfterChunks { chunks: u32, ms: u64 },
    CutAfterChunks { chunks: u32 },
    MalformedAfterChunks { chunks: u32 },
}

#[derive(Debug, Clone, PartialEq)]
pub struct ModelApi {
    pub name: String,
    pub file: String,
    pub use_case: UseCase,
    pub protocol: Protocol,
    pub resource_group: String,
    /// Normalized: `""` for `/`, otherwise `/a/b` with no trailing `/`.
    pub base_path: String,
    pub strip_base_path: bool,
    /// Sorted, de-duplicated domains as written (`api.x.com`, `*.x.com`, `*`).
    pub domains: Vec<String>,
    pub monitoring: Monitoring,
    pub model_service: ModelService,
    /// Tried in order after the primary target fails before the commit point.
    pub fallback: Vec<Target>,
    pub failover: FailoverPolicy,
    /// Per-Model-API overrides of the chosen service's timers.
    pub timeouts: TimeoutOverrides,
}

/// Timer overrides; `None` keeps the service's value, `Some(0)` disables the timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TimeoutOverrides {
    pub first_packet_ms: Option<u64>,
    pub idle_ms: Option<u64>,
    pub total_ms: Option<u64>,
}

impl TimeoutOverrides {
    /// The timers a request through `service` runs with.
    pub fn apply(&self, service: &ServiceTimeouts) -> ServiceTimeouts {
        ServiceTimeouts {
            connect_ms: service.connect_ms,
            first_packet_ms: self.first_packet_ms.unwrap_or(service.first_packet_ms),
            idle_ms: self.idle_ms.unwrap_or(service.idle_ms),
            total_ms: self.total_ms.unwrap_or(service.total_ms),
        }
    }
}

/// Which failures beyond the always-failing-over ones move on to the next target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailoverPolicy {
    pub on_client_errors: bool,
    pub on_context_length: bool,
    /// Time budget for all attempts before the commit point; 0 = none.
    pub budget_ms: u64,
    pub when_all_cooling: WhenAllCooling,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenAllCooling {
    Reject,
    WaitUpTo { ms: u64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Monitoring {
    pub metrics: bool,
    pub logs: bool,
    pub traces: bool,
    pub record_request: bool,
    pub record_response: bool,
}

/// How a Model API chooses its primary target.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelService {
    Single(Target),
    /// Rules in DECLARATION order (the rule index users see in headers and
    /// logs); precedence lives in `glob::precedence_order` and the generated
    /// `select_*` function.
    ByModelName(Vec<ModelRule>),
    /// Entries as written; weights as written (the runtime normalizes).
    ByProportion(Vec<WeightedTarget>),
    ByMetrics(MetricsBalance),
}

impl ModelService {
    /// The spec name of the mode.
    pub fn mode_name(&self) -> &'static str {
        match self {
            ModelService::Single(_) => "single",
            ModelService::ByModelName(_) => "byModelName",
            ModelService::ByProportion(_) => "byProportion",
            ModelService::ByMetrics(_) => "byMetrics",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ModelRule {
    /// The glob as written (`qwen-*`).
    pub pattern: String,
    pub target: Target,
}

#[derive(Debug, Clone, PartialEq)]
pub struct WeightedTarget {
    pub target: Target,
    /// `>= 0`; the weights of one Model API sum to more than 0.
    pub weight: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MetricsBalance {
    pub targets: Vec<Target>,
    pub objective: Objective,
    /// Half-life of observations.
    pub decay_ms: u64,
}

/// What `byMetrics` minimises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Objective {
    Latency,
    FirstTokenLatency,
    LeastBusy,
}

impl Objective {
    pub fn spec_name(self) -> &'static str {
        match self {
            Objective::Latency => "latency",
            Objective::FirstTokenLatency => "firstTokenLatency",
            Objective::LeastBusy => "leastBusy",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub service: ServiceId,
    /// `None` passes the client's model through.
    pub model: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub model_api: ModelApiId,
    /// Stable catalog name, e.g. `chat-completions`.
    pub name: &'static str,
    pub kind: RouteKind,
    /// Path below the base path, from the catalog.
    pub path: &'static str,
    pub methods: &'static [Method],
}

#[derive(Debug, Clone, PartialEq)]
pub struct HostEntry {
    pub pattern: HostPattern,
    /// Longest base path first (ties by path), so the first hit is the most
    /// specific; each base belongs to exactly one Model API.
    pub bases: Vec<BaseEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum HostPattern {
    /// Lower-case host name without port.
    Exact(String),
    /// `*.example.com` is stored as `.example.com`.
    Suffix(String),
    /// `*`: any host.
    Any,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BaseEntry {
    /// Normalized base path (`""` for `/`).
    pub base_path: String,
    pub model_api: ModelApiId,
    /// The Model API's routes, in catalog order.
    pub routes: Vec<RouteId>,
}
