//! The built-in `mock` provider: deterministic OpenAI and Anthropic answers, streams, latency and faults.
//!
//! [`respond`] answers one buffered request in process (the gateway calls it
//! for `provider: mock` services); [`server::serve`] puts the same function
//! behind a socket for `gatesmith-mock`, the benchmark's upstream.
//!
//! Answers are a function of the request and the settings only: the answer
//! text is `completion_tokens` words of a fixed phrase ([`usage::answer_text`]),
//! prompt tokens follow the model in [`usage`], and ids hash the request body.
//! Every response carries `x-mock-request-count` (a per-process counter) so
//! tests can count attempts.

pub mod anthropic;
pub mod dashscope;
pub mod echo;
pub mod extras;
pub mod fault;
pub mod openai;
pub mod overrides;
pub mod render;
pub mod request;
pub mod server;
pub mod stats;
pub mod stream;
pub mod usage;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, Request, Response, StatusCode, header};

use crate::body::{self, ResponseBody};
use crate::codegen::{MockFault, MockSettings};
use openai::Flavor;
use render::Answer;
use request::Api;
use stream::{Event, FaultEvents, ScriptedBody};

/// Response header counting the requests this process's mock has seen.
pub const REQUEST_COUNT: HeaderName = HeaderName::from_static("x-mock-request-count");

static REQUESTS_SEEN: AtomicU64 = AtomicU64::new(0);

/// Requests the mock has seen in this process so far.
pub fn request_count() -> u64 {
    REQUESTS_SEEN.load(Ordering::Relaxed)
}

/// Answers one request as the configured mock, honouring `x-mock-*` overrides.
pub async fn respond(settings: &MockSettings, request: Request<Bytes>) -> Response<ResponseBody> {
    let count = REQUESTS_SEEN.fetch_add(1, Ordering::Relaxed) + 1;
    let mut response = answer(settings, &request).await;
    response
        .headers_mut()
        .insert(REQUEST_COUNT, HeaderValue::from(count));
    response
}

async fn answer(settings: &MockSettings, request: &Request<Bytes>) -> Response<ResponseBody> {
    let path = request.uri().path();
    if dashscope::is_generation_path(path) {
        return dashscope::answer(settings, request).await;
    }
    let Some(api) = Api::from_path(path) else {
        let message = format!("Invalid URL ({} {path})", request.method());
        return error(Api::ChatCompletions, StatusCode::NOT_FOUND, &message);
    };
    if request.method() != Method::POST {
        let message = format!(
            "Method {} is not allowed on {path}; use POST",
            request.method()
        );
        let mut response = error(api, StatusCode::METHOD_NOT_ALLOWED, &message);
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    let effective = match overrides::apply(settings, request.headers()) {
        Ok(effective) => effective,
        Err(message) => return error(api, StatusCode::BAD_REQUEST, &format!("mock: {message}")),
    };
    if let Err(message) = effective.extras.check(Some(api)) {
        return error(api, StatusCode::BAD_REQUEST, &format!("mock: {message}"));
    }
    let settings = effective.settings;

    let stall_ms = match settings.fault {
        Some(MockFault::StallBeforeHead { ms }) => ms,
        _ => 0,
    };
    let before_head = settings.latency_ms.saturating_add(stall_ms);
    if before_head > 0 {
        tokio::time::sleep(Duration::from_millis(before_head)).await;
    }

    let mut response = match settings.fault {
        Some(MockFault::Status(code)) => fault_status(api, code),
        Some(MockFault::ContextLength) => context_length_error(api),
        _ => match request::parse(api, request.body()) {
            Ok(parsed) => {
                let answer = Answer {
                    hash: render::request_hash(request.body()),
                    model: &parsed.model,
                    usage: usage::Usage::new(
                        parsed.prompt_tokens,
                        settings.completion_tokens,
                        parsed.max_tokens,
                    ),
                    chunks: settings.stream_chunks.max(1),
                    include_usage: parsed.include_usage,
                    extras: effective.extras,
                };
                if parsed.stream {
                    streamed(api, &answer, &settings)
                } else {
                    whole(api, &answer, settings.fault)
                }
            }
            Err(message) => error(api, StatusCode::BAD_REQUEST, &message),
        },
    };
    if effective.echo_headers {
        echo::add_report(request.headers(), response.headers_mut());
    }
    response
}

fn streamed(api: Api, answer: &Answer<'_>, settings: &MockSettings) -> Response<ResponseBody> {
    let (events, fault_events) = match api {
        Api::ChatCompletions => (
            openai::stream_events(Flavor::Chat, answer),
            openai::FAULT_EVENTS,
        ),
        Api::Completions => (
            openai::stream_events(Flavor::Completion, answer),
            openai::FAULT_EVENTS,
        ),
        Api::Messages => (anthropic::stream_events(answer), anthropic::FAULT_EVENTS),
    };
    let steps = stream::script(
        events,
        settings.chunk_delay_ms,
        settings.fault,
        &fault_events,
    );
    let mut response = with_type(
        StatusCode::OK,
        ResponseBody::new(ScriptedBody::new(steps)),
        "text/event-stream",
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// A non-streamed answer; a body fault acts in the middle of the JSON
/// (between two members, so `malformed` really breaks it).
fn whole(api: Api, answer: &Answer<'_>, fault: Option<MockFault>) -> Response<ResponseBody> {
    let json = match api {
        Api::ChatCompletions => openai::json_body(Flavor::Chat, answer),
        Api::Completions => openai::json_body(Flavor::Completion, answer),
        Api::Messages => anthropic::json_body(answer),
    };
    let body = match fault.and_then(mid_body_fault) {
        None => body::full(json),
        Some(fault) => {
            let middle = member_boundary(&json);
            let json = Bytes::from(json);
            let halves = vec![
                Event {
                    bytes: json.slice(..middle),
                    content: true,
                },
                Event {
                    bytes: json.slice(middle..),
                    content: false,
                },
            ];
            ResponseBody::new(ScriptedBody::new(stream::script(
                halves,
                0,
                Some(fault),
                &FaultEvents {
                    malformed: b"{not json",
                    error: b"",
                },
            )))
        }
    };
    with_type(StatusCode::OK, body, "application/json")
}

/// A byte offset near the middle of a JSON document that lies between two
/// object members (at a `,"`, which cannot occur inside a JSON string because
/// quotes there are escaped), so text inserted there always breaks the JSON.
fn member_boundary(json: &[u8]) -> usize {
    let is_boundary = |window: &[u8]| window == b",\"";
    let middle = json.len() / 2;
    json[middle..]
        .windows(2)
        .position(is_boundary)
        .map(|offset| middle + offset)
        .or_else(|| json.windows(2).position(is_boundary))
        .unwrap_or(middle)
}

/// A body fault moved to the middle of a one-piece body: a JSON answer has no
/// chunks to count, so "after N chunks" means "after the first half". A JSON
/// answer has no error events either: that fault acts on streams only.
fn mid_body_fault(fault: MockFault) -> Option<MockFault> {
    match fault {
        MockFault::Status(_)
        | MockFault::StallBeforeHead { .. }
        | MockFault::ContextLength
        | MockFault::ErrorEventAfterChunks { .. } => None,
        MockFault::StallBeforeFirstChunk { .. } => Some(fault),
        MockFault::StallAfterChunks { ms, .. } => {
            Some(MockFault::StallAfterChunks { chunks: 1, ms })
        }
        MockFault::CutAfterChunks { .. } => Some(MockFault::CutAfterChunks { chunks: 1 }),
        MockFault::MalformedAfterChunks { .. } => {
            Some(MockFault::MalformedAfterChunks { chunks: 1 })
        }
    }
}

fn fault_status(api: Api, code: u16) -> Response<ResponseBody> {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let message = match code {
        429 => "mock fault: rate limit reached (status 429)".to_owned(),
        529 => "mock fault: overloaded (status 529)".to_owned(),
        _ => format!("mock fault: injected status {code}"),
    };
    let mut response = error(api, status, &message);
    if code == 429 {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

/// The 400 a provider answers when the prompt exceeds the model's context
/// window, worded as the real ones are (gateways recognise it by its code or
/// its "too long" / "context length" wording).
fn context_length_error(api: Api) -> Response<ResponseBody> {
    let json = match api {
        Api::ChatCompletions | Api::Completions => openai::context_length_error_body(),
        Api::Messages => anthropic::context_length_error_body(),
    };
    with_type(
        StatusCode::BAD_REQUEST,
        body::full(json),
        "application/json",
    )
}

/// An error in the format of the protocol the request path belongs to
/// (OpenAI unless it is an Anthropic path).
pub fn error_for_path(path: &str, status: StatusCode, message: &str) -> Response<ResponseBody> {
    error(
        Api::from_path(path).unwrap_or(Api::ChatCompletions),
        status,
        message,
    )
}

/// An error in the format of the protocol `api` belongs to.
fn error(api: Api, status: StatusCode, message: &str) -> Response<ResponseBody> {
    let json = match api {
        Api::ChatCompletions | Api::Completions => openai::error_body(status, message),
        Api::Messages => anthropic::error_body(status, message),
    };
    with_type(status, body::full(json), "application/json")
}

fn with_type(
    status: StatusCode,
    body: ResponseBody,
    content_type: &'static str,
) -> Response<ResponseBody> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_boundary_is_never_inside_a_string() {
        let json = br#"{"a":"x,\"y,\"z","b":1,"c":2}"#;
        let at = member_boundary(json);
        assert_eq!(&json[at..at + 2], b",\"");
        assert_eq!(&json[at..], br#","b":1,"c":2}"#.as_slice());
        assert_eq!(member_boundary(b"[]"), 1);
    }
}
