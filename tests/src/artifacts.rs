//! Builds what the tests run (the `gatesmith` CLI, the standalone mock, one gateway per spec folder) once per test run.
//!
//! nextest runs every test in its own process, so "once" cannot be a
//! `OnceLock`: builds are serialised by an exclusive lock on a file in the
//! target dir (released by the OS if a test process dies), and each artifact
//! leaves a marker naming the run (`NEXTEST_RUN_ID`) that built it, so later
//! tests of the same run reuse it without even asking cargo.

use std::collections::HashMap;
use std::fs::{self, File, TryLockError};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use crate::process::run_command;
use crate::workspace;

/// A cold build of the runtime in release mode takes minutes on two cores;
/// waiting longer than this means something is stuck.
const BUILD_TIMEOUT: Duration = Duration::from_secs(20 * 60);

/// The `gatesmith` CLI (debug build, the same one `cargo nextest` just built).
pub fn compiler_binary() -> PathBuf {
    workspace_binaries();
    workspace::target_dir().join("debug").join("gatesmith")
}

/// The standalone mock upstream server `gatesmith-mock`.
pub fn mock_binary() -> PathBuf {
    workspace_binaries();
    workspace::target_dir().join("debug").join("gatesmith-mock")
}

/// Builds the gateway of a spec folder (relative to the repository root) with
/// `gatesmith build` and returns the path of its binary.
pub fn gateway_binary(spec: &str) -> PathBuf {
    let compiler = compiler_binary();
    let key = format!("gateway-{}", spec.replace(['/', '\\', '.'], "_"));
    once_per_run(&key, || {
        // The default crate folder (`target/gateways/<env>/`), the one
        // `gatesmith run` uses too: two folders for one gateway package would
        // make cargo rebuild it each time the other one builds.
        let mut command = Command::new(&compiler);
        command
            .arg("build")
            .arg(workspace::spec_dir(spec))
            .env("GATESMITH_HOME", workspace::root())
            .current_dir(workspace::root());
        let output = run_command(command, BUILD_TIMEOUT);
        assert!(output.success, "`gatesmith build {spec}` failed:\n{output}");
        binary_path_in(&output.stdout).unwrap_or_else(|| {
            panic!(
                "`gatesmith build {spec}` did not print the path of an existing binary:\n{output}"
            )
        })
    })
}

/// `gatesmith build` ends by printing the binary's path; take the last
/// whitespace-separated token on stdout that names an existing file.
fn binary_path_in(stdout: &str) -> Option<PathBuf> {
    stdout
        .lines()
        .rev()
        .flat_map(|line| line.split_whitespace().rev())
        .map(|token| token.trim_matches(|c: char| c == '`' || c == '"' || c == '\''))
        .map(|token| {
            let path = PathBuf::from(token);
            if path.is_absolute() {
                path
            } else {
                workspace::root().join(path)
            }
        })
        .find(|path| path.is_file())
}

fn workspace_binaries() {
    once_per_run("workspace-binaries", || {
        let mut command = Command::new(workspace::cargo());
        command
            .args(["build", "--workspace", "--bins"])
            .current_dir(workspace::root());
        let output = run_command(command, BUILD_TIMEOUT);
        assert!(
            output.success,
            "`cargo build --workspace --bins` failed:\n{output}"
        );
        workspace::target_dir().join("debug")
    });
}

/// Runs `build` at most once per test run for `key`, across processes.
fn once_per_run(key: &str, build: impl FnOnce() -> PathBuf) -> PathBuf {
    static BUILT_IN_THIS_PROCESS: Mutex<Option<HashMap<String, PathBuf>>> = Mutex::new(None);
    let mut built = BUILT_IN_THIS_PROCESS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(path) = built.get_or_insert_with(HashMap::new).get(key) {
        return path.clone();
    }

    let _lock = BuildLock::acquire();
    let marker = workspace::scratch_dir().join("built").join(key);
    let path = match read_marker(&marker) {
        Some(path) => path,
        None => {
            let path = build();
            write_marker(&marker, &path);
            path
        }
    };
    built
        .get_or_insert_with(HashMap::new)
        .insert(key.to_owned(), path.clone());
    path
}

/// Identifies this test run: nextest gives every test process of one run the same id.
fn run_id() -> String {
    std::env::var("NEXTEST_RUN_ID").unwrap_or_else(|_| format!("process-{}", std::process::id()))
}

fn read_marker(marker: &Path) -> Option<PathBuf> {
    let text = fs::read_to_string(marker).ok()?;
    let (run, path) = text.split_once('\n')?;
    let path = PathBuf::from(path.trim_end());
    (run == run_id() && path.exists()).then_some(path)
}

fn write_marker(marker: &Path, artifact: &Path) {
    let dir = marker.parent().expect("markers live in a folder");
    fs::create_dir_all(dir).expect("create the e2e build marker folder");
    fs::write(marker, format!("{}\n{}", run_id(), artifact.display()))
        .expect("write an e2e build marker");
}

/// An exclusive advisory lock on `target/e2e/build.lock`, released on drop or process exit.
struct BuildLock(File);

impl BuildLock {
    fn acquire() -> Self {
        let dir = workspace::scratch_dir();
        fs::create_dir_all(&dir).expect("create the e2e scratch folder");
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("build.lock"))
            .expect("open the e2e build lock file");
        let deadline = Instant::now() + BUILD_TIMEOUT;
        loop {
            match file.try_lock() {
                Ok(()) => return BuildLock(file),
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                    thread::sleep(Duration::from_millis(100));
                }
                Err(TryLockError::WouldBlock) => {
                    panic!("another test held the e2e build lock for over {BUILD_TIMEOUT:?}")
                }
                Err(TryLockError::Error(error)) => {
                    panic!("cannot lock the e2e build lock: {error}")
                }
            }
        }
    }
}

impl Drop for BuildLock {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}
