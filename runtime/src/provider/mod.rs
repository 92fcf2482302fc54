//! Upstream providers: the one table of what each speaks and where, and the pure decisions made from it.
//!
//! Everything here is synchronous and does no I/O, so the proxy can compute
//! a plan per (service, route) once and the compiler can mirror the same
//! table for its "this service cannot serve this Model API" error:
//!
//! - [`table`]: per provider, its spec name, default base URL and the
//!   endpoints it speaks natively (wire API, path, credential style);
//! - [`plan`]: [`plan_upstream`] picks the endpoint and the conversion for a
//!   client protocol and route kind, [`can_serve`] is its yes/no form;
//! - [`headers`]: strips every client credential and injects the service's;
//! - [`request`]: the upstream URL and the request body after conversion.

pub mod headers;
pub mod plan;
pub mod request;
pub mod table;

pub use headers::{CLIENT_CREDENTIAL_HEADERS, UpstreamKey, apply_upstream_headers};
pub use plan::{Conversion, ProviderSettings, Unsupported, UpstreamPlan, can_serve, plan_upstream};
pub use request::{UpstreamBody, upstream_body, upstream_url};
pub use table::{Credential, Endpoint, ProviderInfo, UpstreamApi, info};

/// The providers an `AIService` can name (`provider:` in the spec).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
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

impl Kind {
    /// Every provider, in the order the spec documentation lists them.
    pub const ALL: [Kind; 12] = [
        Kind::OpenAi,
        Kind::AzureOpenAi,
        Kind::Anthropic,
        Kind::DashScope,
        Kind::Vllm,
        Kind::Moonshot,
        Kind::Zhipu,
        Kind::DeepSeek,
        Kind::Ollama,
        Kind::ComfyUi,
        Kind::OpenAiCompatible,
        Kind::Mock,
    ];

    /// The name a spec writes in `AIService.provider`.
    pub fn spec_name(self) -> &'static str {
        info(self).spec_name
    }

    /// The provider a spec name denotes, if any (exact, lower-case match).
    pub fn from_spec_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|kind| kind.spec_name() == name)
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.spec_name())
    }
}

#[cfg(test)]
mod tests;
