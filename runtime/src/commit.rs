//! The commit point of one upstream attempt: wait for the head (and, on streams, the first content) under the timeouts.
//!
//! Before the commit point nothing has reached the client, so a failure can
//! still become a clean error response (or, with routing, a fallback to the
//! next target). After it the response belongs to the client: the bytes read
//! while waiting are replayed first, then the rest streams as it arrives.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::Response;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use crate::body::{BodyError, ResponseBody};
use crate::protocol_error::GatewayError;
use crate::sse::SseFramer;

/// Why an attempt failed before its commit point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptFailure {
    /// The upstream could not be reached, or broke before sending a head.
    Unavailable,
    /// The whole-request or connect timeout passed before the head.
    Timeout,
    /// A streaming answer sent no content within the first packet timeout.
    FirstPacketTimeout,
    /// The stream broke after the head but before any content.
    BrokenBeforeContent,
}

impl AttemptFailure {
    /// The error the client gets when no other target is left.
    pub fn gateway_error(self) -> GatewayError {
        match self {
            AttemptFailure::Unavailable | AttemptFailure::BrokenBeforeContent => {
                GatewayError::BadGateway
            }
            AttemptFailure::Timeout | AttemptFailure::FirstPacketTimeout => {
                GatewayError::GatewayTimeout
            }
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            AttemptFailure::Unavailable => "the upstream service could not be reached",
            AttemptFailure::Timeout => "the upstream service did not answer in time",
            AttemptFailure::FirstPacketTimeout => {
                "the upstream service sent no content within the first packet timeout"
            }
            AttemptFailure::BrokenBeforeContent => {
                "the upstream stream broke before sending any content"
            }
        }
    }
}

/// The deadlines one attempt runs under.
#[derive(Debug, Clone, Copy, Default)]
pub struct Deadlines {
    /// Whole request, head to last byte (`requestMs`).
    pub request: Option<Instant>,
    /// Head and first content of a stream (`firstPacketTimeoutMs`); only set
    /// for streaming requests.
    pub first_packet: Option<Instant>,
}

/// Waits for `head` and, for a streaming request under a first packet
/// timeout, for the first SSE event carrying content. Returns the response
/// to send (committed), or why the attempt failed.
pub async fn commit<F>(
    head: F,
    deadlines: Deadlines,
) -> Result<Response<ResponseBody>, AttemptFailure>
where
    F: Future<Output = Result<Response<ResponseBody>, AttemptFailure>>,
{
    if let (Some(request), None) = (deadlines.request, deadlines.first_packet) {
        // The common case: one timer covers the head wait and then the body.
        let mut sleep = Box::pin(tokio::time::sleep_until(request));
        let response = tokio::select! {
            biased;
            response = head => response?,
            () = sleep.as_mut() => return Err(AttemptFailure::Timeout),
        };
        return Ok(response.map(|body| DeadlineBody::new(body, sleep).boxed()));
    }
    let (wait_until, failure_on_expiry) = match (deadlines.first_packet, deadlines.request) {
        (Some(first), Some(request)) if request < first => (Some(request), AttemptFailure::Timeout),
        (Some(first), _) => (Some(first), AttemptFailure::FirstPacketTimeout),
        (None, request) => (request, AttemptFailure::Timeout),
    };
    let response = match wait_until {
        Some(deadline) => tokio::time::timeout_at(deadline, head)
            .await
            .map_err(|_| failure_on_expiry)??,
        None => head.await?,
    };
    let response = match deadlines.first_packet {
        Some(_) if response.status().is_success() => {
            // `wait_until` is set whenever `first_packet` is.
            let deadline = wait_until.unwrap_or_else(Instant::now);
            await_first_content(response, deadline, failure_on_expiry).await?
        }
        _ => response,
    };
    Ok(match deadlines.request {
        Some(deadline) => response.map(|body| {
            DeadlineBody::new(body, Box::pin(tokio::time::sleep_until(deadline))).boxed()
        }),
        None => response,
    })
}

/// Reads the stream until an event carries content, keeping every frame read.
async fn await_first_content(
    response: Response<ResponseBody>,
    deadline: Instant,
    failure_on_expiry: AttemptFailure,
) -> Result<Response<ResponseBody>, AttemptFailure> {
    let (parts, mut body) = response.into_parts();
    let mut framer = SseFramer::new();
    let mut events = Vec::new();
    let mut seen = VecDeque::new();
    loop {
        let frame = tokio::time::timeout_at(deadline, body.frame())
            .await
            .map_err(|_| failure_on_expiry)?;
        let Some(frame) = frame else {
            // The stream ended without content: whatever it said is the answer.
            return Ok(Response::from_parts(parts, Replay::new(seen, None).boxed()));
        };
        let frame = frame.map_err(|_| AttemptFailure::BrokenBeforeContent)?;
        if let Some(data) = frame.data_ref() {
            framer.feed(data, &mut events);
        }
        seen.push_back(frame);
        if events.iter().any(|event| event.carries_content()) {
            return Ok(Response::from_parts(
                parts,
                Replay::new(seen, Some(body)).boxed(),
            ));
        }
        events.clear();
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

/// A body that fails once the whole-request deadline passes.
struct DeadlineBody {
    inner: ResponseBody,
    sleep: Pin<Box<Sleep>>,
    expired: bool,
}

impl DeadlineBody {
    fn new(inner: ResponseBody, sleep: Pin<Box<Sleep>>) -> DeadlineBody {
        DeadlineBody {
            inner,
            sleep,
            expired: false,
        }
    }
}

impl Body for DeadlineBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        if this.expired {
            return Poll::Ready(None);
        }
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        ready!(this.sleep.as_mut().poll(cx));
        this.expired = true;
        Poll::Ready(Some(Err(BodyError::message(
            "the upstream request timed out mid-body",
        ))))
    }

    fn is_end_stream(&self) -> bool {
        self.expired || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

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
            request: None,
            first_packet: Some(Instant::now() + Duration::from_millis(ms)),
        }
    }

    #[tokio::test]
    async fn pings_alone_never_commit_and_time_out() {
        let (sender, receiver) = mpsc::unbounded_channel();
        sender
            .send(Ok(Bytes::from_static(b": ping\n\nevent: ping\n")))
            .ok();
        let outcome = commit(async { Ok(streamed(receiver)) }, first_packet_in(100)).await;
        assert_eq!(outcome.err(), Some(AttemptFailure::FirstPacketTimeout));
        drop(sender);
    }

    #[tokio::test]
    async fn a_break_before_content_is_a_failure_not_a_commit() {
        let (sender, receiver) = mpsc::unbounded_channel();
        sender.send(Ok(Bytes::from_static(b": ping\n\n"))).ok();
        sender.send(Err(BodyError::message("cut"))).ok();
        let outcome = commit(async { Ok(streamed(receiver)) }, first_packet_in(1000)).await;
        assert_eq!(outcome.err(), Some(AttemptFailure::BrokenBeforeContent));
    }

    #[tokio::test]
    async fn content_split_over_frames_commits_and_replays_in_order() {
        let (sender, receiver) = mpsc::unbounded_channel();
        for part in [
            &b": ping\n\nda"[..],
            b"ta: {\"n\":1",
            b"}\n",
            b"\n",
            b"data: [DONE]\n\n",
        ] {
            sender.send(Ok(Bytes::from_static(part))).ok();
        }
        drop(sender);
        let response = commit(async { Ok(streamed(receiver)) }, first_packet_in(1000))
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
            Some(&b": ping\n\ndata: {\"n\":1}\n\ndata: [DONE]\n\n"[..])
        );
    }

    #[tokio::test]
    async fn a_slow_head_is_a_timeout_under_the_request_deadline() {
        let head = async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Err(AttemptFailure::Unavailable)
        };
        let deadlines = Deadlines {
            request: Some(Instant::now() + Duration::from_millis(50)),
            first_packet: None,
        };
        assert_eq!(
            commit(head, deadlines).await.err(),
            Some(AttemptFailure::Timeout)
        );
    }

    #[tokio::test]
    async fn the_request_deadline_cuts_a_body_that_runs_past_it() {
        let (sender, receiver) = mpsc::unbounded_channel();
        sender.send(Ok(Bytes::from_static(b"data: 1\n\n"))).ok();
        let deadlines = Deadlines {
            request: Some(Instant::now() + Duration::from_millis(100)),
            first_packet: None,
        };
        let response = commit(async { Ok(streamed(receiver)) }, deadlines)
            .await
            .expect("committed at the head");
        let outcome = response.into_body().collect().await;
        assert!(
            outcome.is_err(),
            "a body past the deadline must end in an error"
        );
        drop(sender);
    }
}
