//! Named crash points for fault-injection tests: when `GIT_AGENTS_FAULT` names a point,
//! the process kills itself with SIGKILL right there, as a power cut or `kill -9` would.
//! Tests use it to prove that every step leaves a state `list` reports truthfully and
//! `prune` can clean. Unset, it costs one environment lookup.

pub fn point(name: &str) {
    if std::env::var_os("GIT_AGENTS_FAULT").is_some_and(|v| v == name) {
        // SAFETY: sending a signal to ourselves.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
}
