//! Spec folders and source files held in memory, with spans that point into them.

/// A spec folder read into memory: one environment's specs.
#[derive(Debug, Clone)]
pub struct SpecFolder {
    /// How the folder is named in diagnostics, headers and snapshots:
    /// relative, `/`-separated (e.g. `specs/quickstart`), never absolute.
    pub display: String,
    /// Sorted by name.
    pub files: Vec<SourceFile>,
}

/// One YAML file of a spec folder.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Path relative to the spec folder, `/`-separated.
    pub name: String,
    pub text: String,
}

/// Index into [`SpecFolder::files`].
pub type FileId = usize;

/// A byte range in one source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span {
    pub file: FileId,
    /// Byte offsets into the file's text.
    pub start: usize,
    pub end: usize,
}
