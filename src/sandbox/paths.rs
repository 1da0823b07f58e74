//! Path rules for `sandbox_write`: absolute (or `~/…`, the user's home), never `/`
//! itself, no `..`; the paths a sandbox re-exposes.

use std::path::{Component, Path, PathBuf};

/// `~/x` → `$HOME/x`; an absolute path as it is; anything else `None`.
pub fn expand_home(p: &str) -> Option<PathBuf> {
    if let Some(rest) = p.strip_prefix("~/") {
        let home = std::env::var_os("HOME").filter(|h| !h.is_empty())?;
        return Some(Path::new(&home).join(rest));
    }
    let path = Path::new(p);
    path.is_absolute().then(|| path.to_path_buf())
}

/// A `sandbox_write` entry, checked: why it is refused, or the path it names.
pub fn check_write_path(p: &str) -> Result<PathBuf, String> {
    if p.trim().is_empty() {
        return Err("an empty path".into());
    }
    let Some(path) = expand_home(p) else {
        return Err(format!("{p:?} is relative; give an absolute path (or ~/…)"));
    };
    if path.components().any(|c| c == Component::ParentDir) {
        return Err(format!("{p:?} has a `..`; give the path itself"));
    }
    if path.components().all(|c| c == Component::RootDir) {
        return Err(format!(
            "{p:?} would make the whole filesystem writable; name the \
             directories the agent needs"
        ));
    }
    Ok(path)
}

/// Whether `p` lies under the sandbox's private `/tmp` (and so must be bound again to
/// stay visible).
pub(super) fn under_tmp(p: &Path) -> bool {
    p.starts_with("/tmp") && p != Path::new("/tmp")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_paths() {
        assert!(check_write_path("relative/dir").is_err());
        assert!(check_write_path("/").is_err());
        assert!(check_write_path("//").is_err());
        assert!(check_write_path("/a/../b").is_err());
        assert!(check_write_path("").is_err());
        assert_eq!(
            check_write_path("/var/cache").unwrap(),
            Path::new("/var/cache")
        );
        assert!(under_tmp(Path::new("/tmp/x")));
        assert!(!under_tmp(Path::new("/tmp")));
        assert!(!under_tmp(Path::new("/tmpx")));
    }
}
