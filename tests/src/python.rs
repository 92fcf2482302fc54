//! Runs the Python client scripts in `tests/python/` (official SDKs) against a running gateway.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::process::{CommandOutput, run_command};
use crate::workspace;

/// A script that drives a gateway must finish well within this.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(60);

/// The interpreter of the test venv: `GATESMITH_PYTHON`, else `<repo>/.venv/bin/python`
/// (created by `scripts/test-all.sh`).
pub fn interpreter() -> PathBuf {
    match std::env::var_os("GATESMITH_PYTHON") {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => workspace::root().join(".venv").join("bin").join("python"),
    }
}

/// Runs `tests/python/<script>` with the given environment and returns its output.
/// Panics with a pointer to the setup script when the interpreter is missing.
pub fn run_script(script: &str, envs: &[(&str, &str)]) -> CommandOutput {
    let python = interpreter();
    assert!(
        python.exists(),
        "no Python interpreter at {} (set GATESMITH_PYTHON, or run ./scripts/test-all.sh, which creates .venv with tests/python/requirements.txt)",
        python.display()
    );
    let mut command = Command::new(&python);
    command
        .arg(workspace::root().join("tests").join("python").join(script))
        .envs(envs.iter().copied())
        // Unbuffered, so a script that fails mid-way still shows what it printed.
        .env("PYTHONUNBUFFERED", "1")
        .current_dir(workspace::root());
    run_command(command, SCRIPT_TIMEOUT)
}

/// Runs a script and fails the test, showing everything it printed, unless it exits 0.
pub fn assert_script_passes(script: &str, envs: &[(&str, &str)]) -> CommandOutput {
    let output = run_script(script, envs);
    assert!(output.success, "tests/python/{script} failed:\n{output}");
    output
}
