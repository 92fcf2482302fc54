//! The gateway binary's life: command line, secrets from the environment, runtime, serve, drain on SIGTERM/SIGINT.

use std::io::Write;
use std::process::ExitCode;

use crate::codegen::Plan;
use crate::proxy::Gateway;
use crate::server::Server;

const USAGE: &str = "\
Usage: <gateway> [--listen ADDR]

Serves the gateway plan compiled into this binary.

Options:
  --listen ADDR   listen on ADDR instead of the plan's address
  --help          print this help
  --version       print the version

Environment:
  GATESMITH_WORKERS   worker threads (default: available parallelism)";

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    Serve { listen: Option<String> },
    Help,
    Version,
}

/// Parses the arguments after the program name.
pub fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Command, String> {
    let mut args = args.into_iter();
    let mut listen = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--help" | "-h" => return Ok(Command::Help),
            "--version" | "-V" => return Ok(Command::Version),
            "--listen" => match args.next() {
                Some(addr) => listen = Some(addr),
                None => {
                    return Err("--listen needs an address, e.g. --listen 127.0.0.1:8080".into());
                }
            },
            other => match other.strip_prefix("--listen=") {
                Some(addr) => listen = Some(addr.to_owned()),
                None => return Err(format!("unexpected argument `{other}`")),
            },
        }
    }
    Ok(Command::Serve { listen })
}

/// Reads each service's API key once. On failure, returns the names of the
/// variables that are missing or empty (never their values).
pub fn read_api_keys(
    plan: &Plan,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Vec<Option<String>>, Vec<&'static str>> {
    let mut keys = Vec::with_capacity(plan.services.len());
    let mut missing: Vec<&'static str> = Vec::new();
    for service in plan.services {
        match service.api_key_env {
            None => keys.push(None),
            Some(name) => match lookup(name) {
                Some(key) if !key.is_empty() => keys.push(Some(key)),
                _ => {
                    if !missing.contains(&name) {
                        missing.push(name);
                    }
                    keys.push(None);
                }
            },
        }
    }
    if missing.is_empty() {
        Ok(keys)
    } else {
        Err(missing)
    }
}

fn worker_threads(lookup: impl Fn(&str) -> Option<String>) -> usize {
    lookup("GATESMITH_WORKERS")
        .and_then(|workers| workers.trim().parse::<usize>().ok())
        .filter(|&workers| workers > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Runs the gateway binary for `plan` until SIGTERM or SIGINT, then drains.
pub fn run(plan: &'static Plan) -> ExitCode {
    let listen = match parse_args(std::env::args().skip(1)) {
        Ok(Command::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Ok(Command::Version) => {
            println!(
                "gatesmith gateway {} ({})",
                env!("CARGO_PKG_VERSION"),
                plan.environment
            );
            return ExitCode::SUCCESS;
        }
        Ok(Command::Serve { listen }) => listen.unwrap_or_else(|| plan.gateway.listen.to_owned()),
        Err(message) => {
            eprintln!("error: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let env = |name: &str| std::env::var(name).ok();
    let keys = match read_api_keys(plan, env) {
        Ok(keys) => keys,
        Err(missing) => {
            eprintln!(
                "error: missing or empty API key environment variable(s): {}",
                missing.join(", ")
            );
            return ExitCode::FAILURE;
        }
    };
    let gateway: &'static Gateway = match Gateway::new(plan, keys) {
        Ok(gateway) => Box::leak(Box::new(gateway)),
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(worker_threads(env))
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(serve_until_signal(gateway, &listen))
}

async fn serve_until_signal(gateway: &'static Gateway, listen: &str) -> ExitCode {
    let (addr, handle) = match Server::bind(gateway, listen).await {
        Ok(bound) => bound,
        Err(error) => {
            eprintln!("error: cannot listen on {listen}: {error}");
            return ExitCode::FAILURE;
        }
    };
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(
        stdout,
        "gatesmith gateway {} listening on http://{addr}",
        gateway.plan().environment
    );
    let _ = stdout.flush();
    drop(stdout);
    if let Err(error) = shutdown_signal().await {
        eprintln!("error: cannot listen for shutdown signals: {error}");
    }
    handle.shutdown();
    handle.stopped().await;
    ExitCode::SUCCESS
}

async fn shutdown_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        tokio::select! {
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
        Ok(())
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codegen::*;

    fn args(list: &[&str]) -> Result<Command, String> {
        parse_args(list.iter().map(|s| s.to_string()))
    }

    #[test]
    fn listen_flag_overrides_the_address() {
        assert_eq!(args(&[]), Ok(Command::Serve { listen: None }));
        assert_eq!(
            args(&["--listen", "0.0.0.0:9000"]),
            Ok(Command::Serve {
                listen: Some("0.0.0.0:9000".into())
            })
        );
        assert_eq!(
            args(&["--listen=[::1]:80"]),
            Ok(Command::Serve {
                listen: Some("[::1]:80".into())
            })
        );
        assert_eq!(args(&["--help"]), Ok(Command::Help));
        assert_eq!(args(&["--version"]), Ok(Command::Version));
        assert!(args(&["--listen"]).is_err());
        assert!(args(&["--bogus"]).is_err());
    }

    const TIMEOUTS: ServiceTimeouts = ServiceTimeouts {
        connect_ms: 1000,
        first_packet_ms: 0,
        idle_ms: 0,
        total_ms: 0,
    };

    static SERVICES: [Service; 3] = [
        Service {
            name: "a",
            provider: Provider::OpenAi,
            base_url: "https://a.example",
            api_key_env: Some("KEY_A"),
            timeouts: TIMEOUTS,
            mock: None,
            options: ProviderOptions::DEFAULT,
        },
        Service {
            name: "b",
            provider: Provider::OpenAi,
            base_url: "https://b.example",
            api_key_env: Some("KEY_B"),
            timeouts: TIMEOUTS,
            mock: None,
            options: ProviderOptions::DEFAULT,
        },
        Service {
            name: "c",
            provider: Provider::OpenAi,
            base_url: "https://c.example",
            api_key_env: None,
            timeouts: TIMEOUTS,
            mock: None,
            options: ProviderOptions::DEFAULT,
        },
    ];

    fn no_route(_: &str, _: &str, _: Method) -> RouteMatch {
        RouteMatch::NotFound
    }

    static PLAN: Plan = Plan {
        environment: "test",
        gateway: GatewaySettings {
            listen: "127.0.0.1:0",
            max_request_bytes: 1024,
            header_read_timeout_ms: 1000,
            drain_grace_ms: 1000,
        },
        services: &SERVICES,
        model_apis: &[],
        routes: &[],
        match_route: no_route,
    };

    #[test]
    fn missing_and_empty_keys_are_reported_by_name_only() {
        let lookup = |name: &str| match name {
            "KEY_A" => Some("secret-value".to_owned()),
            "KEY_B" => Some(String::new()),
            _ => None,
        };
        assert_eq!(read_api_keys(&PLAN, lookup), Err(vec!["KEY_B"]));
        let lookup = |name: &str| Some(format!("key-of-{name}"));
        assert_eq!(
            read_api_keys(&PLAN, lookup),
            Ok(vec![
                Some("key-of-KEY_A".into()),
                Some("key-of-KEY_B".into()),
                None
            ])
        );
    }

    #[test]
    fn workers_come_from_the_environment_when_valid() {
        assert_eq!(worker_threads(|_| Some("3".into())), 3);
        assert!(worker_threads(|_| Some("zero".into())) >= 1);
        assert!(worker_threads(|_| None) >= 1);
    }
}
