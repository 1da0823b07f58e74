//! Named crash points for fault-injection tests: when `GIT_AGENTS_FAULT` names a point,
//! the process kills itself with SIGKILL right there, as a power cut or `kill -9` would.
//! Tests use it to prove that every step leaves a state `list` reports truthfully and
//! `prune` can clean. `panic:NAME` panics there instead, as a bug would. Unset, it costs
//! one environment lookup.

pub fn point(name: &str) {
    let Some(v) = std::env::var_os("GIT_AGENTS_FAULT") else {
        return;
    };
    if v == name {
        // SAFETY: sending a signal to ourselves.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
    if v.to_str().and_then(|v| v.strip_prefix("panic:")) == Some(name) {
        panic!("fault injected at {name}");
    }
}
