//! Child processes with deadlines: one-shot commands, and servers that announce their address and are stopped on drop.

use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::artifacts;

/// How long a freshly started server may take to print its `listening on` line.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a server gets to exit after SIGTERM when a test drops it.
const STOP_GRACE: Duration = Duration::from_secs(3);

/// What a finished command printed and whether it succeeded.
#[derive(Debug)]
pub struct CommandOutput {
    pub success: bool,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl fmt::Display for CommandOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "exit code: {:?}", self.code)?;
        writeln!(f, "--- stdout ---\n{}", self.stdout)?;
        write!(f, "--- stderr ---\n{}", self.stderr)
    }
}

/// Runs a command to completion, killing it if it outlives `timeout`.
pub fn run_command(mut command: Command, timeout: Duration) -> CommandOutput {
    let description = format!("{command:?}");
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("cannot start {description}: {error}"));
    let stdout = read_all_in_background(child.stdout.take());
    let stderr = read_all_in_background(child.stderr.take());
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("poll a child process") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{description} did not finish within {timeout:?}");
        }
        thread::sleep(Duration::from_millis(20));
    };
    CommandOutput {
        success: status.success(),
        code: status.code(),
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}

fn read_all_in_background(pipe: Option<impl Read + Send + 'static>) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// A server process that printed `... listening on http://ADDR`; SIGTERM then SIGKILL on drop.
#[derive(Debug)]
pub struct RunningServer {
    child: Child,
    pub addr: SocketAddr,
    stdout: Arc<Mutex<Vec<String>>>,
}

impl RunningServer {
    /// Starts `program args...`, waits (with a deadline) for the line announcing the address.
    /// stderr is inherited, so the test runner shows it when a test fails.
    pub fn start(program: &Path, args: &[&str], envs: &[(&str, &str)]) -> Self {
        Self::start_within(program, args, envs, STARTUP_TIMEOUT)
    }

    /// Like [`RunningServer::start`], for programs that do work (a build) before listening.
    pub fn start_within(
        program: &Path,
        args: &[&str],
        envs: &[(&str, &str)],
        startup_timeout: Duration,
    ) -> Self {
        let mut child = Command::new(program)
            .args(args)
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", program.display()));
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let lines = forward_lines(child.stdout.take(), Arc::clone(&stdout));
        let deadline = Instant::now() + startup_timeout;
        let addr = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(addr) = announced_addr(&line) {
                        break addr;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "{} printed no `listening on http://ADDR` line within {startup_timeout:?}; stdout so far: {:?}",
                        program.display(),
                        stdout.lock().map(|lines| lines.clone()).unwrap_or_default()
                    );
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let status = child.wait();
                    panic!(
                        "{} exited before listening ({status:?}); stdout: {:?}",
                        program.display(),
                        stdout.lock().map(|lines| lines.clone()).unwrap_or_default()
                    );
                }
            }
        };
        RunningServer {
            child,
            addr,
            stdout,
        }
    }

    /// Sends SIGTERM (the signal a supervisor sends) without waiting.
    pub fn terminate(&self) {
        send_signal(self.child.id(), "TERM");
    }

    /// Waits for the process to exit, at most `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Every stdout line the server printed so far.
    pub fn stdout_lines(&self) -> Vec<String> {
        self.stdout
            .lock()
            .map(|lines| lines.clone())
            .unwrap_or_default()
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        self.terminate();
        if self.wait_exit(STOP_GRACE).is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `kill -SIG pid` through the system's `kill`: the workspace forbids `unsafe`, and std only sends SIGKILL.
fn send_signal(pid: u32, signal: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Reads stdout line by line on a thread for the life of the process (so its
/// pipe never fills), keeping every line and sending each one on the channel.
fn forward_lines(
    pipe: Option<impl Read + Send + 'static>,
    kept: Arc<Mutex<Vec<String>>>,
) -> Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        let Some(pipe) = pipe else { return };
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { return };
            if let Ok(mut kept) = kept.lock() {
                kept.push(line.clone());
            }
            let _ = sender.send(line);
        }
    });
    receiver
}

/// The address in a `... listening on http://127.0.0.1:PORT` line.
fn announced_addr(line: &str) -> Option<SocketAddr> {
    let (_, rest) = line.split_once("listening on http://")?;
    let addr = rest.split(|c: char| c == '/' || c.is_whitespace()).next()?;
    addr.parse().ok()
}

/// The spec folder most e2e tests run: `tests/specs/e2e`.
pub const E2E_SPEC: &str = "tests/specs/e2e";
/// The API key the e2e gateway reads from `E2E_RECORDER_KEY` and must send to the recorder upstream.
pub const E2E_RECORDER_KEY: &str = "sk-e2e-recorder-secret";

/// A generated gateway running on an ephemeral loopback port.
#[derive(Debug)]
pub struct Gateway {
    pub server: RunningServer,
}

impl Gateway {
    /// Builds (once per test run) and starts the gateway of a spec folder,
    /// given relative to the repository root.
    pub fn start(spec: &str) -> Self {
        Self::start_with_env(spec, &[])
    }

    /// Like [`Gateway::start`], with extra environment variables (API keys, worker count).
    pub fn start_with_env(spec: &str, envs: &[(&str, &str)]) -> Self {
        let binary = artifacts::gateway_binary(spec);
        let server = RunningServer::start(&binary, &["--listen", "127.0.0.1:0"], envs);
        Gateway { server }
    }

    /// The gateway of [`E2E_SPEC`], with the API key its `recorder` service needs.
    pub fn e2e() -> Self {
        Self::start_with_env(E2E_SPEC, &[("E2E_RECORDER_KEY", E2E_RECORDER_KEY)])
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.server.addr)
    }
}

#[cfg(test)]
mod tests {
    use super::announced_addr;

    #[test]
    fn reads_the_address_of_gateway_and_mock_announcements() {
        assert_eq!(
            announced_addr("gatesmith gateway quickstart listening on http://127.0.0.1:41234"),
            Some("127.0.0.1:41234".parse().unwrap())
        );
        assert_eq!(
            announced_addr("gatesmith-mock listening on http://127.0.0.1:9001/"),
            Some("127.0.0.1:9001".parse().unwrap())
        );
        assert_eq!(announced_addr("compiling plan"), None);
    }
}
