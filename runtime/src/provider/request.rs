//! The upstream request a plan implies: its URL and its body after conversion.

use serde_json::Value;

use super::plan::{Conversion, ProviderSettings, UpstreamPlan};
use crate::convert::{
    ConvertError, WireFormat, dashscope::openai_request_to_dashscope,
    request_anthropic_to_openai::anthropic_request_to_openai,
    request_openai_to_anthropic::openai_request_to_anthropic,
};
use crate::usage::request_stream_usage;

/// `base_url` + the plan's path, with `{deployment}` = `model` and
/// `{api_version}` = the service's Azure API version, both percent-encoded.
pub fn upstream_url(
    base_url: &str,
    plan: &UpstreamPlan,
    model: &str,
    settings: &ProviderSettings,
) -> String {
    let base = base_url.trim_end_matches('/');
    let mut url = String::with_capacity(base.len() + plan.path.len() + model.len());
    url.push_str(base);
    let mut rest = plan.path;
    while let Some(open) = rest.find('{') {
        url.push_str(&rest[..open]);
        let after = &rest[open..];
        if let Some(tail) = after.strip_prefix("{deployment}") {
            push_encoded(&mut url, model);
            rest = tail;
        } else if let Some(tail) = after.strip_prefix("{api_version}") {
            push_encoded(&mut url, settings.azure_api_version);
            rest = tail;
        } else {
            // Not a placeholder the table uses: copy the brace literally.
            url.push('{');
            rest = &after[1..];
        }
    }
    url.push_str(rest);
    url
}

/// Percent-encodes everything but RFC 3986 unreserved characters, so a model
/// name can never add a path segment or a query parameter.
fn push_encoded(out: &mut String, text: &str) {
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
}

/// A request body ready for the upstream.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamBody {
    pub json: Value,
    /// The client asked for a stream (the proxy converts the stream back).
    pub stream: bool,
    /// An OpenAI client asked for `stream_options.include_usage`: only then
    /// is the usage chunk passed on (the upstream is always asked for it).
    pub client_asked_usage: bool,
}

/// Converts the client's JSON body for `plan` (whose model the caller has
/// already set). Streaming OpenAI-wire upstreams are always asked for their
/// usage chunk, so the usage record is exact.
pub fn upstream_body(
    plan: &UpstreamPlan,
    client_body: &Value,
    settings: &ProviderSettings,
) -> Result<UpstreamBody, ConvertError> {
    let stream = client_body.get("stream").and_then(Value::as_bool) == Some(true);
    let client_asked_usage = plan.client == WireFormat::OpenAi
        && client_body
            .pointer("/stream_options/include_usage")
            .and_then(Value::as_bool)
            == Some(true);
    let mut json = match plan.conversion {
        Conversion::None => client_body.clone(),
        Conversion::OpenAiToAnthropic => {
            openai_request_to_anthropic(client_body, settings.default_max_tokens)?
        }
        Conversion::AnthropicToOpenAi => anthropic_request_to_openai(client_body)?,
        Conversion::OpenAiToDashScope => openai_request_to_dashscope(client_body)?,
    };
    if plan.upstream() == WireFormat::OpenAi {
        request_stream_usage(&mut json);
    }
    Ok(UpstreamBody {
        json,
        stream,
        client_asked_usage,
    })
}
