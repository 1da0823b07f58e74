//! The git side of remote runs (`runner: remote`): the private refs a task travels
//! under (`refs/agents/{base,task,status}/<id>`), blobs written and read, pushes,
//! probes and fetches against the shared remote.

use super::*;

/// Write `bytes` as a blob into the repository at `dir`; its SHA.
pub fn write_blob(dir: &Path, bytes: &[u8]) -> Result<String> {
    Ok(
        run_with_input(dir, &["hash-object", "-w", "--stdin"], bytes)?
            .trim()
            .to_string(),
    )
}

/// The bytes of the blob `rev` names (a ref to a blob, or its SHA).
pub fn read_blob(dir: &Path, rev: &str) -> Result<Vec<u8>> {
    let out = output(dir, &["cat-file", "blob", rev])?;
    if !out.status.success() {
        return Err(anyhow!(
            "{rev} is not a blob: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(out.stdout)
}

/// Push `(source, destination ref)` pairs to `remote`, forced, in one go.
pub fn push_refs(dir: &Path, remote: &str, refs: &[(&str, &str)]) -> Result<()> {
    let mut args = vec![
        "push".to_string(),
        "--quiet".into(),
        "--force".into(),
        remote.into(),
    ];
    for (src, dst) in refs {
        args.push(format!("{src}:{dst}"));
    }
    run(dir, &args).map(|_| ())
}

/// Delete `refs` on `remote`; those already gone are no error.
pub fn delete_remote_refs(dir: &Path, remote: &str, refs: &[String]) -> Result<()> {
    let there = ls_remote(dir, remote, refs)?;
    let gone: Vec<&String> = refs.iter().filter(|r| there.contains_key(*r)).collect();
    if gone.is_empty() {
        return Ok(());
    }
    let mut args = vec!["push".to_string(), "--quiet".into(), remote.into()];
    args.extend(gone.iter().map(|r| format!(":{r}")));
    run(dir, &args).map(|_| ())
}

/// What `refs` point at on `remote` (absent refs are left out).
pub fn ls_remote(
    dir: &Path,
    remote: &str,
    refs: &[String],
) -> Result<std::collections::HashMap<String, String>> {
    let mut args = vec!["ls-remote".to_string(), remote.into()];
    args.extend(refs.iter().cloned());
    let text = run(dir, &args)?;
    Ok(text
        .lines()
        .filter_map(|l| {
            let (sha, name) = l.split_once('\t')?;
            Some((name.to_string(), sha.to_string()))
        })
        .collect())
}

/// Fetch `(remote ref, local ref)` pairs from `remote`, forced.
pub fn fetch_refs(dir: &Path, remote: &str, refs: &[(&str, &str)]) -> Result<()> {
    let mut args = vec![
        "fetch".to_string(),
        "--quiet".into(),
        "--no-tags".into(),
        "--no-write-fetch-head".into(),
        remote.into(),
    ];
    for (src, dst) in refs {
        args.push(format!("+{src}:{dst}"));
    }
    run(dir, &args).map(|_| ())
}

/// Set `name` (a full ref) to `sha`, whatever it held.
pub fn set_ref(dir: &Path, name: &str, sha: &str) -> Result<()> {
    run(dir, &["update-ref", name, sha]).map(|_| ())
}

/// Delete the local ref `name` if it exists.
pub fn delete_ref(dir: &Path, name: &str) -> Result<()> {
    let _ = output(dir, &["update-ref", "-d", name])?;
    Ok(())
}

/// What the local ref `name` points at.
pub fn ref_sha(dir: &Path, name: &str) -> Option<String> {
    let out = output(dir, &["rev-parse", "--verify", "--quiet", name]).ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The URL git would fetch `remote` from (a path for a local remote).
pub fn remote_url(dir: &Path, remote: &str) -> Result<String> {
    Ok(run(dir, &["remote", "get-url", remote])?.trim().to_string())
}

/// Check out the existing `branch` in a new worktree at `path` (a remote task's, made
/// only when asked for).
pub fn add_branch_worktree(root: &Path, path: &Path, branch: &str) -> Result<()> {
    run(
        root,
        &[
            "worktree".as_ref(),
            "add".as_ref(),
            "--quiet".as_ref(),
            path.as_os_str(),
            branch.as_ref(),
        ] as &[&OsStr],
    )
    .map(|_| ())
}

/// [`write_blob`] without a process: the blob written by the library.
pub fn write_blob_here(repo: &Repo, bytes: &[u8]) -> Result<String> {
    let r = repo.local();
    let id = r
        .write_blob(bytes)
        .map_err(|e| anyhow!("cannot write a blob: {e}"))?;
    Ok(id.to_string())
}

/// [`read_blob`] of a ref, without a process.
pub fn read_blob_here(repo: &Repo, name: &str) -> Result<Vec<u8>> {
    let r = repo.local();
    let mut reference = r
        .find_reference(name)
        .map_err(|e| anyhow!("no ref {name}: {e}"))?;
    let id = reference.peel_to_id().map_err(|e| anyhow!("{name}: {e}"))?;
    let obj = r.find_object(id).map_err(|e| anyhow!("{name}: {e}"))?;
    if obj.kind != gix::object::Kind::Blob {
        return Err(anyhow!("{name} is a {}, not a blob", obj.kind));
    }
    Ok(obj.detach().data)
}
