//! Reading the client's request body under the size limit, and the one JSON edit the gateway makes: the model.
//!
//! The body is read frame by frame and abandoned the moment it passes the
//! limit, so an oversized upload is never buffered. The JSON is inspected
//! without building a tree: the `model` value is located by byte range and,
//! when rewritten, spliced in place; a pass-through request forwards the
//! client's original bytes untouched.

use std::ops::Range;

use bytes::{Bytes, BytesMut};
use http::HeaderValue;
use http_body_util::BodyExt;
use hyper::body::Body;
use serde::Deserialize;
use serde_json::value::RawValue;

/// Why the request body could not be read.
#[derive(Debug)]
pub enum ReadError {
    /// More than the limit arrived (or was announced by `Content-Length`).
    TooLarge,
    /// The client's stream failed mid-body.
    Broken,
}

/// Reads the whole body, stopping as soon as it is over `limit` bytes.
pub async fn read_bounded<B>(
    body: B,
    limit: u64,
    content_length: Option<u64>,
) -> Result<Bytes, ReadError>
where
    B: Body<Data = Bytes>,
{
    if content_length.is_some_and(|length| length > limit) {
        return Err(ReadError::TooLarge);
    }
    let mut body = std::pin::pin!(body);
    let mut first: Option<Bytes> = None;
    let mut joined: Option<BytesMut> = None;
    let mut total: u64 = 0;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| ReadError::Broken)?;
        let Ok(data) = frame.into_data() else {
            continue; // trailers carry nothing the gateway forwards
        };
        total += data.len() as u64;
        if total > limit {
            return Err(ReadError::TooLarge);
        }
        // The common single-frame body is kept as is, without a copy.
        match (&mut first, &mut joined) {
            (None, _) => first = Some(data),
            (Some(head), None) => {
                let capacity = content_length.unwrap_or(total).max(total);
                let mut buffer = BytesMut::with_capacity(capacity as usize);
                buffer.extend_from_slice(head);
                buffer.extend_from_slice(&data);
                joined = Some(buffer);
            }
            (Some(_), Some(buffer)) => buffer.extend_from_slice(&data),
        }
    }
    Ok(match joined {
        Some(buffer) => buffer.freeze(),
        None => first.unwrap_or_default(),
    })
}

/// What the gateway needs to know about a JSON request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonRequest {
    /// Byte range of the `model` value (including quotes) in the body.
    model: Option<Range<usize>>,
    /// The client asked for a streamed answer (`"stream": true`).
    pub stream: bool,
}

#[derive(Deserialize)]
struct Fields<'a> {
    #[serde(borrow, default)]
    model: Option<&'a RawValue>,
    #[serde(borrow, default)]
    stream: Option<&'a RawValue>,
}

/// Checks that `body` is one JSON object and finds its `model` and `stream`.
pub fn inspect(body: &[u8]) -> Result<JsonRequest, serde_json::Error> {
    // A derived struct also accepts a JSON array (fields by position).
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(serde::de::Error::custom(
            "the request body must be a JSON object",
        ));
    }
    let fields: Fields<'_> = serde_json::from_slice(body)?;
    let model = fields.model.map(|raw| {
        // `raw` borrows from `body`, so its offset is a pointer difference.
        let start = raw.get().as_ptr() as usize - body.as_ptr() as usize;
        start..start + raw.get().len()
    });
    let stream = fields.stream.is_some_and(|raw| raw.get() == "true");
    Ok(JsonRequest { model, stream })
}

impl JsonRequest {
    /// The client's model as a header value, when it is a plain JSON string
    /// (no escapes) that is a valid header value. Shares `body`'s bytes.
    pub fn client_model_header(&self, body: &Bytes) -> Option<HeaderValue> {
        let range = self.model.clone()?;
        let raw = body.get(range.clone())?;
        let inner = raw.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
        if inner.contains(&b'\\') {
            return None;
        }
        HeaderValue::from_maybe_shared(body.slice(range.start + 1..range.end - 1)).ok()
    }

    /// The body with `model` set to `model` (a JSON-escaped string literal,
    /// quotes included), inserted when the client sent none.
    pub fn with_model(&self, body: &[u8], model_literal: &str) -> Bytes {
        let mut out = BytesMut::with_capacity(body.len() + model_literal.len() + 12);
        match &self.model {
            Some(range) => {
                out.extend_from_slice(&body[..range.start]);
                out.extend_from_slice(model_literal.as_bytes());
                out.extend_from_slice(&body[range.end..]);
            }
            None => {
                // `inspect` proved the body is an object, so a `{` exists.
                let open = body.iter().position(|&b| b == b'{').unwrap_or(0);
                let rest = &body[open + 1..];
                let empty_object = rest
                    .iter()
                    .find(|b| !b.is_ascii_whitespace())
                    .is_some_and(|&b| b == b'}');
                out.extend_from_slice(&body[..=open]);
                out.extend_from_slice(b"\"model\":");
                out.extend_from_slice(model_literal.as_bytes());
                if !empty_object {
                    out.extend_from_slice(b",");
                }
                out.extend_from_slice(rest);
            }
        }
        out.freeze()
    }
}

/// A JSON string literal for `model`, computed once per target at startup.
pub fn model_literal(model: &str) -> String {
    serde_json::Value::from(model).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::Full;

    fn json(bytes: &[u8]) -> serde_json::Value {
        serde_json::from_slice(bytes).expect("valid JSON")
    }

    #[test]
    fn finds_model_and_stream_flag() {
        let body =
            br#"{"messages":[{"role":"user","content":"hi"}],"model":"gpt-4o","stream":true}"#;
        let request = inspect(body).expect("object");
        assert!(request.stream);
        let bytes = Bytes::from_static(body);
        assert_eq!(
            request
                .client_model_header(&bytes)
                .as_ref()
                .map(|h| h.to_str().ok()),
            Some(Some("gpt-4o"))
        );
    }

    #[test]
    fn rewrite_replaces_only_the_model_value() {
        let body = br#"{ "model" : "a\"b", "stream":false, "n":1 }"#;
        let request = inspect(body).expect("object");
        assert!(!request.stream);
        let rewritten = request.with_model(body, &model_literal("mock-small"));
        assert_eq!(
            &rewritten[..],
            br#"{ "model" : "mock-small", "stream":false, "n":1 }"#
        );
    }

    #[test]
    fn rewrite_inserts_a_missing_model() {
        let literal = model_literal("m");
        let body = br#" {"messages":[]}"#;
        let rewritten = inspect(body).expect("object").with_model(body, &literal);
        assert_eq!(json(&rewritten), json(br#"{"model":"m","messages":[]}"#));
        let body = b"{ }";
        let rewritten = inspect(body).expect("object").with_model(body, &literal);
        assert_eq!(json(&rewritten), json(br#"{"model":"m"}"#));
    }

    #[test]
    fn non_objects_and_broken_json_are_rejected() {
        assert!(inspect(b"[1,2]").is_err());
        assert!(inspect(b"{\"model\":").is_err());
        assert!(inspect(b"not json").is_err());
        assert!(inspect(b"{} trailing").is_err());
    }

    #[test]
    fn model_with_escapes_gets_no_header() {
        let body = Bytes::from_static(br#"{"model":"a\nb"}"#);
        assert_eq!(
            inspect(&body).expect("object").client_model_header(&body),
            None
        );
    }

    #[tokio::test]
    async fn over_limit_content_length_is_rejected_before_reading() {
        let body = Full::new(Bytes::from_static(b"0123456789"));
        assert!(matches!(
            read_bounded(body, 5, Some(10)).await,
            Err(ReadError::TooLarge)
        ));
    }

    /// A body yielding the given frames one poll at a time.
    struct Frames(std::collections::VecDeque<Bytes>);

    impl Body for Frames {
        type Data = Bytes;
        type Error = std::io::Error;
        fn poll_frame(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, std::io::Error>>> {
            std::task::Poll::Ready(self.0.pop_front().map(|b| Ok(hyper::body::Frame::data(b))))
        }
    }

    #[tokio::test]
    async fn streamed_body_stops_at_the_limit_and_joins_frames_under_it() {
        let frames = || Frames((0..4u8).map(|i| Bytes::from(vec![b'a' + i; 3])).collect());
        assert!(matches!(
            read_bounded(frames(), 11, None).await,
            Err(ReadError::TooLarge)
        ));
        let read = read_bounded(frames(), 12, None).await.ok();
        assert_eq!(read.as_deref(), Some(&b"aaabbbcccddd"[..]));
    }
}
