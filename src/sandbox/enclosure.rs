//! One attempt's enclosure: what wraps each of its jobs (bubblewrap, a runner, or
//! nothing), prepared before the job and settled after it.

use anyhow::{Context as _, Result, bail};
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use super::bwrap::{self, Mounts};
use super::paths::under_tmp;
use super::refs::{self, Prepared};
use super::{Sandbox, Settings};
use crate::git::Repo;
use crate::store::Store;

/// Who the jobs work for, and where.
pub struct Enclosure<'a> {
    pub settings: &'a Settings,
    /// The agent's program as its template names it (its state dirs follow from it).
    pub program: &'a str,
    /// Where that program was found (kept visible when it lies under `/tmp`).
    pub program_path: &'a Path,
    pub repo: &'a Repo,
    pub store: &'a Store,
    pub task: &'a str,
    pub branch: &'a str,
    pub worktree: &'a Path,
    pub base: &'a str,
    pub prompt_file: &'a Path,
    pub attempt: u32,
    pub port: Option<u16>,
}

/// One job's wrapping, between [`Enclosure::prepare`] and [`Enclosure::land`].
pub struct Ready {
    refs: Option<Prepared>,
    how: How,
}

enum How {
    Plain,
    Bwrap { bwrap: PathBuf, mounts: Box<Mounts> },
    Runner { container: String },
}

/// A job's command line after wrapping, and the command that stops it from outside.
pub struct Wrapped {
    pub program: OsString,
    pub args: Vec<String>,
    pub stop: Option<Vec<String>>,
}

fn utf8(p: &OsStr) -> Result<String> {
    p.to_str()
        .map(str::to_string)
        .with_context(|| format!("a sandbox needs UTF-8 paths, not {}", p.to_string_lossy()))
}

impl Enclosure<'_> {
    /// Make what the next job needs: for a sandbox, the private view of the branch's
    /// ref dir and the list of mounts.
    pub fn prepare(&self) -> Result<Ready> {
        if self.settings.runner.is_some() {
            return Ok(Ready {
                refs: None,
                how: How::Runner {
                    container: crate::runner::container_name(self.task, self.attempt),
                },
            });
        }
        if self.settings.sandbox != Sandbox::Bwrap {
            return Ok(Ready {
                refs: None,
                how: How::Plain,
            });
        }
        let bwrap = which::which("bwrap").context("bwrap is no longer on PATH")?;
        let common = &self.repo.common_dir;
        let admin = match crate::worktree::find(common, self.worktree) {
            crate::worktree::Found::Linked(a) => a.dir,
            _ => bail!(
                "cannot find the git admin dir of worktree {}",
                self.worktree.display()
            ),
        };
        // Read by git only with extensions.worktreeConfig, and then by git-agents' own git
        // commands outside the sandbox too: it exists, empty if it was not there, to be
        // bound read-only.
        let wt_config = admin.join("config.worktree");
        if !wt_config.exists() {
            std::fs::File::create(&wt_config)
                .with_context(|| format!("cannot create {}", wt_config.display()))?;
        }
        let tip = self.repo.branch_tip(self.branch).map(|t| t.to_string());
        let private = self.store.dir.join("sandbox").join(self.task).join("refs");
        let prepared = refs::prepare(common, self.branch, tip, &private)?;
        let mut visible: Vec<PathBuf> = vec![self.repo.root.clone(), common.clone()];
        visible.extend(self.worktree.parent().map(Path::to_path_buf));
        for var in ["HOME", "GIT_CONFIG_GLOBAL", "XDG_CONFIG_HOME"] {
            visible.extend(std::env::var_os(var).map(PathBuf::from));
        }
        if let Some(path) = std::env::var_os("PATH") {
            visible.extend(std::env::split_paths(&path));
        }
        if let Some(dir) = self.program_path.parent() {
            visible.push(dir.to_path_buf());
        }
        visible.retain(|p| p.is_absolute() && under_tmp(p));
        // One mount per tree: a path inside another one is visible with it.
        visible.sort();
        visible.dedup();
        let all = visible.clone();
        visible.retain(|p| !all.iter().any(|q| q != p && p.starts_with(q)));
        let mounts = Mounts {
            visible,
            write: self.settings.writable(self.program),
            worktree: self.worktree.to_path_buf(),
            objects: common.join("objects"),
            admin: Some(admin),
            refs: Some(prepared.dir.clone()),
            reflog: Some(prepared.reflog.clone()),
            network: self.settings.network,
            dir: self.worktree.to_path_buf(),
        };
        Ok(Ready {
            refs: Some(prepared),
            how: How::Bwrap {
                bwrap,
                mounts: Box::new(mounts),
            },
        })
    }

    /// The job's command line wrapped: `program args` run from `dir` with `env`.
    pub fn wrap(
        &self,
        ready: &Ready,
        program: &OsStr,
        args: &[String],
        env: &[(String, String)],
        prompt: &str,
    ) -> Result<Wrapped> {
        match &ready.how {
            How::Plain => Ok(Wrapped {
                program: program.to_os_string(),
                args: args.to_vec(),
                stop: None,
            }),
            How::Bwrap { bwrap, mounts } => {
                let mut all = bwrap::argv(mounts)
                    .iter()
                    .map(|a| utf8(a))
                    .collect::<Result<Vec<_>>>()?;
                all.push(utf8(program)?);
                all.extend(args.iter().cloned());
                Ok(Wrapped {
                    program: bwrap.clone().into_os_string(),
                    args: all,
                    stop: None,
                })
            }
            How::Runner { container } => {
                let r = self.settings.runner.as_ref().context("no runner")?;
                let worktree = utf8(self.worktree.as_os_str())?;
                let common = utf8(self.repo.common_dir.as_os_str())?;
                let prompt_file = utf8(self.prompt_file.as_os_str())?;
                let port = self.port.map(|p| p.to_string()).unwrap_or_default();
                let vars = crate::runner::Vars {
                    prompt,
                    prompt_file: &prompt_file,
                    task: self.task,
                    branch: self.branch,
                    worktree: &worktree,
                    base: self.base,
                    common_dir: &common,
                    container,
                    image: r.image.as_deref().unwrap_or(""),
                    port: &port,
                };
                let names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
                let mut rest = crate::runner::prefix(r, &vars, &names, self.port);
                if rest.is_empty() {
                    bail!("an empty runner");
                }
                let head = rest.remove(0);
                rest.push(utf8(program)?);
                rest.extend(args.iter().cloned());
                let stop = r
                    .stop_template()
                    .map(|t| t.iter().map(|a| crate::runner::expand(a, &vars)).collect());
                Ok(Wrapped {
                    program: head.into(),
                    args: rest,
                    stop,
                })
            }
        }
    }

    /// After the job: bring what it committed on its private branch onto the real one.
    /// `Err` says why the branch was not moved.
    pub fn land(&self, ready: Ready) -> Result<(), String> {
        let (Some(p), How::Bwrap { mounts, .. }) = (&ready.refs, &ready.how) else {
            return Ok(());
        };
        let landed = refs::land(p, &self.repo.root, self.branch, self.store, self.task);
        // Only the job needed it (the next one gets a fresh one); its task dir goes too.
        if let Some(task_dir) = p.dir.private.parent() {
            let _ = std::fs::remove_dir_all(task_dir);
        }
        if let Some(admin) = &mounts.admin {
            refs::check_head(admin, self.branch)?;
        }
        landed
    }
}
