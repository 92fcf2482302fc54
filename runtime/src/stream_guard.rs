//! After the commit point: the idle and total timers, and a protocol error event instead of a clean-looking end.
//!
//! Once the head has gone to the client nothing can fail over. A response
//! that breaks then (upstream cut, idle gap, total timeout, an error event
//! from upstream) must not look complete: an SSE stream ends with the client
//! protocol's own terminal error event (OpenAI `data: {"error":...}`, never
//! `[DONE]`; Anthropic `event: error`), and any other body is aborted so the
//! client sees a broken transfer. Either way the truncation is counted. A
//! guard dropped before its end is a client that left: counted as cancelled,
//! and the upstream body is dropped with it.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use crate::balance::Probe;
use crate::body::{self, BodyError, ResponseBody};
use crate::codegen::Protocol;
use crate::failure::error_event_message;
use crate::respond::StreamOutcome;
use crate::sse::{SseEvent, SseFramer};
use crate::stats::Stats;

/// Why a committed response ended early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Truncation {
    /// The upstream broke, or closed a stream without its end marker.
    Cut,
    /// No bytes for longer than the idle timeout.
    Idle,
    /// The attempt's total timeout passed.
    Total,
}

impl Truncation {
    fn describe(self) -> (&'static str, &'static str, &'static str) {
        // (OpenAI code, Anthropic type, message)
        match self {
            Truncation::Cut => (
                "upstream_stream_cut",
                "api_error",
                "the upstream stream broke before the answer was complete",
            ),
            Truncation::Idle => (
                "stream_idle_timeout",
                "timeout_error",
                "the upstream stream went silent for longer than the idle timeout",
            ),
            Truncation::Total => (
                "stream_total_timeout",
                "timeout_error",
                "the upstream answer ran past the total timeout",
            ),
        }
    }
}

/// The terminal error event of `protocol` for `reason`.
pub fn terminal_error_event(protocol: Protocol, reason: Truncation) -> Bytes {
    let (code, anthropic_type, message) = reason.describe();
    Bytes::from(match protocol {
        Protocol::OpenAi => format!(
            "data: {{\"error\":{{\"message\":\"{message}\",\"type\":\"api_error\",\"param\":null,\"code\":\"{code}\"}}}}\n\n"
        ),
        Protocol::Anthropic => format!(
            "event: error\ndata: {{\"type\":\"error\",\"error\":{{\"type\":\"{anthropic_type}\",\"message\":\"{message}\"}}}}\n\n"
        ),
    })
}

/// What a guard watches for.
#[derive(Debug, Clone, Copy)]
pub struct GuardSettings {
    pub protocol: Protocol,
    /// The response is an SSE stream (ends with an error event, not an abort).
    pub sse: bool,
    pub idle: Option<Duration>,
    pub total_deadline: Option<Instant>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    Finished,
}

/// The committed response body (see the module docs).
pub struct StreamGuard {
    inner: ResponseBody,
    settings: GuardSettings,
    idle_sleep: Option<Pin<Box<Sleep>>>,
    total_sleep: Option<Pin<Box<Sleep>>>,
    framer: SseFramer,
    events: Vec<SseEvent>,
    /// `[DONE]` or `message_stop` went by: a close after it is clean.
    saw_end_marker: bool,
    /// The upstream already told the client about an error (counted once).
    saw_error_event: bool,
    /// The last bytes sent end an event (so an error event starts cleanly).
    at_event_boundary: bool,
    /// The last four bytes sent.
    tail: [u8; 4],
    state: State,
    stats: Arc<Stats>,
    probe: Option<Probe>,
    /// Told about truncation and cancellation, for the usage record.
    outcome: Option<Arc<StreamOutcome>>,
}

impl StreamGuard {
    pub fn new(
        inner: ResponseBody,
        settings: GuardSettings,
        stats: Arc<Stats>,
        probe: Option<Probe>,
    ) -> StreamGuard {
        let now = Instant::now();
        StreamGuard {
            inner,
            settings,
            idle_sleep: settings
                .idle
                .map(|idle| Box::pin(tokio::time::sleep_until(now + idle))),
            total_sleep: settings
                .total_deadline
                .map(|deadline| Box::pin(tokio::time::sleep_until(deadline))),
            framer: SseFramer::new(),
            events: Vec::new(),
            saw_end_marker: false,
            saw_error_event: false,
            at_event_boundary: true,
            tail: *b"\n\n\n\n",
            state: State::Open,
            stats,
            probe,
            outcome: None,
        }
    }

    /// Reports truncation to `outcome` (read by the usage
    /// record of the body inside, which is dropped right after).
    pub fn with_outcome(mut self, outcome: Arc<StreamOutcome>) -> StreamGuard {
        self.outcome = Some(outcome);
        self
    }

    fn mark_truncated(&self) {
        if let Some(outcome) = &self.outcome {
            outcome.mark_truncated();
        }
    }

    fn watch(&mut self, data: &Bytes) {
        if data.is_empty() {
            return;
        }
        if let Some(idle) = self.settings.idle
            && let Some(sleep) = self.idle_sleep.as_mut()
        {
            sleep.as_mut().reset(Instant::now() + idle);
        }
        if !self.settings.sse {
            return;
        }
        self.framer.feed(data, &mut self.events);
        for event in self.events.drain(..) {
            if event.data == "[DONE]" || event.event.as_deref() == Some("message_stop") {
                self.saw_end_marker = true;
            } else if !self.saw_error_event && error_event_message(&event).is_some() {
                self.saw_error_event = true;
                self.stats.count_truncated();
                if let Some(outcome) = &self.outcome {
                    outcome.mark_truncated();
                }
            }
        }
        // An event ends with a blank line: "\n\n", "\r\r" or "\r\n\r\n".
        for &byte in &data[data.len().saturating_sub(4)..] {
            self.tail.rotate_left(1);
            self.tail[3] = byte;
        }
        self.at_event_boundary = self.tail.ends_with(b"\n\n")
            || self.tail.ends_with(b"\r\r")
            || &self.tail == b"\r\n\r\n";
    }

    fn finish(&mut self) {
        self.state = State::Finished;
        if let Some(probe) = self.probe.as_mut() {
            probe.finished(Instant::now());
        }
        self.probe = None;
    }

    fn truncate(&mut self, reason: Truncation) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        self.state = State::Finished;
        if let Some(probe) = self.probe.as_mut() {
            probe.failed(Instant::now());
        }
        self.probe = None;
        // Before the inner body goes: its usage record reads this.
        self.mark_truncated();
        // Release the upstream connection now, not when the client goes.
        self.inner = body::empty();
        self.idle_sleep = None;
        self.total_sleep = None;
        if self.saw_error_event {
            // The upstream's own error event already told the client.
            return Poll::Ready(None);
        }
        self.stats.count_truncated();
        if !self.settings.sse {
            return Poll::Ready(Some(Err(BodyError::message(reason.describe().2))));
        }
        let event = terminal_error_event(self.settings.protocol, reason);
        let event = if self.at_event_boundary {
            event
        } else {
            // Close the half-sent event first so the error parses on its own.
            let mut joined = Vec::with_capacity(event.len() + 2);
            joined.extend_from_slice(b"\n\n");
            joined.extend_from_slice(&event);
            Bytes::from(joined)
        };
        Poll::Ready(Some(Ok(Frame::data(event))))
    }
}

impl Body for StreamGuard {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        if this.state == State::Finished {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let data = data.clone();
                    this.watch(&data);
                }
                // A body of known length may never be polled to its end:
                // the last frame of a complete non-stream body finishes it.
                if !this.settings.sse && this.inner.is_end_stream() {
                    this.finish();
                }
                return Poll::Ready(Some(Ok(frame)));
            }
            Poll::Ready(Some(Err(_))) => return this.truncate(Truncation::Cut),
            Poll::Ready(None) => {
                if this.settings.sse && !this.saw_end_marker && !this.saw_error_event {
                    return this.truncate(Truncation::Cut);
                }
                this.finish();
                return Poll::Ready(None);
            }
            Poll::Pending => {}
        }
        if let Some(sleep) = this.total_sleep.as_mut()
            && sleep.as_mut().poll(cx).is_ready()
        {
            return this.truncate(Truncation::Total);
        }
        if let Some(sleep) = this.idle_sleep.as_mut()
            && sleep.as_mut().poll(cx).is_ready()
        {
            return this.truncate(Truncation::Idle);
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.state == State::Finished
    }

    fn size_hint(&self) -> SizeHint {
        if self.settings.sse {
            // An error event may be appended.
            SizeHint::new()
        } else {
            self.inner.size_hint()
        }
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        if self.state == State::Open {
            self.stats.count_cancelled();
        }
    }
}
