//! The failure taxonomy, in one place: what went wrong with an attempt, whether it fails over, and what cools down.
//!
//! | failure | fails over | cooldown |
//! |---|---|---|
//! | connect error, broken before the head | yes | - |
//! | connect / first packet / total timeout, budget spent | yes | - |
//! | a stream that broke before any content | yes | - |
//! | an error event before any content | yes | - |
//! | 429 | yes | `Retry-After` (seconds or HTTP date), else 1 s |
//! | 408 (the upstream timed out reading) | yes | - |
//! | 5xx, 529 | yes | 503 with `Retry-After`: that long |
//! | 400, 401, 403, 404, 413 and other 4xx | only with `failover.onClientErrors` | - |
//! | context-length 400 (the prompt is too long) | only with `failover.onContextLength` | - |
//!
//! A `Failure` also knows the answer the client gets when it was the last one:
//! an upstream error status keeps its status and, for OpenAI clients, its body.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};

use crate::body::{ResponseBody, full};
use crate::codegen::{FailoverPolicy, Protocol};
use crate::protocol_error::{self, GatewayError};
use crate::sse::SseEvent;

/// The cooldown of a 429 that names no `Retry-After`.
pub const DEFAULT_RATE_LIMIT_COOLDOWN: Duration = Duration::from_secs(1);

/// Which timer ran out before the commit point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    /// The service's `connectMs` (reported by the connector).
    Connect,
    /// No content within the first packet timeout.
    FirstPacket,
    /// The attempt's total timeout.
    Total,
    /// `failover.budgetMs` for all attempts together.
    Budget,
}

/// How an upstream error status is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusClass {
    /// 429.
    RateLimited,
    /// 408.
    RequestTimeout,
    /// 5xx.
    ServerError,
    /// 529 (Anthropic's "overloaded").
    Overloaded,
    /// A 400 saying the prompt or context is too long.
    ContextLength,
    /// Any other 4xx (400, 401, 403, 404, 413, ...).
    ClientError,
}

/// Why one attempt failed before its commit point.
#[derive(Debug)]
pub enum Failure {
    /// The upstream could not be reached, or broke before sending a head.
    Connect,
    /// A timer ran out before the commit point.
    Timeout(Timer),
    /// A stream broke after the head but before any content.
    BrokenBeforeContent,
    /// The stream's first meaningful event was an error; `message` is its text.
    ErrorEvent { message: String },
    /// The upstream answered with an error status.
    Status(UpstreamError),
}

/// An upstream error answer, kept to classify it and to hand it on if it is the last.
#[derive(Debug)]
pub struct UpstreamError {
    pub status: StatusCode,
    pub class: StatusClass,
    /// How long the target should not be tried again, when the answer says so.
    pub cooldown: Option<Duration>,
    pub content_type: Option<HeaderValue>,
    /// The body, cut at a bound.
    pub body: Bytes,
}

/// True when `status` ends an attempt rather than committing it.
pub fn is_failure_status(status: StatusCode) -> bool {
    status.is_client_error() || status.is_server_error() || status.as_u16() == 529
}

impl UpstreamError {
    /// Classifies an upstream error answer; `now` dates an HTTP-date `Retry-After`.
    pub fn classify(
        status: StatusCode,
        headers: &HeaderMap,
        body: Bytes,
        now: SystemTime,
    ) -> UpstreamError {
        let retry_after = headers
            .get(header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| parse_retry_after(value, now));
        let code = status.as_u16();
        let class = match code {
            429 => StatusClass::RateLimited,
            408 => StatusClass::RequestTimeout,
            529 => StatusClass::Overloaded,
            400 if is_context_length_error(&body) => StatusClass::ContextLength,
            _ if status.is_server_error() => StatusClass::ServerError,
            _ => StatusClass::ClientError,
        };
        let cooldown = match (class, retry_after) {
            (StatusClass::RateLimited, retry_after) => {
                Some(retry_after.unwrap_or(DEFAULT_RATE_LIMIT_COOLDOWN))
            }
            (StatusClass::ServerError | StatusClass::Overloaded, Some(retry_after)) => {
                Some(retry_after)
            }
            _ => None,
        };
        UpstreamError {
            status,
            class,
            cooldown,
            content_type: headers.get(header::CONTENT_TYPE).cloned(),
            body,
        }
    }
}

impl Failure {
    /// Whether the next target is tried after this failure.
    pub fn fails_over(&self, policy: &FailoverPolicy) -> bool {
        match self {
            Failure::Timeout(Timer::Budget) => false,
            Failure::Connect
            | Failure::Timeout(_)
            | Failure::BrokenBeforeContent
            | Failure::ErrorEvent { .. } => true,
            Failure::Status(error) => match error.class {
                StatusClass::RateLimited
                | StatusClass::RequestTimeout
                | StatusClass::ServerError
                | StatusClass::Overloaded => true,
                StatusClass::ContextLength => policy.on_context_length,
                StatusClass::ClientError => policy.on_client_errors,
            },
        }
    }

    /// How long the failed target should be skipped by later requests.
    pub fn cooldown(&self) -> Option<Duration> {
        match self {
            Failure::Status(error) => error.cooldown,
            _ => None,
        }
    }

    /// Counts against a `byMetrics` target (a client error is not the service's fault).
    pub fn blames_the_service(&self) -> bool {
        match self {
            Failure::Status(error) => !matches!(
                error.class,
                StatusClass::ClientError | StatusClass::ContextLength
            ),
            _ => true,
        }
    }

    /// The answer the client gets when this was the last attempt.
    pub fn into_response(self, protocol: Protocol) -> Response<ResponseBody> {
        match self {
            Failure::Connect => protocol_error::response(
                protocol,
                GatewayError::BadGateway,
                "the upstream service could not be reached",
            ),
            Failure::BrokenBeforeContent => protocol_error::response(
                protocol,
                GatewayError::BadGateway,
                "the upstream stream broke before sending any content",
            ),
            Failure::ErrorEvent { message } => protocol_error::response(
                protocol,
                GatewayError::BadGateway,
                &format!("the upstream stream failed before any content: {message}"),
            ),
            Failure::Timeout(timer) => protocol_error::response(
                protocol,
                GatewayError::GatewayTimeout,
                match timer {
                    Timer::Connect => "the upstream service could not be connected to in time",
                    Timer::FirstPacket => {
                        "the upstream service sent no content within the first packet timeout"
                    }
                    Timer::Total => "the upstream service did not answer in time",
                    Timer::Budget => "the failover time budget ran out before any target answered",
                },
            ),
            Failure::Status(error) => error.into_response(protocol),
        }
    }
}

impl UpstreamError {
    fn into_response(self, protocol: Protocol) -> Response<ResponseBody> {
        let upstream_message = upstream_error_message(&self.body);
        let is_json = self
            .content_type
            .as_ref()
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.contains("json"));
        let body = match protocol {
            // An OpenAI-compatible upstream already speaks the client's format.
            Protocol::OpenAi if is_json && upstream_message.is_some() => self.body,
            _ => {
                let message = upstream_message
                    .unwrap_or_else(|| format!("the upstream service answered {}", self.status));
                Bytes::from(error_body(protocol, self.status, self.class, &message))
            }
        };
        let mut response = Response::new(full(body));
        *response.status_mut() = self.status;
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(cooldown) = self.cooldown {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, retry_after_value(cooldown));
        }
        response
    }
}

/// `Retry-After` in whole seconds, rounded up.
pub fn retry_after_value(wait: Duration) -> HeaderValue {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    HeaderValue::from(seconds.max(1))
}

/// An error body in the client protocol's format for an upstream status.
pub fn error_body(
    protocol: Protocol,
    status: StatusCode,
    class: StatusClass,
    message: &str,
) -> Vec<u8> {
    let message = serde_json::Value::from(message).to_string();
    let code = status.as_u16();
    match protocol {
        Protocol::OpenAi => {
            let (kind, code) = match (class, code) {
                (StatusClass::RateLimited, _) => ("rate_limit_error", "rate_limit_exceeded"),
                (StatusClass::ContextLength, _) => {
                    ("invalid_request_error", "context_length_exceeded")
                }
                (_, 401) => ("authentication_error", "invalid_api_key"),
                (_, 403) => ("permission_error", "forbidden"),
                (_, 404) => ("invalid_request_error", "not_found"),
                (_, 413) => ("invalid_request_error", "request_too_large"),
                (StatusClass::ClientError, _) => ("invalid_request_error", "upstream_client_error"),
                (StatusClass::Overloaded, _) => ("api_error", "overloaded"),
                (StatusClass::RequestTimeout, _) => ("api_error", "upstream_timeout"),
                (StatusClass::ServerError, _) => ("api_error", "upstream_error"),
            };
            format!(
                r#"{{"error":{{"message":{message},"type":"{kind}","param":null,"code":"{code}"}}}}"#
            )
        }
        Protocol::Anthropic => {
            let kind = match (class, code) {
                (StatusClass::RateLimited, _) => "rate_limit_error",
                (StatusClass::Overloaded, _) | (_, 503) => "overloaded_error",
                (_, 401) => "authentication_error",
                (_, 403) => "permission_error",
                (_, 404) => "not_found_error",
                (_, 413) => "request_too_large",
                (StatusClass::ClientError | StatusClass::ContextLength, _) => {
                    "invalid_request_error"
                }
                (_, 504) | (StatusClass::RequestTimeout, _) => "timeout_error",
                _ => "api_error",
            };
            format!(r#"{{"type":"error","error":{{"type":"{kind}","message":{message}}}}}"#)
        }
    }
    .into_bytes()
}

/// `error.message` of an OpenAI or Anthropic error body (both nest it under `error`).
fn upstream_error_message(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    match &value["error"] {
        serde_json::Value::String(message) => Some(message.clone()),
        error => error["message"].as_str().map(str::to_owned),
    }
}

/// True when an error body says the prompt does not fit the model's context.
pub fn is_context_length_error(body: &[u8]) -> bool {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return false;
    };
    let error = &value["error"];
    if error["code"].as_str() == Some("context_length_exceeded") {
        return true;
    }
    let message = error["message"].as_str().unwrap_or_default().to_lowercase();
    // Anthropic: `invalid_request_error` with "prompt is too long"; OpenAI and
    // compatible servers: "maximum context length" or "... too long".
    message.contains("maximum context length")
        || message.contains("prompt is too long")
        || message.contains("context length")
        || message.contains("too long")
}

/// The message of an SSE event that reports an upstream error, or `None` for any other event.
///
/// OpenAI-compatible upstreams send `data: {"error":{...}}`; Anthropic sends
/// `event: error` with `{"type":"error","error":{...}}`.
pub fn error_event_message(event: &SseEvent) -> Option<String> {
    let named_error = event.event.as_deref() == Some("error");
    if !named_error && !event.data.contains("\"error\"") {
        return None;
    }
    let value: serde_json::Value = serde_json::from_str(&event.data).ok()?;
    let is_error = named_error
        || value.get("error").is_some_and(|e| !e.is_null()) && value.get("choices").is_none();
    if !is_error {
        return None;
    }
    Some(
        upstream_error_message(event.data.as_bytes())
            .unwrap_or_else(|| "upstream error event".to_owned()),
    )
}

/// Parses `Retry-After`: delta seconds or an IMF-fixdate HTTP date (later than `now`).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds));
    }
    let at = parse_http_date(value)?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// `Sun, 06 Nov 1994 08:49:37 GMT` (the only form RFC 9110 requires senders to use).
fn parse_http_date(value: &str) -> Option<SystemTime> {
    let mut words = value.split_ascii_whitespace();
    let _weekday = words.next()?;
    let day: u64 = words.next()?.parse().ok()?;
    let month = match words.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: i64 = words.next()?.parse().ok()?;
    let mut clock = words
        .next()?
        .split(':')
        .map(|part| part.parse::<u64>().ok());
    let (hour, minute, second) = (clock.next()??, clock.next()??, clock.next()??);
    if words.next()? != "GMT" || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60
    {
        return None;
    }
    let days = days_from_civil(year, month, day as i64);
    let seconds = days.checked_mul(86_400)? + (hour * 3600 + minute * 60 + second) as i64;
    Some(UNIX_EPOCH + Duration::from_secs(u64::try_from(seconds).ok()?))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codegen::WhenAllCooling;

    fn policy(on_client_errors: bool, on_context_length: bool) -> FailoverPolicy {
        FailoverPolicy {
            on_client_errors,
            on_context_length,
            budget_ms: 0,
            when_all_cooling: WhenAllCooling::Reject,
        }
    }

    fn status_failure(code: u16, retry_after: Option<&str>, body: &str) -> Failure {
        let mut headers = HeaderMap::new();
        if let Some(value) = retry_after {
            headers.insert(
                header::RETRY_AFTER,
                HeaderValue::from_str(value).expect("value"),
            );
        }
        Failure::Status(UpstreamError::classify(
            StatusCode::from_u16(code).expect("status"),
            &headers,
            Bytes::from(body.to_owned()),
            UNIX_EPOCH + Duration::from_secs(784_111_777),
        ))
    }

    #[test]
    fn the_whole_failover_table() {
        let default = policy(false, false);
        let context = r#"{"error":{"message":"This model's maximum context length is 8192 tokens","code":"context_length_exceeded"}}"#;
        let cases: Vec<(Failure, bool)> = vec![
            (Failure::Connect, true),
            (Failure::Timeout(Timer::Connect), true),
            (Failure::Timeout(Timer::FirstPacket), true),
            (Failure::Timeout(Timer::Total), true),
            (Failure::Timeout(Timer::Budget), false),
            (Failure::BrokenBeforeContent, true),
            (
                Failure::ErrorEvent {
                    message: "overloaded".into(),
                },
                true,
            ),
            (status_failure(429, None, ""), true),
            (status_failure(408, None, ""), true),
            (status_failure(500, None, ""), true),
            (status_failure(502, None, ""), true),
            (status_failure(503, None, ""), true),
            (status_failure(504, None, ""), true),
            (status_failure(529, None, ""), true),
            (status_failure(400, None, "{}"), false),
            (status_failure(401, None, ""), false),
            (status_failure(403, None, ""), false),
            (status_failure(404, None, ""), false),
            (status_failure(413, None, ""), false),
            (status_failure(422, None, ""), false),
            (status_failure(400, None, context), false),
        ];
        for (failure, fails_over) in &cases {
            assert_eq!(failure.fails_over(&default), *fails_over, "{failure:?}");
        }
        // The opt-ins move exactly their own classes.
        let clients = policy(true, false);
        assert!(status_failure(401, None, "").fails_over(&clients));
        assert!(status_failure(400, None, "{}").fails_over(&clients));
        assert!(!status_failure(400, None, context).fails_over(&clients));
        let contexts = policy(false, true);
        assert!(status_failure(400, None, context).fails_over(&contexts));
        assert!(!status_failure(401, None, "").fails_over(&contexts));
    }

    #[test]
    fn context_length_errors_are_recognised_in_both_dialects() {
        for body in [
            r#"{"error":{"message":"x","type":"invalid_request_error","code":"context_length_exceeded"}}"#,
            r#"{"error":{"message":"This model's maximum context length is 4097 tokens"}}"#,
            r#"{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 210000 tokens > 200000 maximum"}}"#,
            r#"{"error":{"message":"Input is too long for requested model."}}"#,
        ] {
            assert!(is_context_length_error(body.as_bytes()), "{body}");
        }
        for body in [r#"{"error":{"message":"invalid model"}}"#, "not json", ""] {
            assert!(!is_context_length_error(body.as_bytes()), "{body}");
        }
    }

    #[test]
    fn retry_after_sets_cooldowns_for_429_and_503_only() {
        let cooldown = |code, value| status_failure(code, value, "").cooldown();
        assert_eq!(cooldown(429, Some("7")), Some(Duration::from_secs(7)));
        assert_eq!(cooldown(429, None), Some(DEFAULT_RATE_LIMIT_COOLDOWN));
        assert_eq!(
            cooldown(429, Some("garbage")),
            Some(DEFAULT_RATE_LIMIT_COOLDOWN)
        );
        assert_eq!(cooldown(503, Some("3")), Some(Duration::from_secs(3)));
        assert_eq!(cooldown(503, None), None);
        assert_eq!(cooldown(500, None), None);
        assert_eq!(cooldown(400, Some("9")), None);
        // An HTTP date 10 s after "now" (Sun, 06 Nov 1994 08:49:37 GMT).
        assert_eq!(
            cooldown(429, Some("Sun, 06 Nov 1994 08:49:47 GMT")),
            Some(Duration::from_secs(10))
        );
        // A date in the past means "now".
        assert_eq!(
            cooldown(429, Some("Sun, 06 Nov 1994 08:00:00 GMT")),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn http_dates_parse_to_the_right_instant() {
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(UNIX_EPOCH + Duration::from_secs(784_111_777))
        );
        assert_eq!(
            parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"),
            Some(UNIX_EPOCH)
        );
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 PST"), None);
        assert_eq!(parse_http_date("yesterday"), None);
    }

    #[test]
    fn error_events_are_recognised_in_both_dialects() {
        let event = |name: Option<&str>, data: &str| SseEvent {
            event: name.map(str::to_owned),
            data: data.to_owned(),
            id: None,
        };
        assert_eq!(
            error_event_message(&event(
                Some("error"),
                r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#
            ))
            .as_deref(),
            Some("Overloaded")
        );
        assert_eq!(
            error_event_message(&event(
                None,
                r#"{"error":{"message":"boom","type":"server_error"}}"#
            ))
            .as_deref(),
            Some("boom")
        );
        assert_eq!(
            error_event_message(&event(
                None,
                r#"{"choices":[{"delta":{"content":"\"error\""}}]}"#
            )),
            None
        );
        assert_eq!(error_event_message(&event(None, "[DONE]")), None);
    }

    #[test]
    fn the_last_upstream_error_reaches_the_client_in_its_protocol() {
        let openai_body =
            r#"{"error":{"message":"slow down","type":"requests","code":"rate_limit_exceeded"}}"#;
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("7"));
        let error = |headers: &HeaderMap| {
            Failure::Status(UpstreamError::classify(
                StatusCode::TOO_MANY_REQUESTS,
                headers,
                Bytes::from_static(openai_body.as_bytes()),
                SystemTime::now(),
            ))
        };
        let response = error(&headers).into_response(Protocol::OpenAi);
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "7");
        let response = error(&headers).into_response(Protocol::Anthropic);
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        let body = error_body(
            Protocol::Anthropic,
            StatusCode::TOO_MANY_REQUESTS,
            StatusClass::RateLimited,
            "slow down",
        );
        let value: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(value["type"], "error");
        assert_eq!(value["error"]["type"], "rate_limit_error");
        assert_eq!(value["error"]["message"], "slow down");
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_value(Duration::from_millis(1200)), "2");
        assert_eq!(retry_after_value(Duration::from_secs(3)), "3");
        assert_eq!(retry_after_value(Duration::ZERO), "1");
    }
}
