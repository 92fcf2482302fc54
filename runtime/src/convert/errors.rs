//! Upstream error envelopes and statuses rewritten into the client protocol's error format.
//!
//! The status is decided before any header is sent, so a converted error is
//! always a real error status with the client SDK's own body shape, never a
//! 200 carrying an error. Statuses are kept except Anthropic's 529
//! `overloaded_error`, which becomes 503 for OpenAI and DashScope clients
//! (their SDKs know 503 as "retry later"; 529 is Anthropic-only).

use serde_json::{Value, json};

use super::{ConvertError, WireFormat};

/// What went wrong, independent of any protocol's spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    InvalidRequest,
    Authentication,
    Permission,
    NotFound,
    RequestTooLarge,
    RateLimit,
    Overloaded,
    Timeout,
    Api,
}

impl ErrorKind {
    /// The kind an HTTP status means when the body does not say better.
    pub fn from_status(status: u16) -> ErrorKind {
        match status {
            401 => ErrorKind::Authentication,
            403 => ErrorKind::Permission,
            404 => ErrorKind::NotFound,
            413 => ErrorKind::RequestTooLarge,
            429 => ErrorKind::RateLimit,
            529 => ErrorKind::Overloaded,
            408 | 504 => ErrorKind::Timeout,
            500..=599 => ErrorKind::Api,
            _ => ErrorKind::InvalidRequest,
        }
    }

    /// The status for an error known only by kind (a stream's error event).
    pub fn status(self) -> u16 {
        match self {
            ErrorKind::InvalidRequest => 400,
            ErrorKind::Authentication => 401,
            ErrorKind::Permission => 403,
            ErrorKind::NotFound => 404,
            ErrorKind::RequestTooLarge => 413,
            ErrorKind::RateLimit => 429,
            ErrorKind::Overloaded => 529,
            ErrorKind::Timeout => 504,
            ErrorKind::Api => 500,
        }
    }

    fn from_anthropic_type(kind: &str) -> Option<ErrorKind> {
        Some(match kind {
            "invalid_request_error" => ErrorKind::InvalidRequest,
            "authentication_error" => ErrorKind::Authentication,
            "permission_error" => ErrorKind::Permission,
            "not_found_error" => ErrorKind::NotFound,
            "request_too_large" => ErrorKind::RequestTooLarge,
            "rate_limit_error" => ErrorKind::RateLimit,
            "overloaded_error" => ErrorKind::Overloaded,
            "timeout_error" => ErrorKind::Timeout,
            "api_error" => ErrorKind::Api,
            _ => return None,
        })
    }

    fn anthropic_type(self) -> &'static str {
        match self {
            ErrorKind::InvalidRequest => "invalid_request_error",
            ErrorKind::Authentication => "authentication_error",
            ErrorKind::Permission => "permission_error",
            ErrorKind::NotFound => "not_found_error",
            ErrorKind::RequestTooLarge => "request_too_large",
            ErrorKind::RateLimit => "rate_limit_error",
            ErrorKind::Overloaded => "overloaded_error",
            ErrorKind::Timeout => "timeout_error",
            ErrorKind::Api => "api_error",
        }
    }

    /// OpenAI's `error.type` and a default `error.code`.
    fn openai_type_and_code(self) -> (&'static str, &'static str) {
        match self {
            ErrorKind::InvalidRequest => ("invalid_request_error", "invalid_request"),
            ErrorKind::Authentication => ("authentication_error", "invalid_api_key"),
            ErrorKind::Permission => ("permission_error", "permission_denied"),
            ErrorKind::NotFound => ("invalid_request_error", "model_not_found"),
            ErrorKind::RequestTooLarge => ("invalid_request_error", "request_too_large"),
            ErrorKind::RateLimit => ("rate_limit_error", "rate_limit_exceeded"),
            ErrorKind::Overloaded => ("server_error", "overloaded"),
            ErrorKind::Timeout => ("server_error", "timeout"),
            ErrorKind::Api => ("server_error", "server_error"),
        }
    }

    fn from_dashscope_code(code: &str) -> Option<ErrorKind> {
        let kind = if code.starts_with("Throttling") {
            ErrorKind::RateLimit
        } else if code == "InvalidApiKey" {
            ErrorKind::Authentication
        } else if code == "AccessDenied" || code == "Arrearage" {
            ErrorKind::Permission
        } else if code == "ModelNotFound" || code == "NotFound" {
            ErrorKind::NotFound
        } else if code.starts_with("InvalidParameter") || code == "DataInspectionFailed" {
            ErrorKind::InvalidRequest
        } else if code == "RequestTimeOut" {
            ErrorKind::Timeout
        } else if code.starts_with("InternalError") || code == "SystemError" {
            ErrorKind::Api
        } else {
            return None;
        };
        Some(kind)
    }

    fn dashscope_code(self) -> &'static str {
        match self {
            ErrorKind::InvalidRequest | ErrorKind::RequestTooLarge => "InvalidParameter",
            ErrorKind::Authentication => "InvalidApiKey",
            ErrorKind::Permission => "AccessDenied",
            ErrorKind::NotFound => "ModelNotFound",
            ErrorKind::RateLimit => "Throttling",
            ErrorKind::Overloaded | ErrorKind::Api => "InternalError",
            ErrorKind::Timeout => "RequestTimeOut",
        }
    }
}

/// An upstream error read from any protocol's envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamError {
    pub kind: ErrorKind,
    pub message: String,
    /// OpenAI's `error.code` or DashScope's `code`, kept for OpenAI/DashScope clients.
    pub code: Option<String>,
}

impl UpstreamError {
    /// Reads an error body (`{"error":{..}}`, `{"type":"error","error":{..}}`
    /// or DashScope's `{"code","message"}`); `status` decides when the body is silent or garbage.
    pub fn parse(upstream: WireFormat, status: u16, body: &Value) -> UpstreamError {
        let by_status = ErrorKind::from_status(status);
        let error = body.get("error").unwrap_or(body);
        let text =
            |value: &Value, key: &str| value.get(key).and_then(Value::as_str).map(str::to_owned);
        match upstream {
            WireFormat::Anthropic => UpstreamError {
                kind: text(error, "type")
                    .and_then(|kind| ErrorKind::from_anthropic_type(&kind))
                    .unwrap_or(by_status),
                message: text(error, "message").unwrap_or_default(),
                code: None,
            },
            WireFormat::OpenAi => {
                let code = text(error, "code");
                let rate_limited = code.as_deref() == Some("rate_limit_exceeded");
                UpstreamError {
                    kind: if rate_limited {
                        ErrorKind::RateLimit
                    } else {
                        by_status
                    },
                    message: text(error, "message").unwrap_or_default(),
                    code,
                }
            }
            WireFormat::DashScope => {
                let code = text(body, "code");
                UpstreamError {
                    kind: code
                        .as_deref()
                        .and_then(ErrorKind::from_dashscope_code)
                        .unwrap_or(by_status),
                    message: text(body, "message").unwrap_or_default(),
                    code,
                }
            }
        }
    }

    /// The envelope a `client` SDK parses.
    pub fn to_client_body(&self, client: WireFormat) -> Value {
        match client {
            WireFormat::OpenAi => {
                let (kind, code) = self.kind.openai_type_and_code();
                json!({"error": {
                    "message": self.message,
                    "type": kind,
                    "param": null,
                    "code": self.code.as_deref().unwrap_or(code),
                }})
            }
            WireFormat::Anthropic => json!({
                "type": "error",
                "error": {"type": self.kind.anthropic_type(), "message": self.message},
            }),
            WireFormat::DashScope => json!({
                "code": self.code.as_deref().unwrap_or(self.kind.dashscope_code()),
                "message": self.message,
                "request_id": "",
            }),
        }
    }
}

/// The status a `client` gets for an upstream error status.
pub fn client_status(client: WireFormat, upstream_status: u16) -> u16 {
    match (client, upstream_status) {
        (WireFormat::OpenAi | WireFormat::DashScope, 529) => 503,
        // A "successful" status with an error body is still an error for the client.
        (_, status) if status < 400 => 502,
        (_, status) => status,
    }
}

/// Rewrites a complete upstream error response for a `client`: its status and JSON body.
pub fn convert_error_response(
    client: WireFormat,
    upstream: WireFormat,
    upstream_status: u16,
    body: &[u8],
) -> (u16, Vec<u8>) {
    let parsed = serde_json::from_slice::<Value>(body).unwrap_or(Value::Null);
    let error = UpstreamError::parse(upstream, upstream_status, &parsed);
    let body = error.to_client_body(client).to_string().into_bytes();
    (client_status(client, upstream_status), body)
}

/// The 400 a client gets when its request cannot be converted.
pub fn convert_error_body(client: WireFormat, error: &ConvertError) -> (u16, Vec<u8>) {
    let error = UpstreamError {
        kind: ErrorKind::InvalidRequest,
        message: error.message.clone(),
        code: None,
    };
    (400, error.to_client_body(client).to_string().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anthropic_overloaded_becomes_openai_503() {
        let body =
            br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
        let (status, body) =
            convert_error_response(WireFormat::OpenAi, WireFormat::Anthropic, 529, body);
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(status, 503);
        assert_eq!(body["error"]["message"], "Overloaded");
        assert_eq!(body["error"]["type"], "server_error");
        assert!(body["error"]["param"].is_null());
    }

    #[test]
    fn openai_429_becomes_anthropic_rate_limit_error() {
        let body = br#"{"error":{"message":"slow down","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#;
        let (status, body) =
            convert_error_response(WireFormat::Anthropic, WireFormat::OpenAi, 429, body);
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(status, 429);
        assert_eq!(
            body,
            json!({"type":"error","error":{"type":"rate_limit_error","message":"slow down"}})
        );
    }

    #[test]
    fn dashscope_code_maps_for_both_clients() {
        let body = br#"{"code":"Throttling.RateQuota","message":"Requests rate limit exceeded","request_id":"r1"}"#;
        let (status, anthropic) =
            convert_error_response(WireFormat::Anthropic, WireFormat::DashScope, 429, body);
        assert_eq!(status, 429);
        let anthropic: Value = serde_json::from_slice(&anthropic).unwrap();
        assert_eq!(anthropic["error"]["type"], "rate_limit_error");
        let (_, openai) =
            convert_error_response(WireFormat::OpenAi, WireFormat::DashScope, 429, body);
        let openai: Value = serde_json::from_slice(&openai).unwrap();
        assert_eq!(openai["error"]["code"], "Throttling.RateQuota");
        assert_eq!(openai["error"]["type"], "rate_limit_error");
    }

    #[test]
    fn garbage_body_keeps_an_error_status_and_a_parseable_envelope() {
        let (status, body) =
            convert_error_response(WireFormat::Anthropic, WireFormat::OpenAi, 200, b"<html>");
        assert_eq!(status, 502);
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["type"], "error");
        let (status, _) =
            convert_error_response(WireFormat::OpenAi, WireFormat::Anthropic, 500, b"");
        assert_eq!(status, 500);
    }

    #[test]
    fn convert_errors_are_400_in_the_client_protocol() {
        let (status, body) = convert_error_body(
            WireFormat::Anthropic,
            &ConvertError::new("n > 1 is not supported"),
        );
        assert_eq!(status, 400);
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"]["type"], "invalid_request_error");
    }
}
