//! The sandbox and runner settings of one task, each from flag (`--sandbox`), task
//! entry, git config (`agents.sandbox`, `agents.sandboxWrite`, `agents.sandboxNetwork`,
//! `agents.runner`, `agents.runnerImage`, `agents.runnerStop`) and manifest top level.

use super::{Flags, GitConfig, bad_value, keys};
use crate::error::Error;
use crate::manifest::Layer;
use crate::runner::{Runner, Spec};
use crate::sandbox::{Sandbox, Settings};

pub(super) fn resolve(
    flags: &Flags,
    task: &Layer,
    git: &GitConfig,
    top: &Layer,
) -> Result<Settings, Error> {
    let git_sandbox = match git.get(keys::SANDBOX) {
        Some(s) => Some(
            Sandbox::parse(s.trim())
                .ok_or_else(|| bad_value(keys::SANDBOX, s, &crate::sandbox::NAMES.join(" or ")))?,
        ),
        None => None,
    };
    let git_write = match git.all(keys::SANDBOX_WRITE) {
        Some(list) => Some(
            list.iter()
                .map(|p| {
                    crate::sandbox::check_write_path(p).map_err(|e| {
                        bad_value(
                            keys::SANDBOX_WRITE,
                            p,
                            &format!("an absolute path other than / ({e})"),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
        None => None,
    };
    let git_network = match git.get(keys::SANDBOX_NETWORK) {
        Some(v) => Some(
            parse_bool(v).ok_or_else(|| bad_value(keys::SANDBOX_NETWORK, v, "true or false"))?,
        ),
        None => None,
    };
    let git_runner = match git.get(keys::RUNNER).filter(|r| !r.trim().is_empty()) {
        Some(r) => Some(crate::runner::parse_spec(r).map_err(|e| {
            bad_value(
                keys::RUNNER,
                r,
                &format!("docker, podman or a command ({e})"),
            )
        })?),
        None => None,
    };
    let git_stop = match git.get(keys::RUNNER_STOP).filter(|r| !r.trim().is_empty()) {
        Some(r) => Some(
            crate::manifest::split_command(r)
                .map_err(|e| e.to_string())
                .and_then(|t| crate::runner::check_template("runner_stop", &t).map(|_| t))
                .map_err(|e| bad_value(keys::RUNNER_STOP, r, &format!("a command ({e})")))?,
        ),
        None => None,
    };
    let git_image = git
        .get(keys::RUNNER_IMAGE)
        .filter(|i| !i.trim().is_empty())
        .map(str::to_string);

    let sandbox = flags
        .sandbox
        .or(task.sandbox)
        .or(git_sandbox)
        .or(top.sandbox)
        .unwrap_or_default();
    let runner: Option<Spec> = task.runner.clone().or(git_runner).or(top.runner.clone());
    let runner = runner.map(|spec| Runner {
        spec,
        image: task
            .runner_image
            .clone()
            .or(git_image)
            .or(top.runner_image.clone()),
        stop: task
            .runner_stop
            .clone()
            .or(git_stop)
            .or(top.runner_stop.clone()),
    });
    Ok(Settings {
        sandbox,
        write: task
            .sandbox_write
            .clone()
            .or(git_write)
            .or(top.sandbox_write.clone())
            .unwrap_or_default(),
        network: task
            .sandbox_network
            .or(git_network)
            .or(top.sandbox_network)
            .unwrap_or(true),
        // `--sandbox none` drops a runner too: the flag says how this run is isolated.
        runner: if flags.sandbox == Some(Sandbox::None) {
            None
        } else {
            runner
        },
    })
}

/// A git config boolean as git spells it.
fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Some(true),
        "false" | "no" | "off" | "0" | "" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_and_bad_values() {
        let top = Layer {
            sandbox: Some(Sandbox::Bwrap),
            sandbox_network: Some(false),
            ..Layer::default()
        };
        let s = resolve(
            &Flags::default(),
            &Layer::default(),
            &GitConfig::default(),
            &top,
        )
        .unwrap();
        assert_eq!(s.sandbox, Sandbox::Bwrap);
        assert!(!s.network);
        let git = GitConfig::from_pairs([("agents.sandbox", "none")]);
        let s = resolve(&Flags::default(), &Layer::default(), &git, &top).unwrap();
        assert_eq!(s.sandbox, Sandbox::None);
        for (k, v) in [
            ("agents.sandbox", "firejail"),
            ("agents.sandboxWrite", "rel/dir"),
            ("agents.sandboxWrite", "/"),
            ("agents.sandboxNetwork", "maybe"),
            ("agents.runner", "x {nope}"),
        ] {
            let git = GitConfig::from_pairs([(k, v)]);
            let e = resolve(&Flags::default(), &Layer::default(), &git, &top).unwrap_err();
            assert!(e.message.contains(k), "{}", e.message);
        }
    }
}
