//! Reading a tracked file's content the way git stores it, to compare with the index.

use anyhow::Result;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use super::count::Suspect;

/// Reads tracked files' content the way git stores it.
pub(super) struct Content<'r> {
    pub(super) wt: &'r gix::Repository,
    /// The repository's filters (autocrlf, eol, ident, drivers), set up at first use.
    pub(super) pipeline: Option<gix::filter::Pipeline<'r>>,
    pub(super) buf: Vec<u8>,
}

impl Content<'_> {
    /// Whether the file at `abs` holds what `entry` records.
    pub(super) fn same(
        &mut self,
        abs: &Path,
        s: &Suspect,
        entry: &gix::index::Entry,
        index: &gix::index::State,
    ) -> Result<bool> {
        let kind = entry.id.kind();
        let blob = gix::objs::Kind::Blob;
        if s.symlink {
            // The pass saw a symlink and the entry is one (else its mode had changed).
            let target = std::fs::read_link(abs)?;
            let id = gix::objs::compute_hash(kind, blob, target.as_os_str().as_bytes())?;
            return Ok(id == entry.id);
        }
        // Never follow a symlink put there since the pass, never block on a FIFO.
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(abs)?;
        if self.pipeline.is_none() {
            self.pipeline = Some(self.wt.filter_pipeline(None)?.0);
        }
        let pipeline = self.pipeline.as_mut().expect("set above");
        let rela = Path::new(std::ffi::OsStr::from_bytes(&s.path));
        use gix::filter::plumbing::pipeline::convert::ToGitOutcome;
        let id = match pipeline.convert_to_git(file, rela, index)? {
            // No filter applies: hash the bytes the stat promised, in one read when small.
            ToGitOutcome::Unchanged(mut file) => {
                match hash_stream(kind, &mut file, s.len, &mut self.buf)? {
                    Some(id) => id,
                    None => return Ok(false), // shorter than its stat said: it changed
                }
            }
            ToGitOutcome::Buffer(bytes) => gix::objs::compute_hash(kind, blob, bytes)?,
            ToGitOutcome::Process(mut read) => {
                self.buf.clear();
                read.read_to_end(&mut self.buf)?;
                gix::objs::compute_hash(kind, blob, &self.buf)?
            }
        };
        Ok(id == entry.id)
    }
}

/// The blob id of `len` bytes read from `r`, or `None` when `r` ends before.
pub(super) fn hash_stream(
    kind: gix::hash::Kind,
    r: &mut impl std::io::Read,
    len: u64,
    buf: &mut Vec<u8>,
) -> Result<Option<gix::ObjectId>> {
    const CHUNK: u64 = 64 * 1024;
    let mut hasher = gix::hash::hasher(kind);
    hasher.update(&gix::objs::encode::loose_header(gix::objs::Kind::Blob, len));
    buf.resize(len.min(CHUNK) as usize, 0);
    let mut left = len;
    while left > 0 {
        let want = left.min(CHUNK) as usize;
        let n = match r.read(&mut buf[..want]) {
            Ok(0) => return Ok(None),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        hasher.update(&buf[..n]);
        left -= n as u64;
    }
    Ok(Some(hasher.try_finalize()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_shorter_than_its_stat_is_no_match() {
        let mut buf = Vec::new();
        let kind = gix::hash::Kind::Sha1;
        let whole = hash_stream(kind, &mut &b"hello\n"[..], 6, &mut buf).unwrap();
        let blob = gix::objs::compute_hash(kind, gix::objs::Kind::Blob, b"hello\n").unwrap();
        assert_eq!(whole, Some(blob));
        assert_eq!(
            hash_stream(kind, &mut &b"hell"[..], 6, &mut buf).unwrap(),
            None
        );
        // Larger than one chunk.
        let big = vec![7u8; 200_000];
        let want = gix::objs::compute_hash(kind, gix::objs::Kind::Blob, &big).unwrap();
        let got = hash_stream(kind, &mut &big[..], big.len() as u64, &mut buf).unwrap();
        assert_eq!(got, Some(want));
    }
}
