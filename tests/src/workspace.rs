//! Where things are: the repository root, the shared cargo target dir, and the test specs.

use std::path::PathBuf;

/// The repository root (the workspace holding `compiler/`, `runtime/`, `specs/`).
pub fn root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .expect("the e2e crate lives one level below the workspace root")
        .to_path_buf()
}

/// The cargo target dir shared by the workspace and every generated gateway.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                root().join(dir)
            }
        }
        _ => root().join("target"),
    }
}

/// Scratch space of the e2e tests inside the target dir (locks, build markers, gateway crates).
pub fn scratch_dir() -> PathBuf {
    target_dir().join("e2e")
}

/// A spec folder given relative to the repository root, e.g. `specs/quickstart` or `tests/specs/e2e`.
pub fn spec_dir(relative: &str) -> PathBuf {
    root().join(relative)
}

/// The cargo executable that runs this test (so a pinned toolchain is honoured).
pub fn cargo() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}
