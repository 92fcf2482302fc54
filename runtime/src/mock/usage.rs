//! The mock's answer text and token counts: pure, deterministic functions tests can assert on.
//!
//! Token model (documented so tests and users can predict numbers):
//! - one answer word is one completion token;
//! - a prompt costs `ceil(chars / 4)` tokens per message text (chars are
//!   Unicode scalar values), plus [`TOKENS_PER_MESSAGE`] per message, plus
//!   [`TOKENS_REPLY_PRIMING`] once, mirroring how OpenAI bills chat framing.

/// Framing tokens billed per chat message (role and separators).
pub const TOKENS_PER_MESSAGE: u32 = 3;
/// Framing tokens billed once per prompt for priming the reply.
pub const TOKENS_REPLY_PRIMING: u32 = 3;

/// Words the answer cycles through. Plain ASCII with no JSON escapes, so the
/// renderers can copy them verbatim.
const ANSWER_WORDS: [&str; 16] = [
    "This",
    "is",
    "a",
    "deterministic",
    "answer",
    "from",
    "the",
    "gatesmith",
    "mock",
    "provider",
    "with",
    "real",
    "framing",
    "and",
    "usage",
    "numbers.",
];

/// The `index`-th word of every mock answer.
pub fn answer_word(index: usize) -> &'static str {
    ANSWER_WORDS[index % ANSWER_WORDS.len()]
}

/// The full answer of `words` completion tokens: words separated by single spaces.
pub fn answer_text(words: u32) -> String {
    let mut text = String::with_capacity(words as usize * 8);
    push_answer_words(&mut text, 0..words as usize);
    text
}

/// Appends words `range` of the answer exactly as they appear inside the full
/// answer (a word after the first carries its leading space), so chunks
/// concatenate to [`answer_text`].
pub fn push_answer_words(out: &mut String, range: std::ops::Range<usize>) {
    answer_pieces(range).for_each(|piece| out.push_str(piece));
}

/// Words `range` of the answer and the spaces between them, as borrowed pieces
/// a renderer copies straight into its buffer.
pub fn answer_pieces(range: std::ops::Range<usize>) -> impl Iterator<Item = &'static str> {
    range.flat_map(|index| {
        let space = if index > 0 { " " } else { "" };
        [space, answer_word(index)]
    })
}

/// Token cost of one message text.
pub fn text_tokens(chars: usize) -> u32 {
    u32::try_from(chars.div_ceil(4)).unwrap_or(u32::MAX)
}

/// Token numbers of one answer, shared by every protocol renderer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    /// True when the client's token limit cut the answer short.
    pub truncated: bool,
}

impl Usage {
    /// `configured` answer words, cut to the client's `max_tokens` if lower.
    pub fn new(prompt_tokens: u32, configured: u32, max_tokens: Option<u64>) -> Usage {
        let limit = max_tokens.map_or(u64::MAX, |m| m);
        let truncated = u64::from(configured) > limit;
        let completion_tokens = if truncated {
            // limit < configured <= u32::MAX, so this never saturates.
            u32::try_from(limit).unwrap_or(configured)
        } else {
            configured
        };
        Usage {
            prompt_tokens,
            completion_tokens,
            truncated,
        }
    }

    pub fn total_tokens(&self) -> u32 {
        self.prompt_tokens.saturating_add(self.completion_tokens)
    }
}

/// Splits `words` answer words into `chunks` contiguous ranges as evenly as
/// possible (earlier chunks get no more words than later ones); with more
/// chunks than words some ranges are empty.
pub fn chunk_ranges(words: u32, chunks: u32) -> impl Iterator<Item = std::ops::Range<usize>> {
    let words = words as usize;
    let chunks = chunks.max(1) as usize;
    (0..chunks).map(move |i| (i * words / chunks)..((i + 1) * words / chunks))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answer_has_one_word_per_token_and_cycles() {
        assert_eq!(answer_text(0), "");
        assert_eq!(answer_text(3), "This is a");
        let long = answer_text(20);
        assert_eq!(long.split(' ').count(), 20);
        assert!(
            long.starts_with("This is a deterministic answer from the gatesmith mock provider")
        );
        assert!(long.ends_with("numbers. This is a deterministic"));
    }

    #[test]
    fn chunks_concatenate_to_the_answer() {
        for (words, chunks) in [(16, 8), (16, 3), (5, 8), (0, 4), (1, 1), (100, 7)] {
            let mut joined = String::new();
            let ranges: Vec<_> = chunk_ranges(words, chunks).collect();
            assert_eq!(ranges.len(), chunks as usize);
            for range in ranges {
                push_answer_words(&mut joined, range);
            }
            assert_eq!(
                joined,
                answer_text(words),
                "{words} words in {chunks} chunks"
            );
        }
    }

    #[test]
    fn zero_chunks_still_yields_one_chunk() {
        assert_eq!(chunk_ranges(4, 0).collect::<Vec<_>>(), vec![0..4]);
    }

    #[test]
    fn max_tokens_below_the_answer_truncates() {
        let cut = Usage::new(10, 16, Some(5));
        assert_eq!(
            (cut.completion_tokens, cut.truncated, cut.total_tokens()),
            (5, true, 15)
        );
        let equal = Usage::new(10, 16, Some(16));
        assert_eq!((equal.completion_tokens, equal.truncated), (16, false));
        let none = Usage::new(10, 16, None);
        assert_eq!((none.completion_tokens, none.truncated), (16, false));
    }

    #[test]
    fn text_tokens_round_up_quarter_chars() {
        assert_eq!(text_tokens(0), 0);
        assert_eq!(text_tokens(1), 1);
        assert_eq!(text_tokens(4), 1);
        assert_eq!(text_tokens(5), 2);
    }
}
