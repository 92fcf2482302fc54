//! The commit point of one upstream attempt: wait for the head (and, on streams, the first content) under the timers.
//!
//! Before the commit point nothing has reached the client, so every failure
//! can still fail over to the next target: an error status (its body read,
//! bounded, so it can be classified and handed on), a timer running out, a
//! stream that breaks or reports an error before any content. After it the
//! response belongs to the client: the bytes read while waiting are replayed
//! first, then the rest streams as it arrives (under `stream_guard`).

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::SystemTime;

use bytes::{Bytes, BytesMut};
use http::{Response, header};
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, SizeHint};
use tokio::time::Instant;

use crate::body::{BodyError, ResponseBody};
use crate::failure::{Failure, Timer, UpstreamError, error_event_message, is_failure_status};
use crate::sse::SseFramer;

/// The most of an upstream error body kept for classification and hand-on.
pub const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// The deadlines one attempt runs under before its commit point.
#[derive(Debug, Clone, Copy, Default)]
pub struct Deadlines {
    /// The attempt's total timeout.
    pub total: Option<Instant>,
    /// First content of a stream (ignored for non-streaming requests).
    pub first_packet: Option<Instant>,
    /// `failover.budgetMs` of the whole request.
    pub budget: Option<Instant>,
}

impl Deadlines {
    /// The earliest deadline before the commit point, and which timer it is.
    pub fn before_commit(&self, stream: bool) -> Option<(Instant, Timer)> {
        let first_packet = self.first_packet.filter(|_| stream);
        [
            (self.budget, Timer::Budget),
            (self.total, Timer::Total),
            (first_packet, Timer::FirstPacket),
        ]
        .into_iter()
        .filter_map(|(at, timer)| at.map(|at| (at, timer)))
        .min_by_key(|(at, _)| *at)
    }
}

/// Runs `future` until `deadline`, failing with that timer's timeout.
async fn within<F: Future>(
    deadline: Option<(Instant, Timer)>,
    future: F,
) -> Result<F::Output, Failure> {
    match deadline {
        Some((at, timer)) => tokio::time::timeout_at(at, future)
            .await
            .map_err(|_| Failure::Timeout(timer)),
        None => Ok(future.await),
    }
}

/// Waits for `head` and, when `stream` is set and the answer is an event
/// stream, for the first SSE event carrying content. Returns the response to
/// send (committed), or why the attempt failed.
pub async fn commit<F>(
    head: F,
    deadlines: Deadlines,
    stream: bool,
) -> Result<Response<ResponseBody>, Failure>
where
    F: Future<Output = Result<Response<ResponseBody>, Failure>>,
{
    let deadline = deadlines.before_commit(stream);
    let response = within(deadline, head).await??;
    if is_failure_status(response.status()) {
        let (parts, body) = response.into_parts();
        let body = within(deadline, read_bounded(body))
            .await
            .unwrap_or_default();
        return Err(Failure::Status(UpstreamError::classify(
            parts.status,
            &parts.headers,
            body,
            SystemTime::now(),
        )));
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.contains("json"));
    if stream && !is_json {
        return await_first_content(response, deadline).await;
    }
    Ok(response)
}

/// Up to [`ERROR_BODY_LIMIT`] bytes of a body; a break keeps what was read.
async fn read_bounded(mut body: ResponseBody) -> Bytes {
    let mut buffer = BytesMut::new();
    while buffer.len() < ERROR_BODY_LIMIT {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    let room = ERROR_BODY_LIMIT - buffer.len();
                    buffer.extend_from_slice(&data[..data.len().min(room)]);
                }
            }
            _ => break,
        }
    }
    buffer.freeze()
}

/// Reads the stream until an event carries content, keeping every frame read.
async fn await_first_content(
    response: Response<ResponseBody>,
    deadline: Option<(Instant, Timer)>,
) -> Result<Response<ResponseBody>, Failure> {
    let (parts, mut body) = response.into_parts();
    let mut framer = SseFramer::new();
    let mut events = Vec::new();
    let mut seen = VecDeque::new();
    loop {
        let Some(frame) = within(deadline, body.frame()).await? else {
            // The stream ended without content: whatever it said is the answer.
            return Ok(Response::from_parts(parts, Replay::new(seen, None).boxed()));
        };
        let frame = frame.map_err(|_| Failure::BrokenBeforeContent)?;
        if let Some(data) = frame.data_ref() {
            framer.feed(data, &mut events);
        }
        seen.push_back(frame);
        for event in events.drain(..) {
            if let Some(message) = error_event_message(&event) {
                return Err(Failure::ErrorEvent { message });
            }
            if event.carries_content() {
                return Ok(Response::from_parts(
                    parts,
                    Replay::new(seen, Some(body)).boxed(),
                ));
            }
        }
    }
}

/// Frames already read from upstream, then the rest of the upstream body.
struct Replay {
    seen: VecDeque<Frame<Bytes>>,
    rest: Option<ResponseBody>,
}

impl Replay {
    fn new(seen: VecDeque<Frame<Bytes>>, rest: Option<ResponseBody>) -> Replay {
        Replay { seen, rest }
    }
}

impl Body for Replay {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        if let Some(frame) = self.seen.pop_front() {
            return Poll::Ready(Some(Ok(frame)));
        }
        match self.rest.as_mut() {
            Some(rest) => Pin::new(rest).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.seen.is_empty() && self.rest.as_ref().is_none_or(|rest| rest.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        let seen: u64 = self
            .seen
            .iter()
            .filter_map(|frame| frame.data_ref())
            .map(|data| data.len() as u64)
            .sum();
        let rest = self
            .rest
            .as_ref()
            .map(|rest| rest.size_hint())
            .unwrap_or_else(|| SizeHint::with_exact(0));
        let mut hint = SizeHint::new();
        hint.set_lower(seen + rest.lower());
        if let Some(upper) = rest.upper() {
            hint.set_upper(seen + upper);
        }
        hint
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use http::StatusCode;
    use tokio::sync::mpsc;

    use super::*;

    /// A response whose body yields what the test sends, then ends when the sender drops.
    fn streamed(
        frames: mpsc::UnboundedReceiver<Result<Bytes, BodyError>>,
    ) -> Response<ResponseBody> {
        struct Channel(mpsc::UnboundedReceiver<Result<Bytes, BodyError>>);
        impl Body for Channel {
            type Data = Bytes;
            type Error = BodyError;
            fn poll_frame(
                mut self: Pin<&mut Self>,
                cx: &mut Context<'_>,
            ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
                self.0
                    .poll_recv(cx)
                    .map(|item| item.map(|result| result.map(Frame::data)))
            }
        }
        Response::new(Channel(frames).boxed())
    }

    fn first_packet_in(ms: u64) -> Deadlines {
        Deadlines {
            first_packet: Some(Instant::now() + Duration::from_millis(ms)),
            ..Deadlines::default()
        }
    }

    fn failure_of(outcome: Result<Response<ResponseBody>, Failure>) -> Failure {
        match outcome {
            Ok(_) => panic!("committed, expected a failure"),
            Err(failure) => failure,
        }
    }

    #[tokio::test]
    async fn pings_and_role_preludes_never_commit_and_time_out() {
        let (sender, receiver) = mpsc::unbounded_channel();
        sender
            .send(Ok(Bytes::from_static(
                b": ping\n\nevent: ping\ndata: {}\n\ndata: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\n",
            )))
            .ok();
        let outcome = commit(async { Ok(streamed(receiver)) }, first_packet_in(100), true).await;
        assert!(matches!(
            failure_of(outcome),
            Failure::Timeout(Timer::FirstPacket)
        ));
        drop(sender);
    }

    #[tokio::test]
    async fn a_break_before_content_is_a_failure_not_a_commit() {
        let (sender, receiver) = mpsc::unbounded_channel();
        sender.send(Ok(Bytes::from_static(b": ping\n\n"))).ok();
        sender.send(Err(BodyError::message("cut"))).ok();
        let outcome = commit(
            async { Ok(streamed(receiver)) },
            first_packet_in(1000),
            true,
        )
        .await;
        assert!(matches!(failure_of(outcome), Failure::BrokenBeforeContent));
    }

    #[tokio::test]
    async fn an_error_event_before_content_is_a_failure() {
        let (sender, receiver) = mpsc::unbounded_channel();
        sender
            .send(Ok(Bytes::from_static(
                b"event: message_start\ndata: {\"type\":\"message_start\"}\n\nevent: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n",
            )))
            .ok();
        // No first packet timeout: a stream still waits for its first content.
        let outcome = commit(async { Ok(streamed(receiver)) }, Deadlines::default(), true).await;
        match failure_of(outcome) {
            Failure::ErrorEvent { message } => assert_eq!(message, "Overloaded"),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn content_split_over_frames_commits_and_replays_in_order() {
        let (sender, receiver) = mpsc::unbounded_channel();
        for part in [
            &b": ping\n\nda"[..],
            b"ta: {\"choices\":[{\"delta\":{\"content\":\"h\"}}]",
            b"}\n",
            b"\n",
            b"data: [DONE]\n\n",
        ] {
            sender.send(Ok(Bytes::from_static(part))).ok();
        }
        drop(sender);
        let response = commit(
            async { Ok(streamed(receiver)) },
            first_packet_in(1000),
            true,
        )
        .await
        .expect("committed");
        let bytes = response
            .into_body()
            .collect()
            .await
            .ok()
            .map(|c| c.to_bytes());
        assert_eq!(
            bytes.as_deref(),
            Some(&b": ping\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"h\"}}]}\n\ndata: [DONE]\n\n"[..])
        );
    }

    #[tokio::test]
    async fn a_slow_head_is_a_timeout_of_the_earliest_timer() {
        let head = || async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Err(Failure::Connect)
        };
        let now = Instant::now();
        let deadlines = Deadlines {
            total: Some(now + Duration::from_millis(80)),
            first_packet: None,
            budget: Some(now + Duration::from_millis(40)),
        };
        let failure = failure_of(commit(head(), deadlines, false).await);
        assert!(
            matches!(failure, Failure::Timeout(Timer::Budget)),
            "{failure:?}"
        );
        let deadlines = Deadlines {
            budget: None,
            ..deadlines
        };
        let failure = failure_of(commit(head(), deadlines, false).await);
        assert!(
            matches!(failure, Failure::Timeout(Timer::Total)),
            "{failure:?}"
        );
    }

    #[tokio::test]
    async fn an_error_status_is_read_and_classified_before_commit() {
        let head = async {
            let mut response = Response::new(crate::body::full(
                r#"{"error":{"message":"maximum context length is 10 tokens"}}"#,
            ));
            *response.status_mut() = StatusCode::BAD_REQUEST;
            Ok(response)
        };
        match failure_of(commit(head, Deadlines::default(), false).await) {
            Failure::Status(error) => {
                assert_eq!(error.class, crate::failure::StatusClass::ContextLength);
            }
            other => panic!("{other:?}"),
        }
    }
}
