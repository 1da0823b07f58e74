//! Named fault points for fault-injection tests. When `GIT_AGENTS_FAULT` names a point,
//! the process kills itself with SIGKILL right there, as a power cut or `kill -9` would.
//! `enospc:POINT` instead makes the disk "fill up" at that point: from then on every
//! atomic write of the state fails with ENOSPC (`enospc-once:POINT`: only the next one).
//! Tests use them to prove that every step leaves a state `list` reports truthfully and
//! `prune` can clean. `panic:NAME` panics there instead, as a bug would. Unset, a point
//! costs one environment lookup.

use std::sync::atomic::{AtomicU8, Ordering};

const ROOMY: u8 = 0;
const FULL: u8 = 1;
const FULL_ONCE: u8 = 2;

static DISK: AtomicU8 = AtomicU8::new(ROOMY);

pub fn point(name: &str) {
    let Some(fault) = std::env::var_os("GIT_AGENTS_FAULT") else {
        return;
    };
    if fault == name {
        // SAFETY: sending a signal to ourselves.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
    let fault = fault.to_string_lossy();
    if fault.strip_prefix("panic:") == Some(name) {
        panic!("fault injected at {name}");
    }
    if fault.strip_prefix("enospc:") == Some(name) {
        DISK.store(FULL, Ordering::SeqCst);
    } else if fault.strip_prefix("enospc-once:") == Some(name) {
        DISK.store(FULL_ONCE, Ordering::SeqCst);
    }
}

/// Whether the next write must fail as on a full disk (only after an `enospc` point).
pub fn disk_full() -> bool {
    match DISK.load(Ordering::SeqCst) {
        ROOMY => false,
        FULL_ONCE => DISK
            .compare_exchange(FULL_ONCE, ROOMY, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok(),
        _ => true,
    }
}
