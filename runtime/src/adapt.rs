//! One attempt's upstream request: the provider's path, credential and body (converted when the protocols differ).
//!
//! [`ServiceAdapter`] is prepared once per service at startup (provider
//! kind, key in both header spellings, provider settings). Per attempt,
//! [`ServiceAdapter::request`] plans the endpoint for the Model API's
//! protocol and route kind and produces the path, the edited headers and
//! the body. When no conversion is needed and the upstream needs no
//! `stream_options`, the client's bytes are forwarded unchanged (or with
//! only the model literal swapped): the fast path the benchmark measures.
//! Everything the response side needs travels in [`ResponseShape`].

use bytes::Bytes;
use http::HeaderMap;
use serde_json::Value;

use crate::codegen::{Protocol, Provider, RouteKind, Service};
use crate::convert::{WireFormat, errors::convert_error_body};
use crate::provider::{
    self, Conversion, Kind, ProviderSettings, Unsupported, UpstreamKey, UpstreamPlan,
    apply_upstream_headers, upstream_body, upstream_url,
};
use crate::request_body::JsonRequest;

/// The provider kind of a spec's `provider:` (the ABI mirrors the table's kinds one to one).
pub fn provider_kind(provider: Provider) -> Kind {
    match provider {
        Provider::OpenAi => Kind::OpenAi,
        Provider::AzureOpenAi => Kind::AzureOpenAi,
        Provider::Anthropic => Kind::Anthropic,
        Provider::DashScope => Kind::DashScope,
        Provider::Vllm => Kind::Vllm,
        Provider::Moonshot => Kind::Moonshot,
        Provider::Zhipu => Kind::Zhipu,
        Provider::DeepSeek => Kind::DeepSeek,
        Provider::Ollama => Kind::Ollama,
        Provider::ComfyUi => Kind::ComfyUi,
        Provider::OpenAiCompatible => Kind::OpenAiCompatible,
        Provider::Mock => Kind::Mock,
    }
}

/// The wire format of a Model API protocol.
pub fn client_format(protocol: Protocol) -> WireFormat {
    match protocol {
        Protocol::OpenAi => WireFormat::OpenAi,
        Protocol::Anthropic => WireFormat::Anthropic,
    }
}

/// Everything about one service the request side needs, prepared at startup.
#[derive(Debug, Clone)]
pub struct ServiceAdapter {
    kind: Kind,
    key: Option<UpstreamKey>,
    settings: ProviderSettings,
}

/// What the response side must know about one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseShape {
    pub client: WireFormat,
    pub upstream: WireFormat,
    pub conversion: Conversion,
    /// The client asked for a stream.
    pub stream: bool,
    /// An OpenAI client asked for `stream_options.include_usage`.
    pub client_asked_usage: bool,
    /// The model sent upstream (DashScope answers do not name it).
    pub model: String,
}

impl ResponseShape {
    /// The client and upstream speak different protocols.
    pub fn conversion_needed(&self) -> bool {
        self.conversion != Conversion::None
    }

    /// Same-protocol OpenAI stream whose usage chunk the gateway asked for but the client did not.
    pub fn drops_usage_chunks(&self) -> bool {
        self.conversion == Conversion::None
            && self.stream
            && self.upstream == WireFormat::OpenAi
            && !self.client_asked_usage
    }
}

/// One attempt's upstream request, below the service's origin.
#[derive(Debug)]
pub struct UpstreamRequest {
    /// Path (with the base URL's path prefix) and query.
    pub path_and_query: String,
    pub body: Bytes,
    pub shape: ResponseShape,
}

/// What a client request is, for every attempt of it.
#[derive(Debug, Clone, Copy)]
pub struct ClientRequest<'r> {
    pub protocol: Protocol,
    pub route_kind: RouteKind,
    pub body: &'r Bytes,
    pub json: &'r JsonRequest,
    /// The `model` the client sent, when it is a plain string.
    pub model: Option<&'r str>,
    /// The client's query string, forwarded when the endpoint has none of its own.
    pub query: Option<&'r str>,
}

/// The request cannot be sent to this service: a status and a body in the client's protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub status: u16,
    pub body: Vec<u8>,
}

impl ServiceAdapter {
    /// Prepares `service`; `api_key` is its secret, if configured.
    pub fn new(service: &Service, api_key: Option<&str>) -> Result<ServiceAdapter, String> {
        let key = match api_key {
            Some(key) => Some(UpstreamKey::new(key).map_err(|error| {
                format!(
                    "the API key of service `{}` (from ${}): {error}",
                    service.name,
                    service.api_key_env.unwrap_or("?")
                )
            })?),
            None => None,
        };
        Ok(ServiceAdapter {
            kind: provider_kind(service.provider),
            key,
            settings: ProviderSettings {
                azure_api_version: service.options.azure_api_version,
                dashscope_native: service.options.dashscope_native,
                default_max_tokens: u64::from(service.options.default_max_tokens),
            },
        })
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The endpoint and conversion for a client protocol and route kind.
    pub fn plan(
        &self,
        protocol: Protocol,
        route_kind: RouteKind,
    ) -> Result<UpstreamPlan, Unsupported> {
        provider::plan_upstream(self.kind, protocol, route_kind, &self.settings)
    }

    /// Builds one attempt: edits `headers` in place (credentials, versions,
    /// content type) and returns the path and body. `target_model` is the
    /// rewrite (`(model, JSON literal)`), `None` to pass the client's model through.
    pub fn request(
        &self,
        client: &ClientRequest<'_>,
        path_prefix: &str,
        target_model: Option<(&str, &str)>,
        headers: &mut HeaderMap,
    ) -> Result<UpstreamRequest, Refused> {
        let client_wire = client_format(client.protocol);
        let plan = self
            .plan(client.protocol, client.route_kind)
            .map_err(|error| refused(client_wire, 502, &error.message))?;
        let model = target_model.map(|(model, _)| model).or(client.model);
        let mut path_and_query =
            upstream_url(path_prefix, &plan, model.unwrap_or(""), &self.settings);
        if path_and_query.is_empty() {
            path_and_query.push('/');
        }
        if let Some(query) = client.query
            && !path_and_query.contains('?')
        {
            path_and_query.push('?');
            path_and_query.push_str(query);
        }
        let stream = client.json.stream;
        let mut shape = ResponseShape {
            client: client_wire,
            upstream: plan.upstream(),
            conversion: plan.conversion,
            stream,
            client_asked_usage: false,
            model: model.unwrap_or("").to_owned(),
        };
        let needs_json = plan.conversion != Conversion::None
            || (stream && plan.upstream() == WireFormat::OpenAi);
        let body = if needs_json {
            let mut value: Value = serde_json::from_slice(client.body)
                .map_err(|error| refused(client_wire, 400, &error.to_string()))?;
            if let Some((model, _)) = target_model
                && let Some(object) = value.as_object_mut()
            {
                object.insert("model".to_owned(), Value::from(model));
            }
            let converted = upstream_body(&plan, &value, &self.settings).map_err(|error| {
                let (status, body) = convert_error_body(client_wire, &error);
                Refused { status, body }
            })?;
            shape.client_asked_usage = converted.client_asked_usage;
            Bytes::from(serde_json::to_vec(&converted.json).unwrap_or_default())
        } else {
            match target_model {
                Some((_, literal)) => client.json.with_model(client.body, literal),
                None => client.body.clone(),
            }
        };
        apply_upstream_headers(headers, &plan, self.key.as_ref(), stream);
        Ok(UpstreamRequest {
            path_and_query,
            body,
            shape,
        })
    }
}

fn refused(client: WireFormat, status: u16, message: &str) -> Refused {
    let (_, body) = convert_error_body(client, &crate::convert::ConvertError::new(message));
    Refused { status, body }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codegen::{ProviderOptions, ServiceTimeouts};
    use crate::request_body::{inspect, model_literal};

    fn service(provider: Provider) -> Service {
        Service {
            name: "svc",
            provider,
            base_url: "",
            api_key_env: Some("KEY"),
            timeouts: ServiceTimeouts {
                connect_ms: 0,
                first_packet_ms: 0,
                idle_ms: 0,
                total_ms: 0,
            },
            mock: None,
            options: ProviderOptions::DEFAULT,
        }
    }

    fn build(
        provider: Provider,
        protocol: Protocol,
        route_kind: RouteKind,
        body: &'static [u8],
        rewrite: Option<&str>,
        headers: &mut HeaderMap,
    ) -> Result<UpstreamRequest, Refused> {
        let adapter = ServiceAdapter::new(&service(provider), Some("sk-service")).expect("key");
        let body = Bytes::from_static(body);
        let json = inspect(&body).expect("json");
        let literal = rewrite.map(model_literal);
        let client = ClientRequest {
            protocol,
            route_kind,
            body: &body,
            json: &json,
            model: Some("client-model"),
            query: Some("x=1"),
        };
        adapter.request(&client, "", rewrite.zip(literal.as_deref()), headers)
    }

    #[test]
    fn same_protocol_non_streaming_forwards_the_same_bytes() {
        let body: &[u8] =
            br#"{"model":"client-model","messages":[{"role":"user","content":"hi"}]}"#;
        let mut headers = HeaderMap::new();
        headers.insert("authorization", "Bearer client".parse().expect("value"));
        let request = build(
            Provider::OpenAi,
            Protocol::OpenAi,
            RouteKind::ChatCompletions,
            body,
            None,
            &mut headers,
        )
        .expect("request");
        assert_eq!(request.body.as_ref(), body);
        assert_eq!(request.path_and_query, "/v1/chat/completions?x=1");
        assert_eq!(headers["authorization"], "Bearer sk-service");
    }

    #[test]
    fn openai_streams_ask_upstream_for_usage_and_remember_the_client_did_not() {
        let mut headers = HeaderMap::new();
        let request = build(
            Provider::OpenAi,
            Protocol::OpenAi,
            RouteKind::ChatCompletions,
            br#"{"model":"client-model","stream":true,"messages":[]}"#,
            Some("gpt-x"),
            &mut headers,
        )
        .expect("request");
        let sent: Value = serde_json::from_slice(&request.body).expect("json");
        assert_eq!(sent["stream_options"]["include_usage"], true);
        assert_eq!(sent["model"], "gpt-x");
        assert!(request.shape.drops_usage_chunks());
    }

    #[test]
    fn openai_client_to_anthropic_converts_and_uses_x_api_key() {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", "Bearer client".parse().expect("value"));
        let request = build(
            Provider::Anthropic,
            Protocol::OpenAi,
            RouteKind::ChatCompletions,
            br#"{"model":"client-model","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi"}]}"#,
            Some("claude-x"),
            &mut headers,
        )
        .expect("request");
        let sent: Value = serde_json::from_slice(&request.body).expect("json");
        assert_eq!(sent["model"], "claude-x");
        assert_eq!(sent["system"][0]["text"], "be brief");
        assert_eq!(sent["max_tokens"], 4096);
        assert_eq!(request.path_and_query, "/v1/messages?x=1");
        assert!(headers.get("authorization").is_none());
        assert_eq!(headers["x-api-key"], "sk-service");
        assert_eq!(headers["anthropic-version"], "2023-06-01");
        assert_eq!(request.shape.conversion, Conversion::OpenAiToAnthropic);
    }

    #[test]
    fn azure_puts_the_model_in_the_path_and_keeps_its_own_query() {
        let mut headers = HeaderMap::new();
        let request = build(
            Provider::AzureOpenAi,
            Protocol::OpenAi,
            RouteKind::ChatCompletions,
            br#"{"model":"client-model","messages":[]}"#,
            Some("my deployment"),
            &mut headers,
        )
        .expect("request");
        assert_eq!(
            request.path_and_query,
            "/openai/deployments/my%20deployment/chat/completions?api-version=2024-10-21"
        );
        assert_eq!(headers["api-key"], "sk-service");
    }

    #[test]
    fn a_request_that_cannot_be_converted_is_a_400_in_the_client_protocol() {
        let mut headers = HeaderMap::new();
        let refused = build(
            Provider::Anthropic,
            Protocol::OpenAi,
            RouteKind::ChatCompletions,
            br#"{"model":"m","n":3,"messages":[{"role":"user","content":"hi"}]}"#,
            None,
            &mut headers,
        );
        let refused = refused.expect_err("n > 1 cannot be converted");
        assert_eq!(refused.status, 400);
        let body: Value = serde_json::from_slice(&refused.body).expect("json");
        assert!(body["error"]["message"].is_string());
    }
}
