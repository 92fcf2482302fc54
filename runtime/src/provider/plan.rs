//! Which upstream endpoint serves a client request, and which conversion sits in between.
//!
//! The rule, per client API (native beats converted; [`can_serve`] is "a plan exists"):
//!
//! | client (protocol, route kind)   | served by, in order                                                     |
//! |---------------------------------|-------------------------------------------------------------------------|
//! | OpenAI, chat completions        | DashScope native if `dashscope_native`; OpenAI chat; Anthropic (convert); DashScope native (convert) |
//! | OpenAI, completions             | OpenAI completions only (no converter for the legacy API)              |
//! | Anthropic, messages             | Anthropic messages; OpenAI chat (convert)                               |
//!
//! Same-protocol plans carry [`Conversion::None`]: the proxy forwards the
//! client's bytes, which keeps Anthropic thinking signatures byte for byte.

use crate::codegen::{Protocol, RouteKind};
use crate::convert::WireFormat;

use super::Kind;
use super::table::{Credential, UpstreamApi, info};

/// Azure's latest GA data-plane inference version when the spec sets none.
pub const DEFAULT_AZURE_API_VERSION: &str = "2024-10-21";

/// `max_tokens` for converted Anthropic requests when the spec sets none.
pub const DEFAULT_MAX_TOKENS: u64 = 4096;

/// Per-service settings the plan depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProviderSettings {
    /// Azure `api-version` query value.
    pub azure_api_version: &'static str,
    /// DashScope: send OpenAI chat clients to the native text-generation API
    /// (converted) instead of the OpenAI-compatible mode.
    pub dashscope_native: bool,
    /// `max_tokens` sent to an Anthropic upstream when an OpenAI client set
    /// no limit (Anthropic requires one).
    pub default_max_tokens: u64,
}

impl Default for ProviderSettings {
    fn default() -> ProviderSettings {
        ProviderSettings {
            azure_api_version: DEFAULT_AZURE_API_VERSION,
            dashscope_native: false,
            default_max_tokens: DEFAULT_MAX_TOKENS,
        }
    }
}

/// The body and stream conversion between client and upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conversion {
    /// Same protocol: bytes pass through (only the model may be rewritten).
    None,
    /// OpenAI chat client -> Anthropic messages upstream.
    OpenAiToAnthropic,
    /// Anthropic messages client -> OpenAI chat upstream.
    AnthropicToOpenAi,
    /// OpenAI chat client -> DashScope native upstream.
    OpenAiToDashScope,
}

/// How one client request reaches one service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpstreamPlan {
    pub kind: Kind,
    /// What the client speaks.
    pub client: WireFormat,
    /// The upstream endpoint's API.
    pub api: UpstreamApi,
    /// Path template below the base URL (see [`super::upstream_url`]).
    pub path: &'static str,
    pub credential: Credential,
    pub conversion: Conversion,
}

impl UpstreamPlan {
    /// The wire format the upstream speaks.
    pub fn upstream(&self) -> WireFormat {
        self.api.wire()
    }
}

/// Why no endpoint of a provider can serve a client API; the message names both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported {
    pub message: String,
}

impl std::fmt::Display for Unsupported {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.message)
    }
}

impl std::error::Error for Unsupported {}

/// Picks the upstream endpoint and conversion for a client request.
pub fn plan_upstream(
    kind: Kind,
    client_protocol: Protocol,
    route_kind: RouteKind,
    settings: &ProviderSettings,
) -> Result<UpstreamPlan, Unsupported> {
    let client = match (client_protocol, route_kind) {
        (Protocol::OpenAi, RouteKind::ChatCompletions) => UpstreamApi::OpenAiChat,
        (Protocol::OpenAi, RouteKind::Completions) => UpstreamApi::OpenAiCompletions,
        (Protocol::Anthropic, RouteKind::Messages) => UpstreamApi::AnthropicMessages,
        (protocol, route) => {
            return Err(Unsupported {
                message: format!(
                    "route kind {route:?} does not belong to the {protocol:?} protocol"
                ),
            });
        }
    };
    let row = info(kind);
    let candidates: &[(UpstreamApi, Conversion)] = match client {
        UpstreamApi::OpenAiChat if settings.dashscope_native => &[
            (
                UpstreamApi::DashScopeGeneration,
                Conversion::OpenAiToDashScope,
            ),
            (UpstreamApi::OpenAiChat, Conversion::None),
            (
                UpstreamApi::AnthropicMessages,
                Conversion::OpenAiToAnthropic,
            ),
        ],
        UpstreamApi::OpenAiChat => &[
            (UpstreamApi::OpenAiChat, Conversion::None),
            (
                UpstreamApi::AnthropicMessages,
                Conversion::OpenAiToAnthropic,
            ),
            (
                UpstreamApi::DashScopeGeneration,
                Conversion::OpenAiToDashScope,
            ),
        ],
        UpstreamApi::OpenAiCompletions => &[(UpstreamApi::OpenAiCompletions, Conversion::None)],
        UpstreamApi::AnthropicMessages => &[
            (UpstreamApi::AnthropicMessages, Conversion::None),
            (UpstreamApi::OpenAiChat, Conversion::AnthropicToOpenAi),
        ],
        // Clients never speak DashScope native through a Model API.
        UpstreamApi::DashScopeGeneration => &[],
    };
    candidates
        .iter()
        .find_map(|(api, conversion)| {
            row.endpoint(*api).map(|endpoint| UpstreamPlan {
                kind,
                client: client.wire(),
                api: *api,
                path: endpoint.path,
                credential: endpoint.credential,
                conversion: *conversion,
            })
        })
        .ok_or_else(|| Unsupported {
            message: format!(
                "provider `{}` cannot serve {} requests, natively or by conversion",
                row.spec_name,
                client_api_name(client)
            ),
        })
}

/// Whether a service of `kind` can serve a Model API of `protocol` on
/// `route_kind` at all (natively or converted). The compiler's mirror of
/// this is a compile error; settings never change the answer.
pub fn can_serve(kind: Kind, protocol: Protocol, route_kind: RouteKind) -> bool {
    plan_upstream(kind, protocol, route_kind, &ProviderSettings::default()).is_ok()
}

fn client_api_name(api: UpstreamApi) -> &'static str {
    match api {
        UpstreamApi::OpenAiChat => "OpenAI chat completions",
        UpstreamApi::OpenAiCompletions => "OpenAI completions",
        UpstreamApi::AnthropicMessages => "Anthropic messages",
        UpstreamApi::DashScopeGeneration => "DashScope text generation",
    }
}
