//! The size of a change between two commits, as `git diff --numstat` counts it: best-of-N
//! prefers the smallest change that passes.

use super::*;

/// Files changed and lines added and removed from one commit to another.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct DiffStat {
    pub files: usize,
    pub added: usize,
    pub removed: usize,
}

impl DiffStat {
    /// Lines touched: what "the smallest diff" compares.
    pub fn lines(&self) -> usize {
        self.added + self.removed
    }
}

/// `from..to`, renames found as git finds them; a binary file counts as one line.
pub fn diffstat(root: &Path, from: &str, to: &str) -> Result<DiffStat> {
    let out = run(
        root,
        &["diff", "--numstat", "--no-ext-diff", "-z", from, to],
    )?;
    let mut st = DiffStat::default();
    for rec in out.split('\0') {
        // `ADDED\tREMOVED\tPATH`, or `ADDED\tREMOVED\t` followed by two path records for
        // a rename; only the counts matter here.
        let mut f = rec.splitn(3, '\t');
        let (Some(a), Some(r), Some(_)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        let count = |s: &str| s.parse::<usize>().unwrap_or(1);
        st.files += 1;
        st.added += count(a);
        st.removed += count(r);
    }
    Ok(st)
}
