//! Submodule commits that live only inside a linked worktree.
//!
//! `git submodule update --init` (or `submodule add`) in a linked worktree clones each
//! submodule into that worktree's own admin dir, `<common dir>/worktrees/<id>/modules/
//! <name>`, not into the main `<common dir>/modules/<name>`. A commit an agent makes
//! inside such a submodule exists nowhere else: removing the worktree (prune, a retry)
//! would delete it, even when the superproject's gitlink to it was merged.
//!
//! So before a worktree's admin dir goes, each store in it is checked for commits its
//! remote does not have (its HEAD, local branches and tags, and the commits the task's
//! gitlinks name) and they are kept: fetched into the main store under
//! `refs/agents/kept/<task id>/<sha>`, or, when the main checkout never initialised that
//! submodule, the whole store is moved to `<common dir>/modules/<name>`, where
//! `git submodule update --init` picks it up. Nested submodules are handled the same way,
//! one level down. Symlinks are never followed.

use anyhow::{Context as _, Result, anyhow};
use std::fs;
use std::path::{Path, PathBuf};

use crate::git;

/// What was done (or would be) to keep one submodule's commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kept {
    /// `commits` fetched into the main store `into`.
    Fetched {
        name: String,
        into: PathBuf,
        commits: Vec<String>,
    },
    /// The worktree's store moved to `to` (the main checkout had none), for `commits`.
    Moved {
        name: String,
        to: PathBuf,
        commits: Vec<String>,
    },
}

impl Kept {
    /// One line for the user; `root` shortens paths inside the repository.
    pub fn describe(&self, would: bool, root: &Path) -> String {
        let rel = |p: &Path| {
            p.strip_prefix(root)
                .map(|r| r.display().to_string())
                .unwrap_or_else(|_| p.display().to_string())
        };
        let n = |c: &[String]| format!("{} commit{}", c.len(), if c.len() == 1 { "" } else { "s" });
        match self {
            Kept::Fetched {
                name,
                into,
                commits,
            } => format!(
                "{} {} of submodule {name} into {} (refs/agents/kept/)",
                if would { "keep" } else { "kept" },
                n(commits),
                rel(into)
            ),
            Kept::Moved { name, to, commits } => format!(
                "{} submodule {name}'s store ({} only there) to {}",
                if would { "move" } else { "moved" },
                n(commits),
                rel(to)
            ),
        }
    }
}

/// A submodule store found in a worktree's admin dir, and where its main copy is.
#[derive(Debug)]
struct Store {
    name: String,
    dir: PathBuf,
    main: PathBuf,
}

/// Every store under `modules` (a `modules/` dir of an admin dir or of a store), paired
/// with its place under `main_modules`; nested stores come after their parent.
fn stores(modules: &Path, main_modules: &Path, prefix: &str, out: &mut Vec<Store>) {
    let Ok(entries) = fs::read_dir(modules) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        // Never through a symlink: the admin dir is the agent's to write.
        if !e.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let dir = e.path();
        let file_name = e.file_name().to_string_lossy().into_owned();
        let name = format!("{prefix}{file_name}");
        let main = main_modules.join(e.file_name());
        if is_git_dir(&dir) {
            out.push(Store {
                name: name.clone(),
                dir: dir.clone(),
                main: main.clone(),
            });
            stores(
                &dir.join("modules"),
                &main.join("modules"),
                &format!("{name}/"),
                out,
            );
        } else {
            // A submodule name with slashes (`libs/a`) is a path of directories here.
            stores(&dir, &main, &format!("{name}/"), out);
        }
    }
}

fn is_git_dir(dir: &Path) -> bool {
    let meta = |p: PathBuf| fs::symlink_metadata(p).ok();
    meta(dir.join("HEAD")).is_some_and(|m| m.is_file())
        && meta(dir.join("objects")).is_some_and(|m| m.is_dir())
}

/// The commits of `store` that its remote does not have: its tips, and the gitlinks in
/// `links` that it holds.
fn local_commits(store: &Path, links: &[String]) -> Result<Vec<String>> {
    let mut tips = git::store::tips(store)?;
    tips.extend(
        links
            .iter()
            .filter(|l| git::store::has_commit(store, l))
            .cloned(),
    );
    tips.sort();
    tips.dedup();
    Ok(tips
        .into_iter()
        .filter(|t| !git::store::on_a_remote(store, t))
        .collect())
}

/// Keep the commits that exist only in the submodule stores of the worktree whose admin
/// dir is `admin_dir` (see the module docs). `tips` are the superproject commits whose
/// gitlinks count (the task's branch tip, the worktree's HEAD). With `dry_run`, only says
/// what it would do. An error means something could not be kept: the caller must not
/// remove the admin dir (unless forced, after logging [`pending`]'s commits).
pub fn keep(
    common_dir: &Path,
    root: &Path,
    admin_dir: &Path,
    tips: &[gix::ObjectId],
    id: &str,
    dry_run: bool,
) -> Result<Vec<Kept>> {
    let mut found = Vec::new();
    stores(
        &admin_dir.join("modules"),
        &common_dir.join("modules"),
        "",
        &mut found,
    );
    if found.is_empty() {
        return Ok(Vec::new());
    }
    let mut links = Vec::new();
    for tip in tips {
        links.extend(git::gitlinks(root, &tip.to_string()).unwrap_or_default());
    }
    let mut done = Vec::new();
    // Stores inside one that moves go with it.
    let mut moved: Vec<PathBuf> = Vec::new();
    for s in found {
        if moved.iter().any(|m| s.dir.starts_with(m)) {
            continue;
        }
        let local = local_commits(&s.dir, &links)
            .with_context(|| format!("cannot read submodule {}'s store", s.name))?;
        if local.is_empty() {
            continue;
        }
        match fs::symlink_metadata(&s.main) {
            Err(_) => {
                if !dry_run {
                    if let Some(parent) = s.main.parent() {
                        fs::create_dir_all(parent)
                            .with_context(|| format!("cannot create {}", parent.display()))?;
                    }
                    fs::rename(&s.dir, &s.main).with_context(|| {
                        format!(
                            "cannot move submodule {}'s store to {}",
                            s.name,
                            s.main.display()
                        )
                    })?;
                    // It pointed at the worktree's checkout, which is about to go.
                    git::store::forget_worktree(&s.main)?;
                }
                moved.push(s.dir.clone());
                done.push(Kept::Moved {
                    name: s.name,
                    to: s.main,
                    commits: local,
                });
            }
            Ok(m) if m.is_dir() && is_git_dir(&s.main) => {
                let missing: Vec<String> = local
                    .into_iter()
                    .filter(|c| !git::store::has_reachable(&s.main, c))
                    .collect();
                if missing.is_empty() {
                    continue;
                }
                if !dry_run {
                    git::store::fetch_commits(
                        &s.dir,
                        &s.main,
                        &missing,
                        &format!("refs/agents/kept/{id}/"),
                    )
                    .with_context(|| format!("cannot keep submodule {}'s commits", s.name))?;
                }
                done.push(Kept::Fetched {
                    name: s.name,
                    into: s.main,
                    commits: missing,
                });
            }
            Ok(_) => {
                return Err(anyhow!(
                    "submodule {} has commits only in this worktree, and {} is not a git directory to keep them in",
                    s.name,
                    s.main.display()
                ));
            }
        }
    }
    Ok(done)
}

/// The commits that only the worktree's submodule stores hold, as `(name, sha)`: what a
/// forced removal logs when [`keep`] failed.
pub fn pending(admin_dir: &Path, root: &Path, tips: &[gix::ObjectId]) -> Vec<(String, String)> {
    let mut found = Vec::new();
    stores(
        &admin_dir.join("modules"),
        Path::new("/nonexistent"),
        "",
        &mut found,
    );
    let mut links = Vec::new();
    for tip in tips {
        links.extend(git::gitlinks(root, &tip.to_string()).unwrap_or_default());
    }
    let mut out = Vec::new();
    for s in found {
        for c in local_commits(&s.dir, &links).unwrap_or_default() {
            out.push((s.name.clone(), c));
        }
    }
    out
}
