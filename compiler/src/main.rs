//! The `gatesmith` command line: check, routes, explain, emit, build, run and mock.
//!
//! Exit codes: 0 ok, 1 the spec has errors, 2 usage, IO or build failures.

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use clap::{Parser, Subcommand};
use gatesmith::builder::{self, BuildRequest};
use gatesmith::diagnostic::{self, Diagnostics, Severity};
use gatesmith::files;
use gatesmith::source::SpecFolder;

#[derive(Debug, Parser)]
#[command(
    name = "gatesmith",
    version,
    about = "Compiles gateway specs (YAML) into a purpose-built AI gateway binary"
)]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Debug, Subcommand)]
enum Commands {
    /// Checks a spec folder and prints every error and warning.
    Check {
        /// The spec folder (one environment).
        dir: PathBuf,
    },
    /// Prints the route table: which Model API answers which host, path and method.
    Routes { dir: PathBuf },
    /// Explains, without sending anything, which route a request matches and
    /// which targets it would try, in what order and why.
    Explain {
        dir: PathBuf,
        /// The request's Host (a port is ignored, as the gateway does).
        #[arg(long)]
        host: String,
        /// The request path (a query string is ignored).
        #[arg(long)]
        path: String,
        #[arg(long, default_value = "POST")]
        method: String,
        /// The `model` in the request body.
        #[arg(long)]
        model: Option<String>,
    },
    /// Prints the generated Rust plan.
    Emit { dir: PathBuf },
    /// Builds the gateway binary and prints its path.
    Build {
        dir: PathBuf,
        /// Folder for the generated gateway crate [default: target/gateways/<environment>].
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Builds the gateway, then runs it.
    Run {
        dir: PathBuf,
        /// Address to listen on, overriding the spec's `listen`.
        #[arg(long)]
        listen: Option<String>,
        #[arg(long)]
        out: Option<PathBuf>,
        /// Further arguments for the gateway binary (after `--`).
        #[arg(last = true)]
        gateway_args: Vec<OsString>,
    },
    /// Runs the standalone mock upstream server (`gatesmith-mock`).
    Mock {
        /// Address to listen on [default: gatesmith-mock's, 127.0.0.1:9001].
        #[arg(long)]
        listen: Option<String>,
        /// Options passed to `gatesmith-mock` unchanged.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        mock_args: Vec<OsString>,
    },
}

/// Why a command stopped early; maps to the exit code.
enum Failure {
    /// The spec has errors (already printed).
    Spec,
    /// Usage, IO or build failure, with a message to print.
    Other(String),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Commands::Check { dir } => check(&dir),
        Commands::Routes { dir } => compile(&dir).map(|c| print_stdout(&c.routes)),
        Commands::Explain {
            dir,
            host,
            path,
            method,
            model,
        } => compile(&dir).map(|c| {
            let request = gatesmith::explain::Request {
                host,
                path,
                method,
                model,
            };
            print_stdout(&gatesmith::explain::explain(&c.plan, &request));
        }),
        Commands::Emit { dir } => compile(&dir).map(|c| print_stdout(&c.rust)),
        Commands::Build { dir, out } => build(&dir, out).map(|binary| {
            println!("{}", binary.display());
        }),
        Commands::Run {
            dir,
            listen,
            out,
            gateway_args,
        } => build(&dir, out).and_then(|binary| {
            let mut args = Vec::new();
            if let Some(listen) = listen {
                args.push(OsString::from("--listen"));
                args.push(OsString::from(listen));
            }
            args.extend(gateway_args);
            exec(&binary, &args)
        }),
        Commands::Mock { listen, mock_args } => mock(listen, mock_args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Spec) => ExitCode::from(1),
        Err(Failure::Other(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

fn print_stdout(text: &str) {
    let mut stdout = std::io::stdout().lock();
    // A closed pipe (`gatesmith routes x | head`) is not an error worth reporting.
    let _ = stdout.write_all(text.as_bytes());
}

fn read_folder(dir: &Path) -> Result<SpecFolder, Failure> {
    files::read_spec_folder(dir).map_err(|error| Failure::Other(error.to_string()))
}

/// Prints diagnostics to stderr, in colour when stderr is a terminal.
fn print_diagnostics(diagnostics: &Diagnostics, folder: &SpecFolder) {
    if diagnostics.is_empty() {
        return;
    }
    let colour = std::io::stderr().is_terminal();
    eprint!("{}", diagnostic::render(diagnostics, folder, colour));
}

fn summary(diagnostics: &Diagnostics) -> String {
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    format!(
        "{}, {}",
        plural(diagnostics.count(Severity::Error), "error"),
        plural(diagnostics.count(Severity::Warning), "warning")
    )
}

fn check(dir: &Path) -> Result<(), Failure> {
    let folder = read_folder(dir)?;
    match gatesmith::check(&folder) {
        Ok((_, warnings)) => {
            print_diagnostics(&warnings, &folder);
            eprintln!("{}: ok ({})", folder.display, summary(&warnings));
            Ok(())
        }
        Err(diagnostics) => {
            print_diagnostics(&diagnostics, &folder);
            eprintln!("{}: {}", folder.display, summary(&diagnostics));
            Err(Failure::Spec)
        }
    }
}

/// Compiles a folder, printing its warnings (or its errors and summary).
fn compile(dir: &Path) -> Result<gatesmith::Compiled, Failure> {
    let folder = read_folder(dir)?;
    match gatesmith::compile(&folder) {
        Ok(compiled) => {
            print_diagnostics(&compiled.warnings, &folder);
            Ok(compiled)
        }
        Err(diagnostics) => {
            print_diagnostics(&diagnostics, &folder);
            eprintln!("{}: {}", folder.display, summary(&diagnostics));
            Err(Failure::Spec)
        }
    }
}

fn build(dir: &Path, out: Option<PathBuf>) -> Result<PathBuf, Failure> {
    let compiled = compile(dir)?;
    let request = BuildRequest {
        plan: &compiled.plan,
        rust: &compiled.rust,
        out,
        root: builder::workspace_root(),
    };
    builder::build(&request).map_err(|error| Failure::Other(error.to_string()))
}

/// Runs the standalone mock. Installed next to `gatesmith`, that binary is
/// used; run from a checkout (our binary lives in the workspace's `target/`),
/// the release build is brought up to date first, since a sibling in
/// `target/debug` may be stale or unoptimized (the benchmark's upstream).
fn mock(listen: Option<String>, mock_args: Vec<OsString>) -> Result<(), Failure> {
    let name = format!("gatesmith-mock{}", std::env::consts::EXE_SUFFIX);
    let root = builder::workspace_root();
    let current_exe = std::env::current_exe().ok();
    let in_checkout = current_exe
        .as_deref()
        .is_some_and(|exe| exe.starts_with(builder::target_dir(&root)));
    let installed = current_exe
        .as_deref()
        .and_then(Path::parent)
        .map(|dir| dir.join(&name))
        .filter(|path| !in_checkout && path.is_file());
    let binary = match installed {
        Some(binary) => binary,
        None => {
            let mut command = builder::cargo_command(&root);
            command.args([
                "build",
                "--release",
                "-p",
                "gatesmith-runtime",
                "--bin",
                "gatesmith-mock",
            ]);
            builder::run_with_spinner(command, "building gatesmith-mock")
                .map_err(|error| Failure::Other(error.to_string()))?;
            builder::target_dir(&root).join("release").join(&name)
        }
    };
    let mut args = Vec::new();
    if let Some(listen) = listen {
        args.push(OsString::from("--listen"));
        args.push(OsString::from(listen));
    }
    args.extend(mock_args);
    exec(&binary, &args)
}

/// Replaces this process with `binary` (so signals reach it directly); where
/// exec does not exist, runs it as a child and mirrors its exit status.
fn exec(binary: &Path, args: &[OsString]) -> Result<(), Failure> {
    let mut command = Command::new(binary);
    command.args(args);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let error = command.exec();
        Err(Failure::Other(format!(
            "running {}: {error}",
            binary.display()
        )))
    }
    #[cfg(not(unix))]
    {
        let status = command
            .status()
            .map_err(|error| Failure::Other(format!("running {}: {error}", binary.display())))?;
        match status.code() {
            Some(0) => Ok(()),
            code => std::process::exit(code.unwrap_or(1)),
        }
    }
}
