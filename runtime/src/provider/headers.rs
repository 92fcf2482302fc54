//! Upstream request headers: every client credential out, the service's own credential in.
//!
//! The client authenticated to the gateway, not to the provider: whatever
//! key or token it sent must never travel upstream, whichever header it
//! used. [`CLIENT_CREDENTIAL_HEADERS`] is that list. Hop-by-hop headers,
//! `Host` and `Content-Length` are the proxy's business
//! ([`crate::headers`]), not this module's.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

use super::plan::{Conversion, UpstreamPlan};
use super::table::{Credential, UpstreamApi};
use crate::convert::WireFormat;

/// Headers that carry (or scope) a credential and are removed from every upstream request:
/// - `authorization`: Bearer/Basic tokens (OpenAI style, and the gateway's own consumer keys);
/// - `x-api-key`: Anthropic style;
/// - `api-key`: Azure OpenAI style;
/// - `x-goog-api-key`: Gemini style;
/// - `ocp-apim-subscription-key`: Azure API Management keys;
/// - `cookie`: browser sessions with the gateway;
/// - `openai-organization`, `openai-project`: would let a client pick which
///   organization or project the gateway's own key bills to.
pub static CLIENT_CREDENTIAL_HEADERS: [HeaderName; 8] = [
    header::AUTHORIZATION,
    HeaderName::from_static("x-api-key"),
    HeaderName::from_static("api-key"),
    HeaderName::from_static("x-goog-api-key"),
    HeaderName::from_static("ocp-apim-subscription-key"),
    header::COOKIE,
    HeaderName::from_static("openai-organization"),
    HeaderName::from_static("openai-project"),
];

/// The Anthropic API version sent when the client did not choose one.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

const ANTHROPIC_VERSION_HEADER: HeaderName = HeaderName::from_static("anthropic-version");
const ANTHROPIC_BETA_HEADER: HeaderName = HeaderName::from_static("anthropic-beta");
const X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");
const AZURE_API_KEY: HeaderName = HeaderName::from_static("api-key");
/// DashScope native: switches the text-generation API to SSE.
pub const DASHSCOPE_SSE: HeaderName = HeaderName::from_static("x-dashscope-sse");

/// A service's API key, prepared once at startup in both spellings the
/// table uses. Both values are marked sensitive (HTTP/2 never indexes them),
/// and `Debug` never prints them.
#[derive(Clone)]
pub struct UpstreamKey {
    raw: HeaderValue,
    bearer: HeaderValue,
}

/// The key is not a valid header value (control characters, newlines).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidKey;

impl std::fmt::Display for InvalidKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never echo the key itself.
        formatter.write_str("the API key contains characters not allowed in an HTTP header")
    }
}

impl std::error::Error for InvalidKey {}

impl UpstreamKey {
    /// Prepares `key` (surrounding whitespace, e.g. a trailing newline from a file, is trimmed).
    pub fn new(key: &str) -> Result<UpstreamKey, InvalidKey> {
        let key = key.trim();
        let mut raw = HeaderValue::from_str(key).map_err(|_| InvalidKey)?;
        let mut bearer = HeaderValue::from_str(&format!("Bearer {key}")).map_err(|_| InvalidKey)?;
        raw.set_sensitive(true);
        bearer.set_sensitive(true);
        Ok(UpstreamKey { raw, bearer })
    }

    /// The header that carries this key in `credential`'s style.
    pub fn header(&self, credential: Credential) -> (HeaderName, HeaderValue) {
        match credential {
            Credential::Bearer => (header::AUTHORIZATION, self.bearer.clone()),
            Credential::XApiKey => (X_API_KEY, self.raw.clone()),
            Credential::AzureApiKey => (AZURE_API_KEY, self.raw.clone()),
        }
    }
}

impl std::fmt::Debug for UpstreamKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("UpstreamKey(<redacted>)")
    }
}

/// Edits the client's headers into the upstream's, for `plan`:
/// 1. removes [`CLIENT_CREDENTIAL_HEADERS`];
/// 2. inserts the service's key in the endpoint's style, when one is configured;
/// 3. Anthropic upstream: sets `anthropic-version` if the client did not;
///    any other upstream: removes `anthropic-version`/`anthropic-beta`,
///    which describe a protocol it does not speak;
/// 4. DashScope native: `X-DashScope-SSE: enable` exactly when `stream`;
/// 5. a converted body is JSON the gateway wrote: `content-type: application/json`.
pub fn apply_upstream_headers(
    headers: &mut HeaderMap,
    plan: &UpstreamPlan,
    key: Option<&UpstreamKey>,
    stream: bool,
) {
    for name in &CLIENT_CREDENTIAL_HEADERS {
        headers.remove(name);
    }
    if let Some(key) = key {
        let (name, value) = key.header(plan.credential);
        headers.insert(name, value);
    }
    if plan.upstream() == WireFormat::Anthropic {
        // Only a client that speaks Anthropic chose a version; a converted
        // request gets the one the converters are written against.
        if plan.client != WireFormat::Anthropic || !headers.contains_key(ANTHROPIC_VERSION_HEADER) {
            headers.insert(
                ANTHROPIC_VERSION_HEADER,
                HeaderValue::from_static(ANTHROPIC_VERSION),
            );
        }
    } else {
        headers.remove(ANTHROPIC_VERSION_HEADER);
        headers.remove(ANTHROPIC_BETA_HEADER);
    }
    headers.remove(DASHSCOPE_SSE);
    if plan.api == UpstreamApi::DashScopeGeneration && stream {
        headers.insert(DASHSCOPE_SSE, HeaderValue::from_static("enable"));
    }
    if plan.conversion != Conversion::None {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
}
