//! One module per subcommand, plus what they share: the opened [`Workspace`] and the
//! task report (table rows and SPEC §6 JSON).

pub mod completions;
pub mod demo;
pub mod init;
pub mod list;
pub mod logs;
pub mod man;
pub mod merge;
pub mod path;
pub mod pick;
pub mod prune;
pub mod run_task;
pub mod show;
pub mod spawn;
pub mod stop;
pub mod trust;
pub mod wait;
pub mod watch;

use anyhow::Result;
use std::path::PathBuf;

use crate::cli::Ctx;
use crate::config::{self, Flags, GitConfig, Global};
use crate::error::Error;
use crate::git::Repo;
use crate::inventory;
use crate::manifest::{self, Manifest};
use crate::store::{Record, Store};
use crate::task::TaskId;

/// The repository, its state store, its git config and (if there is one) its manifest.
pub struct Workspace {
    pub repo: Repo,
    pub store: Store,
    pub git: GitConfig,
    pub manifest: Option<Manifest>,
}

impl Workspace {
    pub fn open(ctx: &Ctx) -> Result<Workspace> {
        Self::open_with(ctx, false)
    }

    /// For commands that only read or clean up (list, show, logs, path, prune): a broken
    /// manifest is a warning, not a reason to refuse looking at or removing tasks.
    pub fn open_lenient(ctx: &Ctx) -> Result<Workspace> {
        Self::open_with(ctx, true)
    }

    fn open_with(ctx: &Ctx, lenient: bool) -> Result<Workspace> {
        let repo = Repo::discover()?;
        let git = GitConfig::load(&repo.local());
        let loaded =
            manifest_path(ctx, &repo, &git).and_then(|p| p.map(|p| manifest::load(&p)).transpose());
        let manifest = match loaded {
            Ok(m) => m,
            Err(e) if lenient => {
                ctx.ui
                    .warn(&format!("{} (manifest tasks are left out)", e.message));
                None
            }
            Err(e) => return Err(e.into()),
        };
        let store = Store::new(&repo.common_dir);
        // A detached batch's end, shown once by the next command on a terminal.
        if ctx.ui.stderr_tty && !ctx.ui.quiet {
            for line in crate::engine::notify::take_ended(&store) {
                ctx.ui.status(&line);
            }
        }
        Ok(Workspace {
            repo,
            store,
            git,
            manifest,
        })
    }

    pub fn global(&self, flags: &Flags) -> Result<Global, Error> {
        let global = config::resolve_global(
            flags,
            &self.git,
            self.manifest.as_ref(),
            &self.repo.root,
            &self.repo.name(),
        )?;
        config::check_worktree_dir(&global.worktree_dir, &self.repo.root, &self.repo.common_dir)?;
        Ok(global)
    }

    /// Every task as the repository shows it, filtered to `ids` when there are any
    /// (see [`crate::inventory::collect`]).
    pub fn inventory(&self, ids: &[TaskId], all: bool) -> Result<Vec<inventory::Row>> {
        let mut rows = self.inventory_skeleton(ids, all)?;
        inventory::fill(&self.repo, &mut rows, |_, _| {});
        Ok(rows)
    }

    /// The rows as far as they are known without reading any worktree; complete them
    /// with [`inventory::fill`].
    pub fn inventory_skeleton(&self, ids: &[TaskId], all: bool) -> Result<Vec<inventory::Row>> {
        let global = self.global(&Flags::default())?;
        let sources = inventory::Sources {
            repo: &self.repo,
            store: &self.store,
            git: &self.git,
            manifest: self.manifest.as_ref(),
            global: &global,
        };
        inventory::skeleton(&sources, ids, all)
    }

    /// A task's record, or a usage error naming the id.
    pub fn record(&self, id: &str) -> Result<Record> {
        match self.store.load(id)? {
            Some(r) => Ok(r),
            None if crate::engine::candidates::is_group(&self.store, id) => {
                Err(crate::engine::candidates::name_a_candidate(&self.store, id).into())
            }
            None => Err(Error::usage(format!(
                "no task {id:?} has been spawned in this repository"
            ))
            .with_hint("see the tasks with: git agents list")
            .into()),
        }
    }
}

/// `--manifest` (relative to the current directory) > `agents.manifest` (relative to the
/// main worktree root) > `agents.yaml`, else `.agents.yaml`, at the root. A named file
/// that does not exist is an error; a missing default just means "no manifest". Anything
/// that is there but is not a regular file (a directory, a fifo) is an error, found from
/// its metadata: a fifo is never opened, it would block.
fn manifest_path(ctx: &Ctx, repo: &Repo, git: &GitConfig) -> Result<Option<PathBuf>, Error> {
    let named = |p: PathBuf, from: &str| match manifest::file_problem(&p) {
        None => Ok(Some(p)),
        Some(problem) => Err(Error::usage(format!(
            "manifest {}{from} {problem}",
            p.display()
        ))),
    };
    if let Some(p) = &ctx.manifest {
        let p = std::path::absolute(p)
            .map_err(|e| Error::usage(format!("manifest {}: {e}", p.display())))?;
        return named(p, "");
    }
    if let Some(p) = git.get(config::keys::MANIFEST) {
        let from = format!(" (from git config {})", config::keys::MANIFEST);
        return named(repo.root.join(p), &from);
    }
    for name in ["agents.yaml", ".agents.yaml"] {
        let p = repo.root.join(name);
        // Absent (a dangling symlink included): try the next name.
        if std::fs::metadata(&p).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound) {
            continue;
        }
        return match manifest::file_problem(&p) {
            None => Ok(Some(p)),
            Some(problem) => Err(Error::usage(format!("manifest {} {problem}", p.display()))),
        };
    }
    Ok(None)
}

impl Workspace {
    /// Let a manifest that came with the repository run its commands: trust decides,
    /// the user is asked at a terminal (and the yes recorded), else refuse. Nothing is
    /// written unless the user said yes.
    pub fn ensure_trusted(&self, ui: &crate::ui::Ui, trust_flag: bool) -> Result<()> {
        let Some(m) = &self.manifest else {
            return Ok(());
        };
        let crate::trust::Decision::NeedsConfirmation(request) =
            crate::trust::ensure(&self.repo, m, trust_flag)
        else {
            return Ok(());
        };
        if !ui.can_prompt() {
            return Err(request.refused().into());
        }
        for line in request.summary() {
            ui.status(&line);
        }
        if !ui.confirm(crate::trust::Request::QUESTION, false)? {
            return Err(request.declined().into());
        }
        crate::trust::record(&self.repo, m, &request.hash)
    }
}
