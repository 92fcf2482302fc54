//! The text form of mock faults, as written in `x-mock-fault` headers and `gatesmith-mock --fault`.
//!
//! Grammar: `none`, `status:CODE`, `stall-before-head:MS`,
//! `stall-before-first-chunk:MS`, `stall-after-chunks:N:MS`,
//! `cut-after-chunks:N`, `malformed-after-chunks:N`, `error-after-chunks:N`
//! (a protocol error event after N content chunks; 0 = before any content),
//! `context-length` (a 400 whose error says the prompt is too long).

use crate::codegen::MockFault;

/// Longest stall a header may ask for; longer is surely a typo.
pub const MAX_STALL_MS: u64 = 3_600_000;

/// Parses a fault; `Ok(None)` is the explicit `none`.
pub fn parse_fault(text: &str) -> Result<Option<MockFault>, String> {
    let mut parts = text.trim().split(':');
    let kind = parts.next().unwrap_or_default();
    let args: Vec<&str> = parts.collect();
    let fault = match (kind, args.as_slice()) {
        ("none", []) => return Ok(None),
        ("status", [code]) => MockFault::Status(parse_status(code)?),
        ("stall-before-head", [ms]) => MockFault::StallBeforeHead { ms: parse_ms(ms)? },
        ("stall-before-first-chunk", [ms]) => {
            MockFault::StallBeforeFirstChunk { ms: parse_ms(ms)? }
        }
        ("stall-after-chunks", [chunks, ms]) => MockFault::StallAfterChunks {
            chunks: parse_chunks(chunks)?,
            ms: parse_ms(ms)?,
        },
        ("cut-after-chunks", [chunks]) => MockFault::CutAfterChunks {
            chunks: parse_chunks(chunks)?,
        },
        ("malformed-after-chunks", [chunks]) => MockFault::MalformedAfterChunks {
            chunks: parse_chunks(chunks)?,
        },
        ("error-after-chunks", [chunks]) => MockFault::ErrorEventAfterChunks {
            chunks: parse_chunks(chunks)?,
        },
        ("context-length", []) => MockFault::ContextLength,
        _ => {
            return Err(format!(
                "unknown fault `{text}`; expected none, status:CODE, stall-before-head:MS, \
                 stall-before-first-chunk:MS, stall-after-chunks:N:MS, cut-after-chunks:N, \
                 malformed-after-chunks:N, error-after-chunks:N or context-length"
            ));
        }
    };
    Ok(Some(fault))
}

fn parse_status(text: &str) -> Result<u16, String> {
    match text.parse::<u16>() {
        Ok(code @ 400..=599) => Ok(code),
        _ => Err(format!(
            "fault status `{text}` is not an error status (400-599)"
        )),
    }
}

fn parse_ms(text: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(ms) if ms <= MAX_STALL_MS => Ok(ms),
        _ => Err(format!(
            "`{text}` is not a duration in milliseconds (0-{MAX_STALL_MS})"
        )),
    }
}

fn parse_chunks(text: &str) -> Result<u32, String> {
    text.parse::<u32>()
        .map_err(|_| format!("`{text}` is not a chunk count"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_form_parses() {
        assert_eq!(parse_fault("none"), Ok(None));
        assert_eq!(parse_fault("status:503"), Ok(Some(MockFault::Status(503))));
        assert_eq!(
            parse_fault("stall-before-head:1000"),
            Ok(Some(MockFault::StallBeforeHead { ms: 1000 }))
        );
        assert_eq!(
            parse_fault("stall-before-first-chunk:1000"),
            Ok(Some(MockFault::StallBeforeFirstChunk { ms: 1000 }))
        );
        assert_eq!(
            parse_fault("stall-after-chunks:3:1000"),
            Ok(Some(MockFault::StallAfterChunks {
                chunks: 3,
                ms: 1000
            }))
        );
        assert_eq!(
            parse_fault("cut-after-chunks:5"),
            Ok(Some(MockFault::CutAfterChunks { chunks: 5 }))
        );
        assert_eq!(
            parse_fault("malformed-after-chunks:2"),
            Ok(Some(MockFault::MalformedAfterChunks { chunks: 2 }))
        );
        assert_eq!(
            parse_fault("error-after-chunks:0"),
            Ok(Some(MockFault::ErrorEventAfterChunks { chunks: 0 }))
        );
        assert_eq!(
            parse_fault("context-length"),
            Ok(Some(MockFault::ContextLength))
        );
    }

    #[test]
    fn typos_and_bad_numbers_are_rejected_with_a_reason() {
        assert!(parse_fault("stall-after-chunk:3:10").is_err_and(|e| e.contains("unknown fault")));
        assert!(parse_fault("status:200").is_err_and(|e| e.contains("400-599")));
        assert!(parse_fault("status:abc").is_err());
        assert!(parse_fault("cut-after-chunks").is_err());
        assert!(parse_fault("cut-after-chunks:-1").is_err_and(|e| e.contains("chunk count")));
        assert!(parse_fault("stall-before-head:99999999999").is_err());
        assert!(parse_fault("none:1").is_err());
        assert!(parse_fault("context-length:400").is_err());
        assert!(parse_fault("error-after-chunks").is_err());
    }
}
