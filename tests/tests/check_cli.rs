//! `gatesmith check` as a user runs it: every mistake at once with `file:line:col`, exit status 1; a clean spec exits 0.

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use gatesmith_e2e::process::run_command;
use gatesmith_e2e::{compiler_binary, workspace};

const CHECK_TIMEOUT: Duration = Duration::from_secs(60);

fn check(spec: &str) -> gatesmith_e2e::process::CommandOutput {
    let mut command = Command::new(compiler_binary());
    command
        .args(["check", spec])
        .env("NO_COLOR", "1")
        .current_dir(workspace::root());
    run_command(command, CHECK_TIMEOUT)
}

/// Diagnostic codes (`E0203`, `W0201`) printed anywhere in the output.
fn codes_in(text: &str) -> BTreeSet<String> {
    let bytes = text.as_bytes();
    (0..bytes.len().saturating_sub(4))
        .filter(|&i| {
            matches!(bytes[i], b'E' | b'W')
                && bytes[i + 1..i + 5].iter().all(u8::is_ascii_digit)
                && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric())
                && bytes.get(i + 5).is_none_or(|b| !b.is_ascii_alphanumeric())
        })
        .map(|i| text[i..i + 5].to_owned())
        .collect()
}

/// `file.yaml:LINE:COL` locations printed anywhere in the output.
fn locations_in(text: &str) -> BTreeSet<String> {
    text.split(|c: char| c.is_whitespace() || matches!(c, '[' | ']' | '(' | ')' | ','))
        .filter_map(|token| {
            let (file, rest) = token.split_once(".yaml:")?;
            let mut numbers = rest.splitn(2, ':');
            let line: u32 = numbers.next()?.parse().ok()?;
            let column: u32 = numbers
                .next()?
                .trim_end_matches(|c: char| !c.is_ascii_digit())
                .parse()
                .ok()?;
            Some(format!("{file}.yaml:{line}:{column}"))
        })
        .collect()
}

/// The `N errors` count of the closing summary line.
fn error_count_in(text: &str) -> Option<usize> {
    let words: Vec<&str> = text.split_whitespace().collect();
    words
        .windows(2)
        .rev()
        .find(|pair| {
            pair[1].trim_end_matches(',') == "errors" || pair[1].trim_end_matches(',') == "error"
        })
        .and_then(|pair| pair[0].parse().ok())
}

#[test]
fn check_reports_every_mistake_with_its_location_and_fails() {
    let output = check("specs/invalid/several-mistakes");
    assert_eq!(
        output.code,
        Some(1),
        "check of an invalid spec must exit 1:\n{output}"
    );
    let printed = format!("{}\n{}", output.stdout, output.stderr);
    let errors =
        error_count_in(&printed).unwrap_or_else(|| panic!("no `N errors` summary:\n{output}"));
    let codes = codes_in(&printed);
    let locations = locations_in(&printed);
    // The fixture holds at least four different mistakes across two files,
    // each a different code at its own place: all of them are reported at once.
    assert!(
        errors >= 4,
        "expected at least 4 errors, the summary says {errors}:\n{output}"
    );
    assert_eq!(
        codes.len(),
        errors,
        "one distinct code per error, got {codes:?}:\n{output}"
    );
    assert_eq!(
        locations.len(),
        errors,
        "one file:line:col per error, got {locations:?}:\n{output}"
    );
    let files: BTreeSet<&str> = locations
        .iter()
        .filter_map(|l| l.split(':').next())
        .collect();
    assert!(
        files.len() >= 2,
        "mistakes in two files expected, got {files:?}:\n{output}"
    );
    assert_eq!(
        printed.matches("help:").count(),
        errors,
        "every diagnostic carries a help line:\n{output}"
    );
}

#[test]
fn check_accepts_the_quickstart_and_the_e2e_spec() {
    for spec in ["specs/quickstart", "tests/specs/e2e"] {
        let output = check(spec);
        assert_eq!(output.code, Some(0), "check {spec} must exit 0:\n{output}");
        assert!(
            codes_in(&output.stderr)
                .iter()
                .all(|code| code.starts_with('W')),
            "{output}"
        );
    }
}

#[test]
fn the_location_and_code_parsers_read_miette_output() {
    let sample = "  × E0203 duplicate\n   ╭─[specs/invalid/x/chat.yaml:4:3]\n  help: rename\n error[E0101]: at a.yaml:10:12";
    assert_eq!(
        codes_in(sample),
        BTreeSet::from(["E0101".to_owned(), "E0203".to_owned()])
    );
    assert_eq!(error_count_in("x: 5 errors, 0 warnings"), Some(5));
    assert_eq!(
        locations_in(sample),
        BTreeSet::from([
            "specs/invalid/x/chat.yaml:4:3".to_owned(),
            "a.yaml:10:12".to_owned()
        ])
    );
}
