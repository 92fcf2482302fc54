//! Gateway-made error responses, written in the client-facing protocol's own error format.
//!
//! Clients use their provider SDK against the gateway, so an error the
//! gateway itself produces (404, 413, 502, 504, ...) must parse as that
//! provider's error: OpenAI `{"error":{...}}`, Anthropic `{"type":"error",...}`.

use http::{HeaderValue, Response, StatusCode, header};

use crate::body::{ResponseBody, full};
use crate::codegen::Protocol;

/// The errors the gateway answers itself, before or instead of an upstream answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GatewayError {
    /// No Model API serves this host and path.
    NotFound,
    /// The path exists, but not for this method.
    MethodNotAllowed,
    /// The request body is over `maxRequestBytes`.
    PayloadTooLarge,
    /// The request body is not the JSON the route expects.
    InvalidBody,
    /// The client's request body could not be read.
    BadRequestBody,
    /// The upstream could not be reached or broke before answering.
    BadGateway,
    /// The upstream did not answer (or send its first content) in time.
    GatewayTimeout,
    /// A bug in the gateway (a handler panicked).
    Internal,
}

impl GatewayError {
    pub const fn status(self) -> StatusCode {
        match self {
            GatewayError::NotFound => StatusCode::NOT_FOUND,
            GatewayError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            GatewayError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            GatewayError::InvalidBody | GatewayError::BadRequestBody => StatusCode::BAD_REQUEST,
            GatewayError::BadGateway => StatusCode::BAD_GATEWAY,
            GatewayError::GatewayTimeout => StatusCode::GATEWAY_TIMEOUT,
            GatewayError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// OpenAI's `error.type` and `error.code`.
    const fn openai_type_and_code(self) -> (&'static str, &'static str) {
        match self {
            GatewayError::NotFound => ("invalid_request_error", "not_found"),
            GatewayError::MethodNotAllowed => ("invalid_request_error", "method_not_allowed"),
            GatewayError::PayloadTooLarge => ("invalid_request_error", "request_too_large"),
            GatewayError::InvalidBody => ("invalid_request_error", "invalid_json"),
            GatewayError::BadRequestBody => ("invalid_request_error", "invalid_body"),
            GatewayError::BadGateway => ("api_error", "bad_gateway"),
            GatewayError::GatewayTimeout => ("api_error", "gateway_timeout"),
            GatewayError::Internal => ("api_error", "internal_error"),
        }
    }

    /// Anthropic's `error.type`.
    const fn anthropic_type(self) -> &'static str {
        match self {
            GatewayError::NotFound => "not_found_error",
            GatewayError::PayloadTooLarge => "request_too_large",
            GatewayError::MethodNotAllowed
            | GatewayError::InvalidBody
            | GatewayError::BadRequestBody => "invalid_request_error",
            GatewayError::GatewayTimeout => "timeout_error",
            GatewayError::BadGateway | GatewayError::Internal => "api_error",
        }
    }
}

/// The protocol whose error format fits a request no Model API claimed:
/// Anthropic's for its messages path, OpenAI's otherwise.
pub fn protocol_for_unmatched_path(path: &str) -> Protocol {
    if path.ends_with("/v1/messages") {
        Protocol::Anthropic
    } else {
        Protocol::OpenAi
    }
}

/// The error body alone, as JSON bytes.
pub fn body_bytes(protocol: Protocol, error: GatewayError, message: &str) -> Vec<u8> {
    // serde_json escapes the message; the other parts are fixed identifiers.
    let message = serde_json::Value::from(message).to_string();
    match protocol {
        Protocol::OpenAi => {
            let (kind, code) = error.openai_type_and_code();
            format!(
                r#"{{"error":{{"message":{message},"type":"{kind}","param":null,"code":"{code}"}}}}"#
            )
        }
        Protocol::Anthropic => {
            let kind = error.anthropic_type();
            format!(r#"{{"type":"error","error":{{"type":"{kind}","message":{message}}}}}"#)
        }
    }
    .into_bytes()
}

/// A complete error response with a JSON body in `protocol`'s format.
pub fn response(protocol: Protocol, error: GatewayError, message: &str) -> Response<ResponseBody> {
    let mut response = Response::new(full(body_bytes(protocol, error, message)));
    *response.status_mut() = error.status();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(protocol: Protocol, error: GatewayError, message: &str) -> serde_json::Value {
        serde_json::from_slice(&body_bytes(protocol, error, message)).expect("valid JSON")
    }

    #[test]
    fn openai_errors_have_the_sdk_shape() {
        let body = parse(Protocol::OpenAi, GatewayError::NotFound, "no \"route\"\n");
        assert_eq!(body["error"]["message"], "no \"route\"\n");
        assert_eq!(body["error"]["type"], "invalid_request_error");
        assert_eq!(body["error"]["code"], "not_found");
        assert!(body["error"]["param"].is_null());
    }

    #[test]
    fn anthropic_errors_have_the_sdk_shape() {
        let body = parse(
            Protocol::Anthropic,
            GatewayError::PayloadTooLarge,
            "too big",
        );
        assert_eq!(body["type"], "error");
        assert_eq!(body["error"]["type"], "request_too_large");
        assert_eq!(body["error"]["message"], "too big");
    }

    #[test]
    fn unmatched_messages_path_answers_in_anthropic_format() {
        assert_eq!(
            protocol_for_unmatched_path("/x/v1/messages"),
            Protocol::Anthropic
        );
        assert_eq!(
            protocol_for_unmatched_path("/v1/chat/completions"),
            Protocol::OpenAi
        );
    }

    #[test]
    fn response_carries_status_and_json_content_type() {
        let response = response(Protocol::OpenAi, GatewayError::GatewayTimeout, "slow");
        assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    }
}
