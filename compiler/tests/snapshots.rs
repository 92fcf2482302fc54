//! Snapshot harness over every spec folder under `specs/`: route tables, generated Rust and diagnostics.
//!
//! Valid folders (`quickstart`, `examples/*`, `valid/*`) give `routes@<name>`
//! and `rust@<name>`; invalid ones (`invalid/*`) give `diag@<name>`. The
//! guard runs both ways: a valid folder with an error fails, and so does an
//! invalid folder without the code its name starts with (`E0203-...`).
//! Review changes with `cargo insta review`; CI sets `CI=true`, so insta
//! never writes snapshots there.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use gatesmith::builder;
use gatesmith::diagnostic::{self, Severity};
use gatesmith::files;
use gatesmith::source::SpecFolder;

/// One spec folder and how snapshots name it.
struct Case {
    /// `specs/valid/multi-host`: what headers and diagnostics show.
    display: String,
    /// `valid-multi-host`: the part after `@` in snapshot names.
    name: String,
    path: PathBuf,
    expect: Expect,
}

enum Expect {
    Valid,
    /// The code the folder name starts with (`E0203-duplicate-domain-base`).
    Code(String),
    /// An invalid folder not named after one code (`several-mistakes`): it
    /// must yield at least one error.
    Errors,
}

/// `E0203` from `E0203-duplicate-domain-base`, when the name starts with a code.
fn code_prefix(folder: &str) -> Option<&str> {
    let code = folder.split('-').next()?;
    let well_formed = code.len() == 5
        && (code.starts_with('E') || code.starts_with('W'))
        && code[1..].chars().all(|c| c.is_ascii_digit());
    well_formed.then_some(code)
}

fn specs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../specs")
}

fn subfolders(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut folders: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    folders.sort();
    folders
}

fn folder_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Every spec folder, in a stable order.
fn cases() -> Vec<Case> {
    let specs = specs_dir();
    let mut cases = Vec::new();
    if specs.join("quickstart").is_dir() {
        cases.push(Case {
            display: "specs/quickstart".to_owned(),
            name: "quickstart".to_owned(),
            path: specs.join("quickstart"),
            expect: Expect::Valid,
        });
    }
    for group in ["examples", "valid", "invalid"] {
        for path in subfolders(&specs.join(group)) {
            let folder = folder_name(&path);
            let (name, expect) = if group == "invalid" {
                let expect = match code_prefix(&folder) {
                    Some(code) => Expect::Code(code.to_owned()),
                    None => Expect::Errors,
                };
                (folder.clone(), expect)
            } else {
                (format!("{group}-{folder}"), Expect::Valid)
            };
            cases.push(Case {
                display: format!("specs/{group}/{folder}"),
                name,
                path,
                expect,
            });
        }
    }
    cases
}

fn read(case: &Case) -> SpecFolder {
    let mut folder = files::read_spec_folder(&case.path)
        .unwrap_or_else(|error| panic!("{}: {error}", case.display));
    // Tests run from compiler/; name folders the way users pass them.
    folder.display = case.display.clone();
    folder
}

fn assert_snapshot(kind: &str, name: &str, description: &str, text: &str) {
    insta::with_settings!({
        prepend_module_to_snapshot => false,
        snapshot_path => format!("snapshots/{kind}"),
        omit_expression => true,
        description => description,
    }, {
        insta::assert_snapshot!(format!("{kind}@{name}"), text);
    });
}

/// Checks one folder: the guard, then its snapshots. Returns what went wrong.
fn check_case(case: &Case) -> Result<(), String> {
    let folder = read(case);
    let result = gatesmith::compile(&folder);
    match (&case.expect, result) {
        (Expect::Valid, Ok(compiled)) => {
            assert_snapshot(
                "routes",
                &case.name,
                &format!("gatesmith routes {}", case.display),
                &compiled.routes,
            );
            assert_snapshot(
                "rust",
                &case.name,
                &format!("gatesmith emit {}", case.display),
                &compiled.rust,
            );
            Ok(())
        }
        (Expect::Valid, Err(diagnostics)) => Err(format!(
            "a valid spec yields errors:\n{}",
            diagnostic::render(&diagnostics, &folder, false)
        )),
        (expect, result) => {
            let diagnostics = match result {
                Ok(compiled) => compiled.warnings,
                Err(diagnostics) => diagnostics,
            };
            let codes: Vec<&str> = diagnostics.codes().iter().map(|c| c.as_str()).collect();
            let errors = diagnostics.count(Severity::Error);
            match expect {
                Expect::Code(code) if !codes.contains(&code.as_str()) => {
                    return Err(format!("expected {code}, got {codes:?}"));
                }
                // Warning fixtures (`W0201-...`) compile; error fixtures must not.
                Expect::Code(code) if !code.starts_with('W') && errors == 0 => {
                    return Err(format!("expected an error {code}, got none"));
                }
                Expect::Errors if errors == 0 => {
                    return Err(format!("expected errors, got {codes:?}"));
                }
                _ => {}
            }
            assert_snapshot(
                "diag",
                &case.name,
                &format!("gatesmith check {}", case.display),
                &diagnostic::render(&diagnostics, &folder, false),
            );
            Ok(())
        }
    }
}

#[test]
fn every_spec_folder_matches_its_snapshots() {
    let cases = cases();
    assert!(
        !cases.is_empty(),
        "no spec folders under {}",
        specs_dir().display()
    );
    let mut failures = Vec::new();
    for case in &cases {
        // Keep going after a mismatch so one run shows every changed snapshot.
        match catch_unwind(AssertUnwindSafe(|| check_case(case))) {
            Ok(Ok(())) => {}
            Ok(Err(message)) => failures.push(format!("{}: {message}", case.display)),
            Err(_) => failures.push(format!(
                "{}: snapshot mismatch or panic (see above)",
                case.display
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} spec folders failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn folder_names_carry_codes() {
    assert_eq!(code_prefix("E0203-duplicate-domain-base"), Some("E0203"));
    assert_eq!(code_prefix("W0201-unused-service"), Some("W0201"));
    assert_eq!(code_prefix("several-mistakes"), None);
    assert_eq!(code_prefix("E02-short"), None);
}

/// A module name for a case (`valid-multi-host` -> `valid_multi_host`).
fn module_name(name: &str) -> String {
    let ident: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("spec_{ident}")
}

/// Every compilable folder's generated plan as a module of one throwaway crate,
/// checked by one cargo invocation with `#![deny(warnings)]`.
#[test]
fn every_generated_golden_compiles() {
    let root = builder::workspace_root();
    let crate_dir = builder::target_dir(&root).join("golden-check");
    let src = crate_dir.join("src");
    std::fs::create_dir_all(&src).unwrap();

    let mut modules = Vec::new();
    for case in &cases() {
        // Warning-only fixtures compile too (`W0203-no-model-apis` is the
        // empty plan); folders with errors have nothing to compile.
        let compiled = match (&case.expect, gatesmith::compile(&read(case))) {
            (_, Ok(compiled)) => compiled,
            (Expect::Valid, Err(_)) => panic!("{} has errors; see the snapshot test", case.display),
            (_, Err(_)) => continue,
        };
        let module = module_name(&case.name);
        builder::write_if_changed(&src.join(format!("{module}.rs")), &compiled.rust).unwrap();
        modules.push(module);
    }
    // Drop modules of folders that no longer exist.
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        if stem != "lib" && !modules.contains(&stem) {
            std::fs::remove_file(&path).unwrap();
        }
    }
    let mut lib = String::from(
        "//! Every golden plan under specs/, compiled together.\n#![deny(warnings)]\n",
    );
    for module in &modules {
        lib.push_str(&format!("pub mod {module};\n"));
    }
    builder::write_if_changed(&src.join("lib.rs"), &lib).unwrap();

    let crate_dir = crate_dir.canonicalize().unwrap();
    let root = root.canonicalize().unwrap();
    let manifest = builder::cargo_toml(
        "golden-check",
        &builder::runtime_dependency_path(&crate_dir, &root),
        &builder::workspace_profiles(&root).unwrap(),
    );
    builder::write_if_changed(&crate_dir.join("Cargo.toml"), &manifest).unwrap();
    builder::copy_workspace_lock(&root, &crate_dir).unwrap();

    let output = builder::cargo_command(&root)
        .arg("check")
        .arg("--quiet")
        .arg("--manifest-path")
        .arg(crate_dir.join("Cargo.toml"))
        .output()
        .expect("running cargo");
    assert!(
        output.status.success(),
        "generated goldens do not compile:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
