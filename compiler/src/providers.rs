//! The compiler's mirror of the runtime provider table: default base URLs, native endpoints, and which routes each provider can serve.
//!
//! MIRROR of `runtime/src/provider/table.rs` (rows) and
//! `runtime/src/provider/plan.rs` (`plan_upstream`, `can_serve`). The
//! compiler cannot depend on the runtime, so both are plain data kept in
//! step by hand: change one, change the other. The compiler uses it to fill
//! the effective base URL, to reject a Model API a service cannot serve
//! (E0219), and to show in the route table and `explain` which upstream API
//! each route reaches and whether the body is converted.

use crate::{
    catalog::{Protocol, RouteKind},
    ir::Provider,
};

/// A text-generation API an upstream can expose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamApi {
    /// OpenAI chat completions.
    OpenAiChat,
    /// OpenAI legacy completions (`prompt` in, `choices[].text` out).
    OpenAiCompletions,
    /// Anthropic messages.
    AnthropicMessages,
    /// DashScope native text generation (`input` / `parameters`).
    DashScopeGeneration,
}

impl UpstreamApi {
    /// How the route table and `explain` name it.
    pub fn display_name(self) -> &'static str {
        match self {
            UpstreamApi::OpenAiChat => "openai chat-completions",
            UpstreamApi::OpenAiCompletions => "openai completions",
            UpstreamApi::AnthropicMessages => "anthropic messages",
            UpstreamApi::DashScopeGeneration => "dashscope text-generation",
        }
    }
}

/// How an endpoint takes the service's API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// `Authorization: Bearer <key>`.
    Bearer,
    /// `x-api-key: <key>` (+ `anthropic-version`).
    XApiKey,
    /// Azure's `api-key: <key>`.
    AzureApiKey,
}

impl Credential {
    pub fn display_name(self) -> &'static str {
        match self {
            Credential::Bearer => "Authorization: Bearer",
            Credential::XApiKey => "x-api-key",
            Credential::AzureApiKey => "api-key",
        }
    }
}

/// One native endpoint of a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    pub api: UpstreamApi,
    /// Appended to the base URL; may hold `{deployment}` and `{api_version}`.
    pub path: &'static str,
    pub credential: Credential,
}

/// What the compiler knows about one provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProviderFacts {
    pub provider: Provider,
    /// `None`: the spec must give `baseUrl` (except the in-process mock).
    pub default_base_url: Option<&'static str>,
    /// Native endpoints, in the runtime's order.
    pub endpoints: &'static [Endpoint],
}

impl ProviderFacts {
    /// The native endpoint of `api`, if the provider has one.
    pub fn endpoint(&self, api: UpstreamApi) -> Option<&'static Endpoint> {
        self.endpoints.iter().find(|e| e.api == api)
    }

    /// Whether the spec must write `baseUrl` for this provider.
    pub fn needs_base_url(&self) -> bool {
        self.default_base_url.is_none() && self.provider != Provider::Mock
    }
}

const fn endpoint(api: UpstreamApi, path: &'static str, credential: Credential) -> Endpoint {
    Endpoint {
        api,
        path,
        credential,
    }
}

use Credential::{AzureApiKey, Bearer, XApiKey};
use UpstreamApi::{AnthropicMessages, DashScopeGeneration, OpenAiChat, OpenAiCompletions};

const OPENAI_LAYOUT: [Endpoint; 2] = [
    endpoint(OpenAiChat, "/v1/chat/completions", Bearer),
    endpoint(OpenAiCompletions, "/v1/completions", Bearer),
];

/// One row per provider, in [`Provider::ALL`] order (a test checks it).
const TABLE: [ProviderFacts; 12] = [
    ProviderFacts {
        provider: Provider::OpenAi,
        default_base_url: Some("https://api.openai.com"),
        endpoints: &OPENAI_LAYOUT,
    },
    ProviderFacts {
        provider: Provider::AzureOpenAi,
        default_base_url: None,
        endpoints: &[
            endpoint(
                OpenAiChat,
                "/openai/deployments/{deployment}/chat/completions?api-version={api_version}",
                AzureApiKey,
            ),
            endpoint(
                OpenAiCompletions,
                "/openai/deployments/{deployment}/completions?api-version={api_version}",
                AzureApiKey,
            ),
        ],
    },
    ProviderFacts {
        provider: Provider::Anthropic,
        default_base_url: Some("https://api.anthropic.com"),
        endpoints: &[endpoint(AnthropicMessages, "/v1/messages", XApiKey)],
    },
    ProviderFacts {
        provider: Provider::DashScope,
        default_base_url: Some("https://dashscope.aliyuncs.com"),
        endpoints: &[
            endpoint(OpenAiChat, "/compatible-mode/v1/chat/completions", Bearer),
            endpoint(OpenAiCompletions, "/compatible-mode/v1/completions", Bearer),
            endpoint(AnthropicMessages, "/apps/anthropic/v1/messages", XApiKey),
            endpoint(
                DashScopeGeneration,
                "/api/v1/services/aigc/text-generation/generation",
                Bearer,
            ),
        ],
    },
    ProviderFacts {
        provider: Provider::Vllm,
        default_base_url: None,
        endpoints: &OPENAI_LAYOUT,
    },
    ProviderFacts {
        provider: Provider::Moonshot,
        default_base_url: Some("https://api.moonshot.cn"),
        endpoints: &[
            endpoint(OpenAiChat, "/v1/chat/completions", Bearer),
            endpoint(AnthropicMessages, "/anthropic/v1/messages", XApiKey),
        ],
    },
    ProviderFacts {
        provider: Provider::Zhipu,
        default_base_url: Some("https://open.bigmodel.cn"),
        endpoints: &[
            endpoint(OpenAiChat, "/api/paas/v4/chat/completions", Bearer),
            endpoint(AnthropicMessages, "/api/anthropic/v1/messages", XApiKey),
        ],
    },
    ProviderFacts {
        provider: Provider::DeepSeek,
        default_base_url: Some("https://api.deepseek.com"),
        endpoints: &[
            endpoint(OpenAiChat, "/chat/completions", Bearer),
            endpoint(OpenAiCompletions, "/beta/completions", Bearer),
            endpoint(AnthropicMessages, "/anthropic/v1/messages", XApiKey),
        ],
    },
    ProviderFacts {
        provider: Provider::Ollama,
        default_base_url: Some("http://127.0.0.1:11434"),
        endpoints: &[
            endpoint(OpenAiChat, "/v1/chat/completions", Bearer),
            endpoint(OpenAiCompletions, "/v1/completions", Bearer),
            endpoint(AnthropicMessages, "/v1/messages", Bearer),
        ],
    },
    ProviderFacts {
        provider: Provider::ComfyUi,
        default_base_url: None,
        endpoints: &[],
    },
    ProviderFacts {
        provider: Provider::OpenAiCompatible,
        default_base_url: None,
        endpoints: &OPENAI_LAYOUT,
    },
    ProviderFacts {
        provider: Provider::Mock,
        default_base_url: None,
        endpoints: &[
            endpoint(OpenAiChat, "/v1/chat/completions", Bearer),
            endpoint(OpenAiCompletions, "/v1/completions", Bearer),
            endpoint(AnthropicMessages, "/v1/messages", XApiKey),
            endpoint(
                DashScopeGeneration,
                "/api/v1/services/aigc/text-generation/generation",
                Bearer,
            ),
        ],
    },
];

/// The row of `provider`.
pub fn facts(provider: Provider) -> &'static ProviderFacts {
    // TABLE is in `Provider::ALL` (declaration) order, which a test checks.
    &TABLE[provider as usize]
}

/// The body conversion between client and upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conversion {
    /// Same protocol: bytes pass through.
    None,
    OpenAiToAnthropic,
    AnthropicToOpenAi,
    OpenAiToDashScope,
}

impl Conversion {
    /// `converts openai -> anthropic`, or `native` when bytes pass through.
    pub fn display_text(self) -> &'static str {
        match self {
            Conversion::None => "native",
            Conversion::OpenAiToAnthropic => "converts openai -> anthropic",
            Conversion::AnthropicToOpenAi => "converts anthropic -> openai",
            Conversion::OpenAiToDashScope => "converts openai -> dashscope",
        }
    }
}

/// How one route of a Model API reaches one service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Serving {
    pub endpoint: &'static Endpoint,
    pub conversion: Conversion,
}

/// The endpoint and conversion a client request uses (mirror of the
/// runtime's `plan_upstream`: native beats converted); `None` when the
/// provider cannot serve it at all.
pub fn serve(
    provider: Provider,
    protocol: Protocol,
    route: RouteKind,
    dashscope_native: bool,
) -> Option<Serving> {
    let candidates: &[(UpstreamApi, Conversion)] = match (protocol, route) {
        (Protocol::OpenAi, RouteKind::ChatCompletions) if dashscope_native => &[
            (DashScopeGeneration, Conversion::OpenAiToDashScope),
            (OpenAiChat, Conversion::None),
            (AnthropicMessages, Conversion::OpenAiToAnthropic),
        ],
        (Protocol::OpenAi, RouteKind::ChatCompletions) => &[
            (OpenAiChat, Conversion::None),
            (AnthropicMessages, Conversion::OpenAiToAnthropic),
            (DashScopeGeneration, Conversion::OpenAiToDashScope),
        ],
        // No converter exists for the legacy completions API.
        (Protocol::OpenAi, RouteKind::Completions) => &[(OpenAiCompletions, Conversion::None)],
        (Protocol::Anthropic, RouteKind::Messages) => &[
            (AnthropicMessages, Conversion::None),
            (OpenAiChat, Conversion::AnthropicToOpenAi),
        ],
        _ => &[],
    };
    let row = facts(provider);
    candidates.iter().find_map(|(api, conversion)| {
        row.endpoint(*api).map(|endpoint| Serving {
            endpoint,
            conversion: *conversion,
        })
    })
}

/// Whether a service of `provider` can serve `route` of a `protocol` Model
/// API at all; provider settings never change the answer.
pub fn can_serve(provider: Provider, protocol: Protocol, route: RouteKind) -> bool {
    serve(provider, protocol, route, false).is_some()
}

/// Every provider that can serve `route` of a `protocol` Model API.
pub fn providers_serving(protocol: Protocol, route: RouteKind) -> Vec<Provider> {
    Provider::ALL
        .into_iter()
        .filter(|p| can_serve(*p, protocol, route))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(providers: &[Provider]) -> Vec<&'static str> {
        providers.iter().map(|p| p.spec_name()).collect()
    }

    #[test]
    fn rows_follow_the_provider_order() {
        for provider in Provider::ALL {
            assert_eq!(facts(provider).provider, provider);
        }
    }

    #[test]
    fn default_base_urls_and_which_providers_need_one() {
        assert_eq!(
            facts(Provider::OpenAi).default_base_url,
            Some("https://api.openai.com")
        );
        assert_eq!(
            facts(Provider::Ollama).default_base_url,
            Some("http://127.0.0.1:11434")
        );
        let needing: Vec<Provider> = Provider::ALL
            .into_iter()
            .filter(|p| facts(*p).needs_base_url())
            .collect();
        assert_eq!(
            names(&needing),
            ["azure-openai", "vllm", "comfyui", "openai-compatible"]
        );
    }

    #[test]
    fn chat_and_messages_are_served_by_every_text_provider() {
        let everyone_but_comfyui: Vec<&str> = Provider::ALL
            .into_iter()
            .filter(|p| *p != Provider::ComfyUi)
            .map(Provider::spec_name)
            .collect();
        assert_eq!(
            names(&providers_serving(
                Protocol::OpenAi,
                RouteKind::ChatCompletions
            )),
            everyone_but_comfyui
        );
        assert_eq!(
            names(&providers_serving(Protocol::Anthropic, RouteKind::Messages)),
            everyone_but_comfyui
        );
    }

    #[test]
    fn legacy_completions_need_a_native_completions_endpoint() {
        assert_eq!(
            names(&providers_serving(Protocol::OpenAi, RouteKind::Completions)),
            [
                "openai",
                "azure-openai",
                "dashscope",
                "vllm",
                "deepseek",
                "ollama",
                "openai-compatible",
                "mock"
            ]
        );
    }

    #[test]
    fn native_beats_converted_and_dashscope_native_mode_converts() {
        let anthropic_chat = serve(
            Provider::Anthropic,
            Protocol::OpenAi,
            RouteKind::ChatCompletions,
            false,
        )
        .expect("anthropic serves chat by conversion");
        assert_eq!(anthropic_chat.conversion, Conversion::OpenAiToAnthropic);
        assert_eq!(anthropic_chat.endpoint.path, "/v1/messages");

        let vllm_messages = serve(
            Provider::Vllm,
            Protocol::Anthropic,
            RouteKind::Messages,
            false,
        )
        .expect("vllm serves messages by conversion");
        assert_eq!(vllm_messages.conversion, Conversion::AnthropicToOpenAi);

        let moonshot_messages = serve(
            Provider::Moonshot,
            Protocol::Anthropic,
            RouteKind::Messages,
            false,
        )
        .expect("moonshot speaks anthropic");
        assert_eq!(moonshot_messages.conversion, Conversion::None);
        assert_eq!(moonshot_messages.endpoint.path, "/anthropic/v1/messages");

        let dashscope = |native| {
            serve(
                Provider::DashScope,
                Protocol::OpenAi,
                RouteKind::ChatCompletions,
                native,
            )
            .map(|s| s.conversion)
        };
        assert_eq!(dashscope(false), Some(Conversion::None));
        assert_eq!(dashscope(true), Some(Conversion::OpenAiToDashScope));
        assert!(!can_serve(
            Provider::ComfyUi,
            Protocol::OpenAi,
            RouteKind::ChatCompletions
        ));
        assert!(!can_serve(
            Provider::Zhipu,
            Protocol::OpenAi,
            RouteKind::Completions
        ));
    }
}
