//! The provider table: per provider, its spec name, default base URL and the endpoints it speaks natively.
//!
//! This is the ONE place provider facts live; the compiler mirrors it (see
//! [`super::can_serve`] for the rule it derives). Paths are appended to the
//! service's base URL (scheme, host, optional port, optional prefix). A
//! path may contain `{deployment}` (the upstream model, percent-encoded) and
//! `{api_version}` (a service setting); see [`super::upstream_url`].
//!
//! Sources, checked when this table was written:
//! - OpenAI: `https://api.openai.com/v1/chat/completions`, `/v1/completions`, Bearer.
//! - Azure OpenAI (learn.microsoft.com, "Azure OpenAI REST API reference"):
//!   `https://<resource>.openai.azure.com/openai/deployments/<deployment>/chat/completions?api-version=<v>`,
//!   key in the `api-key` header; latest GA data-plane version `2024-10-21`.
//! - Anthropic: `https://api.anthropic.com/v1/messages`, `x-api-key` + `anthropic-version: 2023-06-01`.
//! - DashScope (help.aliyun.com/zh/model-studio): OpenAI-compatible mode
//!   `https://dashscope.aliyuncs.com/compatible-mode/v1/chat/completions` (and
//!   `/completions`), native `/api/v1/services/aigc/text-generation/generation`
//!   (Bearer), Anthropic endpoint base `https://dashscope.aliyuncs.com/apps/anthropic`.
//! - Moonshot (platform.moonshot.cn / .ai docs): OpenAI `https://api.moonshot.cn/v1/chat/completions`,
//!   Anthropic base `https://api.moonshot.cn/anthropic`.
//! - Zhipu (open.bigmodel.cn docs): OpenAI `/api/paas/v4/chat/completions`,
//!   Anthropic base `https://open.bigmodel.cn/api/anthropic` (reads `x-api-key`).
//! - DeepSeek (api-docs.deepseek.com): OpenAI `https://api.deepseek.com/chat/completions`
//!   (`/v1/chat/completions` is an alias), FIM completions `/beta/completions`,
//!   Anthropic base `https://api.deepseek.com/anthropic` (`x-api-key` "fully supported").
//! - Ollama (docs.ollama.com, "OpenAI compatibility", "Anthropic compatibility",
//!   v0.14+): `http://127.0.0.1:11434/v1/chat/completions`, `/v1/completions`,
//!   `/v1/messages`; local servers ignore keys, ollama.com wants Bearer.
//! - vLLM (docs.vllm.ai, "OpenAI-Compatible Server"): `/v1/chat/completions`,
//!   `/v1/completions`, `--api-key` checked as Bearer. Its newer Anthropic
//!   endpoint is not listed: older servers lack it and conversion covers it.
//! - ComfyUI serves image workflows only: no text endpoint.

use crate::convert::WireFormat;

use super::Kind;

/// A text-generation API an upstream can expose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UpstreamApi {
    /// OpenAI chat completions (`messages` in, `choices[].message` out).
    OpenAiChat,
    /// OpenAI legacy completions (`prompt` in, `choices[].text` out).
    OpenAiCompletions,
    /// Anthropic messages.
    AnthropicMessages,
    /// DashScope native text generation (`input`/`parameters`).
    DashScopeGeneration,
}

impl UpstreamApi {
    /// The wire format bodies and streams of this API are in.
    pub fn wire(self) -> WireFormat {
        match self {
            UpstreamApi::OpenAiChat | UpstreamApi::OpenAiCompletions => WireFormat::OpenAi,
            UpstreamApi::AnthropicMessages => WireFormat::Anthropic,
            UpstreamApi::DashScopeGeneration => WireFormat::DashScope,
        }
    }
}

/// How an endpoint takes the service's API key (only when one is configured).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// `Authorization: Bearer <key>`.
    Bearer,
    /// `x-api-key: <key>` (Anthropic and Anthropic-compatible endpoints).
    XApiKey,
    /// `api-key: <key>` (Azure OpenAI).
    AzureApiKey,
}

/// One native endpoint of a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    pub api: UpstreamApi,
    /// Appended to the base URL; may hold `{deployment}` and `{api_version}`.
    pub path: &'static str,
    pub credential: Credential,
}

/// Everything the gateway knows about one provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProviderInfo {
    pub kind: Kind,
    pub spec_name: &'static str,
    /// `None`: the spec must give `baseUrl` (self-hosted or per-tenant hosts).
    pub default_base_url: Option<&'static str>,
    /// Native endpoints, in order of preference when more than one could serve a client.
    pub endpoints: &'static [Endpoint],
}

impl ProviderInfo {
    /// The native endpoint of `api`, if the provider has one.
    pub fn endpoint(&self, api: UpstreamApi) -> Option<&'static Endpoint> {
        self.endpoints.iter().find(|endpoint| endpoint.api == api)
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

/// The `/v1/...` OpenAI layout most OpenAI-compatible servers use.
const OPENAI_LAYOUT: [Endpoint; 2] = [
    endpoint(OpenAiChat, "/v1/chat/completions", Bearer),
    endpoint(OpenAiCompletions, "/v1/completions", Bearer),
];

/// The table, one row per [`Kind`] in [`Kind::ALL`] order.
const TABLE: [ProviderInfo; 12] = [
    ProviderInfo {
        kind: Kind::OpenAi,
        spec_name: "openai",
        default_base_url: Some("https://api.openai.com"),
        endpoints: &OPENAI_LAYOUT,
    },
    ProviderInfo {
        kind: Kind::AzureOpenAi,
        spec_name: "azure-openai",
        // Per resource: https://<resource>.openai.azure.com
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
    ProviderInfo {
        kind: Kind::Anthropic,
        spec_name: "anthropic",
        default_base_url: Some("https://api.anthropic.com"),
        endpoints: &[endpoint(AnthropicMessages, "/v1/messages", XApiKey)],
    },
    ProviderInfo {
        kind: Kind::DashScope,
        spec_name: "dashscope",
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
    ProviderInfo {
        kind: Kind::Vllm,
        spec_name: "vllm",
        default_base_url: None,
        endpoints: &OPENAI_LAYOUT,
    },
    ProviderInfo {
        kind: Kind::Moonshot,
        spec_name: "moonshot",
        default_base_url: Some("https://api.moonshot.cn"),
        endpoints: &[
            endpoint(OpenAiChat, "/v1/chat/completions", Bearer),
            endpoint(AnthropicMessages, "/anthropic/v1/messages", XApiKey),
        ],
    },
    ProviderInfo {
        kind: Kind::Zhipu,
        spec_name: "zhipu",
        default_base_url: Some("https://open.bigmodel.cn"),
        endpoints: &[
            endpoint(OpenAiChat, "/api/paas/v4/chat/completions", Bearer),
            endpoint(AnthropicMessages, "/api/anthropic/v1/messages", XApiKey),
        ],
    },
    ProviderInfo {
        kind: Kind::DeepSeek,
        spec_name: "deepseek",
        default_base_url: Some("https://api.deepseek.com"),
        endpoints: &[
            endpoint(OpenAiChat, "/chat/completions", Bearer),
            // Fill-in-the-middle completions live under the beta prefix.
            endpoint(OpenAiCompletions, "/beta/completions", Bearer),
            endpoint(AnthropicMessages, "/anthropic/v1/messages", XApiKey),
        ],
    },
    ProviderInfo {
        kind: Kind::Ollama,
        spec_name: "ollama",
        default_base_url: Some("http://127.0.0.1:11434"),
        endpoints: &[
            endpoint(OpenAiChat, "/v1/chat/completions", Bearer),
            endpoint(OpenAiCompletions, "/v1/completions", Bearer),
            // ollama.com accepts only Bearer here; local servers ignore keys.
            endpoint(AnthropicMessages, "/v1/messages", Bearer),
        ],
    },
    ProviderInfo {
        kind: Kind::ComfyUi,
        spec_name: "comfyui",
        default_base_url: None,
        endpoints: &[],
    },
    ProviderInfo {
        kind: Kind::OpenAiCompatible,
        spec_name: "openai-compatible",
        default_base_url: None,
        endpoints: &OPENAI_LAYOUT,
    },
    ProviderInfo {
        kind: Kind::Mock,
        spec_name: "mock",
        // Answered in process; `gatesmith-mock` serves the same paths.
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

/// The row of `kind`.
pub fn info(kind: Kind) -> &'static ProviderInfo {
    // TABLE is in `Kind::ALL` (declaration) order, which a test checks, so
    // the discriminant is the row and always in range.
    &TABLE[kind as usize]
}

/// Every row, in [`Kind::ALL`] order (for the compiler's mirror and the docs).
pub fn all() -> &'static [ProviderInfo] {
    &TABLE
}
