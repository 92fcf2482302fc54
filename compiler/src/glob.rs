//! Model-name globs: syntax, precedence, the shape each compiles to, matching and shadow analysis.
//!
//! The one place that knows what a `byModelName` pattern means, shared by
//! validation (invalid, duplicate and unreachable rules), the emitter (the
//! `select_*` function), the route table and `gatesmith explain`, so the
//! compile-time answers are the generated code's answers.
//!
//! Syntax: `*` matches any run of characters (including none), `?` exactly
//! one character, everything else itself (case-sensitive). Patterns are
//! non-empty and use only what model names use: ASCII letters, digits and
//! `- _ . : / @ +` (e.g. `accounts/x/models/llama-v3`, `claude@20240620`,
//! `llama-3:free`). Character classes (`[...]`) and braces are not globs here.
//!
//! Precedence (first match wins): exact patterns (no `*`/`?`) first; among
//! globs, more literal (non-wildcard) characters first; then declaration order.
//!
//! Shadow analysis: a rule is unreachable when ONE higher-precedence rule
//! matches every model it matches. Coverage is decided by matching the lower
//! pattern symbolically against the higher one, where the higher `*` absorbs
//! any run of symbols, its `?` one literal or `?`, and a literal only itself.
//! This is sound (never a false warning) and catches every case of `*`,
//! prefix, suffix and exact rules; it misses coverage that needs several
//! rules together, and rare equivalences such as `*?` versus `?*`.

use std::cmp::Reverse;

/// The characters a pattern may use besides `*` and `?`.
pub const ALLOWED_PUNCTUATION: &str = "-_.:/@+";

/// How a pattern compiles: the cheapest test that decides it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shape {
    /// No wildcard: `model == text`.
    Exact(String),
    /// `*` alone (or only `*`s): every model.
    Any,
    /// `p*`: `model.starts_with(p)`.
    Prefix(String),
    /// `*s`: `model.ends_with(s)`.
    Suffix(String),
    /// `p*s`: long enough for both, then `starts_with` and `ends_with`.
    PrefixSuffix(String, String),
    /// Anything else (`?`, several `*`): the pattern split on `*`, for
    /// `codegen::glob_matches`.
    Parts(Vec<String>),
}

/// The shape of a (valid) pattern. Runs of `*` count as one `*`.
pub fn shape(pattern: &str) -> Shape {
    let collapsed = collapse_stars(pattern);
    let stars = collapsed.matches('*').count();
    if collapsed.contains('?') || stars > 1 {
        return Shape::Parts(collapsed.split('*').map(str::to_owned).collect());
    }
    match collapsed.split_once('*') {
        None => Shape::Exact(collapsed),
        Some(("", "")) => Shape::Any,
        Some((prefix, "")) => Shape::Prefix(prefix.to_owned()),
        Some(("", suffix)) => Shape::Suffix(suffix.to_owned()),
        Some((prefix, suffix)) => Shape::PrefixSuffix(prefix.to_owned(), suffix.to_owned()),
    }
}

fn collapse_stars(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    for c in pattern.chars() {
        if !(c == '*' && out.ends_with('*')) {
            out.push(c);
        }
    }
    out
}

/// Whether the pattern has no wildcard.
pub fn is_exact(pattern: &str) -> bool {
    !pattern.contains(['*', '?'])
}

/// Number of non-wildcard characters: more of them wins among globs.
pub fn literal_chars(pattern: &str) -> usize {
    pattern.chars().filter(|c| !matches!(c, '*' | '?')).count()
}

/// Declaration indexes of `patterns` in precedence order (the first that
/// matches a model wins).
pub fn precedence_order<S: AsRef<str>>(patterns: &[S]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..patterns.len()).collect();
    order.sort_by_key(|&index| {
        let pattern = patterns[index].as_ref();
        (!is_exact(pattern), Reverse(literal_chars(pattern)), index)
    });
    order
}

/// Why a pattern is not a valid glob, with a fix.
pub fn check(pattern: &str) -> Result<(), (String, String)> {
    if pattern.is_empty() {
        return Err((
            "the pattern is empty".into(),
            "write a model name, a glob such as `qwen-*`, or `*` for every model".into(),
        ));
    }
    if let Some(bad) = pattern.chars().find(|c| {
        !(c.is_ascii_alphanumeric() || ALLOWED_PUNCTUATION.contains(*c) || matches!(c, '*' | '?'))
    }) {
        let shown = if bad.is_whitespace() || bad.is_control() {
            format!("{:?}", bad)
        } else {
            format!("`{bad}`")
        };
        return Err((
            format!("{shown} is not used in model names"),
            format!(
                "use letters, digits and `{ALLOWED_PUNCTUATION}`, plus `*` (any run) and `?` (one character); character classes are not supported"
            ),
        ));
    }
    Ok(())
}

/// Whether `model` matches `pattern` (the generated `select_*` agrees).
pub fn matches(pattern: &str, model: &str) -> bool {
    let text: Vec<Symbol> = model.chars().map(Symbol::Literal).collect();
    covers_symbols(&symbols(pattern), &text)
}

/// Whether every model `lower` matches is also matched by `higher` (see the
/// module docs: sound, complete for single-`*` shapes).
pub fn covers(higher: &str, lower: &str) -> bool {
    covers_symbols(&symbols(higher), &symbols(lower))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Symbol {
    Literal(char),
    One,
    Any,
}

fn symbols(pattern: &str) -> Vec<Symbol> {
    pattern
        .chars()
        .map(|c| match c {
            '*' => Symbol::Any,
            '?' => Symbol::One,
            c => Symbol::Literal(c),
        })
        .collect()
}

/// Dynamic programming over (higher position, lower position): whether
/// `higher` can absorb all of `lower`. With an all-literal `lower` this is
/// plain glob matching.
fn covers_symbols(higher: &[Symbol], lower: &[Symbol]) -> bool {
    // reachable[j]: higher[..i] can absorb lower[..j].
    let mut reachable = vec![false; lower.len() + 1];
    reachable[0] = true;
    for symbol in higher {
        let mut next = vec![false; lower.len() + 1];
        match symbol {
            Symbol::Any => {
                // Absorbs any run: reachable from any earlier reachable point.
                let mut seen = false;
                for j in 0..=lower.len() {
                    seen |= reachable[j];
                    next[j] = seen;
                }
            }
            Symbol::One => {
                for j in 1..=lower.len() {
                    next[j] = reachable[j - 1] && lower[j - 1] != Symbol::Any;
                }
            }
            Symbol::Literal(c) => {
                for j in 1..=lower.len() {
                    next[j] = reachable[j - 1] && lower[j - 1] == Symbol::Literal(*c);
                }
            }
        }
        reachable = next;
    }
    reachable[lower.len()]
}

/// The winner among `patterns` for `model`: its declaration index, plus the
/// matching patterns it beat (in precedence order).
pub fn select<S: AsRef<str>>(patterns: &[S], model: &str) -> Option<(usize, Vec<usize>)> {
    let mut matching = precedence_order(patterns)
        .into_iter()
        .filter(|&index| matches(patterns[index].as_ref(), model));
    let winner = matching.next()?;
    Some((winner, matching.collect()))
}

/// One unreachable rule and the higher-precedence rule that hides it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shadowed {
    pub unreachable: usize,
    pub by: usize,
}

/// Rules no model can reach, by declaration index. Exactly equal patterns
/// are reported as duplicates elsewhere and skipped here.
pub fn shadowed<S: AsRef<str>>(patterns: &[S]) -> Vec<Shadowed> {
    let order = precedence_order(patterns);
    let mut found = Vec::new();
    for (rank, &lower) in order.iter().enumerate() {
        let lower_text = patterns[lower].as_ref();
        let hider = order[..rank].iter().copied().find(|&higher| {
            let higher_text = patterns[higher].as_ref();
            higher_text != lower_text && covers(higher_text, lower_text)
        });
        if let Some(by) = hider {
            found.push(Shadowed {
                unreachable: lower,
                by,
            });
        }
    }
    found.sort_by_key(|s| s.unreachable);
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference case (lessons.md item 15), declared in a scrambled order.
    const REFERENCE: [&str; 5] = [
        "qwen*",
        "*",
        "claude-*",
        "claude-3-5-sonnet-latest",
        "claude-3-5-*",
    ];

    fn winner(model: &str) -> Option<&'static str> {
        select(&REFERENCE, model).map(|(index, _)| REFERENCE[index])
    }

    #[test]
    fn exact_beats_the_longest_glob_which_beats_shorter_globs_then_the_catch_all() {
        assert_eq!(
            winner("claude-3-5-sonnet-latest"),
            Some("claude-3-5-sonnet-latest")
        );
        assert_eq!(winner("claude-3-5-haiku"), Some("claude-3-5-*"));
        assert_eq!(winner("claude-3-opus"), Some("claude-*"));
        assert_eq!(winner("qwen-max"), Some("qwen*"));
        assert_eq!(winner("gpt-4o"), Some("*"));
        let order: Vec<&str> = precedence_order(&REFERENCE)
            .into_iter()
            .map(|i| REFERENCE[i])
            .collect();
        assert_eq!(
            order,
            [
                "claude-3-5-sonnet-latest",
                "claude-3-5-*",
                "claude-*",
                "qwen*",
                "*"
            ]
        );
        // The rules a winner beat, in precedence order.
        assert_eq!(
            select(&REFERENCE, "claude-3-5-haiku"),
            Some((4, vec![2, 1]))
        );
    }

    #[test]
    fn without_a_catch_all_an_unknown_model_matches_nothing() {
        assert_eq!(select(&REFERENCE[2..], "gpt-4o"), None);
    }

    #[test]
    fn equal_literal_counts_fall_back_to_declaration_order() {
        let patterns = ["*-mini", "gpt4-*"];
        assert_eq!(precedence_order(&patterns), [0, 1]);
        assert_eq!(select(&patterns, "gpt4-mini"), Some((0, vec![1])));
        assert_eq!(precedence_order(&["gpt4-*", "*-mini"]), [0, 1]);
        // More literal characters win whatever the order.
        assert_eq!(precedence_order(&["gpt-*", "*-mini"]), [1, 0]);
    }

    #[test]
    fn shapes_pick_the_cheapest_test() {
        assert_eq!(shape("gpt-4o"), Shape::Exact("gpt-4o".into()));
        assert_eq!(shape("*"), Shape::Any);
        assert_eq!(shape("**"), Shape::Any);
        assert_eq!(shape("qwen-*"), Shape::Prefix("qwen-".into()));
        assert_eq!(shape("*-mini"), Shape::Suffix("-mini".into()));
        assert_eq!(
            shape("gpt-*-mini"),
            Shape::PrefixSuffix("gpt-".into(), "-mini".into())
        );
        assert_eq!(shape("qwen-?-max"), Shape::Parts(vec!["qwen-?-max".into()]));
        assert_eq!(
            shape("a*b**c"),
            Shape::Parts(vec!["a".into(), "b".into(), "c".into()])
        );
    }

    #[test]
    fn matching_follows_shell_glob_rules() {
        assert!(matches("*", ""));
        assert!(matches("gpt-*-mini", "gpt-4o-mini"));
        assert!(
            !matches("gpt-*-mini", "gpt-mini"),
            "prefix and suffix overlap"
        );
        assert!(matches("qwen-?", "qwen-7"));
        assert!(!matches("qwen-?", "qwen-72"));
        assert!(matches("a*b?c*d", "a--b-c--d"));
        assert!(!matches("a*b?c*d", "abcd"));
        assert!(!matches("Qwen*", "qwen-max"), "case-sensitive");
    }

    #[test]
    fn coverage_is_sound_for_every_shape() {
        assert!(covers("*", "anything-*"));
        assert!(covers("qwen*", "qwen-*"));
        assert!(!covers("qwen-*", "qwen*"));
        assert!(covers("*-mini", "gpt-*-mini"));
        assert!(covers("gpt-*", "gpt-4o"));
        assert!(!covers("gpt-*", "gpt"));
        assert!(covers("qwen-?", "qwen-7"));
        assert!(!covers("qwen-?", "qwen-*"));
        assert!(covers("qwen-*", "qwen-?"));
        assert!(covers("a*c", "ab*bc"));
        assert!(!covers("a?", "a*"));
    }

    #[test]
    fn shadowed_rules_name_the_rule_that_hides_them() {
        // `*` declared first hides nothing: it has the lowest precedence.
        assert!(shadowed(&["*", "qwen-*"]).is_empty());
        // `qwen-*` has more literals than `qwen*`, so it is tried first.
        assert!(shadowed(&["qwen*", "qwen-*"]).is_empty());
        // Equal literal counts: the earlier rule wins and hides the later one.
        assert_eq!(
            shadowed(&["qwen*", "qwen?*"]),
            [Shadowed {
                unreachable: 1,
                by: 0
            }]
        );
        // A catch-all written as `**` after `*`.
        assert_eq!(
            shadowed(&["*", "x", "**"]),
            [Shadowed {
                unreachable: 2,
                by: 0
            }]
        );
        // Duplicates are another diagnostic.
        assert!(shadowed(&["a*", "a*"]).is_empty());
    }

    #[test]
    fn patterns_use_model_name_characters_only() {
        for good in ["gpt-4o", "*", "a/b:c@d+e_f.g", "qwen-?-max"] {
            assert!(check(good).is_ok(), "{good}");
        }
        for bad in ["", "gpt 4o", "qwen-[0-9]", "{a,b}", "é*"] {
            assert!(check(bad).is_err(), "{bad:?}");
        }
    }
}
