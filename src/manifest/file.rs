//! Reading a file the manifest names (itself, a `prompt_file`) safely: only a regular
//! file of bounded size, never a fifo or device, judged before it is opened.

use std::path::Path;

/// A manifest (or prompt file) larger than this is refused before it is read.
pub const MAX_BYTES: u64 = 4 << 20;

/// What is wrong with `path` as a file to read, judged from its metadata alone, so a
/// fifo or a device is never opened (opening a fifo blocks): `None` if it is a regular
/// file of at most [`MAX_BYTES`].
pub fn file_problem(path: &Path) -> Option<String> {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some("was not found".into()),
        Err(e) => Some(format!("cannot be read: {e}")),
        Ok(m) if m.is_dir() => Some("is a directory, not a file".into()),
        Ok(m) if !m.is_file() => Some("is not a regular file (a fifo, socket or device)".into()),
        Ok(m) if m.len() > MAX_BYTES => Some(format!(
            "is {} bytes, larger than the limit of {} MiB",
            m.len(),
            MAX_BYTES >> 20
        )),
        Ok(_) => None,
    }
}

/// Read a regular file of at most [`MAX_BYTES`]; anything else is refused by
/// [`file_problem`] without being opened. The file is opened non-blocking and checked
/// again, in case it was swapped for a fifo in between.
pub(super) fn read_regular(path: &Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(problem) = file_problem(path) {
        return Err(problem);
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| format!("cannot be read: {e}"))?;
    match file.metadata() {
        Ok(m) if m.is_file() => {}
        Ok(_) => return Err("is not a regular file (a fifo, socket or device)".into()),
        Err(e) => return Err(format!("cannot be read: {e}")),
    }
    let mut bytes = Vec::new();
    file.take(MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot be read: {e}"))?;
    if bytes.len() as u64 > MAX_BYTES {
        return Err(format!(
            "is larger than the limit of {} MiB",
            MAX_BYTES >> 20
        ));
    }
    Ok(bytes)
}
