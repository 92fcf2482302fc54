//! The response side of a committed attempt: the client's protocol out, usage metered, one usage record per request.
//!
//! - Streams: [`AdaptedBody`] runs the one SSE framer over the upstream
//!   bytes, meters every event ([`UsageMeter`]) and either converts it
//!   (stream transducer), drops the usage-only chunk the gateway asked for
//!   but the client did not, or forwards the upstream bytes untouched.
//! - Non-streaming pass-through: the same body wrapper forwards the bytes
//!   and keeps a bounded copy to read `usage` at the end.
//! - Non-streaming converted: [`convert_json`] reads the whole answer and
//!   writes the client's JSON (head not sent yet, so a bad answer is a 502).
//!
//! The record is sent when the body is dropped, reading [`StreamOutcome`]
//! (set by the stream guard that wraps this body when it truncates: idle or
//! total timeout, error event); a body dropped before its end is a client
//! that left. Cut and cancelled streams count what was reported so far.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, SizeHint};
use serde_json::Value;

use crate::adapt::ResponseShape;
use crate::body::{BodyError, ResponseBody, full};
use crate::convert::anthropic_stream_to_openai::AnthropicToOpenAiStream;
use crate::convert::dashscope::{DashScopeToOpenAiStream, dashscope_response_to_openai};
use crate::convert::errors::convert_error_response;
use crate::convert::openai_stream_to_anthropic::OpenAiToAnthropicStream;
use crate::convert::response_anthropic_to_openai::anthropic_response_to_openai;
use crate::convert::response_openai_to_anthropic::openai_response_to_anthropic;
use crate::convert::{ConvertError, WireFormat};
use crate::provider::Conversion;
use crate::sse::{SseEvent, SseFramer};
use crate::usage::{Usage, UsageMeter, is_usage_only_chunk};
use crate::usage_sink::UsageTicket;

/// The most of a pass-through JSON answer kept to read its `usage`.
pub const USAGE_COPY_LIMIT: usize = 4 * 1024 * 1024;

/// The most of an answer read to convert it.
pub const CONVERT_LIMIT: usize = 32 * 1024 * 1024;

/// Whether the stream guard around a committed body truncated it (idle or
/// total timeout, error event), which the body cannot see by itself.
#[derive(Debug, Default)]
pub struct StreamOutcome {
    truncated: AtomicBool,
}

impl StreamOutcome {
    pub fn mark_truncated(&self) {
        self.truncated.store(true, Ordering::Relaxed);
    }

    fn truncated(&self) -> bool {
        self.truncated.load(Ordering::Relaxed)
    }
}

/// Seconds since the epoch, for the `created` field of converted answers.
fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// A stream transducer from the upstream's protocol to the client's.
#[derive(Debug)]
enum Transducer {
    AnthropicToOpenAi(AnthropicToOpenAiStream),
    OpenAiToAnthropic(OpenAiToAnthropicStream),
    DashScopeToOpenAi(DashScopeToOpenAiStream),
}

impl Transducer {
    fn for_shape(shape: &ResponseShape) -> Option<Transducer> {
        let created = unix_now();
        match shape.conversion {
            Conversion::None => None,
            Conversion::OpenAiToAnthropic => Some(Transducer::AnthropicToOpenAi(
                AnthropicToOpenAiStream::new(shape.client_asked_usage, created),
            )),
            Conversion::AnthropicToOpenAi => {
                Some(Transducer::OpenAiToAnthropic(OpenAiToAnthropicStream::new()))
            }
            // `openai_request_to_dashscope` always asks for incremental output.
            Conversion::OpenAiToDashScope => Some(Transducer::DashScopeToOpenAi(
                DashScopeToOpenAiStream::new(shape.client_asked_usage, &shape.model, created, true),
            )),
        }
    }

    fn push(&mut self, event: &SseEvent, out: &mut Vec<u8>) {
        match self {
            Transducer::AnthropicToOpenAi(stream) => stream.push(event, out),
            Transducer::OpenAiToAnthropic(stream) => stream.push(event, out),
            Transducer::DashScopeToOpenAi(stream) => stream.push(event, out),
        }
    }

    fn malformed_events(&self) -> u64 {
        match self {
            Transducer::AnthropicToOpenAi(stream) => stream.malformed_events(),
            Transducer::OpenAiToAnthropic(stream) => stream.malformed_events(),
            Transducer::DashScopeToOpenAi(stream) => stream.malformed_events(),
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        match self {
            Transducer::AnthropicToOpenAi(stream) => stream.finish(out),
            Transducer::OpenAiToAnthropic(stream) => stream.finish(out),
            Transducer::DashScopeToOpenAi(stream) => stream.finish(out),
        }
    }
}

enum Mode {
    /// Not an event stream: bytes pass, a bounded copy is parsed for usage at the end.
    Json { kept: Vec<u8>, overflowed: bool },
    /// An event stream: framed, metered, then converted, filtered or passed.
    Sse {
        framer: SseFramer,
        events: Vec<SseEvent>,
        transducer: Option<Box<Transducer>>,
        /// Set when usage-only chunks are cut out: raw bytes of the event being read.
        filter: Option<Vec<u8>>,
    },
}

/// The committed response body (see the module docs).
pub struct AdaptedBody {
    inner: ResponseBody,
    mode: Mode,
    upstream: WireFormat,
    meter: UsageMeter,
    json_usage: Option<Usage>,
    ticket: Option<UsageTicket>,
    outcome: Arc<StreamOutcome>,
    ended: bool,
    broke: bool,
}

impl AdaptedBody {
    /// Wraps a committed upstream body. `sse`: the answer is an event stream.
    pub fn new(
        inner: ResponseBody,
        shape: &ResponseShape,
        sse: bool,
        ticket: UsageTicket,
        outcome: Arc<StreamOutcome>,
    ) -> AdaptedBody {
        let mode = if sse {
            Mode::Sse {
                framer: SseFramer::new(),
                events: Vec::new(),
                transducer: Transducer::for_shape(shape).map(Box::new),
                filter: shape.drops_usage_chunks().then(Vec::new),
            }
        } else {
            Mode::Json {
                kept: Vec::new(),
                overflowed: false,
            }
        };
        AdaptedBody {
            inner,
            mode,
            upstream: shape.upstream,
            meter: UsageMeter::new(shape.upstream),
            json_usage: None,
            ticket: Some(ticket),
            outcome,
            ended: false,
            broke: false,
        }
    }

    /// Whether this body rewrites the upstream bytes (so their length changes).
    pub fn rewrites(shape: &ResponseShape, sse: bool) -> bool {
        sse && (shape.conversion != Conversion::None || shape.drops_usage_chunks())
    }

    /// Handles one upstream data chunk; returns the bytes for the client.
    fn adapt(&mut self, data: Bytes) -> Bytes {
        match &mut self.mode {
            Mode::Json { kept, overflowed } => {
                if !*overflowed {
                    if kept.len() + data.len() > USAGE_COPY_LIMIT {
                        *overflowed = true;
                        kept.clear();
                    } else {
                        kept.extend_from_slice(&data);
                    }
                }
                data
            }
            Mode::Sse {
                framer,
                events,
                transducer,
                filter,
            } => {
                if let Some(pending) = filter.as_mut() {
                    // Whole raw events pass byte for byte, except usage-only chunks.
                    pending.extend_from_slice(&data);
                    let mut out = Vec::new();
                    let mut start = 0;
                    while let Some(end) = event_end(&pending[start..]) {
                        let raw = &pending[start..start + end];
                        framer.feed(raw, events);
                        let mut usage_only = false;
                        for event in events.drain(..) {
                            if mentions_usage(&event) {
                                self.meter.observe(&event);
                                usage_only |= is_usage_only_chunk(&event);
                            }
                        }
                        if !usage_only {
                            out.extend_from_slice(raw);
                        }
                        start += end;
                    }
                    pending.drain(..start);
                    if pending.len() > crate::sse::DEFAULT_EVENT_LIMIT {
                        // An event this large is not a usage chunk: let it through.
                        framer.feed(pending, events);
                        for event in events.drain(..) {
                            if mentions_usage(&event) {
                                self.meter.observe(&event);
                            }
                        }
                        out.append(pending);
                    }
                    return Bytes::from(out);
                }
                framer.feed(&data, events);
                let Some(transducer) = transducer.as_mut() else {
                    for event in events.drain(..) {
                        if mentions_usage(&event) {
                            self.meter.observe(&event);
                        }
                    }
                    return data;
                };
                let mut out = Vec::new();
                for event in events.drain(..) {
                    if mentions_usage(&event) {
                        self.meter.observe(&event);
                    }
                    transducer.push(&event, &mut out);
                }
                Bytes::from(out)
            }
        }
    }

    /// The upstream ended its body: flush a transducer, read JSON usage.
    fn end(&mut self) -> Bytes {
        self.ended = true;
        match &mut self.mode {
            Mode::Json { kept, overflowed } => {
                if !*overflowed {
                    // Only `usage` is built; the rest of the answer is skipped.
                    self.json_usage = serde_json::from_slice::<UsageOnly>(kept)
                        .ok()
                        .and_then(|answer| answer.usage)
                        .filter(Value::is_object)
                        .map(|usage| Usage::from_format(self.upstream, &usage));
                }
                Bytes::new()
            }
            Mode::Sse {
                framer,
                events,
                transducer,
                filter,
            } => {
                let mut out = Vec::new();
                if let Some(transducer) = transducer.as_mut() {
                    transducer.finish(&mut out);
                }
                if let Some(pending) = filter.as_mut() {
                    // An unterminated last event is never dispatched: pass its bytes.
                    framer.feed(pending, events);
                    events.clear();
                    out.append(pending);
                }
                Bytes::from(out)
            }
        }
    }

    fn usage(&self) -> (Usage, bool) {
        match self.json_usage {
            Some(usage) => (usage, true),
            None => (self.meter.usage(), self.meter.reported()),
        }
    }
}

/// The `usage` of a JSON answer, everything else skipped unbuilt.
#[derive(serde::Deserialize)]
struct UsageOnly {
    #[serde(default)]
    usage: Option<Value>,
}

/// Cheap pre-check: only events that mention `usage` are parsed for it.
fn mentions_usage(event: &SseEvent) -> bool {
    event.data.contains("\"usage\"")
}

/// The length of the first complete raw event in `bytes` (through its
/// blank line; any of `\n`, `\r\n`, `\r` ends a line), or `None` if it is
/// not complete yet. A `\r` at the very end waits for a possible `\n`.
fn event_end(bytes: &[u8]) -> Option<usize> {
    let mut line_start = 0;
    let mut index = 0;
    while index < bytes.len() {
        let terminator = match bytes[index] {
            b'\n' => 1,
            b'\r' => match bytes.get(index + 1) {
                Some(b'\n') => 2,
                Some(_) => 1,
                None => return None,
            },
            _ => {
                index += 1;
                continue;
            }
        };
        let line_was_empty = index == line_start;
        index += terminator;
        if line_was_empty {
            return Some(index);
        }
        line_start = index;
    }
    None
}

impl Body for AdaptedBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        loop {
            if this.ended {
                return Poll::Ready(None);
            }
            match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => {
                        let mut out = this.adapt(data);
                        // A body of known length may never be polled to its end.
                        if this.inner.is_end_stream() {
                            let tail = this.end();
                            if !tail.is_empty() {
                                let mut joined = Vec::with_capacity(out.len() + tail.len());
                                joined.extend_from_slice(&out);
                                joined.extend_from_slice(&tail);
                                out = Bytes::from(joined);
                            }
                        }
                        if !out.is_empty() {
                            return Poll::Ready(Some(Ok(Frame::data(out))));
                        }
                    }
                    Err(frame) => return Poll::Ready(Some(Ok(frame))),
                },
                Poll::Ready(Some(Err(error))) => {
                    // No clean end is written: the guard outside turns this
                    // into the client protocol's terminal error.
                    this.broke = true;
                    this.ended = true;
                    return Poll::Ready(Some(Err(error)));
                }
                Poll::Ready(None) => {
                    let out = this.end();
                    if !out.is_empty() {
                        return Poll::Ready(Some(Ok(Frame::data(out))));
                    }
                    return Poll::Ready(None);
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ended
    }

    fn size_hint(&self) -> SizeHint {
        match self.mode {
            Mode::Json { .. } => self.inner.size_hint(),
            Mode::Sse { .. } => SizeHint::new(),
        }
    }
}

impl Drop for AdaptedBody {
    fn drop(&mut self) {
        let (usage, reported) = self.usage();
        let truncated = self.broke || self.outcome.truncated();
        // Everything the upstream sent was handed on: not a cancellation.
        let cancelled = !truncated && !self.ended;
        let malformed = match &self.mode {
            Mode::Sse {
                framer, transducer, ..
            } => framer.dropped_events() + transducer.as_ref().map_or(0, |t| t.malformed_events()),
            Mode::Json { .. } => 0,
        };
        if let Some(mut ticket) = self.ticket.take() {
            ticket.note_malformed_events(malformed);
            ticket.send_once(usage, reported, truncated, cancelled);
        }
    }
}

/// Reads a whole non-streaming upstream answer and writes it in the
/// client's protocol, sending the usage record. An answer that cannot be
/// read or converted becomes a 502 in the client's protocol.
pub async fn convert_json(
    response: Response<ResponseBody>,
    shape: &ResponseShape,
    ticket: UsageTicket,
    deadline: Option<tokio::time::Instant>,
) -> Response<ResponseBody> {
    let (mut parts, body) = response.into_parts();
    let read = read_limited(body, CONVERT_LIMIT);
    let read = match deadline {
        Some(at) => tokio::time::timeout_at(at, read)
            .await
            .unwrap_or_else(|_| Err("the upstream answer ran past the total timeout".to_owned())),
        None => read.await,
    };
    let bytes = match read {
        Ok(bytes) => bytes,
        Err(message) => {
            ticket.send(Usage::default(), false, true);
            return bad_gateway(shape.client, shape.upstream, &message);
        }
    };
    let answer = match serde_json::from_slice::<Value>(&bytes) {
        Ok(answer) => answer,
        Err(_) => {
            ticket.send(Usage::default(), false, false);
            return bad_gateway(
                shape.client,
                shape.upstream,
                "the upstream answer is not JSON",
            );
        }
    };
    let usage = Usage::from_response(shape.upstream, &answer);
    let reported = answer.get("usage").is_some_and(Value::is_object);
    ticket.send(usage, reported, false);
    let converted = match convert_answer(shape, &answer) {
        Ok(converted) => converted,
        Err(error) => return bad_gateway(shape.client, shape.upstream, &error.message),
    };
    let body = serde_json::to_vec(&converted).unwrap_or_default();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::CONTENT_ENCODING);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, full(body))
}

fn convert_answer(shape: &ResponseShape, answer: &Value) -> Result<Value, ConvertError> {
    match shape.conversion {
        Conversion::None => Ok(answer.clone()),
        Conversion::OpenAiToAnthropic => anthropic_response_to_openai(answer, unix_now()),
        Conversion::AnthropicToOpenAi => openai_response_to_anthropic(answer),
        Conversion::OpenAiToDashScope => {
            dashscope_response_to_openai(answer, &shape.model, unix_now())
        }
    }
}

async fn read_limited(mut body: ResponseBody, limit: usize) -> Result<Bytes, String> {
    let mut collected = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| "the upstream answer broke off".to_owned())?;
        if let Ok(data) = frame.into_data() {
            if collected.len() + data.len() > limit {
                return Err(format!("the upstream answer is larger than {limit} bytes"));
            }
            collected.extend_from_slice(&data);
        }
    }
    Ok(Bytes::from(collected))
}

fn bad_gateway(client: WireFormat, upstream: WireFormat, message: &str) -> Response<ResponseBody> {
    let error = serde_json::json!({"error": {"message": message, "type": "api_error"}});
    let (status, body) =
        convert_error_response(client, upstream, 502, error.to_string().as_bytes());
    error_response(status, body)
}

/// An upstream error answer rewritten for the client (status and envelope).
pub fn convert_error(
    client: WireFormat,
    upstream: WireFormat,
    status: StatusCode,
    body: &[u8],
) -> (StatusCode, Bytes) {
    let (status, body) = convert_error_response(client, upstream, status.as_u16(), body);
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
        Bytes::from(body),
    )
}

fn error_response(status: u16, body: Vec<u8>) -> Response<ResponseBody> {
    let mut response = Response::new(full(body));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage_sink::{UsageRecord, UsageSinks};

    fn shape(conversion: Conversion, client_asked_usage: bool) -> ResponseShape {
        let (client, upstream) = match conversion {
            Conversion::None => (WireFormat::OpenAi, WireFormat::OpenAi),
            Conversion::OpenAiToAnthropic => (WireFormat::OpenAi, WireFormat::Anthropic),
            Conversion::AnthropicToOpenAi => (WireFormat::Anthropic, WireFormat::OpenAi),
            Conversion::OpenAiToDashScope => (WireFormat::OpenAi, WireFormat::DashScope),
        };
        ResponseShape {
            client,
            upstream,
            conversion,
            stream: true,
            client_asked_usage,
            model: "m".into(),
        }
    }

    fn ticket(sinks: &Arc<UsageSinks>) -> UsageTicket {
        UsageTicket::new(
            sinks.clone(),
            UsageRecord {
                malformed_events: 0,
                model_api: "api",
                route: "route",
                service: "svc",
                model: "m".into(),
                streamed: true,
                truncated: false,
                cancelled: false,
                reported: false,
                usage: Usage::default(),
            },
        )
    }

    async fn run(body: AdaptedBody) -> Vec<u8> {
        body.collect()
            .await
            .map(|collected| collected.to_bytes().to_vec())
            .unwrap_or_default()
    }

    const OPENAI_STREAM: &str = concat!(
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"},\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":null}\n\n",
        "data: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2,\"total_tokens\":7}}\n\n",
        "data: [DONE]\n\n",
    );

    #[tokio::test]
    async fn a_malformed_event_in_a_converted_stream_is_skipped_counted_and_later_tokens_arrive() {
        let upstream = concat!(
            "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"one \"},\"finish_reason\":null}]}\n\n",
            "data: {not json\n\n",
            "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"two\"},\"finish_reason\":null}]}\n\n",
            "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
            "data: [DONE]\n\n",
        );
        let sinks = Arc::new(UsageSinks::new(false));
        let body = AdaptedBody::new(
            full(upstream),
            &shape(Conversion::AnthropicToOpenAi, false),
            true,
            ticket(&sinks),
            Arc::default(),
        );
        let out = String::from_utf8(run(body).await).expect("utf8");
        // The Anthropic client gets both text deltas and a clean end.
        assert!(out.contains("\"one \""), "{out}");
        assert!(out.contains("\"two\""), "{out}");
        assert!(out.contains("event: message_stop"), "{out}");
        assert!(!out.contains("not json"), "{out}");
        let totals = sinks.totals().snapshot();
        assert_eq!(totals.malformed_events, 1);
        assert_eq!((totals.truncated, totals.cancelled), (0, 0));
    }

    #[tokio::test]
    async fn the_usage_chunk_is_metered_but_dropped_when_the_client_did_not_ask() {
        let sinks = Arc::new(UsageSinks::new(false));
        let body = AdaptedBody::new(
            full(OPENAI_STREAM),
            &shape(Conversion::None, false),
            true,
            ticket(&sinks),
            Arc::default(),
        );
        let out = String::from_utf8(run(body).await).expect("utf8");
        assert!(!out.contains("prompt_tokens"));
        assert!(out.contains("\"hi\""));
        assert!(out.ends_with("data: [DONE]\n\n"));
        let totals = sinks.totals().snapshot();
        assert_eq!((totals.requests, totals.usage.total), (1, 7));
        assert_eq!((totals.truncated, totals.cancelled), (0, 0));
    }

    #[tokio::test]
    async fn a_client_that_asked_gets_the_upstream_bytes_unchanged() {
        let sinks = Arc::new(UsageSinks::new(false));
        let body = AdaptedBody::new(
            full(OPENAI_STREAM),
            &shape(Conversion::None, true),
            true,
            ticket(&sinks),
            Arc::default(),
        );
        assert_eq!(run(body).await, OPENAI_STREAM.as_bytes());
        assert_eq!(sinks.totals().snapshot().usage.output, 2);
    }

    #[tokio::test]
    async fn anthropic_upstream_streams_become_openai_chunks_with_usage_when_asked() {
        let sinks = Arc::new(UsageSinks::new(false));
        let upstream = concat!(
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg\",\"model\":\"claude\",\"usage\":{\"input_tokens\":10,\"cache_read_input_tokens\":9000,\"cache_creation_input_tokens\":500,\"output_tokens\":1}}}\n\n",
            "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"hello\"}}\n\n",
            "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
            "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":50}}\n\n",
            "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
        );
        let body = AdaptedBody::new(
            full(upstream),
            &shape(Conversion::OpenAiToAnthropic, true),
            true,
            ticket(&sinks),
            Arc::default(),
        );
        let out = String::from_utf8(run(body).await).expect("utf8");
        assert!(out.contains("\"content\":\"hello\""));
        assert!(out.contains("\"prompt_tokens\":9510"));
        assert!(out.ends_with("data: [DONE]\n\n"));
        let usage = sinks.totals().snapshot().usage;
        assert_eq!(
            (
                usage.input,
                usage.cache_read,
                usage.cache_creation,
                usage.output
            ),
            (10, 9000, 500, 50)
        );
    }

    #[tokio::test]
    async fn a_body_dropped_mid_stream_records_what_was_reported_as_cancelled() {
        let sinks = Arc::new(UsageSinks::new(false));
        let upstream = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":12,\"output_tokens\":1}}}\n\n";
        let mut body = AdaptedBody::new(
            OneThenPending(Some(Bytes::from(upstream))).boxed(),
            &shape(Conversion::OpenAiToAnthropic, false),
            true,
            ticket(&sinks),
            Arc::default(),
        );
        let _ = body.frame().await;
        drop(body);
        let snapshot = sinks.totals().snapshot();
        assert_eq!((snapshot.requests, snapshot.cancelled), (1, 1));
        assert_eq!(snapshot.usage.input, 12);
    }

    #[test]
    fn raw_events_end_at_their_blank_line_whatever_the_line_endings() {
        assert_eq!(event_end(b"data: a\n\ndata: b"), Some(9));
        assert_eq!(event_end(b"data: a\r\n\r\nx"), Some(11));
        assert_eq!(event_end(b"data: a\r\rx"), Some(9));
        assert_eq!(event_end(b": ping\n\n"), Some(8));
        assert_eq!(event_end(b"data: a\r\n\r"), None);
        assert_eq!(event_end(b"data: a\n"), None);
    }

    #[tokio::test]
    async fn filtering_keeps_comments_and_every_other_byte() {
        let sinks = Arc::new(UsageSinks::new(false));
        let upstream = format!(": ping\r\n\r\nevent: ping\n\n{OPENAI_STREAM}");
        let body = AdaptedBody::new(
            full(upstream),
            &shape(Conversion::None, false),
            true,
            ticket(&sinks),
            Arc::default(),
        );
        let out = String::from_utf8(run(body).await).expect("utf8");
        let expected = format!(": ping\r\n\r\nevent: ping\n\n{OPENAI_STREAM}")
            .replace("data: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2,\"total_tokens\":7}}\n\n", "");
        assert_eq!(out, expected);
        assert_eq!(sinks.totals().snapshot().usage.total, 7);
    }

    /// One data frame, then a stream that never ends.
    struct OneThenPending(Option<Bytes>);

    impl Body for OneThenPending {
        type Data = Bytes;
        type Error = BodyError;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
            match self.0.take() {
                Some(data) => Poll::Ready(Some(Ok(Frame::data(data)))),
                None => Poll::Pending,
            }
        }
    }
}
