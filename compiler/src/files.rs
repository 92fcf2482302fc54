//! Reads a spec folder from disk into a [`SpecFolder`], and the path arithmetic the CLI and builder share.

use std::io;
use std::path::{Component, Path, PathBuf};

use crate::source::{SourceFile, SpecFolder};

/// Reads every `*.yaml` / `*.yml` file in `dir` and its subfolders, sorted by
/// their `/`-separated path relative to `dir`.
pub fn read_spec_folder(dir: &Path) -> io::Result<SpecFolder> {
    if !dir.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("{} is not a folder", dir.display()),
        ));
    }
    let mut paths = Vec::new();
    collect_yaml_files(dir, &mut paths)?;
    let mut files = Vec::with_capacity(paths.len());
    for path in paths {
        let text = std::fs::read_to_string(&path).map_err(|error| {
            io::Error::new(error.kind(), format!("reading {}: {error}", path.display()))
        })?;
        let relative = path.strip_prefix(dir).unwrap_or(&path);
        files.push(SourceFile {
            name: slash_path(relative),
            text,
        });
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(SpecFolder {
        display: display_name(dir),
        files,
    })
}

fn collect_yaml_files(dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|error| {
        io::Error::new(error.kind(), format!("reading {}: {error}", dir.display()))
    })?;
    for entry in entries {
        let path = entry?.path();
        if path.is_dir() {
            collect_yaml_files(&path, out)?;
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            out.push(path);
        }
    }
    Ok(())
}

/// How a folder is named in diagnostics and generated headers: relative and
/// `/`-separated, so output never depends on where the checkout lives.
pub fn display_name(dir: &Path) -> String {
    let relative = if dir.is_absolute() {
        std::env::current_dir()
            .ok()
            .and_then(|cwd| relative_path(&cwd, dir))
            .unwrap_or_else(|| dir.to_path_buf())
    } else {
        dir.to_path_buf()
    };
    let text = slash_path(&relative);
    if text.is_empty() {
        ".".to_owned()
    } else {
        text
    }
}

/// Joins the normal components of `path` with `/`, dropping `.` components
/// (so `./specs/x/` becomes `specs/x`).
pub fn slash_path(path: &Path) -> String {
    let mut parts = Vec::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => parts.push("..".to_owned()),
            Component::Normal(part) => parts.push(part.to_string_lossy().into_owned()),
            Component::RootDir => parts.push(String::new()),
            Component::Prefix(prefix) => {
                parts.push(prefix.as_os_str().to_string_lossy().into_owned())
            }
        }
    }
    if parts.len() == 1 && parts[0].is_empty() {
        return "/".to_owned();
    }
    parts.join("/")
}

/// The path that leads from folder `from` to `to`, both absolute (and
/// ideally canonical); `None` when they share no root (another drive).
pub fn relative_path(from: &Path, to: &Path) -> Option<PathBuf> {
    let from: Vec<_> = from
        .components()
        .filter(|c| *c != Component::CurDir)
        .collect();
    let to: Vec<_> = to
        .components()
        .filter(|c| *c != Component::CurDir)
        .collect();
    if from.first() != to.first() {
        return None;
    }
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut path = PathBuf::new();
    for _ in common..from.len() {
        path.push("..");
    }
    for component in &to[common..] {
        path.push(component.as_os_str());
    }
    Some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_are_relative_and_slash_separated() {
        assert_eq!(
            display_name(Path::new("./specs/quickstart/")),
            "specs/quickstart"
        );
        assert_eq!(
            display_name(Path::new("specs/quickstart")),
            "specs/quickstart"
        );
        assert_eq!(display_name(Path::new(".")), ".");
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(display_name(&cwd.join("specs").join("x")), "specs/x");
    }

    #[test]
    fn relative_paths_climb_then_descend() {
        let rel = relative_path(Path::new("/w/target/gateways/qs"), Path::new("/w/runtime"));
        assert_eq!(rel, Some(PathBuf::from("../../../runtime")));
        let rel = relative_path(Path::new("/w"), Path::new("/w/runtime"));
        assert_eq!(rel, Some(PathBuf::from("runtime")));
        assert_eq!(
            relative_path(Path::new("/w"), Path::new("/w")),
            Some(PathBuf::new())
        );
    }

    #[test]
    fn reads_yaml_files_recursively_sorted_and_skips_others() {
        let dir = std::env::temp_dir().join(format!("gatesmith-files-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("b.yaml"), "kind: B\n").unwrap();
        std::fs::write(dir.join("a.yml"), "kind: A\n").unwrap();
        std::fs::write(dir.join("sub").join("c.yaml"), "kind: C\n").unwrap();
        std::fs::write(dir.join("notes.txt"), "not a spec").unwrap();
        let folder = read_spec_folder(&dir).unwrap();
        let names: Vec<_> = folder.files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["a.yml", "b.yaml", "sub/c.yaml"]);
        assert_eq!(folder.files[2].text, "kind: C\n");
        assert!(!folder.display.starts_with('/'), "{}", folder.display);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_folder_is_an_error() {
        assert!(read_spec_folder(Path::new("no/such/folder")).is_err());
    }
}
