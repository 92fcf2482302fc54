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
}

/// Provider kinds. Each knows how it authenticates and which protocols it speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// Any OpenAI-compatible endpoint (Bearer key).
    OpenAi,
    /// The built-in deterministic mock, answered in process.
    Mock,
}

#[derive(Debug, Clone, Copy)]
pub struct ServiceTimeouts {
    pub connect_ms: u64,
    /// Whole request budget, head to last byte; 0 disables it.
    pub request_ms: u64,
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
    /// 0 disables it.
    pub first_packet_timeout_ms: u64,
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

/// How a Model API chooses a service. More modes (by model name, by
/// proportion, by metrics, intelligent) become more variants.
#[derive(Debug)]
pub enum ModelService {
    Single(Target),
}

/// A service plus an optional model rewrite (`None` passes the model through).
#[derive(Debug, Clone, Copy)]
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

#[cfg(test)]
mod tests {
    use super::*;

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
