//! gatesmith: compiles a folder of gateway specs into the Rust plan of a purpose-built gateway.
//!
//! The whole pipeline is [`compile`]: parse -> schema check -> typed AST ->
//! validate (returns the proof type [`validate::Valid`]) -> lower to
//! [`ir::Plan`] -> emit tokens -> format. Only the first four stages can
//! report errors; lowering, emitting and formatting cannot fail. File IO
//! happens only in `files`, `builder` and the CLI.

pub mod ast;
pub mod builder;
pub mod catalog;
pub mod diagnostic;
pub mod emit;
mod emit_model_service;
pub mod explain;
pub mod files;
pub mod format;
pub mod glob;
pub mod ir;
pub mod lower;
pub mod providers;
pub mod routes_table;
pub mod schema;
pub mod source;
pub mod syntax;
pub mod validate;

use diagnostic::Diagnostics;
use source::SpecFolder;

/// Everything `gatesmith build` writes, computed without touching the disk.
#[derive(Debug)]
pub struct Compiled {
    pub plan: ir::Plan,
    /// The human-readable route table (what reviewers read).
    pub routes: String,
    /// The generated `plan.rs`, formatted, with its `@generated` header.
    pub rust: String,
    /// Warnings only: a spec with errors never gets here.
    pub warnings: Diagnostics,
}

/// Checks a spec folder: every error at once, or the proof that it is valid.
pub fn check(folder: &SpecFolder) -> Result<(validate::Valid, Diagnostics), Diagnostics> {
    let mut diagnostics = Diagnostics::default();
    let documents = syntax::parse(folder, &mut diagnostics);
    schema::check(&documents, &mut diagnostics);
    let spec = ast::build(&documents, &mut diagnostics);
    let valid = validate::validate(spec, &mut diagnostics);
    match valid {
        Some(valid) if !diagnostics.has_errors() => Ok((valid, diagnostics)),
        _ => Err(diagnostics),
    }
}

/// Compiles a spec folder into the generated plan and its route table.
pub fn compile(folder: &SpecFolder) -> Result<Compiled, Diagnostics> {
    let (valid, warnings) = check(folder)?;
    let plan = lower::lower(&valid, &folder.display);
    let routes = routes_table::render(&plan);
    let rust = format::format(emit::emit(&plan), &plan);
    Ok(Compiled {
        plan,
        routes,
        rust,
        warnings,
    })
}
