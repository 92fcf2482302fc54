//! `gatesmith-mock`: the built-in mock provider as a standalone upstream server (benchmarks, manual tests).

use std::net::SocketAddr;
use std::process::ExitCode;

use gatesmith_runtime::codegen::MockSettings;
use gatesmith_runtime::mock::{fault::parse_fault, server::serve};

const USAGE: &str =
    "usage: gatesmith-mock [--listen ADDR] [--latency-ms N] [--chunks N] [--chunk-delay-ms N] \
[--completion-tokens N] [--fault FAULT] [--workers N]

Serves deterministic OpenAI (/v1/chat/completions, /v1/completions) and Anthropic
(/v1/messages) answers, matched on the path suffix, plus GET /healthz,
GET /__mock/stats ({\"requests\": N, \"by_path\": {...}}, counted on arrival) and
POST /__mock/reset (counts back to zero).
  --listen ADDR            default 127.0.0.1:9001
  --latency-ms N           delay before each response head (default 0)
  --chunks N               content chunks per streamed answer (default 8)
  --chunk-delay-ms N       delay between streamed content chunks (default 0)
  --completion-tokens N    answer length in tokens (default 16)
  --fault FAULT            none, status:CODE, stall-before-head:MS, stall-before-first-chunk:MS,
                           stall-after-chunks:N:MS, cut-after-chunks:N, malformed-after-chunks:N,
                           error-after-chunks:N (a protocol error event; 0 = before content),
                           context-length (400 \"prompt is too long\")
  --workers N              runtime worker threads (default: available cores)
Requests may override these with x-mock-* headers.";

struct Options {
    listen: SocketAddr,
    settings: MockSettings,
    workers: Option<usize>,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut options = Options {
        listen: SocketAddr::from(([127, 0, 0, 1], 9001)),
        settings: MockSettings {
            latency_ms: 0,
            stream_chunks: 8,
            chunk_delay_ms: 0,
            completion_tokens: 16,
            fault: None,
        },
        workers: None,
    };
    while let Some(flag) = args.next() {
        if flag == "--help" || flag == "-h" {
            return Err(String::new());
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<u64>()
                .map_err(|_| format!("{flag}: `{value}` is not a whole number"))
        };
        let settings = &mut options.settings;
        match flag.as_str() {
            "--listen" => {
                options.listen = value.parse().map_err(|_| {
                    format!("--listen: `{value}` is not an address like 127.0.0.1:9001")
                })?
            }
            "--latency-ms" => settings.latency_ms = number()?,
            "--chunk-delay-ms" => settings.chunk_delay_ms = number()?,
            "--chunks" => {
                settings.stream_chunks = u32::try_from(number()?)
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("--chunks: `{value}` must be from 1 to {}", u32::MAX))?
            }
            "--completion-tokens" => {
                settings.completion_tokens = u32::try_from(number()?)
                    .map_err(|_| format!("--completion-tokens: `{value}` is too large"))?
            }
            "--fault" => {
                settings.fault = parse_fault(&value).map_err(|e| format!("--fault: {e}"))?
            }
            "--workers" => {
                options.workers = Some(
                    usize::try_from(number()?)
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| format!("--workers: `{value}` must be at least 1"))?,
                )
            }
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    Ok(options)
}

fn main() -> ExitCode {
    let options = match parse_args(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) if message.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("gatesmith-mock: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(workers) = options.workers {
        runtime.worker_threads(workers);
    }
    let runtime = match runtime.enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("gatesmith-mock: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(options))
}

async fn run(options: Options) -> ExitCode {
    let listener = match tokio::net::TcpListener::bind(options.listen).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!(
                "gatesmith-mock: cannot listen on {}: {error}",
                options.listen
            );
            return ExitCode::FAILURE;
        }
    };
    let address = listener.local_addr().unwrap_or(options.listen);
    println!("gatesmith-mock listening on http://{address}");
    tokio::select! {
        () = serve(listener, options.settings) => ExitCode::SUCCESS,
        () = shutdown_signal() => ExitCode::SUCCESS,
    }
}

/// Resolves on SIGINT or (on Unix) SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatesmith_runtime::codegen::MockFault;

    fn parse(args: &[&str]) -> Result<Options, String> {
        parse_args(args.iter().map(|a| (*a).to_owned()))
    }

    #[test]
    fn flags_set_the_settings() {
        let options = parse(&[
            "--listen",
            "127.0.0.1:0",
            "--latency-ms",
            "5",
            "--chunks",
            "3",
            "--chunk-delay-ms",
            "2",
            "--completion-tokens",
            "40",
            "--workers",
            "1",
            "--fault",
            "status:503",
        ]);
        let Ok(options) = options else {
            panic!("valid flags rejected");
        };
        let s = options.settings;
        assert_eq!(
            (
                s.latency_ms,
                s.stream_chunks,
                s.chunk_delay_ms,
                s.completion_tokens
            ),
            (5, 3, 2, 40)
        );
        assert_eq!(s.fault, Some(MockFault::Status(503)));
        assert_eq!(options.workers, Some(1));
        assert_eq!(options.listen.port(), 0);
    }

    #[test]
    fn bad_flags_are_reported() {
        assert!(parse(&["--chunks", "0"]).is_err_and(|e| e.contains("--chunks")));
        assert!(parse(&["--listen"]).is_err_and(|e| e.contains("needs a value")));
        assert!(parse(&["--latency", "1"]).is_err_and(|e| e.contains("unknown option")));
        assert!(parse(&["--help"]).is_err_and(|e| e.is_empty()));
    }
}
