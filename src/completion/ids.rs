//! The id source the scripts call: `GIT_AGENTS_COMPLETE=ids git-agents [-C DIR]
//! [--manifest FILE]` prints the task ids one per line.

use super::COMPLETE_ENV;

/// If `GIT_AGENTS_COMPLETE=ids` is set, print the task ids one per line and return the
/// exit code; the command line is read only for `-C` and `--manifest`. Any failure (no
/// repository, a broken manifest) prints fewer ids, never an error: completion must stay
/// quiet.
pub fn complete_from_env() -> Option<std::process::ExitCode> {
    let what = std::env::var_os(COMPLETE_ENV)?;
    if what != "ids" {
        return None;
    }
    let mut args = std::env::args_os().skip(1);
    let mut manifest = None;
    while let Some(arg) = args.next() {
        let text = arg.to_string_lossy().into_owned();
        if text == "-C" {
            if let Some(dir) = args.next()
                && !dir.is_empty()
                && std::env::set_current_dir(&dir).is_err()
            {
                return Some(std::process::ExitCode::SUCCESS);
            }
        } else if let Some(dir) = text.strip_prefix("-C").filter(|d| !d.is_empty()) {
            if std::env::set_current_dir(dir).is_err() {
                return Some(std::process::ExitCode::SUCCESS);
            }
        } else if text == "--manifest" {
            manifest = args.next().map(std::path::PathBuf::from);
        } else if let Some(m) = text.strip_prefix("--manifest=") {
            manifest = Some(m.into());
        }
    }
    let ui = crate::ui::Ui::new(crate::ui::ColorChoice::Never, true, false);
    let mut out = String::new();
    for id in task_ids(manifest) {
        out.push_str(&id);
        out.push('\n');
    }
    ui.out(&out);
    Some(std::process::ExitCode::SUCCESS)
}

/// Ids worth completing: every manifest task, in manifest order, then every task with a
/// record that is not a pruned tombstone.
pub fn task_ids(manifest: Option<std::path::PathBuf>) -> Vec<String> {
    let Ok(repo) = crate::git::Repo::discover() else {
        return Vec::new();
    };
    let git = crate::config::GitConfig::load(&repo.local());
    let mut ids: Vec<String> = Vec::new();
    let path = match manifest {
        Some(p) => std::path::absolute(p).ok(),
        None => match git.get(crate::config::keys::MANIFEST) {
            Some(p) => Some(repo.root.join(p)),
            None => ["agents.yaml", ".agents.yaml"]
                .iter()
                .map(|n| repo.root.join(n))
                .find(|p| p.is_file()),
        },
    };
    if let Some(m) = path.and_then(|p| crate::manifest::load(&p).ok()) {
        ids.extend(m.tasks.iter().map(|t| t.id.as_str().to_string()));
    }
    let store = crate::store::Store::new(&repo.common_dir);
    for rec in store.all().unwrap_or_default() {
        if !rec.pruned && !ids.contains(&rec.id) {
            ids.push(rec.id);
        }
    }
    ids
}
