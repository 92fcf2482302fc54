//! The one module generated gateway code may name: the plan's data types and the helpers its matchers call.
//!
//! Everything here is plain `'static` data so a generated `plan.rs` is a
//! handful of `static` tables plus one `match`-based function. Anything
//! algorithmic (weighted picks, fallback iteration, balancing) lives elsewhere
//! in the runtime and reads these tables; generated code never reaches past
//! this module.
//!
//! Compatibility rule: the compiler emits struct literals for these types, so
//! adding a field means updating `gatesmith`'s emitter in the same change.

/// Dense index into [`Plan::services`].
pub type ServiceId = u16;
/// Dense index into [`Plan::model_apis`].
pub type ModelApiId = u16;
/// Dense index into [`Plan::routes`].
pub type RouteId = u16;

/// A complete, resolved gateway plan for one environment.
#[derive(Debug)]
pub struct Plan {
    /// The environment name (the spec folder's `Gateway.name`).
    pub environment: &'static str,
    pub gateway: GatewaySettings,
    pub services: &'static [Service],
    pub model_apis: &'static [ModelApi],
    pub routes: &'static [Route],
    /// The generated matcher: host (lower-case, port removed) and path (no
    /// query) to a route, or why none matched.
    pub match_route: fn(host: &str, path: &str, method: Method) -> RouteMatch,
}

/// The gateway's own settings (`kind: Gateway`).
#[derive(Debug)]
pub struct GatewaySettings {
    /// Default listen address; `--listen` on the binary overrides it.
    pub listen: &'static str,
    /// Request bodies larger than this get 413 without being buffered.
    pub max_request_bytes: u64,
    /// Time a client has to send the request head.
    pub header_read_timeout_ms: u64,
    /// How long SIGTERM waits for in-flight requests before closing them.
    pub drain_grace_ms: u64,
}

/// One upstream endpoint (`kind: AIService`).
#[derive(Debug)]
pub struct Service {
    pub name: &'static str,
    pub provider: Provider,
    /// Scheme, host, optional port and optional path prefix; no trailing `/`.
    /// Empty for the built-in mock.
    pub base_url: &'static str,
    /// Name of the environment variable holding the API key, read once at
    /// startup. The key itself never appears in a plan.
    pub api_key_env: Option<&'static str>,
    pub timeouts: ServiceTimeouts,
    /// Behaviour of the built-in mock (only for [`Provider::Mock`]).
    pub mock: Option<MockSettings>,
    pub options: ProviderOptions,
}

/// Provider kinds. Each knows how it authenticates, which protocols it speaks
/// natively and the upstream path of each route kind (`crate::provider`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// OpenAI itself (Bearer key).
    OpenAi,
    /// Azure OpenAI: `api-key` header, deployment paths, `api-version`.
    AzureOpenAi,
    /// Anthropic: `x-api-key` + `anthropic-version`.
    Anthropic,
    /// Alibaba Cloud Model Studio: native API, OpenAI-compatible mode and an
    /// Anthropic endpoint.
    DashScope,
    Vllm,
    Moonshot,
    Zhipu,
    DeepSeek,
    Ollama,
    ComfyUi,
    /// Any other OpenAI-compatible endpoint.
    OpenAiCompatible,
    /// The built-in deterministic mock, answered in process.
    Mock,
}

/// Provider-specific settings of a service; each is ignored by providers it
/// does not concern.
#[derive(Debug, Clone, Copy)]
pub struct ProviderOptions {
    /// Azure OpenAI `api-version` query parameter.
    pub azure_api_version: &'static str,
    /// DashScope: call the native text-generation API (converting from and to
    /// the client's protocol) instead of the OpenAI-compatible mode.
    pub dashscope_native: bool,
    /// `max_tokens` sent to Anthropic-protocol upstreams when the client gave
    /// none (Anthropic requires one).
    pub default_max_tokens: u32,
}

impl ProviderOptions {
    /// The spec's defaults, for hand-written plans in tests.
    pub const DEFAULT: ProviderOptions = ProviderOptions {
        azure_api_version: "2024-10-21",
        dashscope_native: false,
        default_max_tokens: 4096,
    };
}

/// A service's timers. Every value is in milliseconds; 0 disables a timer.
#[derive(Debug, Clone, Copy)]
pub struct ServiceTimeouts {
    /// TCP (and TLS) connect.
    pub connect_ms: u64,
    /// Streaming: from sending the request to the first content delta
    /// (pings and role-only preludes do not count).
    pub first_packet_ms: u64,
    /// Streaming: the longest gap between two chunks after the first.
    pub idle_ms: u64,
    /// Whole attempt, request sent to last byte.
    pub total_ms: u64,
}

/// Settings of the built-in mock provider, per service.
#[derive(Debug, Clone, Copy)]
pub struct MockSettings {
    /// Added before the response head.
    pub latency_ms: u64,
    /// Number of content chunks in a streamed answer.
    pub stream_chunks: u32,
    /// Delay between streamed chunks.
    pub chunk_delay_ms: u64,
    /// Completion tokens in an answer (drives answer length and usage).
    pub completion_tokens: u32,
    /// A fault to inject on every request unless a request header overrides it.
    pub fault: Option<MockFault>,
}

/// Faults the mock can inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MockFault {
    /// Answer with this status and a protocol error body.
    Status(u16),
    /// Send nothing (not even the head) for this long.
    StallBeforeHead { ms: u64 },
    /// Send the head, then nothing for this long before the first chunk.
    StallBeforeFirstChunk { ms: u64 },
    /// Send this many chunks, then stall for this long.
    StallAfterChunks { chunks: u32, ms: u64 },
    /// Send this many chunks, then close the stream without a terminator.
    CutAfterChunks { chunks: u32 },
    /// Send a malformed event after this many chunks, then carry on.
    MalformedAfterChunks { chunks: u32 },
    /// Streams: send this many chunks, then the protocol's own error event
    /// (OpenAI `data: {"error":...}`, Anthropic `event: error`) and end.
    ErrorEventAfterChunks { chunks: u32 },
    /// Answer 400 with the provider's context-length error ("prompt too long").
    ContextLength,
}

/// One Model API: what the user creates, edits and deletes.
#[derive(Debug)]
pub struct ModelApi {
    pub name: &'static str,
    pub use_case: UseCase,
    pub protocol: Protocol,
    pub resource_group: &'static str,
    pub base_path: &'static str,
    pub strip_base_path: bool,
    pub monitoring: Monitoring,
    pub model_service: ModelService,
    /// Tried in order after the primary target fails before the commit point.
    pub fallback: &'static [Target],
    pub failover: FailoverPolicy,
    /// Per-Model-API overrides of the chosen service's timers.
    pub timeouts: TimeoutOverrides,
}

/// Timer overrides; `None` keeps the service's value, `Some(0)` disables it.
#[derive(Debug, Clone, Copy)]
pub struct TimeoutOverrides {
    pub first_packet_ms: Option<u64>,
    pub idle_ms: Option<u64>,
    pub total_ms: Option<u64>,
}

/// Which failures move on to the next target, beyond the ones that always do
/// (connect errors, timeouts, 429, 5xx, 529, first packet timeout, an error
/// event before any content).
#[derive(Debug, Clone, Copy)]
pub struct FailoverPolicy {
    /// 400, 401, 403, 404 and 413 also fail over.
    pub on_client_errors: bool,
    /// A context-length error (a 400 saying the prompt is too long) fails over.
    pub on_context_length: bool,
    /// Time budget for all attempts of one request together; 0 = none.
    pub budget_ms: u64,
    /// What to do when every remaining target is cooling down.
    pub when_all_cooling: WhenAllCooling,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenAllCooling {
    /// Answer 503 with `Retry-After` set to the soonest recovery.
    Reject,
    /// Wait for the soonest recovery, up to this many milliseconds, then try it.
    WaitUpTo { ms: u64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UseCase {
    TextGeneration,
    ImageGeneration,
    VideoGeneration,
    SpeechSynthesis,
    Embedding,
    Rerank,
    Others,
}

/// The client-facing protocol of a Model API; decides default routes and the
/// error format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    OpenAi,
    Anthropic,
}

#[derive(Debug, Clone, Copy)]
pub struct Monitoring {
    pub metrics: bool,
    pub logs: bool,
    pub traces: bool,
    pub record_request: bool,
    pub record_response: bool,
}

/// How a Model API chooses its primary target. (`intelligent` becomes one
/// more variant.)
#[derive(Debug)]
pub enum ModelService {
    /// One service; model passed through or rewritten.
    Single(Target),
    /// Ordered rules on the request's `model`. `select` is generated from the
    /// compiled globs and returns the index of the winning rule (precedence:
    /// exact before glob, more literal characters before fewer, then
    /// declaration order), or `None` when no rule matches.
    ByModelName {
        rules: &'static [ModelRule],
        select: fn(model: &str) -> Option<u16>,
    },
    /// Traffic split by weight; listing order never changes the split.
    ByProportion(&'static [WeightedTarget]),
    /// Chosen from live observations (power of two choices over peak-EWMA cost).
    ByMetrics(MetricsBalance),
}

/// One `byModelName` rule.
#[derive(Debug, Clone, Copy)]
pub struct ModelRule {
    /// The pattern as written (`qwen-*`), for headers, logs and `explain`.
    pub pattern: &'static str,
    pub target: Target,
}

/// One `byProportion` entry; weight 0 drains the target.
#[derive(Debug, Clone, Copy)]
pub struct WeightedTarget {
    pub target: Target,
    pub weight: f64,
}

#[derive(Debug, Clone, Copy)]
pub struct MetricsBalance {
    pub targets: &'static [Target],
    pub objective: Objective,
    /// Half-life of observations: a healed service wins traffic back within a
    /// few of these.
    pub decay_ms: u64,
}

/// What `byMetrics` minimises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Objective {
    /// Total latency (and, for streams, first-token latency), weighted by failures.
    Latency,
    /// First-token latency of streams.
    FirstTokenLatency,
    /// Requests in flight.
    LeastBusy,
}

/// A service plus an optional model rewrite (`None` passes the model through).
/// A request never tries the same `(service, model)` twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub service: ServiceId,
    pub model: Option<&'static str>,
}

/// One concrete route of one Model API.
#[derive(Debug)]
pub struct Route {
    pub model_api: ModelApiId,
    /// Stable name from the route catalog, e.g. `chat-completions`.
    pub name: &'static str,
    pub kind: RouteKind,
    /// The route's path as written in the catalog (below the base path).
    pub path: &'static str,
    pub methods: Methods,
}

/// What a route does; decides how the body is read and adapted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteKind {
    ChatCompletions,
    Completions,
    Messages,
}

/// HTTP methods as a bitset, so a route's methods are one constant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Methods(pub u16);

impl Methods {
    pub const GET: Methods = Methods(1);
    pub const POST: Methods = Methods(1 << 1);
    pub const PUT: Methods = Methods(1 << 2);
    pub const PATCH: Methods = Methods(1 << 3);
    pub const DELETE: Methods = Methods(1 << 4);
    pub const HEAD: Methods = Methods(1 << 5);
    pub const OPTIONS: Methods = Methods(1 << 6);

    pub const fn union(self, other: Methods) -> Methods {
        Methods(self.0 | other.0)
    }

    pub const fn contains(self, method: Method) -> bool {
        self.0 & (method as u16) != 0
    }

    /// Method names in a fixed order, for `Allow` headers.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Method::ALL
            .into_iter()
            .filter(move |m| self.contains(*m))
            .map(Method::as_str)
    }
}

/// A request method the gateway can route. Anything else never matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
pub enum Method {
    Get = 1,
    Post = 1 << 1,
    Put = 1 << 2,
    Patch = 1 << 3,
    Delete = 1 << 4,
    Head = 1 << 5,
    Options = 1 << 6,
    /// Any other method: matches no route.
    Other = 1 << 15,
}

impl Method {
    pub const ALL: [Method; 7] = [
        Method::Get,
        Method::Post,
        Method::Put,
        Method::Patch,
        Method::Delete,
        Method::Head,
        Method::Options,
    ];

    pub fn from_http(method: &http::Method) -> Method {
        match *method {
            http::Method::GET => Method::Get,
            http::Method::POST => Method::Post,
            http::Method::PUT => Method::Put,
            http::Method::PATCH => Method::Patch,
            http::Method::DELETE => Method::Delete,
            http::Method::HEAD => Method::Head,
            http::Method::OPTIONS => Method::Options,
            _ => Method::Other,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Head => "HEAD",
            Method::Options => "OPTIONS",
            Method::Other => "OTHER",
        }
    }
}

/// The matcher's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteMatch {
    /// `base_len` is the byte length of the matched base path (0 for `/`),
    /// so the forwarded path is `&path[base_len..]` when stripping.
    Found { route: RouteId, base_len: u16 },
    /// The path exists under a Model API but not for this method.
    MethodNotAllowed {
        model_api: ModelApiId,
        allowed: Methods,
    },
    /// A Model API owns the host and base path, but no route has this path.
    NoRoute { model_api: ModelApiId },
    /// No Model API serves this host and base path.
    NotFound,
}

/// Matches a base path at a segment boundary and returns the rest of the path.
///
/// `base` is normalized (`/a/b`, never a trailing `/`); `/` is passed as the
/// empty string and matches everything.
#[inline]
pub fn strip_base<'p>(path: &'p str, base: &str) -> Option<&'p str> {
    let rest = path.strip_prefix(base)?;
    if rest.is_empty() || rest.starts_with('/') {
        Some(rest)
    } else {
        None
    }
}

/// True when `host` is a strict subdomain of `suffix` (`suffix` starts with `.`).
#[inline]
pub fn host_has_suffix(host: &str, suffix: &str) -> bool {
    host.len() > suffix.len() && host.ends_with(suffix)
}

/// Matches `text` against a model-name glob that the compiler split on `*`
/// into `parts` (a `?` inside a part matches exactly one character).
///
/// Only globs that are not a plain exact, prefix or suffix test reach this;
/// those compile to `==`, `starts_with` and `ends_with`. One part means no
/// `*`; otherwise the first part is anchored at the start, the last at the
/// end, and the middle ones are found leftmost-first (which is exact for
/// `*`-separated literals).
pub fn glob_matches(text: &str, parts: &[&str]) -> bool {
    match parts {
        [] => text.is_empty(),
        [only] => strip_glob_prefix(text, only).is_some_and(str::is_empty),
        [first, middle @ .., last] => {
            let Some(mut rest) = strip_glob_prefix(text, first) else {
                return false;
            };
            for part in middle {
                match find_glob_part(rest, part) {
                    Some(after) => rest = after,
                    None => return false,
                }
            }
            let wanted = last.chars().count();
            let have = rest.chars().count();
            if have < wanted {
                return false;
            }
            let start = rest
                .char_indices()
                .nth(have - wanted)
                .map_or(rest.len(), |(index, _)| index);
            strip_glob_prefix(&rest[start..], last).is_some_and(str::is_empty)
        }
    }
}

/// `text` without a leading match of `part`, where `?` matches any one character.
fn strip_glob_prefix<'t>(text: &'t str, part: &str) -> Option<&'t str> {
    let mut chars = text.char_indices();
    for wanted in part.chars() {
        let (_, got) = chars.next()?;
        if wanted != '?' && wanted != got {
            return None;
        }
    }
    Some(chars.as_str())
}

/// The text after the leftmost match of `part` in `text`.
fn find_glob_part<'t>(text: &'t str, part: &str) -> Option<&'t str> {
    text.char_indices()
        .map(|(index, _)| index)
        .chain(std::iter::once(text.len()))
        .find_map(|index| strip_glob_prefix(&text[index..], part))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiled_globs_match_like_shell_globs() {
        // `a*b?c*d` split on `*`.
        let parts = ["a", "b?c", "d"];
        assert!(glob_matches("abxcd", &parts));
        assert!(glob_matches("a--b-c--d", &parts));
        assert!(!glob_matches("abcd", &parts));
        assert!(!glob_matches("abxc", &parts));
        // `*` alone, `?` alone, no star.
        assert!(glob_matches("", &["", ""]));
        assert!(glob_matches("x", &["?"]));
        assert!(!glob_matches("xy", &["?"]));
        // The last part may not overlap a middle one: `*ab*ab` on `xab`.
        assert!(!glob_matches("xab", &["", "ab", "ab"]));
        assert!(glob_matches("abab", &["", "ab", "ab"]));
        // Multi-byte characters count as one.
        assert!(glob_matches("qwen-é", &["qwen-?"]));
        assert!(glob_matches("é-max", &["?-", ""]));
    }

    #[test]
    fn strip_base_respects_segment_boundaries() {
        assert_eq!(strip_base("/llm/v1/chat", "/llm"), Some("/v1/chat"));
        assert_eq!(strip_base("/llm", "/llm"), Some(""));
        assert_eq!(strip_base("/llmx/v1", "/llm"), None);
        assert_eq!(strip_base("/v1/chat", ""), Some("/v1/chat"));
    }

    #[test]
    fn wildcard_suffix_needs_a_label_before_it() {
        assert!(host_has_suffix("a.example.com", ".example.com"));
        assert!(host_has_suffix("a.b.example.com", ".example.com"));
        assert!(!host_has_suffix(".example.com", ".example.com"));
        assert!(!host_has_suffix("example.com", ".example.com"));
    }

    #[test]
    fn method_bitset_lists_names_in_fixed_order() {
        let m = Methods::POST.union(Methods::GET);
        assert!(m.contains(Method::Get));
        assert!(!m.contains(Method::Delete));
        assert!(!m.contains(Method::Other));
        assert_eq!(m.names().collect::<Vec<_>>(), ["GET", "POST"]);
    }
}
