//! Turns rendered events into a timed script (delays and faults) and plays it as a response body.
//!
//! Each event is its own body frame, so a gateway's streaming (and its
//! buffering mistakes) are observable from the client side.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::time::Sleep;

use crate::body::BodyError;
use crate::codegen::MockFault;

/// One rendered piece of a response body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub bytes: Bytes,
    /// Content events carry answer text; faults and chunk delays count them.
    pub content: bool,
}

/// Renders events into one buffer, so a whole stream costs one allocation
/// plus cheap [`Bytes`] slices.
#[derive(Debug, Default)]
pub struct EventWriter {
    buffer: Vec<u8>,
    ends: Vec<(usize, bool)>,
}

impl EventWriter {
    pub fn with_capacity(bytes: usize, events: usize) -> EventWriter {
        EventWriter {
            buffer: Vec::with_capacity(bytes),
            ends: Vec::with_capacity(events),
        }
    }

    /// The buffer the current event is written into.
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.buffer
    }

    /// Ends the current event.
    pub fn end_event(&mut self, content: bool) {
        self.ends.push((self.buffer.len(), content));
    }

    pub fn finish(self) -> Vec<Event> {
        let all = Bytes::from(self.buffer);
        let mut start = 0;
        self.ends
            .into_iter()
            .map(|(end, content)| {
                let bytes = all.slice(start..end);
                start = end;
                Event { bytes, content }
            })
            .collect()
    }
}

/// One step of a scripted body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Emit(Bytes),
    Sleep(Duration),
    /// End the body with an error frame (the client sees a cut stream).
    Fail,
    /// End the body cleanly here (after an error event); never played.
    End,
}

/// The events a protocol uses to inject body faults.
#[derive(Debug, Clone, Copy)]
pub struct FaultEvents {
    /// A broken event (not parseable) the stream carries on after.
    pub malformed: &'static [u8],
    /// The protocol's own error event; the stream ends after it.
    pub error: &'static [u8],
}

/// Schedules `events`: `chunk_delay_ms` between consecutive content events,
/// and the fault (if it is a body fault) after `min(chunks, content events)`
/// content events.
pub fn script(
    events: Vec<Event>,
    chunk_delay_ms: u64,
    fault: Option<MockFault>,
    fault_events: &FaultEvents,
) -> Vec<Step> {
    let content_events = events.iter().filter(|e| e.content).count();
    let fault_after = match fault {
        Some(
            MockFault::StallAfterChunks { chunks, .. }
            | MockFault::CutAfterChunks { chunks }
            | MockFault::MalformedAfterChunks { chunks }
            | MockFault::ErrorEventAfterChunks { chunks },
        ) => Some((chunks as usize).min(content_events)),
        _ => None,
    };
    let fault_step = |steps: &mut Vec<Step>| match fault {
        Some(MockFault::StallAfterChunks { ms, .. }) => push_sleep(steps, ms),
        Some(MockFault::CutAfterChunks { .. }) => steps.push(Step::Fail),
        Some(MockFault::MalformedAfterChunks { .. }) => {
            steps.push(Step::Emit(Bytes::from_static(fault_events.malformed)))
        }
        Some(MockFault::ErrorEventAfterChunks { .. }) => {
            steps.push(Step::Emit(Bytes::from_static(fault_events.error)));
            steps.push(Step::End);
        }
        _ => {}
    };

    let mut steps = Vec::with_capacity(events.len() + 4);
    if let Some(MockFault::StallBeforeFirstChunk { ms }) = fault {
        push_sleep(&mut steps, ms);
    }
    let mut content_sent = 0usize;
    for event in events {
        if event.content {
            if fault_after == Some(0) && content_sent == 0 {
                fault_step(&mut steps);
            }
            if content_sent > 0 {
                push_sleep(&mut steps, chunk_delay_ms);
            }
        }
        if ends_the_script(steps.last()) {
            break;
        }
        let content = event.content;
        steps.push(Step::Emit(event.bytes));
        if content {
            content_sent += 1;
            if fault_after == Some(content_sent) {
                fault_step(&mut steps);
                if ends_the_script(steps.last()) {
                    break;
                }
            }
        }
    }
    if steps.last() == Some(&Step::End) {
        steps.pop();
    }
    steps
}

fn ends_the_script(step: Option<&Step>) -> bool {
    matches!(step, Some(Step::Fail | Step::End))
}

fn push_sleep(steps: &mut Vec<Step>, ms: u64) {
    if ms > 0 {
        steps.push(Step::Sleep(Duration::from_millis(ms)));
    }
}

/// A response body that plays a script: one frame per emitted event.
#[derive(Debug)]
pub struct ScriptedBody {
    steps: std::vec::IntoIter<Step>,
    sleeping: Option<Pin<Box<Sleep>>>,
    /// A `Fail` step was reached; the error frame follows one yield.
    failing: bool,
}

impl ScriptedBody {
    pub fn new(steps: Vec<Step>) -> ScriptedBody {
        ScriptedBody {
            steps: steps.into_iter(),
            sleeping: None,
            failing: false,
        }
    }
}

impl Body for ScriptedBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        if this.failing {
            this.failing = false;
            this.steps = Vec::new().into_iter();
            return Poll::Ready(Some(Err(BodyError::message("mock fault: stream cut"))));
        }
        loop {
            if let Some(sleep) = this.sleeping.as_mut() {
                if sleep.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                this.sleeping = None;
            }
            match this.steps.next() {
                None => return Poll::Ready(None),
                Some(Step::Emit(bytes)) => return Poll::Ready(Some(Ok(Frame::data(bytes)))),
                Some(Step::End) => return Poll::Ready(None),
                Some(Step::Sleep(duration)) => {
                    this.sleeping = Some(Box::pin(tokio::time::sleep(duration)))
                }
                Some(Step::Fail) => {
                    // Yield once so a server flushes the frames already written
                    // (hyper drops unflushed bytes when a body fails), making the
                    // cut land after them on the wire.
                    this.failing = true;
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.sleeping.is_none() && !self.failing && self.steps.len() == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(spec: &[(&'static str, bool)]) -> Vec<Event> {
        spec.iter()
            .map(|(text, content)| Event {
                bytes: Bytes::from_static(text.as_bytes()),
                content: *content,
            })
            .collect()
    }

    fn stream() -> Vec<Event> {
        events(&[
            ("role", false),
            ("c1", true),
            ("c2", true),
            ("c3", true),
            ("end", false),
        ])
    }

    fn emit(text: &'static str) -> Step {
        Step::Emit(Bytes::from_static(text.as_bytes()))
    }

    const BAD: FaultEvents = FaultEvents {
        malformed: b"bad",
        error: b"err",
    };

    fn ms(n: u64) -> Step {
        Step::Sleep(Duration::from_millis(n))
    }

    #[test]
    fn writer_slices_events_in_order() {
        let mut writer = EventWriter::default();
        writer.buffer().extend_from_slice(b"one");
        writer.end_event(false);
        writer.buffer().extend_from_slice(b"two");
        writer.end_event(true);
        assert_eq!(writer.finish(), events(&[("one", false), ("two", true)]));
    }

    #[test]
    fn delays_separate_content_events_only() {
        let steps = script(stream(), 5, None, &BAD);
        assert_eq!(
            steps,
            vec![
                emit("role"),
                emit("c1"),
                ms(5),
                emit("c2"),
                ms(5),
                emit("c3"),
                emit("end")
            ]
        );
    }

    #[test]
    fn stall_before_first_chunk_comes_first() {
        let steps = script(
            stream(),
            0,
            Some(MockFault::StallBeforeFirstChunk { ms: 9 }),
            &BAD,
        );
        assert_eq!(steps[0], ms(9));
        assert_eq!(steps.len(), 6);
    }

    #[test]
    fn stall_after_chunks_sleeps_after_the_nth_content_event() {
        let steps = script(
            stream(),
            0,
            Some(MockFault::StallAfterChunks { chunks: 2, ms: 9 }),
            &BAD,
        );
        assert_eq!(
            steps,
            vec![
                emit("role"),
                emit("c1"),
                emit("c2"),
                ms(9),
                emit("c3"),
                emit("end")
            ]
        );
    }

    #[test]
    fn cut_ends_the_script_with_a_failure() {
        let steps = script(
            stream(),
            0,
            Some(MockFault::CutAfterChunks { chunks: 1 }),
            &BAD,
        );
        assert_eq!(steps, vec![emit("role"), emit("c1"), Step::Fail]);
        let before_content = script(
            stream(),
            0,
            Some(MockFault::CutAfterChunks { chunks: 0 }),
            &BAD,
        );
        assert_eq!(before_content, vec![emit("role"), Step::Fail]);
        let past_the_end = script(
            stream(),
            0,
            Some(MockFault::CutAfterChunks { chunks: 99 }),
            &BAD,
        );
        assert_eq!(
            past_the_end,
            vec![emit("role"), emit("c1"), emit("c2"), emit("c3"), Step::Fail]
        );
    }

    #[test]
    fn malformed_event_is_inserted_and_the_stream_carries_on() {
        let steps = script(
            stream(),
            0,
            Some(MockFault::MalformedAfterChunks { chunks: 2 }),
            &BAD,
        );
        assert_eq!(
            steps,
            vec![
                emit("role"),
                emit("c1"),
                emit("c2"),
                emit("bad"),
                emit("c3"),
                emit("end")
            ]
        );
    }

    #[test]
    fn error_event_ends_the_script_after_the_nth_content_event() {
        let steps = script(
            stream(),
            0,
            Some(MockFault::ErrorEventAfterChunks { chunks: 2 }),
            &BAD,
        );
        assert_eq!(
            steps,
            vec![emit("role"), emit("c1"), emit("c2"), emit("err")]
        );
        let before_content = script(
            stream(),
            0,
            Some(MockFault::ErrorEventAfterChunks { chunks: 0 }),
            &BAD,
        );
        assert_eq!(before_content, vec![emit("role"), emit("err")]);
    }

    #[tokio::test]
    async fn scripted_body_yields_frames_then_the_error() {
        use http_body_util::BodyExt;
        let mut body =
            ScriptedBody::new(vec![emit("a"), ms(1), emit("b"), Step::Fail, emit("never")]);
        let mut seen = Vec::new();
        while let Some(frame) = body.frame().await {
            match frame {
                Ok(frame) => seen.push(frame.into_data().ok()),
                Err(error) => {
                    assert!(error.to_string().contains("cut"));
                    seen.push(None);
                }
            }
        }
        assert_eq!(
            seen,
            vec![
                Some(Bytes::from_static(b"a")),
                Some(Bytes::from_static(b"b")),
                None
            ]
        );
        assert!(body.is_end_stream());
    }
}
